//! Which models will sell most: per-model monthly forecasts ranked by predicted units, with a
//! pooled backtest so that users see how far to trust them.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use rayon::prelude::*;

use super::PlanningError;
use crate::analytics::forecast::{self, Backtest, Method, MonthForecast};
use crate::cube::{month_date, month_index};
use crate::data::Snapshot;
use crate::domain::ResolvedFilter;
use crate::store::Store;
use crate::summary;
use crate::summary::coarse_dates::{self, LeftOut};

pub const METHOD: &str = "Each model by the method its own backtest chose: seasonal naive, Croston SBA (intermittent demand only), AutoETS on units, or MSTL (period 12) with an AutoETS trend on log(1+units) (augurs), judged by sMAPE 3 months ahead over the 6 months before the backtest's 12, a more elaborate method winning only by 5%; too short to choose on: MSTL from 25 months of history, seasonal naive from 12; fitted on at most the last ten years. 80% intervals of each model's total and of each month calibrated on the backtest errors of the market's models nearest it in size (split-conformal quantiles of log errors; the method's own beyond the backtest's horizon)";

#[derive(Debug, Clone)]
pub struct ModelPrediction {
    pub model_id: i32,
    /// The method the forecast used.
    pub method: Method,
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
    /// What the forecast leaves out and why (sales dated only by quarter or year).
    pub notes: Vec<String>,
}

fn last_day_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

/// Coverage of the intervals of model totals.
const INTERVAL_LEVEL: f64 = 0.8;

/// Whether a forecast carries its backtests and the intervals calibrated on them (the `forecast`
/// query, inventory plans) or not (planning that only needs the points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backtests {
    Include,
    Skip,
}

