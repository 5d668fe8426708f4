//! `salesgraph seed`: a deterministic generator of realistic sales that plants the patterns of
//! data.md, stored through the same ingest path as imports.

pub mod generator;
pub mod plants;

use chrono::{NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};

use super::StoreError;
use super::catalogue::Catalogue;
use super::ingest::{IngestSummary, IngestWriter};
pub use generator::{Generator, SeedOptions};

/// The data set a new database gets on first `serve`, and `seed` without `--rows`.
pub const DEFAULT_ROWS: u64 = 250_000;
pub const DEFAULT_SEED: u64 = 42;

pub fn default_from() -> NaiveDate {
    plants::date(2010, 1)
}

/// Replaces all sales (and the rollup, inventory and planted facts) with a generated data set,
/// in one transaction.
pub async fn run(
    db: &DatabaseConnection,
    options: &SeedOptions,
    progress: bool,
) -> Result<IngestSummary, StoreError> {
    if options.until < options.from {
        return Err(StoreError::Invalid(format!(
            "--from {} is after --until {}",
            options.from, options.until
        )));
    }
    let catalogue = Catalogue::load(db).await?;
    let generator = Generator::new(&catalogue, options.clone());
    let bar = if progress { ProgressBar::new(generator.expected_rows()) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} seeding [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );

    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        // A full replace: TRUNCATE instead of deleting row by row, inside the transaction, so
        // readers see the old data until the commit.
        txn.execute_unprepared("TRUNCATE monthly_rollup, coarse_dated_rollup, inventory, sale, seed_run")
            .await?;
    } else {
        for table in ["monthly_rollup", "coarse_dated_rollup", "inventory", "sale", "seed_run"] {
            txn.execute_unprepared(&format!("DELETE FROM {table}")).await?;
        }
    }
    let mut writer = IngestWriter::new(db);
    writer.defer_indexes(&txn).await?;
    let mut batch = Vec::with_capacity(16_384);
    let mut carry = generator.new_carry();
    for month in generator.months() {
        generator.generate_month(month, &mut carry, &mut batch);
        bar.inc(batch.len() as u64);
        writer.write(&txn, std::mem::replace(&mut batch, Vec::with_capacity(16_384))).await?;
    }
    bar.set_message("building indexes");
    let inventory = generator.inventory();
    generator::store_inventory(&txn, &inventory).await?;
    generator::store_facts(&txn, options, &generator.facts(), Utc::now().naive_utc()).await?;
    let summary = writer.finish(&txn).await?;
    txn.commit().await?;
    writer.close().await;
    bar.finish_and_clear();
    Ok(summary)
}

/// Seeds the default data set when the database has no sales yet; says whether it did.
pub async fn seed_if_empty(db: &DatabaseConnection) -> Result<bool, StoreError> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return seed_if_still_empty(db).await;
    }
    // Replicas that start together on one empty database: one seeds, the others wait on the
    // lock and then find the data there. The lock is the session's, on a connection held
    // for the purpose, so a process that dies mid-seed releases it with its connection.
    use sea_orm::sqlx;
    let mut holder = db.get_postgres_connection_pool().acquire().await.map_err(|e| {
        StoreError::Database(sea_orm::DbErr::Custom(format!("a connection for the seed lock: {e}")))
    })?;
    let lock_error =
        |e: sqlx::Error| StoreError::Database(sea_orm::DbErr::Custom(format!("the seed lock: {e}")));
    sqlx::query("SELECT pg_advisory_lock(7302215101)").execute(&mut *holder).await.map_err(lock_error)?;
    let seeded = seed_if_still_empty(db).await;
    sqlx::query("SELECT pg_advisory_unlock(7302215101)").execute(&mut *holder).await.map_err(lock_error)?;
    seeded
}

async fn seed_if_still_empty(db: &DatabaseConnection) -> Result<bool, StoreError> {
    if super::sales::any_sales(db).await? {
        return Ok(false);
    }
    let options = SeedOptions {
        rows: DEFAULT_ROWS,
        seed: DEFAULT_SEED,
        from: default_from(),
        until: chrono::Local::now().date_naive(),
        seasonal: true,
    };
    run(db, &options, false).await?;
    Ok(true)
}
