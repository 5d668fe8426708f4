//! PostgreSQL: the market's and the model's indexes of `sale` end with the id (see
//! [`crate::POSTGRES_SALE_INDEXES`]), so that a page of one market or model — newest first,
//! ties by id — is an ordered scan of its index that stops after the page. With (market, day)
//! alone, PostgreSQL read every row of the market in the months the page spans and sorted them.
//! SQLite's indexes end with the row id already and stay as they are.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn replace(
    manager: &SchemaManager<'_>,
    old: &[(&str, &[&str])],
    new: &[(&str, &[&str])],
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for (name, _) in old.iter().filter(|index| !new.contains(index)) {
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
    }
    for (name, columns) in new.iter().filter(|index| !old.contains(index)) {
        db.execute_unprepared(&format!("CREATE INDEX IF NOT EXISTS {name} ON sale ({})", columns.join(", ")))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        replace(manager, crate::FIRST_SALE_INDEXES, crate::POSTGRES_SALE_INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        replace(manager, crate::POSTGRES_SALE_INDEXES, crate::FIRST_SALE_INDEXES).await
    }
}
