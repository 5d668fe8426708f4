//! What PostgreSQL tools expect of a server that DataFusion and datafusion-postgres do not give:
//! a few catalogue functions (`version()` in PostgreSQL's form, `to_regtype`,
//! `pg_get_serial_sequence`, `json_build_object`, `pg_collation_is_visible`), and catalogue
//! queries whose correlated scalar subqueries DataFusion plans only when they aggregate
//! (SQLAlchemy's column introspection has three).

use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Expr, SelectItem, SetExpr, Statement, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_postgres::QueryHook;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire;
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::Response;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::format::FormatOptions;

pub async fn register_functions(context: &SessionContext) -> datafusion::error::Result<()> {
    context.register_udf(version_function());
    context.register_udf(no_serial_sequence_function());
    context.register_udf(to_regtype_function(context).await?);
    context.register_udf(ScalarUDF::from(JsonBuildObject::new()));
    context.register_udf(collation_is_visible_function());
    Ok(())
}

/// `pg_collation_is_visible(oid)`: true, since every collation this server lists is in
/// `pg_catalog`, which is always on the search path.
fn collation_is_visible_function() -> ScalarUDF {
    datafusion::logical_expr::create_udf(
        "pg_collation_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(|_| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))),
    )
}

/// `json_build_object(key, value, …)`: a JSON object as text, from alternating keys and values.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    fn new() -> Self {
        Self { signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

fn json_of(value: &ScalarValue) -> serde_json::Value {
    match value {
        value if value.is_null() => serde_json::Value::Null,
        ScalarValue::Boolean(Some(b)) => serde_json::Value::Bool(*b),
        ScalarValue::Float32(Some(x)) => serde_json::json!(x),
        ScalarValue::Float64(Some(x)) => serde_json::json!(x),
        ScalarValue::Int8(Some(x)) => serde_json::json!(x),
        ScalarValue::Int16(Some(x)) => serde_json::json!(x),
        ScalarValue::Int32(Some(x)) => serde_json::json!(x),
        ScalarValue::Int64(Some(x)) => serde_json::json!(x),
        ScalarValue::UInt32(Some(x)) => serde_json::json!(x),
        ScalarValue::UInt64(Some(x)) => serde_json::json!(x),
        ScalarValue::Utf8(Some(text))
        | ScalarValue::LargeUtf8(Some(text))
        | ScalarValue::Utf8View(Some(text)) => serde_json::Value::String(text.clone()),
        other => serde_json::Value::String(other.to_string()),
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        if !args.args.len().is_multiple_of(2) {
            return datafusion::common::plan_err!("json_build_object takes pairs of keys and values");
        }
        let arrays = args
            .args
            .iter()
            .map(|arg| arg.to_array(args.number_rows))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let mut objects = datafusion::arrow::array::StringBuilder::new();
        for row in 0..args.number_rows {
            let mut object = serde_json::Map::new();
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                let value = ScalarValue::try_from_array(&pair[1], row)?;
                let key = match json_of(&key) {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                object.insert(key, json_of(&value));
            }
            objects.append_value(serde_json::Value::Object(object).to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(objects.finish())))
    }
}

/// Rewrites catalogue queries so that DataFusion can plan them: a scalar subquery that reads
/// only catalogue tables this server leaves empty (no column defaults, no sequences) is NULL,
/// which is what it gives; any other that selects one value without aggregating takes `max` of
/// it. PostgreSQL requires such a subquery to give at most one row, so where PostgreSQL
/// answers, the answer is the same.
pub struct CatalogSubqueries {
    empty_tables: Vec<String>,
}

/// Catalogue tables that may be empty here; which of them are is checked at start-up.
const MAYBE_EMPTY: [&str; 6] =
    ["pg_attrdef", "pg_sequence", "pg_description", "pg_constraint", "pg_inherits", "pg_index"];

impl CatalogSubqueries {
    pub async fn new(context: &SessionContext) -> datafusion::error::Result<Self> {
        let mut empty_tables = Vec::new();
        for table in MAYBE_EMPTY {
            let rows =
                context.sql(&format!("SELECT 1 FROM pg_catalog.{table} LIMIT 1")).await?.count().await?;
            if rows == 0 {
                empty_tables.push(table.to_string());
            }
        }
        Ok(Self { empty_tables })
    }

    /// Whether every table `select` reads is one of the empty ones.
    fn reads_only_empty(&self, select: &datafusion::sql::sqlparser::ast::Select) -> bool {
        use datafusion::sql::sqlparser::ast::TableFactor;
        let named = |factor: &TableFactor| match factor {
            TableFactor::Table { name, .. } => {
                let name = name.to_string();
                let name = name.rsplit('.').next().unwrap_or_default().trim_matches('"').to_string();
                self.empty_tables.contains(&name)
            }
            _ => false,
        };
        !select.from.is_empty()
            && select
                .from
                .iter()
                .all(|table| named(&table.relation) && table.joins.iter().all(|join| named(&join.relation)))
    }
}

fn is_aggregate(expr: &Expr) -> bool {
    match expr {
        Expr::Function(function) => {
            let name = function.name.to_string().to_ascii_lowercase();
            let name = name.rsplit('.').next().unwrap_or_default();
            matches!(
                name,
                "max" | "min" | "count" | "sum" | "avg" | "array_agg" | "string_agg" | "bool_and" | "bool_or"
            )
        }
        Expr::Nested(inner) => is_aggregate(inner),
        _ => false,
    }
}

impl CatalogSubqueries {
    fn rewritten(&self, statement: &Statement) -> Option<Statement> {
        if !statement.to_string().contains("pg_catalog") {
            return None;
        }
        let mut statement = statement.clone();
        let mut changed = false;
        let _ = visit_expressions_mut(&mut statement, |expr| {
            if let Expr::Subquery(query) = expr
                && let SetExpr::Select(select) = query.body.as_ref()
                && self.reads_only_empty(select)
            {
                // The parameters inside stay in the statement, never evaluated, so that the ones the
                // client binds keep their places.
                let parameters = placeholders(query);
                let null = if parameters.is_empty() {
                    "NULL".to_string()
                } else {
                    format!("CASE WHEN false THEN concat({}) END", parameters.join(", "))
                };
                if let Ok(null) =
                    Parser::new(&PostgreSqlDialect {}).try_with_sql(&null).and_then(|mut p| p.parse_expr())
                {
                    *expr = null;
                    changed = true;
                }
                return ControlFlow::Continue(());
            }
            if let Expr::Subquery(query) = expr
                && let SetExpr::Select(select) = query.body.as_mut()
                && select.projection.len() == 1
            {
                let value = match &mut select.projection[0] {
                    SelectItem::UnnamedExpr(value) => Some(value),
                    SelectItem::ExprWithAlias { expr, .. } => Some(expr),
                    _ => None,
                };
                if let Some(value) = value
                    && !is_aggregate(value)
                    && let Ok(max) = Parser::new(&PostgreSqlDialect {})
                        .try_with_sql(&format!("max({value})"))
                        .and_then(|mut p| p.parse_expr())
                {
                    *value = max;
                    changed = true;
                }
            }
            ControlFlow::<()>::Continue(())
        });
        changed.then_some(statement)
    }
}

/// The placeholders (`$2`, or `$2::VARCHAR` with the cast they carry) in a subquery.
fn placeholders(query: &datafusion::sql::sqlparser::ast::Query) -> Vec<String> {
    use datafusion::sql::sqlparser::ast::{Value, visit_expressions};
    let mut found: Vec<(String, String)> = Vec::new();
    let placeholder = |expr: &Expr| match expr {
        Expr::Value(value) => match &value.value {
            Value::Placeholder(name) => Some(name.clone()),
            _ => None,
        },
        _ => None,
    };
    let _ = visit_expressions(query, |expr| {
        let (name, text) = match expr {
            Expr::Cast { expr: inner, .. } => match placeholder(inner) {
                Some(name) => (name, expr.to_string()),
                None => return ControlFlow::<()>::Continue(()),
            },
            other => match placeholder(other) {
                Some(name) => (name.clone(), name),
                None => return ControlFlow::Continue(()),
            },
        };
        if !found.iter().any(|(known, _)| *known == name) {
            found.push((name, text));
        }
        ControlFlow::Continue(())
    });
    found.into_iter().map(|(_, text)| text).collect()
}

async fn plan(statement: Statement, context: &SessionContext) -> PgWireResult<LogicalPlan> {
    context
        .state()
        .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement)))
        .await
        .map_err(|e| PgWireError::ApiError(Box::new(e)))
}

