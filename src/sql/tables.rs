//! The four tables of the SQL endpoint, read from the same data as the GraphQL API: the sale
//! rows from the database (one streamed statement per read), the monthly rollup from the in-memory cube,
//! and the catalogue. Each scan applies the connection's policy below the SQL engine: a
//! manager's rows are cut to its regions, a column the role may not see refuses the scan, and a
//! table the role may not read refuses it too, whatever SQL asked for them.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use entity::sale;
use sea_orm::IdenStatic;

use crate::access::{AccessPolicy, scope_for};
use crate::app::AppContext;
use crate::auth::Viewer;
use crate::domain::{FuelType, Month, ResolvedFilter, Transmission};
use crate::store::catalogue::Catalogue;

/// Who a connection runs as, and until when (seconds since the epoch, its token's expiry):
/// empty until its login succeeds, then fixed for its life.
#[derive(Debug, Default)]
pub struct ConnectionViewer(OnceLock<(Viewer, u64)>);

impl ConnectionViewer {
    pub fn log_in(&self, viewer: Viewer, until: u64) {
        // A connection logs in once; pgwire does not run the startup handler again after it.
        let _ = self.0.set((viewer, until));
    }

    pub fn get(&self) -> Option<&Viewer> {
        self.0.get().map(|(viewer, _)| viewer)
    }

    /// The viewer while its token is valid.
    pub fn current(&self) -> Result<&Viewer, Refusal> {
        let (viewer, until) = self.0.get().ok_or(Refusal::NotLoggedIn)?;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if now > *until {
            return Err(Refusal::Expired);
        }
        Ok(viewer)
    }
}

/// Why a scan was refused; the endpoint answers these with SQLSTATE 42501.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "permission denied for column \"{column}\" of table \"{table}\": the {role} role may not see money"
    )]
    Column { table: &'static str, column: &'static str, role: String },
    #[error("permission denied for table \"{table}\": the {role} role may not read {what}")]
    Table { table: &'static str, role: String, what: &'static str },
    #[error("permission denied: the connection has not logged in")]
    NotLoggedIn,
    #[error("the token this connection logged in with has expired: connect again with a fresh one")]
    Expired,
}

/// A column of a table, and the schema coordinate whose policy guards it, if any.
struct Column {
    name: &'static str,
    data_type: DataType,
    nullable: bool,
    guarded_by: Option<&'static str>,
}

const fn column(name: &'static str, data_type: DataType) -> Column {
    Column { name, data_type, nullable: false, guarded_by: None }
}

const fn nullable(name: &'static str, data_type: DataType) -> Column {
    Column { name, data_type, nullable: true, guarded_by: None }
}

const fn money(name: &'static str, coordinate: &'static str) -> Column {
    Column { name, data_type: DataType::Float64, nullable: true, guarded_by: Some(coordinate) }
}

/// A table: its name, columns, and the coordinate that guards reading it at all.
pub struct TableSpec {
    pub name: &'static str,
    columns: &'static [Column],
    guarded_by: Option<(&'static str, &'static str)>,
}

pub const SALES: TableSpec = TableSpec {
    name: "sales",
    columns: &[
        column("id", DataType::Int64),
        column("sold_on", DataType::Date32),
        column("model", DataType::Utf8),
        column("country", DataType::Utf8),
        column("region", DataType::Utf8),
        column("body_type", DataType::Utf8),
        column("fuel_type", DataType::Utf8),
        column("transmission", DataType::Utf8),
        nullable("color", DataType::Utf8),
        column("units", DataType::Int64),
        money("unit_price_usd", "Sale.unitPrice"),
        money("revenue", "Sale.revenue"),
        column("date_precision", DataType::Utf8),
    ],
    guarded_by: Some(("Query.sales", "sale rows")),
};

pub const SALES_MONTHLY: TableSpec = TableSpec {
    name: "sales_monthly",
    columns: &[
        column("month", DataType::Date32),
        column("model", DataType::Utf8),
        column("country", DataType::Utf8),
        column("region", DataType::Utf8),
        column("body_type", DataType::Utf8),
        column("fuel_type", DataType::Utf8),
        column("transmission", DataType::Utf8),
        column("units", DataType::Int64),
        money("revenue", "SalesAggregate.revenue"),
        column("sale_rows", DataType::Int64),
    ],
    guarded_by: None,
};

