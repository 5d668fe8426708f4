//! Data access: the catalogue, the ingest path shared by the generator and CSV import, and the
//! data version that caches key on.

pub mod catalogue;
pub mod data_version;
pub mod import;
pub mod ingest;
pub mod partitions;
pub mod sales;
pub mod seed;
pub mod sql;
pub mod staging;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement};

/// The database handles for request paths, counting the queries they run (exported as a
/// metric, and how tests prove that a page of sales costs a constant number of queries).
#[derive(Clone)]
pub struct Store {
    /// The primary: ingests, and what must agree with the data version (the snapshot).
    pub db: DatabaseConnection,
    /// Where request-path reads go (sale pages, partial-month sums, inventory, catalogue
    /// lookups): a read replica when `DATABASE_READ_URL` is set, otherwise the primary.
    pub read: DatabaseConnection,
    separate_read: bool,
    queries: prometheus_client::metrics::counter::Counter,
}

impl Store {
    pub fn new(db: DatabaseConnection, queries: prometheus_client::metrics::counter::Counter) -> Self {
        Self { read: db.clone(), db, separate_read: false, queries }
    }

    /// Sends request-path reads to `read` (a replica of `db`).
    pub fn with_read_replica(mut self, read: DatabaseConnection) -> Self {
        self.read = read;
        self.separate_read = true;
        self
    }

    /// Whether reads go to a replica of their own.
    pub fn has_read_replica(&self) -> bool {
        self.separate_read
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Queries run through this store since start.
    pub fn queries_run(&self) -> u64 {
        self.queries.get()
    }

    pub(crate) fn count_query(&self) {
        self.queries.inc();
    }

    pub async fn query_one(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.count_query();
        self.read.query_one_raw(statement).await
    }
}

/// Errors of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Invalid(String),
}
