//! What the usual queries will ask for, computed in the background after each data version.

use super::forecast::{Backtests, forecast_models};
use crate::data::Snapshot;
use crate::domain::ResolvedFilter;
use crate::store::Store;

/// Horizons whose backtests are computed ahead: the API's default and the dashboard's.
pub const WARM_HORIZONS: [usize; 2] = [3, 6];
/// Models per market whose backtests are computed ahead (the API's default `limit`).
const WARM_LIMIT: usize = 5;

/// Computes what the usual forecasts, inventory plans and marketing priorities will ask for
/// (worldwide and per market: forecasts of every model, backtests at [`WARM_HORIZONS`], the
/// forecasts marketing compares with) into the snapshot's memo, so that the first queries after
/// an ingest find them ready. Stops early when `superseded` says a newer data version arrived.
pub async fn warm_forecasts(store: &Store, snapshot: &Snapshot, superseded: impl Fn() -> bool) -> usize {
    let mut filters = vec![ResolvedFilter::default()];
    filters.extend(snapshot.catalogue.countries.iter().map(|c| ResolvedFilter {
        countries: Some(std::iter::once(c.code.clone()).collect()),
        ..ResolvedFilter::default()
    }));
    let mut warmed = 0;
    for filter in &filters {
        for horizon in WARM_HORIZONS {
            if superseded() {
                return warmed;
            }
            match forecast_models(store, snapshot, filter, horizon, Some(WARM_LIMIT), Backtests::Include)
                .await
            {
                Ok(result) => warmed += result.predictions.len(),
                // A market whose sales cannot be forecast (dated only by year, say) is no fault.
                Err(error @ super::PlanningError::Invalid(_)) => {
                    tracing::debug!(%error, "no forecast to compute ahead")
                }
                Err(error) => tracing::warn!(%error, "computing backtests ahead"),
            }
        }
        match super::marketing::priorities(store, snapshot, filter, true).await {
            Ok(_) => {}
            Err(error @ super::PlanningError::Invalid(_)) => {
                tracing::debug!(%error, "no marketing forecast to compute ahead")
            }
            Err(error) => tracing::warn!(%error, "computing marketing forecasts ahead"),
        }
    }
    warmed
}
