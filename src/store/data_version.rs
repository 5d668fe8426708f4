use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Statement};

/// The current data version (bumped by every ingest).
pub async fn current<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    Ok(entity::data_version::Entity::find_by_id(1).one(db).await?.map(|row| row.version).unwrap_or(0))
}

/// The PostgreSQL channel every replica listens on; notified when an ingest commits.
pub const CHANNEL: &str = "salesgraph_data_version";

/// Bumps the version inside the caller's transaction, so that it changes exactly when data does.
/// On PostgreSQL it also notifies [`CHANNEL`]; the notification is delivered at commit, so
/// other replicas reload at once instead of at their next poll.
pub async fn bump<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => {
                "UPDATE data_version SET version = version + 1, updated_at = $1 WHERE id = 1"
            }
            _ => "UPDATE data_version SET version = version + 1, updated_at = ? WHERE id = 1",
        },
        [Utc::now().naive_utc().into()],
    ))
    .await?;
    if backend == sea_orm::DbBackend::Postgres {
        db.execute_raw(Statement::from_string(backend, format!("NOTIFY {CHANNEL}"))).await?;
    }
    Ok(())
}