pub const CAR_MODELS: TableSpec = TableSpec {
    name: "car_models",
    columns: &[
        column("id", DataType::Int32),
        column("name", DataType::Utf8),
        column("body_type", DataType::Utf8),
        money("base_price", "CarModel.basePrice"),
        nullable("launch_year", DataType::Int32),
        nullable("end_year", DataType::Int32),
    ],
    guarded_by: None,
};

pub const COUNTRIES: TableSpec = TableSpec {
    name: "countries",
    columns: &[
        column("code", DataType::Utf8),
        column("name", DataType::Utf8),
        column("region", DataType::Utf8),
    ],
    guarded_by: None,
};

pub const TABLES: [&TableSpec; 4] = [&SALES, &SALES_MONTHLY, &CAR_MODELS, &COUNTRIES];

impl TableSpec {
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.data_type.clone(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    pub fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }

    /// Refuses a scan of `projection` (every column when `None`) that the viewer may not make.
    pub fn check(&self, viewer: &Viewer, policy: &AccessPolicy, projection: &[usize]) -> Result<(), Refusal> {
        if let Some((coordinate, what)) = self.guarded_by
            && !policy.allows(viewer.role, coordinate)
        {
            return Err(Refusal::Table { table: self.name, role: viewer.role.to_string(), what });
        }
        for &at in projection {
            if let Some(column) = self.columns.get(at)
                && let Some(coordinate) = column.guarded_by
                && !policy.allows(viewer.role, coordinate)
            {
                return Err(Refusal::Column {
                    table: self.name,
                    column: column.name,
                    role: viewer.role.to_string(),
                });
            }
        }
        Ok(())
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// One of the tables, as DataFusion reads it.
pub struct SalesgraphTable {
    app: Arc<AppContext>,
    spec: &'static TableSpec,
    schema: SchemaRef,
    /// Turns to read `sales`, shared by every table of the endpoint ([`SALE_READS_AT_ONCE`]).
    sale_reads: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for TableSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl std::fmt::Debug for SalesgraphTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesgraphTable").field("table", &self.spec.name).finish()
    }
}

impl SalesgraphTable {
    pub fn new(
        app: Arc<AppContext>,
        spec: &'static TableSpec,
        sale_reads: Arc<tokio::sync::Semaphore>,
    ) -> Self {
        Self { app, schema: spec.schema(), spec, sale_reads }
    }
}

fn refused(refusal: Refusal) -> DataFusionError {
    DataFusionError::External(Box::new(refusal))
}

fn engine_error(error: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

#[async_trait]
impl TableProvider for SalesgraphTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every filter is also applied above the scan: the scan only narrows what it reads by the
    /// ones it understands (months, countries, regions, models, fuels, gearboxes).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let connection = state
            .config()
            .get_extension::<ConnectionViewer>()
            .ok_or_else(|| refused(Refusal::NotLoggedIn))?;
        let viewer = connection.current().map_err(refused)?;
        let policy = self.app.policy.current();
        let all: Vec<usize> = (0..self.spec.columns.len()).collect();
        let columns = projection.map_or(all.as_slice(), Vec::as_slice);
        self.spec.check(viewer, &policy, columns).map_err(refused)?;

        let snapshot = self.app.snapshot();
        let catalogue = snapshot.catalogue.clone();
        let allowed = scope_for(viewer, &policy).countries(&catalogue);
        let filter = narrowing(self.spec, filters, &catalogue, allowed);
        let projection = projection.cloned();
        match self.spec.name {
            "sales" => {
                let schema = Arc::new(self.schema.project(columns)?);
                let columns: Vec<SaleColumn> = columns.iter().map(|at| SaleColumn::ALL[*at]).collect();
                let read = SaleRead {
                    app: self.app.clone(),
                    catalogue,
                    filter,
                    columns,
                    schema: schema.clone(),
                    limit,
                };
                let stream = SaleRows { read, reads: self.sale_reads.clone() };
                let plan = StreamingTableExec::try_new(
                    schema,
                    vec![Arc::new(stream)],
                    None,
                    Vec::new(),
                    false,
                    limit,
                )?;
                Ok(Arc::new(plan))
            }
            "sales_monthly" => {
                // Only the columns asked for are built: the batch is already the projection.
                let batch = monthly_rows(&snapshot, &filter, &self.schema, columns)?;
                Ok(MemorySourceConfig::try_new_exec(&[vec![batch.clone()]], batch.schema(), None)?)
            }
            "car_models" => {
                let batch = model_rows(&catalogue, &self.schema)?;
                Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema.clone(), projection)?)
            }
            _ => {
                let batch = country_rows(&catalogue, filter.countries.as_ref(), &self.schema)?;
                Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema.clone(), projection)?)
            }
        }
    }
}

