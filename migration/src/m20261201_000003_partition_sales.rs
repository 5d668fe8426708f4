//! PostgreSQL: turns `sale` into a table partitioned by month (see `crate::partitions`), moving
//! any rows it already holds. SQLite has no partitions and keeps its one table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::partitions;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &str = "id, sold_on, model_id, country_code, units, unit_price, revenue, fuel_type, transmission, color, date_precision";

/// The sale table, partitioned by month or plain. Partitioned, its key includes sold_on,
/// because a partitioned table's unique keys must contain the partition key; ids stay unique
/// all the same, drawn from the one sequence. Partitioned, it carries no foreign keys: their
/// per-row checks were more than half of a bulk INSERT's time over the partitions (1,000,000
/// generated rows: 65 s with them), and every ingest checks each distinct model and country it
/// writes against the catalogue before it commits (`store::ingest`), the only writer there is.
fn sale_table(partitioned: bool) -> String {
    let (key, partitioning, model_ref, country_ref) = if partitioned {
        ("PRIMARY KEY (id, sold_on)", " PARTITION BY RANGE (sold_on)", "", "")
    } else {
        ("PRIMARY KEY (id)", "", " REFERENCES car_model (id)", " REFERENCES country (code)")
    };
    format!(
        "CREATE TABLE sale (\
           id bigint NOT NULL DEFAULT nextval('sale_id_seq'), \
           sold_on date NOT NULL, \
           model_id integer NOT NULL{model_ref}, \
           country_code varchar(2) NOT NULL{country_ref}, \
           units integer NOT NULL CHECK (units >= 1), \
           unit_price double precision, \
           revenue double precision, \
           fuel_type varchar NOT NULL, \
           transmission varchar NOT NULL, \
           color varchar, \
           date_precision varchar NOT NULL DEFAULT 'DAY', \
           {key}\
         ){partitioning}"
    )
}

async fn execute(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await.map(|_| ())
}

async fn is_partitioned(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let row = manager
        .get_connection()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT relkind::text FROM pg_class WHERE oid = 'sale'::regclass",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<String>(0)? == "p",
        None => false,
    })
}

async fn drop_sale_indexes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for (name, _) in crate::FIRST_SALE_INDEXES {
        execute(manager, &format!("DROP INDEX IF EXISTS {name}")).await?;
    }
    Ok(())
}

async fn create_sale_indexes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for (name, columns) in crate::FIRST_SALE_INDEXES {
        execute(manager, &format!("CREATE INDEX {name} ON sale ({})", columns.join(", "))).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres || is_partitioned(manager).await? {
            return Ok(());
        }
        // Index and constraint names are per schema: the old table gives its up first.
        drop_sale_indexes(manager).await?;
        execute(manager, "ALTER TABLE sale RENAME TO sale_unpartitioned").await?;
        execute(manager, "ALTER INDEX sale_pkey RENAME TO sale_unpartitioned_pkey").await?;
        // PostgreSQL 15 has no identity columns on partitioned tables: ids come from a plain
        // sequence, which continues where the old table's left off.
        execute(manager, "ALTER TABLE sale_unpartitioned ALTER COLUMN id DROP IDENTITY IF EXISTS").await?;
        execute(manager, "ALTER TABLE sale_unpartitioned ALTER COLUMN id DROP DEFAULT").await?;
        execute(manager, "DROP SEQUENCE IF EXISTS sale_id_seq").await?;
        execute(manager, "CREATE SEQUENCE sale_id_seq").await?;
        execute(manager, &sale_table(true)).await?;
        execute(manager, "ALTER SEQUENCE sale_id_seq OWNED BY sale.id").await?;
        let months = manager
            .get_connection()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT DISTINCT EXTRACT(YEAR FROM sold_on)::int4, EXTRACT(MONTH FROM sold_on)::int4 \
                 FROM sale_unpartitioned",
            ))
            .await?;
        for row in months {
            let year: i32 = row.try_get_by_index(0)?;
            let month: i32 = row.try_get_by_index(1)?;
            for statement in partitions::create_and_attach(year, month as u32) {
                execute(manager, &statement).await?;
            }
        }
        execute(manager, &format!("INSERT INTO sale ({COLUMNS}) SELECT {COLUMNS} FROM sale_unpartitioned"))
            .await?;
        execute(manager, "SELECT setval('sale_id_seq', (SELECT COALESCE(MAX(id), 0) FROM sale) + 1, false)")
            .await?;
        execute(manager, "DROP TABLE sale_unpartitioned").await?;
        create_sale_indexes(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres || !is_partitioned(manager).await? {
            return Ok(());
        }
        drop_sale_indexes(manager).await?;
        execute(manager, "ALTER TABLE sale RENAME TO sale_partitioned").await?;
        execute(manager, "ALTER INDEX sale_pkey RENAME TO sale_partitioned_pkey").await?;
        execute(manager, &sale_table(false)).await?;
        execute(manager, "ALTER SEQUENCE sale_id_seq OWNED BY sale.id").await?;
        execute(manager, &format!("INSERT INTO sale ({COLUMNS}) SELECT {COLUMNS} FROM sale_partitioned"))
            .await?;
        execute(manager, "DROP TABLE sale_partitioned").await?;
        create_sale_indexes(manager).await
    }
}
