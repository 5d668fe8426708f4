//! salesgraph: a GraphQL analytics gateway for car sales.
//!
//! A request travels one way: `http` (auth, cache, limits) → `graphql` (thin resolvers) →
//! `domain` (filters resolved against the catalogue) → `store` (SQL) and `cube`/`summary`/`pages`
//! (columnar, in memory, the database for what memory does not hold). `startup` builds it all
//! from `config`; `sql` is a second way in, the PostgreSQL-protocol endpoint for BI tools, over
//! the same data and policy; `cli` is the command line; `telemetry` sets up logging and the span (with its
//! request id) each HTTP request runs in.

pub mod access;
pub mod analytics;
pub mod app;
pub mod ask;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod cube;
pub mod data;
pub mod db;
pub mod domain;
pub mod export;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod pages;
pub mod planning;
pub mod sql;
pub mod startup;
pub mod store;
pub mod summary;
pub mod telemetry;
