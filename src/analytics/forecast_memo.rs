//! Forecasts and backtests kept per data version, so that each series is fitted once.

use std::sync::Arc;

use super::forecast::{self, Backtest, Method, SeriesForecast};

/// Forecasts and backtests already computed for one data version, by series content and
/// horizon. A snapshot holds one, so that each is computed once per data version (in the
/// background after an ingest, or by the first query that needs it) and then reused by every
/// query: the forecast, the inventory plan and marketing share the same fits.
#[derive(Debug, Default)]
pub struct ForecastMemo {
    forecasts: Memo<Arc<SeriesForecast>>,
    choices: Memo<Method>,
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
    /// The 80% forecast of `values`, `steps` months ahead, by the method their backtest chose.
    pub fn forecast(&self, values: &[f64], steps: usize) -> Arc<SeriesForecast> {
        self.fit(self.choice(values), values, steps)
    }

    /// The method [`forecast::choose`] picks for `values`, its candidates' fits memoized too.
    pub fn choice(&self, values: &[f64]) -> Method {
        self.choices.get_or(values, 0, || {
            forecast::choose(values, |method, train, steps| self.fit(method, train, steps).points())
        })
    }

    /// The 80% forecast of `values` by `method`. A month's forecast does not depend on how far
    /// the forecast reaches, so one fit at [`MEMO_STEPS`] (or more) serves every shorter
    /// request: whether a query's `to` falls mid-month or at its end.
    pub fn fit(&self, method: Method, values: &[f64], steps: usize) -> Arc<SeriesForecast> {
        let reach = steps.max(MEMO_STEPS);
        let compute = || Arc::new(forecast::fit(method, values, reach, 0.8));
        // One key for the reach and the method: `Method` has fewer than 8 variants.
        let key = reach * 8 + method as usize;
        let fitted = match method {
            // Only the fitted models cost enough to keep.
            Method::Ets | Method::MstlEtsLog => self.forecasts.get_or(values, key, compute),
            Method::Mean | Method::SeasonalNaive | Method::CrostonSba => compute(),
        };
        if fitted.months.len() == steps {
            return fitted;
        }
        Arc::new(SeriesForecast {
            months: fitted.months[..steps.min(fitted.months.len())].to_vec(),
            method: fitted.method,
        })
    }

    /// The rolling-origin backtest of `values` by their chosen method; each origin's fit is
    /// memoized, shared with the other horizons' backtests and with forecasts made as of then.
    pub fn backtest(&self, values: &[f64], horizon: usize) -> Backtest {
        self.backtests.get_or(values, horizon, || {
            let method = self.choice(values);
            forecast::backtest_with(values, horizon, |train, steps| self.fit(method, train, steps).points())
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
