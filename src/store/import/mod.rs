//! `salesgraph import` and the `importSales` mutation: CSV in, validated row by row, landed in
//! one transaction — whole, or (with `--skip-invalid`) the good rows only; never half.

pub mod mapping;
mod parquet;
pub mod parse;

use std::io::Read;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use self::mapping::{ColumnMap, Field};
use super::StoreError;
use super::catalogue::Catalogue;
use super::ingest::{IngestWriter, NewSale};
use crate::domain::{BodyType, DatePrecision, FuelType, Transmission};

/// How to read one file (the command line's flags).
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub map: Vec<(Field, String)>,
    pub set: Vec<(Field, String)>,
    pub date_format: Option<String>,
    pub decimal_comma: bool,
    pub skip_invalid: bool,
    /// Body type of models the catalogue lacks, unless the file has a body_type column.
    pub default_body: BodyType,
    pub delimiter: u8,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            map: Vec::new(),
            set: Vec::new(),
            date_format: None,
            decimal_comma: false,
            skip_invalid: false,
            default_body: BodyType::Unknown,
            delimiter: b',',
        }
    }
}

/// How a report numbers the rows it names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Numbering {
    /// The file's own line numbers (a CSV file: the header is line 1).
    #[default]
    Lines,
    /// Rows counted from 1 (a Parquet file, which has no lines).
    Rows,
}

