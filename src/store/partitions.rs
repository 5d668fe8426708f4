//! PostgreSQL's monthly partitions of `sale` (see `migration::partitions`): an ingest creates
//! the partitions of the months it brings before their rows land, inside its own transaction,
//! so that a failed ingest leaves no trace.

use std::collections::BTreeSet;

use migration::partitions::{ATTACHED_PARTITIONS, CREATION_LOCK, create_and_attach, partition_name};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// A calendar month, as (year, month).
pub type Month = (i32, u32);

/// The names of the partitions attached to `sale`.
pub async fn attached<C: ConnectionTrait>(txn: &C) -> Result<BTreeSet<String>, DbErr> {
    let rows = txn.query_all_raw(Statement::from_string(DbBackend::Postgres, ATTACHED_PARTITIONS)).await?;
    rows.iter().map(|row| row.try_get_by_index::<String>(0)).collect()
}

/// Makes sure each of `months` has its partition. Concurrent ingests take turns here (an
/// advisory lock held to the end of the transaction), so two never create the same one.
pub async fn ensure<C: ConnectionTrait>(txn: &C, months: &BTreeSet<Month>) -> Result<(), DbErr> {
    if months.is_empty() {
        return Ok(());
    }
    let existing = attached(txn).await?;
    let missing: Vec<Month> = months
        .iter()
        .copied()
        .filter(|(year, month)| !existing.contains(&partition_name(*year, *month)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    txn.execute_unprepared(CREATION_LOCK).await?;
    // Another ingest may have created some while this one waited for the lock.
    let existing = attached(txn).await?;
    for (year, month) in missing {
        if existing.contains(&partition_name(year, month)) {
            continue;
        }
        for statement in create_and_attach(year, month) {
            txn.execute_unprepared(&statement).await?;
        }
    }
    Ok(())
}
