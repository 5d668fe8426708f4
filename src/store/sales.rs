//! Sale rows: the row an ingest writes, keyset pages (newest first, ties by id), the sums of
//! partial months, and whole reads for the SQL endpoint.

use std::path::{Path, PathBuf};

use base64::Engine;
use chrono::NaiveDate;
use entity::sale;
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, Func, Order, Query, SelectStatement, SqliteQueryBuilder,
};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, QueryStream, StreamTrait};

use super::Store;
use super::sql;
use crate::domain::{DatePrecision, FuelType, ResolvedFilter, Transmission};

/// One dealer's sales of one model on one day, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSale {
    pub sold_on: NaiveDate,
    pub model_id: i32,
    pub country_code: String,
    pub units: i32,
    /// USD per unit; `None` when the source had no price (then revenue is null, not zero).
    pub unit_price: Option<f64>,
    pub fuel_type: FuelType,
    pub transmission: Transmission,
    pub color: Option<String>,
    pub date_precision: DatePrecision,
}

impl NewSale {
    pub fn revenue(&self) -> Option<f64> {
        self.unit_price.map(|price| price * f64::from(self.units))
    }
}

/// A position in the newest-first order: opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleCursor {
    pub sold_on: NaiveDate,
    pub id: i64,
}

impl SaleCursor {
    pub fn of(row: &sale::Model) -> Self {
        Self { sold_on: row.sold_on, id: row.id }
    }

    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("sale:{}:{}", self.sold_on, self.id))
    }

    pub fn decode(text: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.strip_prefix("sale:")?.split(':');
        let sold_on = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
        let id = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self { sold_on, id })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `first`/`after`: newest first, from after the cursor.
    Forward,
    /// `last`/`before`: the rows just before the cursor, returned newest first.
    Backward,
}

/// One page and whether more rows lie beyond it in the walking direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<sale::Model>,
    pub has_more: bool,
}

const COLUMNS: &str = "id, sold_on, model_id, country_code, units, unit_price, revenue, fuel_type, transmission, color, date_precision";

/// The statement of one page: rows newest first (ties by id) after the cursor, one more than
/// asked for to tell whether more follow. Its ORDER BY matches idx_sale_sold_on_id, so a page
/// reads only its rows from the index (a test checks the plans).
pub fn page_statement(
    backend: sea_orm::DbBackend,
    filter: &ResolvedFilter,
    direction: Direction,
    cursor: Option<SaleCursor>,
    size: u64,
) -> sea_orm::Statement {
    bounded_page_statement(backend, filter, direction, cursor, size, None)
}

/// [`page_statement`] reading only rows sold on or after `window_start`, when given.
fn bounded_page_statement(
    backend: sea_orm::DbBackend,
    filter: &ResolvedFilter,
    direction: Direction,
    cursor: Option<SaleCursor>,
    size: u64,
    window_start: Option<NaiveDate>,
) -> sea_orm::Statement {
    let mut select = Query::select();
    select
        .columns(COLUMNS.split(", ").map(Alias::new))
        .from(Alias::new("sale"))
        .cond_where(sql::filter_condition(filter));
    if let Some(start) = window_start {
        select.and_where(sql::column("sold_on").gte(start));
    }
    if let Some(cursor) = cursor {
        let keys = Expr::tuple([sql::column("sold_on"), sql::column("id")]);
        let at = Expr::tuple([Expr::val(cursor.sold_on), Expr::val(cursor.id)]);
        // The row comparison alone does not let PostgreSQL skip partitions; the plain bound does.
        match direction {
            Direction::Forward => {
                select.and_where(sql::column("sold_on").lte(cursor.sold_on)).and_where(keys.lt(at))
            }
            Direction::Backward => {
                select.and_where(sql::column("sold_on").gte(cursor.sold_on)).and_where(keys.gt(at))
            }
        };
    }
    let order = match direction {
        Direction::Forward => Order::Desc,
        Direction::Backward => Order::Asc,
    };
    select.order_by(Alias::new("sold_on"), order.clone()).order_by(Alias::new("id"), order).limit(size + 1);
    backend.build(&select)
}

/// One page. Going forward, `window_start` (from [`crate::cube::Cube::page_window`]) bounds
/// the rows read to the months that hold the page according to the in-memory data; should they
/// hold fewer (the data changed since), the page is read again without the bound, so the
/// answer never depends on the in-memory data being current.
pub async fn page(
    store: &Store,
    filter: &ResolvedFilter,
    direction: Direction,
    cursor: Option<SaleCursor>,
    size: u64,
    window_start: Option<NaiveDate>,
) -> Result<Page, DbErr> {
    let window_start = window_start.filter(|_| direction == Direction::Forward);
    let read = |window_start: Option<NaiveDate>| async move {
        let statement =
            bounded_page_statement(store.backend(), filter, direction, cursor, size, window_start);
        store.count_query();
        let rows = store.read().query_all_raw(statement).await?;
        rows.iter().map(sale_of_row).collect::<Result<Vec<_>, DbErr>>()
    };
    let mut rows = read(window_start).await?;
    if window_start.is_some() && rows.len() as u64 <= size {
        rows = read(None).await?;
    }
    let has_more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if direction == Direction::Backward {
        rows.reverse();
    }
    Ok(Page { rows, has_more })
}