/// What the understood filters narrow the rows to, within the viewer's countries (`allowed`,
/// `None` for every country). A superset of the rows the filters keep: anything not understood
/// narrows nothing, and the engine applies every filter again above the scan.
pub fn narrowing(
    spec: &TableSpec,
    filters: &[Expr],
    catalogue: &Catalogue,
    allowed: Option<BTreeSet<String>>,
) -> ResolvedFilter {
    let mut filter = ResolvedFilter { countries: allowed, ..ResolvedFilter::default() };
    let date_column = if spec.name == "sales" { "sold_on" } else { "month" };
    for expr in filters {
        narrow_by(&mut filter, expr, date_column, spec, catalogue);
    }
    filter
}

fn restrict<T: Ord + Clone>(current: &mut Option<BTreeSet<T>>, values: BTreeSet<T>) {
    *current = Some(match current.take() {
        Some(before) => before.intersection(&values).cloned().collect(),
        None => values,
    });
}

fn text_of(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8(Some(text))
        | ScalarValue::LargeUtf8(Some(text))
        | ScalarValue::Utf8View(Some(text)) => Some(text),
        _ => None,
    }
}

fn date_of(value: &ScalarValue) -> Option<NaiveDate> {
    match value {
        ScalarValue::Date32(Some(days)) => crate::domain::date_of_days_since_epoch(*days),
        other => text_of(other).and_then(crate::domain::parse_iso_day),
    }
}

fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(column) => Some(column.name.as_str()),
        _ => None,
    }
}

fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(value, _) => Some(value),
        _ => None,
    }
}

fn narrow_by(
    filter: &mut ResolvedFilter,
    expr: &Expr,
    date_column: &str,
    spec: &TableSpec,
    catalogue: &Catalogue,
) {
    match expr {
        Expr::BinaryExpr(binary) if binary.op == Operator::And => {
            narrow_by(filter, &binary.left, date_column, spec, catalogue);
            narrow_by(filter, &binary.right, date_column, spec, catalogue);
        }
        Expr::BinaryExpr(binary) => {
            let (name, value, op) = match (column_name(&binary.left), literal(&binary.right)) {
                (Some(name), Some(value)) => (name, value, binary.op),
                _ => match (literal(&binary.left), column_name(&binary.right)) {
                    (Some(value), Some(name)) => match binary.op.swap() {
                        Some(op) => (name, value, op),
                        None => return,
                    },
                    _ => return,
                },
            };
            if spec.position(name).is_none() {
                return;
            }
            if name == date_column {
                let Some(day) = date_of(value) else { return };
                match op {
                    Operator::Eq => {
                        filter.from = filter.from.max(Some(day));
                        filter.to = Some(filter.to.map_or(day, |to| to.min(day)));
                    }
                    Operator::Gt | Operator::GtEq => filter.from = filter.from.max(Some(day)),
                    Operator::Lt | Operator::LtEq => {
                        filter.to = Some(filter.to.map_or(day, |to| to.min(day)))
                    }
                    _ => {}
                }
                if date_column == "month" {
                    // A month row is dated by its first day: any later day of the month stays in.
                    filter.from = filter.from.and_then(|from| Month::of(from).first_day());
                }
            } else if op == Operator::Eq
                && let Some(text) = text_of(value)
            {
                narrow_to(filter, name, std::iter::once(text), catalogue);
            }
        }
        Expr::InList(list) if !list.negated => {
            let Some(name) = column_name(&list.expr) else { return };
            if spec.position(name).is_none() || name == date_column {
                return;
            }
            let texts: Option<Vec<&str>> = list.list.iter().map(|e| literal(e).and_then(text_of)).collect();
            if let Some(texts) = texts {
                narrow_to(filter, name, texts.into_iter(), catalogue);
            }
        }
        _ => {}
    }
}

