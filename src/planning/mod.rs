//! Forecasts and stock plans: the cube's series fed to the analytics, per model.

pub mod forecast;
pub mod inventory;
pub mod marketing;
pub mod segments;
pub mod warm_up;

#[derive(Debug, thiserror::Error)]
pub enum PlanningError {
    #[error(transparent)]
    Summary(#[from] crate::summary::SummaryError),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("forecast worker failed: {0}")]
    Worker(String),
    #[error("{0}")]
    Invalid(String),
}
