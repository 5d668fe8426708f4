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

use sea_orm::{DatabaseConnection, DbBackend, DbErr};

/// The database handles for request paths, counting the queries they run (exported as a
/// metric, and how tests prove that a page of sales costs a constant number of queries).
#[derive(Clone)]
pub struct Store {
    /// The primary: ingests, and what must agree with the data version (the snapshot).
    pub db: DatabaseConnection,
    /// A read replica (`DATABASE_READ_URL`), when set: see [`Store::read`].
    replica: Option<DatabaseConnection>,
    queries: prometheus_client::metrics::counter::Counter,
}

impl Store {
    pub fn new(db: DatabaseConnection, queries: prometheus_client::metrics::counter::Counter) -> Self {
        Self { db, replica: None, queries }
    }

    /// Sends request-path reads to `read` (a replica of `db`).
    pub fn with_read_replica(mut self, read: DatabaseConnection) -> Self {
        self.replica = Some(read);
        self
    }

    /// Where request-path reads go (sale pages, partial-month sums, inventory, catalogue
    /// lookups): the read replica when there is one, otherwise the primary.
    pub fn read(&self) -> &DatabaseConnection {
        self.replica.as_ref().unwrap_or(&self.db)
    }

    /// The read replica, when reads have one of their own.
    pub fn replica(&self) -> Option<&DatabaseConnection> {
        self.replica.as_ref()
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
}

/// Errors of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Invalid(String),
}