fn narrow_to<'a>(
    filter: &mut ResolvedFilter,
    column: &str,
    values: impl Iterator<Item = &'a str>,
    catalogue: &Catalogue,
) {
    let values: Vec<&str> = values.collect();
    match column {
        "country" => restrict(&mut filter.countries, values.iter().map(|v| v.to_string()).collect()),
        "region" => restrict(
            &mut filter.countries,
            catalogue
                .countries
                .iter()
                .filter(|c| values.contains(&c.region.as_str()))
                .map(|c| c.code.clone())
                .collect(),
        ),
        "model" => restrict(
            &mut filter.model_ids,
            catalogue.models.iter().filter(|m| values.contains(&m.name.as_str())).map(|m| m.id).collect(),
        ),
        "fuel_type" => restrict(
            &mut filter.fuel_types,
            FuelType::ALL.iter().copied().filter(|f| values.contains(&f.as_str())).collect(),
        ),
        "transmission" => restrict(
            &mut filter.transmissions,
            Transmission::ALL.iter().copied().filter(|t| values.contains(&t.as_str())).collect(),
        ),
        _ => {}
    }
}

/// The cube's rows the filter keeps, as a batch of the `columns` asked for (in their order).
fn monthly_rows(
    snapshot: &crate::data::Snapshot,
    filter: &ResolvedFilter,
    schema: &SchemaRef,
    columns: &[usize],
) -> datafusion::common::Result<RecordBatch> {
    let cube = &snapshot.cube;
    let catalogue = &snapshot.catalogue;
    let dictionary = cube.dictionary();
    let facts = cube.facts();
    let first = filter.from.map_or(i32::MIN, |from| Month::of(from).index());
    let last = filter.to.map_or(i32::MAX, |to| Month::of(to).index());
    let coded = crate::cube::CodedFilter::new(dictionary, filter);
    let kept: Vec<usize> = cube.month_rows(first, last).filter(|&row| coded.keeps_row(&facts, row)).collect();
    let model = |row: usize| catalogue.model_by_id(facts.model_id[row]);
    let arrays = columns
        .iter()
        .map(|&at| -> ArrayRef {
            let name = SALES_MONTHLY.columns[at].name;
            match name {
                "month" => {
                    let mut b = Date32Builder::with_capacity(kept.len());
                    for &row in &kept {
                        b.append_option(
                            Month::from_index(facts.month[row])
                                .first_day()
                                .map(crate::domain::days_since_epoch),
                        );
                    }
                    Arc::new(b.finish())
                }
                "units" | "sale_rows" => {
                    let values = if name == "units" { facts.units } else { facts.rows };
                    let mut b = Int64Builder::with_capacity(kept.len());
                    b.append_slice(&kept.iter().map(|&row| values[row]).collect::<Vec<_>>());
                    Arc::new(b.finish())
                }
                "revenue" => {
                    let mut b = Float64Builder::with_capacity(kept.len());
                    b.append_slice(&kept.iter().map(|&row| facts.revenue[row]).collect::<Vec<_>>());
                    Arc::new(b.finish())
                }
                _ => {
                    let mut b = StringBuilder::with_capacity(kept.len(), kept.len() * 8);
                    for &row in &kept {
                        let text = match name {
                            "model" => model(row).map(|m| m.name.as_str()),
                            "body_type" => model(row).map(|m| m.body_type.as_str()),
                            "country" => dictionary.country_code(facts.country[row]),
                            "region" => dictionary
                                .region_of(facts.country[row])
                                .and_then(|r| dictionary.region_name(r)),
                            "fuel_type" => FuelType::from_code(facts.fuel_type[row]).map(FuelType::as_str),
                            _ => Transmission::from_code(facts.transmission[row]).map(Transmission::as_str),
                        };
                        b.append_value(text.unwrap_or("UNKNOWN"));
                    }
                    Arc::new(b.finish())
                }
            }
        })
        .collect::<Vec<_>>();
    let schema = Arc::new(schema.project(columns)?);
    Ok(RecordBatch::try_new_with_options(
        schema,
        arrays,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(kept.len())),
    )?)
}

