//! Schema migrations for salesgraph, including the catalogue as reference data.
//!
//! Every command that touches the database calls [`Migrator::up`] first, so a new database is
//! usable (catalogue installed) before any `seed` or `import`.

pub use sea_orm_migration::prelude::*;

pub mod catalogue;
mod m20260101_000001_schema;
mod m20260101_000002_catalogue;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20260101_000001_schema::Migration), Box::new(m20260101_000002_catalogue::Migration)]
    }
}
