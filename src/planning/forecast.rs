//! Which models will sell most: per-model monthly forecasts ranked by predicted units, with a
//! pooled backtest so that users see how far to trust them.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::PlanningError;
use crate::analytics::forecast::{self, Backtest, MonthForecast, SeriesForecast};
use crate::app::Snapshot;
use crate::cube::{month_date, month_index};
use crate::domain::ResolvedFilter;
use crate::store::Store;
use crate::summary::{self, Dimension, SummaryRequest};

pub const METHOD: &str = "ETS(A,Ad,A) on log(1+units): damped additive trend, additive seasons, smoothing by least squares; 80% intervals from one-step residuals";

#[derive(Debug, Clone)]
pub struct ModelPrediction {
    pub model_id: i32,
    /// Totals over the horizon.
    pub total: MonthForecast,
    pub months: Vec<(NaiveDate, MonthForecast)>,
    pub backtest: Backtest,
}

#[derive(Debug, Clone)]
pub struct ForecastResult {
    pub predictions: Vec<ModelPrediction>,
    pub backtest: Backtest,
    /// The first forecast month.
    pub first_month: Option<NaiveDate>,
}

fn last_day_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

/// Forecasts every model the filter covers for `horizon` whole months after the month of the
/// filter's `to` (default: the last sale), from data up to then only. `limit` None: all models.
pub async fn forecast_models(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    horizon: usize,
    limit: Option<usize>,
) -> Result<ForecastResult, PlanningError> {
    let empty = ForecastResult { predictions: Vec::new(), backtest: Backtest::default(), first_month: None };
    let Some(as_of) = filter.to.or(snapshot.last_sale_day) else { return Ok(empty) };
    let as_of_month = month_index(as_of);
    // Train on whole months only: a month that has just begun would read as a collapse.
    let last_complete = if as_of == last_day_of_month(as_of) { as_of_month } else { as_of_month - 1 };
    let Some(train_to) = month_date(last_complete + 1).and_then(|d| d.pred_opt()) else { return Ok(empty) };
    let training = ResolvedFilter { to: Some(train_to), ..filter.clone() };
    let request =
        SummaryRequest { group_by: vec![Dimension::Model, Dimension::Period], ..Default::default() };
    let rows = summary::summarize(store, &snapshot.cube, &snapshot.catalogue, &training, &request).await?;

    let mut series: BTreeMap<i32, BTreeMap<i32, f64>> = BTreeMap::new();
    let mut first = i32::MAX;
    for row in &rows {
        if let (Some(model), Some(period)) = (row.model_id, row.period) {
            let month = month_index(period);
            first = first.min(month);
            series.entry(model).or_default().insert(month, row.units as f64);
        }
    }
    if series.is_empty() || first > last_complete {
        return Ok(empty);
    }
    let gap = (as_of_month - last_complete) as usize;
    let steps = gap + horizon;
    let jobs: Vec<(i32, Vec<f64>)> = series
        .into_iter()
        .map(|(model, months)| {
            (model, (first..=last_complete).map(|m| months.get(&m).copied().unwrap_or(0.0)).collect())
        })
        // Models without a sale in the last year are off sale: nothing to forecast.
        .filter(|(_, values): &(i32, Vec<f64>)| values.iter().rev().take(12).any(|v| *v > 0.0))
        .collect();
    let first_month = month_date(as_of_month + 1);
    let mut predictions = tokio::task::spawn_blocking(move || {
        jobs.into_iter()
            .map(|(model_id, values)| {
                let SeriesForecast { months, .. } = forecast::forecast(&values, steps, 0.8);
                let months: Vec<(NaiveDate, MonthForecast)> = months
                    .into_iter()
                    .skip(gap)
                    .enumerate()
                    .filter_map(|(h, m)| Some((month_date(as_of_month + 1 + h as i32)?, m)))
                    .collect();
                let total = MonthForecast {
                    units: months.iter().map(|(_, m)| m.units).sum(),
                    lower: months.iter().map(|(_, m)| m.lower).sum(),
                    upper: months.iter().map(|(_, m)| m.upper).sum(),
                };
                ModelPrediction { model_id, total, months, backtest: forecast::backtest(&values, horizon) }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| PlanningError::Worker(e.to_string()))?;
    predictions.sort_by(|a, b| b.total.units.total_cmp(&a.total.units).then(a.model_id.cmp(&b.model_id)));
    if let Some(limit) = limit {
        predictions.truncate(limit);
    }
    let backtest = Backtest::pool(&predictions.iter().map(|p| p.backtest).collect::<Vec<_>>());
    Ok(ForecastResult { predictions, backtest, first_month })
}