fn model_rows(catalogue: &Catalogue, schema: &SchemaRef) -> datafusion::common::Result<RecordBatch> {
    let models = &catalogue.models;
    let mut id = Int32Builder::new();
    let mut name = StringBuilder::new();
    let mut body = StringBuilder::new();
    let mut price = Float64Builder::new();
    let mut launch = Int32Builder::new();
    let mut end = Int32Builder::new();
    for model in models {
        id.append_value(model.id);
        name.append_value(&model.name);
        body.append_value(&model.body_type);
        price.append_option(model.base_price);
        launch.append_option(model.launch_year);
        end.append_option(model.end_year);
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(name.finish()),
        Arc::new(body.finish()),
        Arc::new(price.finish()),
        Arc::new(launch.finish()),
        Arc::new(end.finish()),
    ];
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

fn country_rows(
    catalogue: &Catalogue,
    allowed: Option<&BTreeSet<String>>,
    schema: &SchemaRef,
) -> datafusion::common::Result<RecordBatch> {
    let mut code = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut region = StringBuilder::new();
    for country in catalogue.countries.iter().filter(|c| allowed.is_none_or(|codes| codes.contains(&c.code)))
    {
        code.append_value(&country.code);
        name.append_value(&country.name);
        region.append_value(&country.region);
    }
    let arrays: Vec<ArrayRef> =
        vec![Arc::new(code.finish()), Arc::new(name.finish()), Arc::new(region.finish())];
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

/// Rows per batch of `sales`: large enough that a batch costs little per row, small enough that
/// a full read holds only a few thousand rows at a time.
const BATCH_ROWS: usize = 8_192;

/// Batches a read of `sales` keeps ready ahead of the client.
const BATCHES_AHEAD: usize = 2;

/// Reads of `sales` at once. Each holds a database connection (a pooled one, or on SQLite one
/// of its own and a blocking thread) for as long as its client takes rows; the rest wait their
/// turn, so that the API's own queries always find a connection in the pool and a core free.
pub const SALE_READS_AT_ONCE: usize = 2;

/// A column of `sales` and the stored column it is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaleColumn {
    Id,
    SoldOn,
    Model,
    Country,
    Region,
    BodyType,
    FuelType,
    Transmission,
    Color,
    Units,
    UnitPrice,
    Revenue,
    DatePrecision,
}

impl SaleColumn {
    /// In the order of [`SALES`]' columns.
    const ALL: [SaleColumn; 13] = [
        SaleColumn::Id,
        SaleColumn::SoldOn,
        SaleColumn::Model,
        SaleColumn::Country,
        SaleColumn::Region,
        SaleColumn::BodyType,
        SaleColumn::FuelType,
        SaleColumn::Transmission,
        SaleColumn::Color,
        SaleColumn::Units,
        SaleColumn::UnitPrice,
        SaleColumn::Revenue,
        SaleColumn::DatePrecision,
    ];

    /// The entity's column it is read from.
    fn stored(self) -> sale::Column {
        match self {
            SaleColumn::Id => sale::Column::Id,
            SaleColumn::SoldOn => sale::Column::SoldOn,
            SaleColumn::Model | SaleColumn::BodyType => sale::Column::ModelId,
            SaleColumn::Country | SaleColumn::Region => sale::Column::CountryCode,
            SaleColumn::FuelType => sale::Column::FuelType,
            SaleColumn::Transmission => sale::Column::Transmission,
            SaleColumn::Color => sale::Column::Color,
            SaleColumn::Units => sale::Column::Units,
            SaleColumn::UnitPrice => sale::Column::UnitPrice,
            SaleColumn::Revenue => sale::Column::Revenue,
            SaleColumn::DatePrecision => sale::Column::DatePrecision,
        }
    }
}

/// The sale rows the filter keeps, in the order they are stored: one statement streamed from
/// the database, only the columns the query uses read and built, once a turn to read is free.
struct SaleRows {
    read: SaleRead,
    reads: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for SaleRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaleRows")
            .field("filter", &self.read.filter)
            .field("columns", &self.read.columns)
            .field("limit", &self.read.limit)
            .finish()
    }
}

