//! Data access: the catalogue, the ingest path shared by the generator and CSV import, and the
//! data version that caches key on.

pub mod catalogue;
pub mod data_version;
pub mod import;
pub mod ingest;
pub mod seed;

use sea_orm::DbErr;

/// Errors of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Invalid(String),
}
