//! salesgraph: a GraphQL analytics gateway for car sales.
//!
//! Layers, one way: `cli` → `app` (context) → `store` (SQL) and `cube` (columnar, in memory) →
//! `domain` types shared by all.

pub mod cli;
pub mod config;
pub mod cube;
pub mod db;
pub mod domain;
pub mod store;