impl PartitionStream for SaleRows {
    fn schema(&self) -> &SchemaRef {
        &self.read.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (sender, receiver) = tokio::sync::mpsc::channel(BATCHES_AHEAD);
        let read = self.read.clone();
        let reads = self.reads.clone();
        // The read runs on its own so that the database keeps producing while the engine encodes;
        // it stops when the client stops taking rows (the receiver is dropped).
        tokio::spawn(async move {
            // A statement that ends while it waits (cancelled, timed out) gives up its turn.
            let _turn = tokio::select! {
                turn = reads.acquire_owned() => match turn {
                    Ok(turn) => turn,
                    Err(_) => return,
                },
                () = sender.closed() => return,
            };
            if let Err(error) = read.send_to(&sender).await {
                let _ = sender.send(Err(error)).await;
            }
        });
        let batches = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|batch| (batch, receiver))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.read.schema.clone(), batches))
    }
}

/// One read of `sales`: what it reads, and for whom the rows are named.
#[derive(Clone)]
struct SaleRead {
    app: Arc<AppContext>,
    catalogue: Arc<Catalogue>,
    filter: ResolvedFilter,
    /// The projected columns, in the order of `schema`.
    columns: Vec<SaleColumn>,
    schema: SchemaRef,
    limit: Option<usize>,
}

type BatchSender = tokio::sync::mpsc::Sender<datafusion::common::Result<RecordBatch>>;

impl SaleRead {
    async fn send_to(&self, sender: &BatchSender) -> datafusion::common::Result<()> {
        use futures_util::StreamExt;
        let (stored, at) = self.stored_columns();
        if let Some(path) = crate::store::sales::sqlite_file(&self.app.store) {
            let (read, sender) = (self.clone(), sender.clone());
            let runtime = tokio::runtime::Handle::current();
            return tokio::task::spawn_blocking(move || {
                read.send_from_sqlite(&path, &stored, &at, &sender, &runtime)
            })
            .await
            .map_err(engine_error)?;
        }
        let mut rows = crate::store::sales::stream(
            &self.app.store,
            &self.filter,
            &stored,
            self.limit.map(|limit| limit as u64),
        )
        .await
        .map_err(engine_error)?;
        let mut batch = SaleBatch::new(&self.columns);
        while let Some(row) = rows.next().await {
            batch.push(&row.map_err(engine_error)?, &self.columns, &at, &self.catalogue)?;
            if let Some(full) = batch.take_full(&self.columns, &self.schema)
                && sender.send(full).await.is_err()
            {
                return Ok(());
            }
        }
        if batch.rows > 0 {
            let _ = sender.send(batch.finish(&self.schema)).await;
        }
        Ok(())
    }

    /// The stored columns the statement selects, and where each projected column's value is
    /// among them.
    fn stored_columns(&self) -> (Vec<sale::Column>, Vec<usize>) {
        let mut stored: Vec<sale::Column> = Vec::new();
        let at: Vec<usize> = self
            .columns
            .iter()
            .map(|column| {
                let name = column.stored();
                stored.iter().position(|s| s.as_str() == name.as_str()).unwrap_or_else(|| {
                    stored.push(name);
                    stored.len() - 1
                })
            })
            .collect();
        if stored.is_empty() {
            // Counting rows needs no column, but a statement selects at least one.
            stored.push(sale::Column::Id);
        }
        (stored, at)
    }