/// A row that could not land, with its place in the file: the file's own line number (the
/// header is line 1), or for a file without lines its row number from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// How many bad rows a report lists; the count covers all of them.
pub const REPORTED_ERRORS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub rows_read: u64,
    pub rows_landed: u64,
    pub rows_rejected: u64,
    pub units_landed: u64,
    /// The first bad rows, in file order.
    pub errors: Vec<RowError>,
    pub models_added: Vec<String>,
    pub markets_added: Vec<String>,
    /// The coarsest date precision among landed rows (DAY when all rows had days).
    pub date_precision: Option<DatePrecision>,
    /// What the errors' numbers count: lines or rows.
    pub numbering: Numbering,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rows read: {}, landed: {}, rejected: {}",
            self.rows_read, self.rows_landed, self.rows_rejected
        )?;
        let place = match self.numbering {
            Numbering::Lines => "line",
            Numbering::Rows => "row",
        };
        for error in &self.errors {
            write!(f, "\n  {place} {}: {}", error.line, error.reason)?;
        }
        if self.rows_rejected as usize > self.errors.len() {
            write!(f, "\n  … and {} more", self.rows_rejected as usize - self.errors.len())?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as asked (no header, a mapped column missing, bad options).
    #[error("{0}")]
    Setup(String),
    /// Some rows are bad and `--skip-invalid` was not given: nothing landed.
    #[error("import rejected, nothing landed: {0}")]
    Rejected(ImportReport),
    /// Another import holds the database's write lock for longer than the busy timeout.
    #[error("another import is writing to the database; retry when it has finished")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// SQLite's "database is locked" as [`ImportError::Busy`]; any other error as it is.
fn busy_or_store(error: sea_orm::DbErr) -> ImportError {
    let text = error.to_string();
    if text.contains("database is locked") || text.contains("(code: 5)") {
        ImportError::Busy
    } else {
        ImportError::from(error)
    }
}

impl From<sea_orm::DbErr> for ImportError {
    fn from(error: sea_orm::DbErr) -> Self {
        ImportError::Store(StoreError::Database(error))
    }
}

/// One row as read, before its model and market are resolved to catalogue entries.
struct ReadRow {
    sale: NewSale,
    model_name: String,
    body_type: Option<BodyType>,
    place: Place,
}

/// Where a row sold: a market by code or name, or only a region (an unallocated market).
enum Place {
    Country(String),
    Region(String),
    Unknown,
}

/// Where the reading thread hands lines over to the import.
type LineSender = tokio::sync::mpsc::Sender<Vec<ReadLine>>;

/// A line of the file as the reader saw it.
struct ReadLine {
    line: u64,
    /// False for records the CSV reader could not read at all (they are not counted as rows).
    counted: bool,
    row: Result<ReadRow, String>,
}

/// Rows written per ingest batch while streaming through a file. Each batch is sorted by date
/// before it is written, so that index inserts land on neighbouring pages instead of all over
/// the file (several times faster on files in no particular order).
const STREAM_BATCH: usize = 100_000;

/// Lines handed from the reading thread to the writer at a time.
const READ_CHUNK: usize = 8_192;

/// Imports CSV: one thread reads and parses the file while the import's transaction writes
/// what was read before, so that parsing and SQLite's work overlap on two cores.
pub async fn import_csv<R: Read + Send + 'static>(
    db: &DatabaseConnection,
    input: R,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(input);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::Setup(format!("cannot read the header line: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let header_count = headers.len();
    land(db, &headers, options, Numbering::Lines, move |columns, options, sender| {
        read_lines(reader, columns, header_count, options, sender)
    })
    .await
}

/// Imports a Parquet file: its columns are the header, each value read as the text a CSV cell
/// would hold (dates ISO), so that mapping, checks and landing are those of a CSV import.
pub async fn import_parquet(
    db: &DatabaseConnection,
    file: std::fs::File,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let file = parquet::ParquetFile::open(file).map_err(ImportError::Setup)?;
    let headers = file.column_names();
    land(db, &headers, options, Numbering::Rows, move |columns, options, sender| {
        file.read_rows(columns, options, sender)
    })
    .await
}

/// Lands what `read` hands over, read on a blocking thread while the transaction writes.
async fn land(
    db: &DatabaseConnection,
    headers: &[String],
    options: &ImportOptions,
    numbering: Numbering,
    read: impl FnOnce(&ColumnMap, &ImportOptions, &LineSender) + Send + 'static,
) -> Result<ImportReport, ImportError> {
    let columns = ColumnMap::resolve(headers, &options.map, &options.set).map_err(ImportError::Setup)?;
    let (sender, mut lines) = tokio::sync::mpsc::channel::<Vec<ReadLine>>(4);
    let reading_options = options.clone();
    let reading = tokio::task::spawn_blocking(move || read(&columns, &reading_options, &sender));

    let mut catalogue = Catalogue::load(db).await?;
    // The transaction is shared with the writing task: catalogue additions (rare) go through it
    // from here, before any batch naming them is handed over, so foreign keys hold.
    // On SQLite the write lock is taken at BEGIN (IMMEDIATE), so that a second import waits
    // for the first (the busy timeout) instead of failing when it upgrades a read lock.
    let immediate = sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let txn = Arc::new(db.begin_with_options(immediate).await.map_err(busy_or_store)?);
    // On PostgreSQL, imports run one after the other too: two at once upsert the same rollup
    // groups in different orders and one of them dies of a deadlock. The lock is the
    // transaction's: it goes with the commit, the rollback, or a killed process's connection.
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7302215102)").await?;
    }
    let (to_writer, mut batches) = tokio::sync::mpsc::channel::<Vec<NewSale>>(2);
    // Into an empty table (a first load), the indexes are built once at the end.
    let empty = !super::sales::any_sales(&*txn).await?;
    let writing = {
        let txn = txn.clone();
        let mut writer = IngestWriter::new(db);
        if empty {
            writer.defer_indexes(&*txn).await?;
        }
        tokio::spawn(async move {
            while let Some(batch) = batches.recv().await {
                writer.write(&*txn, batch).await?;
            }
            Ok::<IngestWriter, sea_orm::DbErr>(writer)
        })
    };
    let mut report = ImportReport { numbering, ..ImportReport::default() };
    let mut batch: Vec<NewSale> = Vec::with_capacity(STREAM_BATCH);
    'reading: while let Some(chunk) = lines.recv().await {
        for ReadLine { line, counted, row } in chunk {
            if counted {
                report.rows_read += 1;
            }
            let row = match row {
                Ok(row) => row,
                Err(reason) => {
                    reject(&mut report, line, reason);
                    continue;
                }
            };
            match resolve(&*txn, &mut catalogue, row, options, &mut report).await? {
                Ok(sale) => {
                    // Once a row is bad and the file will be rejected, later rows are only checked.
                    if report.rows_rejected == 0 || options.skip_invalid {
                        let precision = sale.date_precision;
                        report.date_precision =
                            Some(report.date_precision.map_or(precision, |p| p.max(precision)));
                        report.units_landed += sale.units as u64;
                        batch.push(sale);
                        if batch.len() >= STREAM_BATCH {
                            batch.sort_by_key(|sale| sale.sold_on);
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(STREAM_BATCH));
                            if to_writer.send(full).await.is_err() {
                                // The writer failed: its error is read below.
                                break 'reading;
                            }
                        }
                    }
                }
                Err(reason) => reject(&mut report, line, reason),
            }
        }
    }
    drop(lines);
    let rejected = report.rows_rejected > 0 && !options.skip_invalid;
    if !rejected {
        batch.sort_by_key(|sale| sale.sold_on);
        // A closed channel means the writer failed; its error is read below.
        let _ = to_writer.send(batch).await;
    }
    drop(to_writer);
    let mut writer = writing.await.map_err(|e| ImportError::Setup(format!("the writer stopped: {e}")))??;
    reading.await.map_err(|e| ImportError::Setup(format!("the file reader stopped: {e}")))?;
    let txn = Arc::try_unwrap(txn)
        .map_err(|_| ImportError::Setup("the import's transaction is still shared".to_string()))?;
    // A file without a row to land (a header alone, or every row skipped) changes nothing:
    // not the catalogue, not the data version.
    let nothing_to_land = report.units_landed == 0;
    if rejected || nothing_to_land {
        txn.rollback().await?;
        writer.close().await;
        report.units_landed = 0;
        report.date_precision = None;
        report.models_added.clear();
        report.markets_added.clear();
        return if rejected { Err(ImportError::Rejected(report)) } else { Ok(report) };
    }
    let summary = writer.finish(&txn).await?;
    let total_units = all_units(&txn).await?;
    if total_units > i64::from(i32::MAX) {
        txn.rollback().await?;
        writer.close().await;
        return Err(ImportError::Setup(format!(
            "nothing landed: the import would bring the units stored to {total_units}, beyond the {} that \
             every total (a GraphQL Int) can hold",
            i32::MAX
        )));
    }
    txn.commit().await?;
    writer.close().await;
    report.rows_landed = summary.rows;
    Ok(report)
}

