//! Schema migrations for salesgraph, including the catalogue as reference data.
//!
//! Every command that touches the database calls [`Migrator::up`] first, so a new database is
//! usable (catalogue installed) before any `seed` or `import`.

pub use sea_orm_migration::prelude::*;

pub mod catalogue;
mod m20260101_000001_schema;
mod m20260101_000002_catalogue;
mod m20261201_000003_partition_sales;
mod m20261201_000004_keyset_indexes;
mod m20261203_000005_coarse_dated_rollup;
pub mod partitions;

/// The sale table's secondary indexes (name, columns) as the first migrations made them:
/// keyset pages walk newest first with ties by id; filters narrow by date, country and model.
/// SQLite keeps these: its index entries end with the row id already, so a market's or a model's
/// index holds their rows in the pages' order.
pub const FIRST_SALE_INDEXES: &[(&str, &[&str])] = &[
    ("idx_sale_sold_on_id", &["sold_on", "id"]),
    ("idx_sale_country_sold_on", &["country_code", "sold_on"]),
    ("idx_sale_model_sold_on", &["model_id", "sold_on"]),
];

/// PostgreSQL's, since `m20261201_000004_keyset_indexes`: a market's and a model's indexes end
/// with the id, so that a page of one market is read in order from its index rather than
/// sorted out of all of the market's rows in the months it spans.
pub const POSTGRES_SALE_INDEXES: &[(&str, &[&str])] = &[
    ("idx_sale_sold_on_id", &["sold_on", "id"]),
    ("idx_sale_country_sold_on_id", &["country_code", "sold_on", "id"]),
    ("idx_sale_model_sold_on_id", &["model_id", "sold_on", "id"]),
];

/// The sale table's secondary indexes on `backend` as the migrations leave them. A full reseed
/// drops them for the bulk load and builds them again after.
pub fn sale_indexes(
    backend: sea_orm_migration::sea_orm::DbBackend,
) -> &'static [(&'static str, &'static [&'static str])] {
    match backend {
        sea_orm_migration::sea_orm::DbBackend::Postgres => POSTGRES_SALE_INDEXES,
        _ => FIRST_SALE_INDEXES,
    }
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_schema::Migration),
            Box::new(m20260101_000002_catalogue::Migration),
            Box::new(m20261201_000003_partition_sales::Migration),
            Box::new(m20261201_000004_keyset_indexes::Migration),
            Box::new(m20261203_000005_coarse_dated_rollup::Migration),
        ]
    }
}