    /// [`SaleRead::send_to`] for a SQLite file, on a blocking thread: the rows are built into
    /// batches where SQLite steps to them.
    fn send_from_sqlite(
        &self,
        path: &std::path::Path,
        stored: &[sale::Column],
        at: &[usize],
        sender: &BatchSender,
        runtime: &tokio::runtime::Handle,
    ) -> datafusion::common::Result<()> {
        let mut batch = SaleBatch::new(&self.columns);
        let mut failure = None;
        // Dropped when this read ends, which lets the watcher below go with its sender (the
        // rows' stream ends only when every sender has gone).
        let (_reading, read_ended) = tokio::sync::oneshot::channel::<()>();
        let scanned = crate::store::sales::scan_sqlite(
            &self.app.store,
            path,
            &self.filter,
            stored,
            self.limit.map(|limit| limit as u64),
            |interrupt| {
                // A statement whose reader has gone (cancelled, timed out, disconnected) ends
                // even while it has found no row to hand over.
                let sender = sender.clone();
                runtime.spawn(async move {
                    tokio::select! {
                        () = sender.closed() => interrupt.interrupt(),
                        _ = read_ended => {}
                    }
                });
            },
            |row| {
                if let Err(error) = batch.push(row, &self.columns, at, &self.catalogue) {
                    failure = Some(error);
                    return false;
                }
                match batch.take_full(&self.columns, &self.schema) {
                    Some(full) => sender.blocking_send(full).is_ok(),
                    None => true,
                }
            },
        );
        if sender.is_closed() {
            return Ok(());
        }
        if let Some(error) = failure {
            return Err(error);
        }
        scanned.map_err(engine_error)?;
        if batch.rows > 0 {
            let _ = sender.blocking_send(batch.finish(&self.schema));
        }
        Ok(())
    }
}

/// A stored sale row, its values read by position: from sqlx (PostgreSQL, or SQLite in
/// memory) or from a SQLite file directly.
trait StoredRow {
    fn id(&self, index: usize) -> datafusion::common::Result<i64>;
    fn int(&self, index: usize) -> datafusion::common::Result<i32>;
    fn date(&self, index: usize) -> datafusion::common::Result<NaiveDate>;
    fn real(&self, index: usize) -> datafusion::common::Result<Option<f64>>;
    fn text(&self, index: usize) -> datafusion::common::Result<Option<std::borrow::Cow<'_, str>>>;
}

impl StoredRow for sea_orm::QueryResult {
    fn id(&self, index: usize) -> datafusion::common::Result<i64> {
        stored(self, index)
    }
    fn int(&self, index: usize) -> datafusion::common::Result<i32> {
        stored(self, index)
    }
    fn date(&self, index: usize) -> datafusion::common::Result<NaiveDate> {
        stored(self, index)
    }
    fn real(&self, index: usize) -> datafusion::common::Result<Option<f64>> {
        stored(self, index)
    }
    fn text(&self, index: usize) -> datafusion::common::Result<Option<std::borrow::Cow<'_, str>>> {
        Ok(stored::<Option<String>>(self, index)?.map(std::borrow::Cow::Owned))
    }
}

impl StoredRow for rusqlite::Row<'_> {
    fn id(&self, index: usize) -> datafusion::common::Result<i64> {
        self.get(index).map_err(engine_error)
    }
    fn int(&self, index: usize) -> datafusion::common::Result<i32> {
        self.get(index).map_err(engine_error)
    }
    /// Stored as the text `YYYY-MM-DD`, as sqlx writes a date into SQLite.
    fn date(&self, index: usize) -> datafusion::common::Result<NaiveDate> {
        let text = self.get_ref(index).map_err(engine_error)?.as_str().map_err(engine_error)?;
        text.parse().map_err(engine_error)
    }
    fn real(&self, index: usize) -> datafusion::common::Result<Option<f64>> {
        self.get(index).map_err(engine_error)
    }
    fn text(&self, index: usize) -> datafusion::common::Result<Option<std::borrow::Cow<'_, str>>> {
        let value = self.get_ref(index).map_err(engine_error)?;
        Ok(value.as_str_or_null().map_err(engine_error)?.map(std::borrow::Cow::Borrowed))
    }
}

