//! sea-orm entities: one module per table.

pub mod car_model;
pub mod country;
pub mod data_version;
pub mod inventory;
pub mod monthly_rollup;
pub mod sale;
pub mod seed_run;