/// Units of every sale stored (the rollup's sum). Kept within a GraphQL `Int` by every import,
/// so that no total of any filter or grouping can exceed it.
async fn all_units<C: ConnectionTrait>(txn: &C) -> Result<i64, sea_orm::DbErr> {
    let row = txn
        .query_one_raw(sea_orm::Statement::from_string(
            txn.get_database_backend(),
            "SELECT CAST(COALESCE(SUM(units), 0) AS BIGINT) FROM monthly_rollup",
        ))
        .await?;
    Ok(row.map(|row| row.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0))
}

/// Reads and parses the file on a blocking thread, handing lines over in chunks; stops early
/// when the writer has gone (it failed).
fn read_lines<R: Read>(
    mut reader: csv::Reader<R>,
    columns: &ColumnMap,
    header_count: usize,
    options: &ImportOptions,
    sender: &LineSender,
) {
    let mut chunks = LineChunks::new(sender);
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                if !chunks.push(ReadLine { line, counted: false, row: Err(format!("unreadable CSV: {e}")) }) {
                    return;
                }
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        // Fewer cells than the header is a row whose last columns are empty; more is a row
        // whose cells cannot be told apart (an unquoted delimiter inside a value).
        let row = if record.len() > header_count {
            Err(format!("the row has {} fields but the header has {header_count}", record.len()))
        } else {
            read_row(columns, &record, options)
        };
        if !chunks.push(ReadLine { line, counted: true, row }) {
            return;
        }
    }
    chunks.finish();
}

/// Hands the lines read to the import [`READ_CHUNK`] at a time.
struct LineChunks<'s> {
    sender: &'s LineSender,
    chunk: Vec<ReadLine>,
}

impl<'s> LineChunks<'s> {
    fn new(sender: &'s LineSender) -> Self {
        Self { sender, chunk: Vec::with_capacity(READ_CHUNK) }
    }

    /// False when the writer has gone (it failed): reading can stop.
    fn push(&mut self, line: ReadLine) -> bool {
        self.chunk.push(line);
        if self.chunk.len() < READ_CHUNK {
            return true;
        }
        let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(READ_CHUNK));
        self.sender.blocking_send(full).is_ok()
    }

    fn finish(self) {
        if !self.chunk.is_empty() {
            let _ = self.sender.blocking_send(self.chunk);
        }
    }
}

/// The start of a value for an error message, however long the value.
fn excerpt(value: &str) -> String {
    const SHOWN: usize = 40;
    let mut shown: String = value.chars().take(SHOWN).collect::<String>().escape_default().collect();
    if value.chars().nth(SHOWN).is_some() {
        shown.push('…');
    }
    shown
}