/// The `columns` of the sale rows `filter` keeps, at most `limit` of them, in the order the
/// database stores them, as one statement whose rows arrive as the caller takes them: a full
/// read holds a few rows at a time and costs one query, not one per page. The stream holds a
/// pooled connection until it ends or is dropped.
pub async fn stream(
    store: &Store,
    filter: &ResolvedFilter,
    columns: &[sale::Column],
    limit: Option<u64>,
) -> Result<QueryStream, DbErr> {
    let select = select_rows(filter, columns, limit);
    store.count_query();
    store.read().stream_raw(store.backend().build(&select)).await
}

fn select_rows(filter: &ResolvedFilter, columns: &[sale::Column], limit: Option<u64>) -> SelectStatement {
    let mut select = Query::select();
    select
        .columns(columns.iter().copied())
        .from(Alias::new("sale"))
        .cond_where(sql::filter_condition(filter));
    if let Some(limit) = limit {
        select.limit(limit);
    }
    select
}

/// The SQLite file that `store`'s reads go to, when they go to a file rather than to
/// PostgreSQL or a database in memory: [`scan_sqlite`] reads it.
pub fn sqlite_file(store: &Store) -> Option<PathBuf> {
    let read = store.read();
    if read.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let options = read.get_sqlite_connection_pool().connect_options();
    let path = options.get_filename();
    path.is_file().then(|| path.to_path_buf())
}

/// Reads what [`stream`] reads, on a read-only connection of its own to the SQLite file at
/// `path` (from [`sqlite_file`]), on the calling thread (a blocking one): `each` takes every row where it is read and
/// stops the read by returning `false`. sqlx hands each row from its connection's thread to
/// the task over a channel, which held a full read of `sales` near 220,000 rows a second; read
/// here, rows are used where SQLite steps to them. `on_connection` gets the connection's
/// interrupt handle as soon as it is open, so that a reader who has gone can end a statement
/// that is still looking for its first row.
pub fn scan_sqlite(
    store: &Store,
    path: &Path,
    filter: &ResolvedFilter,
    columns: &[sale::Column],
    limit: Option<u64>,
    on_connection: impl FnOnce(rusqlite::InterruptHandle),
    mut each: impl FnMut(&rusqlite::Row<'_>) -> bool,
) -> Result<(), DbErr> {
    let failed =
        |e: rusqlite::Error| DbErr::Custom(format!("reading the sale rows from {}: {e}", path.display()));
    let connection = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    // An ingest holds the file's write lock only while it commits (WAL): wait it out, as the
    // pool's connections do.
    connection.busy_timeout(crate::db::SQLITE_BUSY_TIMEOUT).map_err(failed)?;
    on_connection(connection.get_interrupt_handle());
    // Values written into the statement rather than bound: they are the filter's dates, codes
    // and ids, quoted by sea-query.
    let statement = select_rows(filter, columns, limit).to_string(SqliteQueryBuilder);
    store.count_query();
    let mut statement = connection.prepare(&statement).map_err(failed)?;
    let mut rows = statement.query([]).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        if !each(row) {
            break;
        }
    }
    Ok(())
}

/// How many rows a span of days holds and their lowest and highest ids. Ids are never reused
/// (PostgreSQL's sequence survives TRUNCATE; SQLite's table is AUTOINCREMENT) and rows are only
/// ever added, so an equal span means the same rows: what rows held in memory are checked by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdSpan {
    pub rows: i64,
    pub min_id: i64,
    pub max_id: i64,
}

/// The sale rows sold from `first` up to (not including) `next`.
fn sold_between(first: NaiveDate, next: NaiveDate) -> Condition {
    Condition::all().add(sql::column("sold_on").gte(first)).add(sql::column("sold_on").lt(next))
}

/// The [`IdSpan`] of the rows sold from `first` up to (not including) `next`.
pub async fn id_span<C: ConnectionTrait>(db: &C, first: NaiveDate, next: NaiveDate) -> Result<IdSpan, DbErr> {
    let select = Query::select()
        .expr(Expr::cust("CAST(COUNT(*) AS BIGINT)"))
        .expr(Func::min(sql::column("id")))
        .expr(Func::max(sql::column("id")))
        .from(Alias::new("sale"))
        .cond_where(sold_between(first, next))
        .to_owned();
    let Some(row) = db.query_one_raw(db.get_database_backend().build(&select)).await? else {
        return Ok(IdSpan::default());
    };
    Ok(IdSpan {
        rows: row.try_get_by_index(0)?,
        min_id: row.try_get_by_index::<Option<i64>>(1)?.unwrap_or(0),
        max_id: row.try_get_by_index::<Option<i64>>(2)?.unwrap_or(0),
    })
}

