//! Connecting to the database (SQLite by default, PostgreSQL for scale) and migrating it.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://salesgraph.db";

/// Turns what a user may write (`sqlite://x.db`, `sqlite:x.db`, a bare path, `postgres://…`)
/// into a URL the driver accepts.
pub fn normalize_url(url: &str) -> String {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:") {
        url.to_string()
    } else {
        format!("sqlite://{url}")
    }
}

/// PostgreSQL plans every execution of a prepared statement with its parameters: a generic plan
/// of a query over the monthly partitions of `sale` would open and lock every partition on
/// each run, where a plan made with the dates in hand prunes to the months it reads.
const CUSTOM_PLANS: (&str, &str) = ("plan_cache_mode", "force_custom_plan");

/// PostgreSQL connections a pool keeps open at most, unless `SALESGRAPH_DB_POOL_SIZE` says
/// otherwise. Eight: ten replicas (the autoscaler's most) stay under PostgreSQL's default 100
/// connections, and few busy backends per core answer with shorter tails than many (a page at
/// 16 connections on two shared cores: p99 33-52 ms with 16, 14-15 with 8, 11-12 with 4).
/// SQLite pools are sized by what SQLite can use (see `connect_with`).
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// Opens a pool. SQLite runs in WAL mode so that readers never wait for an ingest.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, false, DEFAULT_POOL_SIZE).await
}

/// Opens a pool for `seed` and `import` on the command line. On SQLite its connections skip
/// the per-row foreign-key checks (an import of 1,000,000 rows took 6.2 s without them, 6.6 to
/// 6.9 s with them): the ingest checks every distinct model and country it wrote against the
/// catalogue before it commits, which is the same guarantee at a fraction of the cost.
///
/// On SQLite the pool holds one connection, which takes the file out of WAL mode for the load
/// when no other process has it open: a rollback journal keeps only the old content of pages
/// that existed before, so rows appended to the file are written once, where WAL writes them
/// twice (into the log at commit, then into the file at the checkpoint). Measured on 1,000,000
/// rows into a new file: commit 0.8 s in WAL mode, 0.35 s with the journal. Call
/// [`end_bulk_load`] when done; while a server has the file open, the load stays in WAL mode.
pub async fn connect_for_bulk_load(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect_with(url, true, DEFAULT_POOL_SIZE).await?;
    migrate(&db).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // Without waiting: a reader elsewhere holds the file, so the load keeps WAL mode.
        db.execute_unprepared("PRAGMA busy_timeout = 0").await?;
        match db.execute_unprepared("PRAGMA journal_mode = DELETE").await {
            // A rollback journal is safe against power loss only with FULL syncs (two per commit).
            Ok(_) => db.execute_unprepared("PRAGMA synchronous = FULL").await.map(drop)?,
            Err(error) => tracing::debug!(%error, "the file is open elsewhere: loading in WAL mode"),
        }
        db.execute_unprepared(&format!("PRAGMA busy_timeout = {}", SQLITE_BUSY_TIMEOUT.as_millis())).await?;
    }
    Ok(db)
}

/// Puts a SQLite file back into WAL mode after a bulk load (a no-op when it never left it, and
/// on PostgreSQL), so that servers opening it next read while others write.
pub async fn end_bulk_load(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(())
}

/// The kind of database a URL (as `normalize_url` accepts it) names.
pub fn backend_of(url: &str) -> DbBackend {
    if normalize_url(url).starts_with("sqlite:") { DbBackend::Sqlite } else { DbBackend::Postgres }
}

/// A pooled connection is pinged before it is handed out only when it has sat idle this long
/// (sqlx pings on every acquire by default: a second round trip to PostgreSQL on every request's
/// path, where a pool that serves a steady load never idles). One that broke in use fails its own
/// query and is dropped when returned (sqlx pings every connection on release).
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// How long a SQLite connection waits for another's write lock before it fails: long enough to
/// wait out a large ingest's commit.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows a SQLite connection's worker thread may read ahead of the task that takes them. sqlx's
/// default (50) makes a long read hand its rows over almost one at a time, each a wake-up across
/// threads; a deeper channel lets the worker run ahead in bursts while memory stays bounded.
const SQLITE_ROW_BUFFER: usize = 1024;

/// What every pool shares, and whether the URL names SQLite. Waiting longer than 4 s for a
/// PostgreSQL connection means the database is gone or swamped: requests then fail with a clear
/// error well within their own 10 s limit (SQLite waits out a long ingest's lock instead).
fn base_options(url: &str) -> (ConnectOptions, bool) {
    let sqlite = backend_of(url) == DbBackend::Sqlite;
    let mut options = ConnectOptions::new(normalize_url(url));
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .acquire_timeout(Duration::from_secs(if sqlite { 30 } else { 4 }));
    (options, sqlite)
}

async fn connect_with(url: &str, bulk_load: bool, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    let (mut options, sqlite) = base_options(url);
    if sqlite {
        // A bulk load works on one connection (see `connect_for_bulk_load`).
        options.max_connections(if bulk_load { 1 } else { 4 }).map_sqlx_sqlite_opts(move |opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(!bulk_load)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                // Bulk ingests touch index pages all over the file; a large page cache (grown
                // only as used) keeps them from spilling to disk mid-transaction.
                .pragma("cache_size", "-262144")
                .pragma("temp_store", "memory")
                .row_buffer_size(SQLITE_ROW_BUFFER)
        });
    } else {
        options
            .max_connections(pool_size)
            .min_connections(1)
            .map_sqlx_postgres_opts(|opts| opts.options([CUSTOM_PLANS]));
    }
    Database::connect(options).await
}

/// Opens a pool for read-only work on a read replica (`DATABASE_READ_URL`). Its connections
/// refuse writes (PostgreSQL: every transaction read-only; SQLite: the file opened read-only),
/// so that nothing meant for the primary can land on a replica by mistake.
pub async fn connect_read_only(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    let (mut options, sqlite) = base_options(url);
    if sqlite {
        options.max_connections(4).map_sqlx_sqlite_opts(|opts| {
            opts.read_only(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .pragma("cache_size", "-65536")
                .row_buffer_size(SQLITE_ROW_BUFFER)
        });
    } else {
        options.max_connections(pool_size).min_connections(1).map_sqlx_postgres_opts(|opts| {
            opts.options([("default_transaction_read_only", "on"), CUSTOM_PLANS])
        });
    }
    Database::connect(options).await
}

/// Opens a pool and applies pending migrations (which also install the catalogue).
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_sized_and_migrate(url, DEFAULT_POOL_SIZE).await
}

/// [`connect_and_migrate`] with at most `pool_size` PostgreSQL connections.
pub async fn connect_sized_and_migrate(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    let db = connect_with(url, false, pool_size).await?;
    migrate(&db).await?;
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        // Replicas that start together: one migrates, the others wait on the same lock.
        use sea_orm::TransactionTrait;
        let txn = db.begin().await?;
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7302215100)").await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
        Ok(())
    } else {
        Migrator::up(db, None).await
    }
}