/// Forecasts every model the filter covers for `horizon` whole months after the month of the
/// filter's `to` (default: the last sale), from data up to then only. `limit` None: all models.
/// Backtests, when asked for, cover the models returned and come from the snapshot's memo.
#[tracing::instrument(target = "salesgraph::trace", name = "forecast models", skip_all, fields(horizon = horizon, limit = ?limit))]
pub async fn forecast_models(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    horizon: usize,
    limit: Option<usize>,
    backtests: Backtests,
) -> Result<ForecastResult, PlanningError> {
    let empty = ForecastResult {
        predictions: Vec::new(),
        backtest: Backtest::default(),
        first_month: None,
        notes: Vec::new(),
    };
    let Some(as_of) = filter.to.or(snapshot.last_sale_day) else { return Ok(empty) };
    let as_of_month = month_index(as_of);
    // Train on whole months only: a month that has just begun would read as a collapse.
    let last_complete = if as_of == last_day_of_month(as_of) { as_of_month } else { as_of_month - 1 };
    let Some(train_to) = month_date(last_complete + 1).and_then(|d| d.pred_opt()) else { return Ok(empty) };
    let training = ResolvedFilter { to: Some(train_to), ..filter.clone() };
    let sold =
        summary::units_by_model_and_month(store, &snapshot.cube, &snapshot.catalogue, &training).await?;
    let first = sold.iter().map(|sold| sold.month).min().unwrap_or(i32::MAX);
    let left_out = LeftOut::of(coarse_dates::left_out(&snapshot.cube, &training, Some(1)));
    if sold.is_empty() && !left_out.is_empty() {
        return Err(PlanningError::Invalid(format!(
            "a forecast needs sales dated by month or day; the selected sales are dated {}",
            left_out.dated()
        )));
    }
    let notes = if left_out.is_empty() { Vec::new() } else { vec![left_out.note("this forecast")] };
    if sold.is_empty() || first > last_complete {
        return Ok(ForecastResult { notes, ..empty });
    }
    let gap = (as_of_month - last_complete) as usize;
    let steps = gap + horizon;
    // Each model's months from the first month sold in the market to the last whole one, months
    // without a sale at zero; in model order, as a tie in predicted units is broken by the model.
    let months = (last_complete - first + 1) as usize;
    let mut series: BTreeMap<i32, Vec<f64>> = BTreeMap::new();
    for sold in &sold {
        if let Some(slot) = usize::try_from(sold.month - first).ok().filter(|slot| *slot < months) {
            series.entry(sold.model_id).or_insert_with(|| vec![0.0; months])[slot] = sold.units as f64;
        }
    }
    let jobs: Vec<(i32, Vec<f64>)> = series
        .into_iter()
        // Models without a sale in the last year are off sale: nothing to forecast.
        .filter(|(_, values)| values.iter().rev().take(12).any(|v| *v > 0.0))
        .collect();
    let first_month = month_date(as_of_month + 1);
    let memo = snapshot.forecast_memo.clone();
    let (predictions, backtest) = tokio::task::spawn_blocking(move || {
        let mut predictions: Vec<(ModelPrediction, Vec<f64>)> = jobs
            .into_par_iter()
            .map(|(model_id, values)| {
                let fitted = memo.forecast(&values, steps);
                let months: Vec<(NaiveDate, MonthForecast)> = fitted
                    .months
                    .iter()
                    .skip(gap)
                    .cloned()
                    .enumerate()
                    .filter_map(|(h, m)| Some((month_date(as_of_month + 1 + h as i32)?, m)))
                    .collect();
                let total = MonthForecast {
                    units: months.iter().map(|(_, m)| m.units).sum(),
                    lower: months.iter().map(|(_, m)| m.lower).sum(),
                    upper: months.iter().map(|(_, m)| m.upper).sum(),
                };
                let method = fitted.method;
                (ModelPrediction { model_id, method, total, months, backtest: Backtest::default() }, values)
            })
            .collect();
        predictions.sort_by(|(a, _), (b, _)| {
            b.total.units.total_cmp(&a.total.units).then(a.model_id.cmp(&b.model_id))
        });
        let mut coverage = None;
        if backtests == Backtests::Include {
            // Every model of the market is backtested: each interval rests on the errors of
            // models of its own size, and the coverage covers the whole market.
            predictions.par_iter_mut().for_each(|(prediction, values)| {
                prediction.backtest = memo.backtest(values, horizon);
            });
            let sizes: Vec<f64> = predictions.iter().map(|(p, _)| p.total.units).collect();
            let errors: Vec<&[f64]> =
                predictions.iter().map(|(p, _)| p.backtest.total_log_errors()).collect();
            let (calibrations, pooled) = forecast::calibrate_by_size(&sizes, &errors, INTERVAL_LEVEL);
            coverage = pooled;
            for ((prediction, _), calibration) in predictions.iter_mut().zip(calibrations) {
                if let Some(calibration) = calibration {
                    (prediction.total.lower, prediction.total.upper) =
                        calibration.interval(prediction.total.units);
                }
            }
            // Each month's interval from the errors of months as far after their origin; months
            // beyond the backtest's horizon keep the model's own.
            for step in 0..horizon {
                let Some(index) = step.checked_sub(gap) else { continue };
                let sizes: Vec<f64> = predictions
                    .iter()
                    .map(|(p, _)| p.months.get(index).map_or(0.0, |(_, m)| m.units))
                    .collect();
                let errors: Vec<Vec<f64>> =
                    predictions.iter().map(|(p, _)| p.backtest.month_log_errors(step)).collect();
                let refs: Vec<&[f64]> = errors.iter().map(Vec::as_slice).collect();
                let (calibrations, _) = forecast::calibrate_by_size(&sizes, &refs, INTERVAL_LEVEL);
                for ((prediction, _), calibration) in predictions.iter_mut().zip(calibrations) {
                    if let (Some(calibration), Some((_, month))) =
                        (calibration, prediction.months.get_mut(index))
                    {
                        (month.lower, month.upper) = calibration.interval(month.units);
                    }
                }
            }
        }
        if let Some(limit) = limit {
            predictions.truncate(limit);
        }
        let predictions: Vec<ModelPrediction> = predictions.into_iter().map(|(p, _)| p).collect();
        let mut backtest = Backtest::pool(&predictions.iter().map(|p| p.backtest).collect::<Vec<_>>());
        backtest.coverage = coverage;
        (predictions, backtest)
    })
    .await
    .map_err(|e| PlanningError::Worker(e.to_string()))?;
    Ok(ForecastResult { predictions, backtest, first_month, notes })
}
