//! PostgreSQL's bulk path for ingests. sea-orm gives no access to its transaction's connection,
//! and COPY needs one; so each batch is COPYed into a fresh UNLOGGED staging table on a second
//! pooled connection, and the ingest's own transaction moves it into `sale` with one INSERT …
//! SELECT. The sale rows, the rollup and the data version still land in that one transaction
//! or not at all; the staging tables are scratch, dropped when the ingest ends. A process killed
//! mid-ingest leaves its tables behind; they are named after the backend process of the COPY
//! connection (`sale_staging_<backend pid>_…`), so that [`sweep_stale`] (run before every ingest
//! and at start-up) drops exactly those whose backend is gone, never the tables of an ingest
//! still running in another process or replica.

use std::fmt::Write as _;

use sea_orm::DbErr;
use sea_orm::sqlx::{self, PgPool};

use super::sales::NewSale;

/// Staging tables are named with this prefix, the process id and a counter.
pub const STAGING_PREFIX: &str = "sale_staging_";

pub struct Staging {
    pool: PgPool,
    connection: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
    tables: Vec<String>,
    /// Distinguishes this writer's tables from other ingests running at the same time.
    tag: String,
}

fn db_error(what: &str, error: sqlx::Error) -> DbErr {
    DbErr::Custom(format!("{what}: {error}"))
}

impl Staging {
    pub fn new(pool: PgPool) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self { pool, connection: None, tables: Vec::new(), tag: nanos.to_string() }
    }

    /// COPYs one batch (rows in COPY's text format, `columns` in order) into a new staging table
    /// and returns its name.
    pub async fn copy_batch(&mut self, columns: &[&str], data: &str) -> Result<String, DbErr> {
        if self.connection.is_none() {
            let mut connection =
                self.pool.acquire().await.map_err(|e| db_error("a connection for COPY", e))?;
            let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *connection)
                .await
                .map_err(|e| db_error("reading the backend id", e))?;
            self.tag = format!("{backend}_{}", self.tag);
            sweep_stale(&mut connection).await?;
            self.connection = Some(connection);
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(DbErr::Custom("no connection for COPY".into()));
        };
        let table = format!("{STAGING_PREFIX}{}_{}", self.tag, self.tables.len());
        // The name is ours (prefix, pid, counter): nothing from outside reaches the SQL.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE UNLOGGED TABLE {table} (sold_on date, model_id int4, country_code text, units int4, \
             unit_price float8, revenue float8, fuel_type text, transmission text, color text, \
             date_precision text)"
        )))
        .execute(&mut **connection)
        .await
        .map_err(|e| db_error("creating a staging table", e))?;
        self.tables.push(table.clone());
        let mut copy = connection
            .copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", columns.join(", ")))
            .await
            .map_err(|e| db_error("starting COPY", e))?;
        copy.send(data.as_bytes()).await.map_err(|e| db_error("sending COPY data", e))?;
        copy.finish().await.map_err(|e| db_error("finishing COPY", e))?;
        Ok(table)
    }

    /// Drops this writer's staging tables (best effort: a failure is logged).
    pub async fn drop_tables(mut self) {
        let Some(mut connection) = self.connection.take() else { return };
        for table in std::mem::take(&mut self.tables) {
            if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
                .execute(&mut *connection)
                .await
            {
                tracing::warn!(%error, table, "dropping a staging table");
            }
        }
    }
}

/// The backend process id a staging table's name carries, if it is one of ours.
fn backend_of_table(table: &str) -> Option<i32> {
    table.strip_prefix(STAGING_PREFIX)?.split('_').next()?.parse().ok()
}

/// Drops the staging tables whose COPY connection has ended (an ingest that was killed): a
/// table whose backend is still connected belongs to an ingest that may still be running.
pub async fn sweep_stale(connection: &mut sqlx::PgConnection) -> Result<u64, DbErr> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'sale\\_staging\\_%'",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| db_error("listing staging tables", e))?;
    if tables.is_empty() {
        return Ok(0);
    }
    let live: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity")
        .fetch_all(&mut *connection)
        .await
        .map_err(|e| db_error("listing live backends", e))?;
    let mut dropped = 0;
    for table in tables {
        if backend_of_table(&table).is_some_and(|backend| live.contains(&backend)) {
            continue;
        }
        // The name was read from the catalogue and starts with our prefix; quoted all the same.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {quoted}")))
            .execute(&mut *connection)
            .await
            .map_err(|e| db_error("dropping a stale staging table", e))?;
        tracing::info!(table, "dropped a staging table left by an interrupted ingest");
        dropped += 1;
    }
    Ok(dropped)
}

/// [`sweep_stale`] on a connection of `pool`: what a server does when it starts.
pub async fn sweep_stale_in(pool: &PgPool) -> Result<u64, DbErr> {
    let mut connection = pool.acquire().await.map_err(|e| db_error("a connection for the sweep", e))?;
    sweep_stale(&mut connection).await
}

/// Rows in COPY's text format, in the ingest's column order: tab-separated, `\N` for null,
/// backslash escapes for the characters COPY gives meaning to.
#[cfg(test)]
fn copy_text(rows: &[NewSale]) -> String {
    let mut out = String::with_capacity(rows.len() * 96);
    append_copy_text(&mut out, rows);
    out
}

/// Appends rows in COPY's text format (see `copy_text`).
pub fn append_copy_text(out: &mut String, rows: &[NewSale]) {
    out.reserve(rows.len() * 96);
    for sale in rows {
        let _ = write!(out, "{}\t{}\t", sale.sold_on, sale.model_id);
        escape_into(out, &sale.country_code);
        let _ = write!(out, "\t{}\t", sale.units);
        match sale.unit_price {
            Some(price) => {
                let _ = write!(out, "{price}");
            }
            None => out.push_str("\\N"),
        }
        out.push('\t');
        match sale.revenue() {
            Some(revenue) => {
                let _ = write!(out, "{revenue}");
            }
            None => out.push_str("\\N"),
        }
        let _ = write!(out, "\t{}\t{}\t", sale.fuel_type.as_str(), sale.transmission.as_str());
        match &sale.color {
            Some(color) => escape_into(out, color),
            None => out.push_str("\\N"),
        }
        let _ = writeln!(out, "\t{}", sale.date_precision.as_str());
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DatePrecision, FuelType, Transmission};

    #[test]
    fn staging_tables_name_their_backend() {
        assert_eq!(backend_of_table("sale_staging_4242_123_0"), Some(4242));
        assert_eq!(backend_of_table("sale_staging_x_1"), None);
        assert_eq!(backend_of_table("sale"), None);
    }

    #[test]
    fn copy_text_escapes_and_writes_nulls() {
        let sale = NewSale {
            sold_on: chrono::NaiveDate::from_ymd_opt(2024, 3, 9).expect("date"),
            model_id: 7,
            country_code: "DE".into(),
            units: 2,
            unit_price: Some(50_000.5),
            fuel_type: FuelType::Electric,
            transmission: Transmission::Automatic,
            color: Some("Blue\\Grey\tmetallic".into()),
            date_precision: DatePrecision::Day,
        };
        let unpriced = NewSale { unit_price: None, color: None, ..sale.clone() };
        assert_eq!(
            copy_text(&[sale, unpriced]),
            "2024-03-09\t7\tDE\t2\t50000.5\t100001\tELECTRIC\tAUTOMATIC\tBlue\\\\Grey\\tmetallic\tDAY\n\
             2024-03-09\t7\tDE\t2\t\\N\t\\N\tELECTRIC\tAUTOMATIC\t\\N\tDAY\n"
        );
    }
}