/// Every row sold from `first` up to (not including) `next`, newest first (ties by id).
pub async fn rows_between<C: ConnectionTrait>(
    db: &C,
    first: NaiveDate,
    next: NaiveDate,
) -> Result<Vec<sale::Model>, DbErr> {
    let select = Query::select()
        .columns(COLUMNS.split(", ").map(Alias::new))
        .from(Alias::new("sale"))
        .cond_where(sold_between(first, next))
        .order_by(Alias::new("sold_on"), Order::Desc)
        .order_by(Alias::new("id"), Order::Desc)
        .to_owned();
    let rows = db.query_all_raw(db.get_database_backend().build(&select)).await?;
    rows.iter().map(sale_of_row).collect()
}

/// A row of [`COLUMNS`], read by position: by name, each of a page's ~1,100 values was looked up
/// in the row's column map first (a tenth of a page's server time with the decoding, perf).
fn sale_of_row(row: &sea_orm::QueryResult) -> Result<sale::Model, DbErr> {
    Ok(sale::Model {
        id: row.try_get_by_index(0)?,
        sold_on: row.try_get_by_index(1)?,
        model_id: row.try_get_by_index(2)?,
        country_code: row.try_get_by_index(3)?,
        units: row.try_get_by_index(4)?,
        unit_price: row.try_get_by_index(5)?,
        revenue: row.try_get_by_index(6)?,
        fuel_type: row.try_get_by_index(7)?,
        transmission: row.try_get_by_index(8)?,
        color: row.try_get_by_index(9)?,
        date_precision: row.try_get_by_index(10)?,
    })
}

/// Whether the sale table holds any row.
pub async fn any_sales<C: sea_orm::ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM sale LIMIT 1",
        ))
        .await?;
    Ok(row.is_some())
}

/// The day of the latest sale, if any.
pub async fn last_sale_day<C: sea_orm::ConnectionTrait>(db: &C) -> Result<Option<NaiveDate>, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(sold_on) FROM sale",
        ))
        .await?;
    match row {
        Some(row) => row.try_get_by_index::<Option<NaiveDate>>(0),
        None => Ok(None),
    }
}

/// The day of the latest sale on or after `since` in one of the markets `codes`, if any: one
/// month's rows at most when `since` is the first day of that scope's last month.
pub async fn last_sale_day_among<C: sea_orm::ConnectionTrait>(
    db: &C,
    since: NaiveDate,
    codes: Vec<String>,
) -> Result<Option<NaiveDate>, DbErr> {
    let select = Query::select()
        .expr(Func::max(Expr::col(Alias::new("sold_on"))))
        .from(Alias::new("sale"))
        .and_where(Expr::col(Alias::new("sold_on")).gte(since))
        .and_where(Expr::col(Alias::new("country_code")).is_in(codes))
        .to_owned();
    let row = db.query_one_raw(db.get_database_backend().build(&select)).await?;
    match row {
        Some(row) => row.try_get_by_index::<Option<NaiveDate>>(0),
        None => Ok(None),
    }
}

/// Sums of sale rows in the rollup's grouping (of a partial month, or of a day).
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct EdgeGroup {
    pub model_id: i32,
    pub country_code: String,
    pub fuel_type: String,
    pub transmission: String,
    pub units: i64,
    pub revenue: f64,
    pub priced_units: i64,
    pub row_count: i64,
}

/// The rollup's groups computed from the rows between two days of one month.
pub async fn edge_groups(
    store: &Store,
    filter: &ResolvedFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<EdgeGroup>, DbErr> {
    let narrowed = ResolvedFilter { from: Some(from), to: Some(to), ..filter.clone() };
    let keys = ["model_id", "country_code", "fuel_type", "transmission"].map(Alias::new);
    let mut select = Query::select();
    select.columns(keys.clone());
    sql::select_group_sums(&mut select)
        .from(Alias::new("sale"))
        .cond_where(sql::filter_condition(&narrowed))
        .group_by_columns(keys);
    store.count_query();
    EdgeGroup::find_by_statement(store.backend().build(&select)).all(store.read()).await
}

/// The rows sold from `first` up to (not including) `next`, summed by day and rollup group,
/// by day.
pub async fn day_groups<C: ConnectionTrait>(
    db: &C,
    first: NaiveDate,
    next: NaiveDate,
) -> Result<Vec<(NaiveDate, EdgeGroup)>, DbErr> {
    let keys = ["sold_on", "model_id", "country_code", "fuel_type", "transmission"].map(Alias::new);
    let mut select = Query::select();
    select.columns(keys.clone());
    sql::select_group_sums(&mut select)
        .from(Alias::new("sale"))
        .cond_where(sold_between(first, next))
        .group_by_columns(keys)
        .order_by(Alias::new("sold_on"), Order::Asc);
    let rows = db.query_all_raw(db.get_database_backend().build(&select)).await?;
    rows.iter().map(|row| Ok((row.try_get("", "sold_on")?, EdgeGroup::from_query_result(row, "")?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = SaleCursor { sold_on: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), id: 12345 };
        assert_eq!(SaleCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(SaleCursor::decode("not a cursor"), None);
        assert_eq!(
            SaleCursor::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("sale:x:1")),
            None
        );
    }
}
