//! Schema migrations for salesgraph, including the catalogue as reference data.
//!
//! Every command that touches the database calls [`Migrator::up`] first, so a new database is
//! usable (catalogue installed) before any `seed` or `import`.

pub use sea_orm_migration::prelude::*;

pub mod catalogue;
mod m20260101_000001_schema;
mod m20260101_000002_catalogue;
mod m20261201_000003_partition_sales;
pub mod partitions;

/// The sale table's secondary indexes (name, columns): keyset pages walk newest first with ties
/// by id; filters narrow by date, country and model. The schema migration creates them; a full
/// reseed on PostgreSQL drops them for the bulk load and builds them again after.
pub const SALE_INDEXES: &[(&str, &[&str])] = &[
    ("idx_sale_sold_on_id", &["sold_on", "id"]),
    ("idx_sale_country_sold_on", &["country_code", "sold_on"]),
    ("idx_sale_model_sold_on", &["model_id", "sold_on"]),
];

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_schema::Migration),
            Box::new(m20260101_000002_catalogue::Migration),
            Box::new(m20261201_000003_partition_sales::Migration),
        ]
    }
}