#[async_trait]
impl QueryHook for CatalogSubqueries {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let statement = self.rewritten(statement)?;
        Some(
            async {
                let plan = plan(statement, context).await?;
                let frame = context
                    .execute_logical_plan(plan)
                    .await
                    .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                Ok(Response::Query(encode_dataframe(frame, &Format::UnifiedText, Some(options)).await?))
            }
            .await,
        )
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let statement = self.rewritten(statement)?;
        Some(plan(statement, context).await)
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

/// `version()` in PostgreSQL's form, which drivers parse to choose their dialect (SQLAlchemy
/// refuses to connect without a "PostgreSQL major.minor" in it); the protocol level matches
/// pgwire's `server_version`.
fn version_function() -> ScalarUDF {
    use datafusion::logical_expr::create_udf;
    let text = format!(
        "PostgreSQL 16.6 (salesgraph {}, Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    );
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text.clone()))))),
    )
}

/// `pg_get_serial_sequence(table, column)`: NULL, since no column here is fed by a sequence.
/// SQLAlchemy's inspector asks it for every column.
fn no_serial_sequence_function() -> ScalarUDF {
    use datafusion::logical_expr::create_udf;
    create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))),
    )
}

/// `to_regtype(name)`: the OID of the type of that name in `pg_catalog.pg_type`, or NULL, as in
/// PostgreSQL. psycopg looks types up with it (SQLAlchemy asks for `hstore` on every connect).
async fn to_regtype_function(context: &SessionContext) -> datafusion::error::Result<ScalarUDF> {
    use datafusion::arrow::array::{Array, AsArray, Int32Array};
    use datafusion::arrow::datatypes::Int32Type;
    use datafusion::logical_expr::create_udf;
    let mut oids = std::collections::HashMap::new();
    for batch in context.sql("SELECT typname, oid FROM pg_catalog.pg_type").await?.collect().await? {
        let names = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let values = batch.column(1).as_primitive::<Int32Type>();
        for row in 0..batch.num_rows() {
            oids.insert(names.value(row).to_string(), values.value(row));
        }
    }
    // The SQL names of types that pg_type lists under their internal names.
    for (alias, name) in [
        ("integer", "int4"),
        ("int", "int4"),
        ("smallint", "int2"),
        ("bigint", "int8"),
        ("real", "float4"),
        ("double precision", "float8"),
        ("boolean", "bool"),
        ("character varying", "varchar"),
        ("character", "bpchar"),
        ("decimal", "numeric"),
        ("timestamp without time zone", "timestamp"),
        ("timestamp with time zone", "timestamptz"),
    ] {
        if let Some(oid) = oids.get(name).copied() {
            oids.insert(alias.to_string(), oid);
        }
    }
    let lookup = move |name: &str| {
        let name = name.trim().trim_start_matches("pg_catalog.").trim_matches('"').to_ascii_lowercase();
        oids.get(&name).copied()
    };
    Ok(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let names = match &args[0] {
                ColumnarValue::Scalar(scalar) => scalar.to_array()?,
                ColumnarValue::Array(array) => array.clone(),
            };
            let names = datafusion::arrow::compute::cast(&names, &DataType::Utf8)?;
            let names = names.as_string::<i32>();
            let oids: Int32Array = (0..names.len())
                .map(|row| if names.is_null(row) { None } else { lookup(names.value(row)) })
                .collect();
            Ok(match &args[0] {
                ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&oids, 0)?),
                ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(oids)),
            })
        }),
    ))
}