/// The arrays of one batch of `sales` being filled.
struct SaleBatch {
    arrays: Vec<ColumnBuilder>,
    rows: usize,
}

enum ColumnBuilder {
    Int(Int64Builder),
    Date(Date32Builder),
    Float(Float64Builder),
    Text(StringBuilder),
}

impl SaleBatch {
    fn new(columns: &[SaleColumn]) -> Self {
        let arrays = columns
            .iter()
            .map(|column| match column {
                SaleColumn::Id | SaleColumn::Units => {
                    ColumnBuilder::Int(Int64Builder::with_capacity(BATCH_ROWS))
                }
                SaleColumn::SoldOn => ColumnBuilder::Date(Date32Builder::with_capacity(BATCH_ROWS)),
                SaleColumn::UnitPrice | SaleColumn::Revenue => {
                    ColumnBuilder::Float(Float64Builder::with_capacity(BATCH_ROWS))
                }
                _ => ColumnBuilder::Text(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8)),
            })
            .collect();
        Self { arrays, rows: 0 }
    }

    /// Appends a stored row: `at` says where each column's stored value is in it.
    fn push(
        &mut self,
        row: &impl StoredRow,
        columns: &[SaleColumn],
        at: &[usize],
        catalogue: &Catalogue,
    ) -> datafusion::common::Result<()> {
        for ((builder, column), index) in self.arrays.iter_mut().zip(columns).zip(at) {
            let index = *index;
            match (builder, column) {
                (ColumnBuilder::Int(ints), SaleColumn::Id) => ints.append_value(row.id(index)?),
                (ColumnBuilder::Int(ints), _) => ints.append_value(i64::from(row.int(index)?)),
                (ColumnBuilder::Date(dates), _) => {
                    dates.append_value(crate::domain::days_since_epoch(row.date(index)?))
                }
                (ColumnBuilder::Float(floats), _) => floats.append_option(row.real(index)?),
                (ColumnBuilder::Text(texts), SaleColumn::Model | SaleColumn::BodyType) => {
                    let model = catalogue.model_by_id(row.int(index)?);
                    texts.append_value(model.map_or("UNKNOWN", |m| {
                        if *column == SaleColumn::Model { m.name.as_str() } else { m.body_type.as_str() }
                    }));
                }
                (ColumnBuilder::Text(texts), SaleColumn::Region) => {
                    let code = row.text(index)?;
                    texts.append_value(
                        code.and_then(|code| catalogue.country_by_code(&code))
                            .map_or("UNKNOWN", |c| c.region.as_str()),
                    );
                }
                (ColumnBuilder::Text(texts), _) => texts.append_option(row.text(index)?),
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The batch as a record batch once it holds [`BATCH_ROWS`] rows, this one starting afresh.
    fn take_full(
        &mut self,
        columns: &[SaleColumn],
        schema: &SchemaRef,
    ) -> Option<datafusion::common::Result<RecordBatch>> {
        (self.rows >= BATCH_ROWS).then(|| std::mem::replace(self, SaleBatch::new(columns)).finish(schema))
    }

    fn finish(self, schema: &SchemaRef) -> datafusion::common::Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .arrays
            .into_iter()
            .map(|builder| -> ArrayRef {
                match builder {
                    ColumnBuilder::Int(mut ints) => Arc::new(ints.finish()),
                    ColumnBuilder::Date(mut dates) => Arc::new(dates.finish()),
                    ColumnBuilder::Float(mut floats) => Arc::new(floats.finish()),
                    ColumnBuilder::Text(mut texts) => Arc::new(texts.finish()),
                }
            })
            .collect();
        let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(self.rows));
        Ok(RecordBatch::try_new_with_options(schema.clone(), arrays, &options)?)
    }
}

fn stored<T: sea_orm::TryGetable>(row: &sea_orm::QueryResult, index: usize) -> datafusion::common::Result<T> {
    row.try_get_by_index(index).map_err(engine_error)
}
