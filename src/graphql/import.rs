//! The admin mutation `importSales`: the command line's CSV import over GraphQL.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::app;
use super::enums::BodyType;
use super::error::ApiError;
use crate::store::import::mapping::parse_assignment;
use crate::store::import::{ImportError, ImportOptions, ImportReport, import_csv};

/// How to read the CSV text: the same options as `salesgraph import`.
#[derive(InputObject, Default)]
pub struct ImportSalesOptions {
    /// Field-to-column assignments, e.g. ["sold_on=Date", "units=Quantity"].
    pub map: Option<Vec<String>>,
    /// Values for fields the file lacks, e.g. ["country=NO"].
    pub set: Option<Vec<String>>,
    /// chrono format of the date column, e.g. "%d.%m.%Y", "%Y-%m" or "%Y".
    pub date_format: Option<String>,
    /// Numbers use a decimal comma ("8.300,00").
    pub decimal_comma: Option<bool>,
    /// Land the good rows and report the bad ones instead of rejecting the whole file.
    pub skip_invalid: Option<bool>,
    /// Body type of models the catalogue does not know yet.
    pub body: Option<BodyType>,
    /// One-character field delimiter (default ",").
    pub delimiter: Option<String>,
}

/// A CSV line that could not land.
#[derive(SimpleObject)]
pub struct ImportRowError {
    /// Line number in the file (the header is line 1).
    pub line: i64,
    /// What is wrong with the row, naming the column and value.
    pub reason: String,
}

/// What an import did. When `landed` is false nothing changed.
#[derive(SimpleObject)]
pub struct ImportResult {
    /// True when the rows were stored (all of them, or the valid ones with skipInvalid).
    pub landed: bool,
    /// Data rows in the file (the header not counted).
    pub rows_read: i64,
    /// Rows stored.
    pub rows_landed: i64,
    /// Rows refused as invalid.
    pub rows_rejected: i64,
    /// The first bad rows, in file order.
    pub errors: Vec<ImportRowError>,
    /// Models the import added to the catalogue.
    pub models_added: Vec<String>,
}

impl ImportResult {
    fn from_report(report: ImportReport, landed: bool) -> Self {
        Self {
            landed,
            rows_read: report.rows_read as i64,
            rows_landed: report.rows_landed as i64,
            rows_rejected: report.rows_rejected as i64,
            errors: report
                .errors
                .into_iter()
                .map(|e| ImportRowError { line: e.line as i64, reason: e.reason })
                .collect(),
            models_added: report.models_added,
        }
    }
}

fn import_options(input: ImportSalesOptions) -> Result<ImportOptions, ApiError> {
    let assignments = |list: Option<Vec<String>>| -> Result<Vec<_>, ApiError> {
        list.into_iter().flatten().map(|a| parse_assignment(&a).map_err(ApiError::BadUserInput)).collect()
    };
    let delimiter = match input.delimiter.as_deref() {
        None => b',',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some("\\t") => b'\t',
        Some(d) => return Err(ApiError::BadUserInput(format!("delimiter \"{d}\" must be one character"))),
    };
    Ok(ImportOptions {
        map: assignments(input.map)?,
        set: assignments(input.set)?,
        date_format: input.date_format,
        decimal_comma: input.decimal_comma.unwrap_or(false),
        skip_invalid: input.skip_invalid.unwrap_or(false),
        default_body: input.body.map_or(crate::domain::BodyType::Unknown, Into::into),
        delimiter,
    })
}

#[derive(Default)]
pub struct MutationRoot;

/// Changing data (admin only).
#[Object(name = "Mutation")]
impl MutationRoot {
    /// Imports sales from CSV text in one transaction (admin only). A file with bad rows lands
    /// nothing unless `skipInvalid` is set; either way the rows' line numbers and reasons return.
    #[graphql(visible = "crate::access::visibility::mutation_import_sales")]
    async fn import_sales(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The CSV text: a header row, then one sale per row (see the README).")] csv: String,
        #[graphql(desc = "Column mapping, date format and whether to skip invalid rows.")] options: Option<
            ImportSalesOptions,
        >,
    ) -> Result<Option<ImportResult>> {
        let app = app(ctx)?;
        let options = import_options(options.unwrap_or_default())?;
        let result = match import_csv(&app.store.db, std::io::Cursor::new(csv.into_bytes()), &options).await {
            Ok(report) => {
                let landed = report.rows_landed > 0;
                ImportResult::from_report(report, landed)
            }
            Err(ImportError::Rejected(report)) => ImportResult::from_report(report, false),
            Err(ImportError::Setup(message)) => return Err(ApiError::BadUserInput(message).into()),
            Err(error @ ImportError::Busy) => return Err(ApiError::Busy(error.to_string()).into()),
            Err(ImportError::Store(error)) => return Err(ApiError::internal(error).into()),
        };
        if result.landed {
            app.refresh().await.map_err(ApiError::internal)?;
        }
        Ok(Some(result))
    }
}
