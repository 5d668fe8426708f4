//! The one write path for sale rows: batched inserts, the monthly rollup kept in step
//! incrementally (only the groups an ingest touches), and the data version bump — all inside the
//! caller's transaction, so that an ingest lands whole or not at all.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

pub use super::sales::NewSale;
use crate::domain::{DatePrecision, FuelType, Transmission};

/// What an ingest wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub rows: u64,
    pub units: u64,
    pub rollup_groups: u64,
}

/// A rollup group. Country codes are two letters: kept inline, so that counting a row into its
/// group neither allocates nor hashes a string (a third of an import's time, measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RollupKey {
    month: NaiveDate,
    model_id: i32,
    country_code: CountryCode,
    fuel_type: FuelType,
    transmission: Transmission,
}

/// A country code of up to eight ASCII bytes, stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct CountryCode([u8; 8]);

impl CountryCode {
    fn new(code: &str) -> Self {
        let mut bytes = [0u8; 8];
        let len = code.len().min(8);
        debug_assert_eq!(len, code.len(), "country code {code} longer than 8 bytes");
        bytes[..len].copy_from_slice(&code.as_bytes()[..len]);
        Self(bytes)
    }

    fn as_str(&self) -> &str {
        let len = self.0.iter().position(|b| *b == 0).unwrap_or(8);
        std::str::from_utf8(&self.0[..len]).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct RollupDelta {
    units: i64,
    revenue: f64,
    priced_units: i64,
    row_count: i64,
    coarse_rows: i64,
}

const SALE_COLUMNS: &[&str] = &[
    "sold_on",
    "model_id",
    "country_code",
    "units",
    "unit_price",
    "revenue",
    "fuel_type",
    "transmission",
    "color",
    "date_precision",
];

const COARSE_DATED_COLUMNS: &[&str] = &[
    "month",
    "model_id",
    "country_code",
    "fuel_type",
    "transmission",
    "date_precision",
    "units",
    "revenue",
    "priced_units",
    "row_count",
];

const ROLLUP_COLUMNS: &[&str] = &[
    "month",
    "model_id",
    "country_code",
    "fuel_type",
    "transmission",
    "units",
    "revenue",
    "priced_units",
    "row_count",
    "coarse_rows",
];

/// Rows per INSERT: 1,000 rows × 10 columns stays under SQLite's and PostgreSQL's parameter limits.
const BATCH_ROWS: usize = 1_000;

/// `INSERT INTO table (cols) VALUES (…), (…)` with the backend's placeholders.
pub(crate) fn multi_row_insert(backend: DbBackend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = String::with_capacity(64 + rows * columns.len() * 6);
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(&columns.join(", "));
    sql.push_str(") VALUES ");
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..columns.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// One multi-row INSERT's parameters, row after row in [`SALE_COLUMNS`] order.
fn sqlite_values(rows: &[NewSale]) -> Vec<Value> {
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * SALE_COLUMNS.len());
    for sale in rows {
        values.push(crate::domain::iso_date(sale.sold_on).into());
        values.push(sale.model_id.into());
        values.push(sale.country_code.as_str().into());
        values.push(sale.units.into());
        values.push(sale.unit_price.into());
        values.push(sale.revenue().into());
        values.push(sale.fuel_type.as_str().into());
        values.push(sale.transmission.as_str().into());
        values.push(sale.color.as_deref().into());
        values.push(sale.date_precision.as_str().into());
    }
    values
}

pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Writes sale rows batch by batch and, on `finish`, folds them into the rollup.
pub struct IngestWriter {
    backend: DbBackend,
    rollup: FxHashMap<RollupKey, RollupDelta>,
    /// The rows dated only by quarter or year, by group and precision.
    coarse_dated: FxHashMap<(RollupKey, DatePrecision), RollupDelta>,
    summary: IngestSummary,
    /// PostgreSQL only: where batches are COPYed before the transaction takes them.
    staging: Option<super::staging::Staging>,
    /// The sale table's secondary indexes were dropped for this load; `finish` builds them.
    indexes_deferred: bool,
    /// PostgreSQL: rows in COPY text format not yet sent, and how many.
    pending_copy: String,
    pending_rows: usize,
    /// PostgreSQL: the months of the rows not yet sent, whose partitions must exist first.
    pending_months: BTreeSet<super::partitions::Month>,
}

/// Rows per COPY round trip on PostgreSQL (about 20 MB of text).
const COPY_BATCH_ROWS: usize = 250_000;

impl IngestWriter {
    /// A writer for an ingest on `db`; on PostgreSQL, batches travel by COPY through staging
    /// tables on a second pooled connection (see `store::staging`).
    pub fn new(db: &sea_orm::DatabaseConnection) -> Self {
        let backend = db.get_database_backend();
        let staging = (backend == DbBackend::Postgres)
            .then(|| super::staging::Staging::new(db.get_postgres_connection_pool().clone()));
        Self {
            backend,
            rollup: FxHashMap::default(),
            coarse_dated: FxHashMap::default(),
            summary: IngestSummary::default(),
            staging,
            indexes_deferred: false,
            pending_copy: String::new(),
            pending_rows: 0,
            pending_months: BTreeSet::new(),
        }
    }

    /// Drops the sale table's secondary indexes until [`finish`](Self::finish) builds them
    /// again, for loads into an empty (or just emptied) table: one sorted build per index beats
    /// an index update per row. Inside the transaction, so readers keep the old table and its
    /// indexes until the commit.
    pub async fn defer_indexes<C: ConnectionTrait>(&mut self, txn: &C) -> Result<(), DbErr> {
        for (name, _) in migration::sale_indexes(self.backend) {
            txn.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        self.indexes_deferred = true;
        Ok(())
    }

    /// Drops the staging tables; call after the transaction has committed or rolled back (they
    /// are locked until then). A writer dropped without it drops them in the background.
    pub async fn close(mut self) {
        if let Some(staging) = self.staging.take() {
            staging.drop_tables().await;
        }
    }

    pub async fn write<C: ConnectionTrait>(&mut self, txn: &C, rows: Vec<NewSale>) -> Result<(), DbErr> {
        if self.backend == DbBackend::Postgres {
            return self.write_postgres(txn, &rows).await;
        }
        for sale in &rows {
            self.accumulate(sale);
        }
        // SQLite executes on its own thread while this one waits; building the next
        // statement's parameters on a third thread meanwhile keeps both cores busy.
        let rows = Arc::new(rows);
        let chunks = rows.len().div_ceil(BATCH_ROWS);
        let build = |chunk: usize| {
            let rows = rows.clone();
            tokio::task::spawn_blocking(move || {
                let end = ((chunk + 1) * BATCH_ROWS).min(rows.len());
                sqlite_values(&rows[chunk * BATCH_ROWS..end])
            })
        };
        let full_chunk_sql = multi_row_insert(self.backend, "sale", SALE_COLUMNS, BATCH_ROWS);
        let mut next = (chunks > 0).then(|| build(0));
        for chunk in 0..chunks {
            let Some(building) = next.take() else { break };
            let values = building.await.map_err(|e| DbErr::Custom(format!("building an insert: {e}")))?;
            next = (chunk + 1 < chunks).then(|| build(chunk + 1));
            let row_count = values.len() / SALE_COLUMNS.len();
            let sql = if row_count == BATCH_ROWS {
                full_chunk_sql.clone()
            } else {
                multi_row_insert(self.backend, "sale", SALE_COLUMNS, row_count)
            };
            txn.execute_raw(Statement::from_sql_and_values(self.backend, sql, values)).await?;
        }
        Ok(())
    }

    /// PostgreSQL takes rows by COPY into a fresh staging table (outside the transaction, on
    /// another connection), then one INSERT … SELECT inside the transaction moves them into
    /// `sale`: the bulk path without giving up the single transaction. Rows are gathered into
    /// large batches first: each round of table, COPY and INSERT costs tens of milliseconds,
    /// whatever its size.
    async fn write_postgres<C: ConnectionTrait>(&mut self, txn: &C, rows: &[NewSale]) -> Result<(), DbErr> {
        for sale in rows {
            self.accumulate(sale);
            self.pending_months.insert((sale.sold_on.year(), sale.sold_on.month()));
        }
        super::staging::append_copy_text(&mut self.pending_copy, rows);
        self.pending_rows += rows.len();
        if self.pending_rows >= COPY_BATCH_ROWS {
            self.flush_postgres(txn).await?;
        }
        Ok(())
    }

    async fn flush_postgres<C: ConnectionTrait>(&mut self, txn: &C) -> Result<(), DbErr> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let Some(staging) = self.staging.as_mut() else {
            return Err(DbErr::Custom("PostgreSQL ingest without a staging connection".into()));
        };
        let table = staging.copy_batch(SALE_COLUMNS, &self.pending_copy).await?;
        self.pending_copy.clear();
        self.pending_rows = 0;
        super::partitions::ensure(txn, &std::mem::take(&mut self.pending_months)).await?;
        let columns = SALE_COLUMNS.join(", ");
        txn.execute_unprepared(&format!("INSERT INTO sale ({columns}) SELECT {columns} FROM {table}"))
            .await?;
        Ok(())
    }

    fn accumulate(&mut self, sale: &NewSale) {
        let key = RollupKey {
            month: month_start(sale.sold_on),
            model_id: sale.model_id,
            country_code: CountryCode::new(&sale.country_code),
            fuel_type: sale.fuel_type,
            transmission: sale.transmission,
        };
        let delta = self.rollup.entry(key).or_default();
        delta.units += i64::from(sale.units);
        delta.row_count += 1;
        if let Some(revenue) = sale.revenue() {
            delta.revenue += revenue;
            delta.priced_units += i64::from(sale.units);
        }
        if sale.date_precision != DatePrecision::Day {
            delta.coarse_rows += 1;
        }
        if sale.date_precision.months() > 1 {
            let coarse = self.coarse_dated.entry((key, sale.date_precision)).or_default();
            coarse.units += i64::from(sale.units);
            coarse.row_count += 1;
            if let Some(revenue) = sale.revenue() {
                coarse.revenue += revenue;
                coarse.priced_units += i64::from(sale.units);
            }
        }
        self.summary.rows += 1;
        self.summary.units += sale.units as u64;
    }

    /// Adds this ingest's sums to the rollup groups it touched and bumps the data version.
    pub async fn finish<C: ConnectionTrait>(&mut self, txn: &C) -> Result<IngestSummary, DbErr> {
        self.flush_postgres(txn).await?;
        if std::mem::take(&mut self.indexes_deferred) {
            if self.backend == DbBackend::Postgres {
                txn.execute_unprepared("SET LOCAL maintenance_work_mem = '256MB'").await?;
            }
            for (name, columns) in migration::sale_indexes(self.backend) {
                txn.execute_unprepared(&format!("CREATE INDEX {name} ON sale ({})", columns.join(", ")))
                    .await?;
            }
        }
        let mut groups: Vec<(RollupKey, RollupDelta)> =
            std::mem::take(&mut self.rollup).into_iter().collect();
        // A stable order keeps lock order and the stored bytes independent of hashing.
        groups.sort_by_key(|(key, _)| *key);
        check_references(txn, &groups).await?;
        for chunk in groups.chunks(BATCH_ROWS) {
            let mut sql = multi_row_insert(self.backend, "monthly_rollup", ROLLUP_COLUMNS, chunk.len());
            sql.push_str(
                " ON CONFLICT (month, model_id, country_code, fuel_type, transmission) DO UPDATE SET \
                 units = monthly_rollup.units + excluded.units, \
                 revenue = monthly_rollup.revenue + excluded.revenue, \
                 priced_units = monthly_rollup.priced_units + excluded.priced_units, \
                 row_count = monthly_rollup.row_count + excluded.row_count, \
                 coarse_rows = monthly_rollup.coarse_rows + excluded.coarse_rows",
            );
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * ROLLUP_COLUMNS.len());
            for (key, delta) in chunk {
                values.push(key.month.into());
                values.push(key.model_id.into());
                values.push(key.country_code.as_str().into());
                values.push(key.fuel_type.as_str().into());
                values.push(key.transmission.as_str().into());
                values.push(delta.units.into());
                values.push(delta.revenue.into());
                values.push(delta.priced_units.into());
                values.push(delta.row_count.into());
                values.push(delta.coarse_rows.into());
            }
            txn.execute_raw(Statement::from_sql_and_values(self.backend, sql, values)).await?;
        }
        self.write_coarse_dated(txn).await?;
        super::data_version::bump(txn).await?;
        Ok(IngestSummary { rollup_groups: groups.len() as u64, ..self.summary })
    }

    /// Adds the sums of the rows dated only by quarter or year to their own rollup.
    async fn write_coarse_dated<C: ConnectionTrait>(&mut self, txn: &C) -> Result<(), DbErr> {
        let mut groups: Vec<((RollupKey, DatePrecision), RollupDelta)> =
            std::mem::take(&mut self.coarse_dated).into_iter().collect();
        groups.sort_by_key(|(key, _)| *key);
        for chunk in groups.chunks(BATCH_ROWS) {
            let mut sql =
                multi_row_insert(self.backend, "coarse_dated_rollup", COARSE_DATED_COLUMNS, chunk.len());
            sql.push_str(
                " ON CONFLICT (month, model_id, country_code, fuel_type, transmission, date_precision)                  DO UPDATE SET                  units = coarse_dated_rollup.units + excluded.units,                  revenue = coarse_dated_rollup.revenue + excluded.revenue,                  priced_units = coarse_dated_rollup.priced_units + excluded.priced_units,                  row_count = coarse_dated_rollup.row_count + excluded.row_count",
            );
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * COARSE_DATED_COLUMNS.len());
            for ((key, precision), delta) in chunk {
                values.push(key.month.into());
                values.push(key.model_id.into());
                values.push(key.country_code.as_str().into());
                values.push(key.fuel_type.as_str().into());
                values.push(key.transmission.as_str().into());
                values.push(precision.as_str().into());
                values.push(delta.units.into());
                values.push(delta.revenue.into());
                values.push(delta.priced_units.into());
                values.push(delta.row_count.into());
            }
            txn.execute_raw(Statement::from_sql_and_values(self.backend, sql, values)).await?;
        }
        Ok(())
    }
}

