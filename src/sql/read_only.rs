//! The endpoint only reads. Every connection shares one catalogue, so a statement that wrote to
//! it (CREATE, DROP, SELECT INTO) would change what every other connection sees, and DataFusion's
//! own statements (COPY TO, CREATE EXTERNAL TABLE) would read and write the server's files. Two
//! locks: statements other than reads and session settings are refused before planning, and the
//! `public` schema holds a fixed set of tables that no statement can add to or drop from.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// The hooks every connection runs: the read-only check first, then the catalogue queries
/// rewritten for DataFusion, then datafusion-postgres' own (cursors, SET and SHOW, transactions).
pub fn hooks(catalog_queries: Arc<super::compat::CatalogSubqueries>) -> Vec<Arc<dyn QueryHook>> {
    vec![
        Arc::new(ReadOnly),
        catalog_queries,
        Arc::new(CursorStatementHook),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
    ]
}

struct ReadOnly;

/// Whether the endpoint runs this statement: queries (without INTO), EXPLAIN of one, SHOW, the
/// session settings tools send, transactions (all read-only) and cursors.
fn allowed(statement: &Statement) -> bool {
    match statement {
        Statement::Query(query) => !writes(&query.body),
        Statement::Explain { statement, .. } => allowed(statement),
        // The engine's own settings (its memory limit among them) are not the client's to change.
        Statement::Set(_) => !statement.to_string().to_ascii_lowercase().contains("datafusion."),
        Statement::ExplainTable { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowTables { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Deallocate { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => true,
        _ => false,
    }
}

/// Whether a query body creates a table (`SELECT … INTO`), in any branch of a set operation.
fn writes(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_some(),
        SetExpr::Query(query) => writes(&query.body),
        SetExpr::SetOperation { left, right, .. } => writes(left) || writes(right),
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => true,
        _ => false,
    }
}

/// SAVEPOINT and RELEASE, which drivers wrap their own catalogue queries in: with nothing ever
/// written there is nothing to keep or undo, so they succeed at once.
fn savepoint(statement: &Statement) -> Option<Response> {
    match statement {
        Statement::Savepoint { .. } => Some(Response::Execution(Tag::new("SAVEPOINT"))),
        Statement::ReleaseSavepoint { .. } => Some(Response::Execution(Tag::new("RELEASE"))),
        _ => None,
    }
}

fn refusal(statement: &Statement) -> Option<PgWireError> {
    if allowed(statement) {
        return None;
    }
    let text = statement.to_string();
    let verb: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ").to_ascii_uppercase();
    Some(PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "25006".into(),
        format!(
            "cannot execute {verb}: the salesgraph SQL endpoint only reads (SELECT, EXPLAIN, SHOW, SET); data comes in through `salesgraph import` or the API's importSales"
        ),
    ))))
}

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        savepoint(statement).map(Ok).or_else(|| refusal(statement).map(Err))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if savepoint(statement).is_some() {
            return Some(Ok(LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(datafusion::common::DFSchema::empty()),
            })));
        }
        refusal(statement).map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        savepoint(statement).map(Ok).or_else(|| refusal(statement).map(Err))
    }
}

/// A schema of fixed tables: registering or dropping one fails.
#[derive(Debug)]
pub struct FixedTables(Vec<(&'static str, Arc<dyn TableProvider>)>);

impl FixedTables {
    pub fn new(tables: impl IntoIterator<Item = (&'static str, Arc<dyn TableProvider>)>) -> Self {
        Self(tables.into_iter().collect())
    }
}

#[async_trait]
impl SchemaProvider for FixedTables {
    fn table_names(&self) -> Vec<String> {
        self.0.iter().map(|(name, _)| name.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        Ok(self.0.iter().find(|(table, _)| *table == name).map(|(_, provider)| provider.clone()))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.0.iter().any(|(table, _)| *table == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    fn verdict(sql: &str) -> bool {
        let statements = PostgresCompatibilityParser::new().parse(sql).expect(sql);
        statements.iter().all(allowed)
    }

    #[test]
    fn reads_and_session_settings_run_and_nothing_else_does() {
        for sql in [
            "SELECT 1",
            "SELECT country, SUM(units) FROM sales_monthly GROUP BY 1",
            "WITH t AS (SELECT 1 AS x) SELECT x FROM t UNION SELECT 2",
            "EXPLAIN SELECT * FROM sales",
            "SET extra_float_digits = 3",
            "SET application_name = 'Metabase'",
            "SHOW transaction isolation level",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
        ] {
            assert!(verdict(sql), "{sql} runs");
        }
        for sql in [
            "INSERT INTO countries VALUES ('ZZ', 'Nowhere', 'Europe')",
            "UPDATE countries SET name = 'x'",
            "DELETE FROM sales",
            "CREATE TABLE t (x INT)",
            "CREATE VIEW v AS SELECT 1",
            "CREATE SCHEMA s",
            "DROP TABLE sales",
            "TRUNCATE sales",
            "SELECT * INTO copy_of_sales FROM sales",
            "SELECT 1 UNION SELECT 2 INTO t",
            "COPY (SELECT * FROM sales) TO '/tmp/sales.csv'",
            "EXPLAIN ANALYZE DELETE FROM sales",
            "SET datafusion.runtime.memory_limit = '100G'",
            "ALTER TABLE sales ADD COLUMN x INT",
        ] {
            assert!(!verdict(sql), "{sql} is refused");
        }
    }
}