fn reject(report: &mut ImportReport, line: u64, reason: String) {
    report.rows_rejected += 1;
    if report.errors.len() < REPORTED_ERRORS {
        report.errors.push(RowError { line, reason });
    }
}

/// Parses the cells of one record that need no catalogue.
fn read_row(
    columns: &ColumnMap,
    record: &csv::StringRecord,
    options: &ImportOptions,
) -> Result<ReadRow, String> {
    let (sold_on, date_precision) = match columns.get_untrimmed(record, Field::SoldOn) {
        Some(date) => parse::parse_date(date, options.date_format.as_deref())?,
        None => match columns.get(record, Field::Year) {
            Some(year) => parse::parse_split_date(
                year,
                columns.get(record, Field::Quarter),
                columns.get(record, Field::Month),
                columns.get(record, Field::Day),
            )?,
            None => return Err("no date".to_string()),
        },
    };
    let model_name = columns
        .get(record, Field::Model)
        .map(|m| m.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace()).to_string())
        .filter(|m| !m.is_empty())
        .ok_or("no model")?;
    parse::check_name("model name", &model_name)?;
    let units = match columns.get(record, Field::Units) {
        Some(units) => parse::parse_units(units, options.decimal_comma)?,
        None if columns.provides(Field::Units) => return Err("units is empty".to_string()),
        None => 1,
    };
    let unit_price = match columns.get(record, Field::UnitPrice) {
        Some(price) => parse::parse_price(price, options.decimal_comma)?,
        None => None,
    };
    let fuel_type = match columns.get(record, Field::FuelType) {
        Some(fuel) => fuel.parse::<FuelType>().map_err(|e| e.to_string())?,
        None => FuelType::Unknown,
    };
    let transmission = match columns.get(record, Field::Transmission) {
        Some(t) => t.parse::<Transmission>().map_err(|e| e.to_string())?,
        None => Transmission::Unknown,
    };
    let color = columns.get(record, Field::Color).map(str::to_string);
    if let Some(color) = &color {
        parse::check_name("color", color)?;
    }
    let place = match (columns.get(record, Field::Country), columns.get(record, Field::Region)) {
        (Some(country), _) => Place::Country(country.to_string()),
        (None, Some(region)) => Place::Region(region.to_string()),
        (None, None) => Place::Unknown,
    };
    let body_type = columns
        .get(record, Field::BodyType)
        .map(str::parse::<BodyType>)
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(ReadRow {
        sale: NewSale {
            sold_on,
            model_id: 0,
            country_code: String::new(),
            units,
            unit_price,
            fuel_type,
            transmission,
            color,
            date_precision,
        },
        model_name,
        body_type,
        place,
    })
}

/// Finds (or, inside the import's transaction, adds) the row's model and market.
async fn resolve<C: ConnectionTrait>(
    txn: &C,
    catalogue: &mut Catalogue,
    mut row: ReadRow,
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Result<Result<NewSale, String>, ImportError> {
    let country_code = match &row.place {
        Place::Country(country) => match catalogue.country(country) {
            Some(c) => c.code.clone(),
            None => {
                return Ok(Err(format!(
                    "unknown country \"{}\" (use an ISO code such as DE or DEU, or the country's name in English or its own language)",
                    excerpt(country)
                )));
            }
        },
        Place::Region(region) => {
            let Some((code, name)) = migration::catalogue::unallocated_market(region) else {
                return Ok(Err(format!(
                    "unknown region \"{}\" (expected one of {})",
                    excerpt(region),
                    catalogue.regions().join(", ")
                )));
            };
            if catalogue.country(code).is_none() {
                let region_name = name.trim_end_matches(" (unallocated)").to_string();
                catalogue.add_country(txn, code, &name, &region_name).await?;
                report.markets_added.push(name);
            }
            code.to_string()
        }
        Place::Unknown => return Ok(Err("no country or region".to_string())),
    };
    let model_id = match catalogue.model_by_name(&row.model_name) {
        Some(model) => model.id,
        None => {
            let body = row.body_type.unwrap_or(options.default_body);
            let model = catalogue.add_model(txn, &row.model_name, body).await?;
            report.models_added.push(model.name.clone());
            model.id
        }
    };
    row.sale.model_id = model_id;
    row.sale.country_code = country_code;
    Ok(Ok(row.sale))
}