/// Every model id and country code the ingest wrote names a catalogue entry: the foreign keys'
/// check, made once per distinct key (the rollup groups hold them all) rather than once per row.
/// Bulk loads on SQLite rely on it (they run without SQLite's per-row checks, see
/// `db::connect_for_bulk_load`), and so does PostgreSQL's partitioned sale table, which has no
/// foreign keys (see the partitioning migration).
async fn check_references<C: ConnectionTrait>(
    txn: &C,
    groups: &[(RollupKey, RollupDelta)],
) -> Result<(), DbErr> {
    let known_models: BTreeSet<i32> = first_column(txn, "SELECT id FROM car_model").await?;
    let known_countries: BTreeSet<String> = first_column(txn, "SELECT code FROM country").await?;
    for (key, _) in groups {
        if !known_models.contains(&key.model_id) {
            return Err(DbErr::Custom(format!(
                "sales name model id {}, which the catalogue lacks",
                key.model_id
            )));
        }
        if !known_countries.contains(key.country_code.as_str()) {
            return Err(DbErr::Custom(format!(
                "sales name country {}, which the catalogue lacks",
                key.country_code.as_str()
            )));
        }
    }
    Ok(())
}

/// The first column of every row of `sql`.
async fn first_column<C: ConnectionTrait, T: sea_orm::TryGetable + Ord>(
    txn: &C,
    sql: &str,
) -> Result<BTreeSet<T>, DbErr> {
    let rows = txn.query_all_raw(Statement::from_string(txn.get_database_backend(), sql)).await?;
    rows.iter().map(|row| row.try_get_by_index::<T>(0)).collect()
}

impl Drop for IngestWriter {
    fn drop(&mut self) {
        if let Some(staging) = self.staging.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(staging.drop_tables());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(
            multi_row_insert(DbBackend::Sqlite, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            multi_row_insert(DbBackend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
