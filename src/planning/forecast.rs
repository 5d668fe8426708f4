//! Which models will sell most: per-model monthly forecasts ranked by predicted units, with a
//! pooled backtest so that users see how far to trust them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};

use super::PlanningError;
use crate::analytics::forecast::{self, Backtest, MonthForecast, SeriesForecast};
use crate::app::Snapshot;
use crate::cube::{month_date, month_index};
use crate::domain::ResolvedFilter;
use crate::store::Store;
use crate::summary::{self, Dimension, SummaryRequest};

pub const METHOD: &str = "MSTL decomposition (period 12) with an AutoETS trend model on log(1+units), from the augurs crates; 80% intervals from the ETS model; seasonal naive for models with under 25 months of history";

/// Forecasts and backtests already computed for one data version, by series content and
/// horizon. A snapshot holds one, so that each is computed once per data version (in the
/// background after an ingest, or by the first query that needs it) and then reused by every
/// query: the forecast, the inventory plan and marketing share the same fits.
#[derive(Debug, Default)]
pub struct ForecastMemo {
    forecasts: Memo<Arc<SeriesForecast>>,
    backtests: Memo<Backtest>,
}

/// Enough for every model in every market at a few horizons.
const MEMO_ENTRIES: usize = 50_000;

/// Months every memoized forecast reaches: the longest usual horizon and a partial month.
const MEMO_STEPS: usize = 13;

#[derive(Debug)]
struct Memo<T> {
    entries: std::sync::Mutex<rustc_hash::FxHashMap<(u64, usize), T>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self { entries: std::sync::Mutex::default() }
    }
}

impl<T: Clone> Memo<T> {
    fn get_or(&self, values: &[f64], horizon: usize, compute: impl FnOnce() -> T) -> T {
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        values.len().hash(&mut hasher);
        for value in values {
            value.to_bits().hash(&mut hasher);
        }
        let key = (hasher.finish(), horizon);
        // A poisoned lock only means another thread panicked mid-insert: the map is still sound.
        if let Some(known) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return known.clone();
        }
        let computed = compute();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() < MEMO_ENTRIES {
            entries.insert(key, computed.clone());
        }
        computed
    }

    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl ForecastMemo {
    /// The 80% forecast of `values`, `steps` months ahead. A month's forecast does not depend
    /// on how far the forecast reaches, so one fit at [`MEMO_STEPS`] (or more) serves every
    /// shorter request: whether a query's `to` falls mid-month or at its end.
    pub fn forecast(&self, values: &[f64], steps: usize) -> Arc<SeriesForecast> {
        let reach = steps.max(MEMO_STEPS);
        let fitted =
            self.forecasts.get_or(values, reach, || Arc::new(forecast::forecast(values, reach, 0.8)));
        if fitted.months.len() == steps {
            return fitted;
        }
        Arc::new(SeriesForecast {
            months: fitted.months[..steps.min(fitted.months.len())].to_vec(),
            method: fitted.method,
        })
    }

    /// The rolling-origin backtest of `values`; each origin's fit is a memoized forecast, shared
    /// with the other horizons' backtests and with forecasts made as of that month.
    pub fn backtest(&self, values: &[f64], horizon: usize) -> Backtest {
        self.backtests.get_or(values, horizon, || {
            forecast::backtest_with(values, horizon, |train, steps| {
                self.forecast(train, steps).months.iter().map(|m| m.units).collect()
            })
        })
    }

    /// How many backtests are known.
    pub fn backtest_count(&self) -> usize {
        self.backtests.len()
    }

    /// How many forecasts are known.
    pub fn forecast_count(&self) -> usize {
        self.forecasts.len()
    }
}

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

/// Whether a forecast carries its backtests (the `forecast` query) or not (planning that only
/// needs the predictions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backtests {
    Include,
    Skip,
}

/// Forecasts every model the filter covers for `horizon` whole months after the month of the
/// filter's `to` (default: the last sale), from data up to then only. `limit` None: all models.
/// Backtests, when asked for, cover the models returned and come from the snapshot's memo.
pub async fn forecast_models(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    horizon: usize,
    limit: Option<usize>,
    backtests: Backtests,
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
    let memo = snapshot.forecast_memo.clone();
    let (predictions, backtest) = tokio::task::spawn_blocking(move || {
        let mut predictions: Vec<(ModelPrediction, Vec<f64>)> = jobs
            .into_iter()
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
                (ModelPrediction { model_id, total, months, backtest: Backtest::default() }, values)
            })
            .collect();
        predictions.sort_by(|(a, _), (b, _)| {
            b.total.units.total_cmp(&a.total.units).then(a.model_id.cmp(&b.model_id))
        });
        if let Some(limit) = limit {
            predictions.truncate(limit);
        }
        if backtests == Backtests::Include {
            for (prediction, values) in &mut predictions {
                prediction.backtest = memo.backtest(values, horizon);
            }
        }
        let predictions: Vec<ModelPrediction> = predictions.into_iter().map(|(p, _)| p).collect();
        let backtest = Backtest::pool(&predictions.iter().map(|p| p.backtest).collect::<Vec<_>>());
        (predictions, backtest)
    })
    .await
    .map_err(|e| PlanningError::Worker(e.to_string()))?;
    Ok(ForecastResult { predictions, backtest, first_month })
}

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
                Err(error) => tracing::warn!(%error, "computing backtests ahead"),
            }
        }
        if let Err(error) = super::marketing::priorities(store, snapshot, filter, true).await {
            tracing::warn!(%error, "computing marketing forecasts ahead");
        }
    }
    warmed
}
