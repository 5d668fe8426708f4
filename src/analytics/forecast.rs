//! Monthly forecasts with augurs: MSTL (seasonal-trend decomposition by LOESS, period 12)
//! takes out the yearly pattern, AutoETS (exponential smoothing with the error, trend and
//! damping chosen by AICc) forecasts what is left, and the seasonal pattern is added back; all
//! on log(1 + y), so that seasonality and growth act multiplicatively and forecasts stay
//! positive. Prediction intervals come from the ETS model. Every forecast carries a
//! rolling-origin backtest against seasonal naive.

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use augurs_mstl::MSTLModel;

use super::mean;

pub const SEASON: usize = 12;
/// Months held out by the backtest.
pub const HOLDOUT: usize = 12;
/// Fewer months than this: the method falls back to seasonal naive (or the mean).
pub const MIN_MONTHS: usize = 2 * SEASON + 1;

/// STL's seasonal smoothing window, in years: wider than any series here, so (nearly) periodic.
const SEASONAL_WINDOW: usize = 101;

/// What [`forecast`] runs on a long enough series.
pub const METHOD: &str = "MSTL (period 12) + AutoETS trend on log(1+units), augurs";

#[derive(Debug, Clone, PartialEq)]
pub struct MonthForecast {
    pub units: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesForecast {
    pub months: Vec<MonthForecast>,
    /// What produced it: [`METHOD`], or a fallback for short or degenerate series.
    pub method: &'static str,
}

impl SeriesForecast {
    pub fn total(&self) -> MonthForecast {
        MonthForecast {
            units: self.months.iter().map(|m| m.units).sum(),
            lower: self.months.iter().map(|m| m.lower).sum(),
            upper: self.months.iter().map(|m| m.upper).sum(),
        }
    }
}

/// The standard normal quantile: the z with P(Z <= z) = `p` (Acklam's rational approximation,
/// relative error under 1.2e-9): two-sided interval levels (0.8 → 1.2816 at p = 0.9) and
/// one-sided service levels (95% → 1.6449) alike.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Forecasts `horizon` months after the consecutive monthly `values`; `level` is the
/// interval's coverage (0.8 for 80%). Seasonal positions are relative to the first value.
pub fn forecast(values: &[f64], horizon: usize, level: f64) -> SeriesForecast {
    if values.len() >= MIN_MONTHS
        && let Some(forecast) = mstl_ets(values, horizon, level)
    {
        return forecast;
    }
    fallback(values, horizon, normal_quantile(0.5 + level / 2.0))
}

/// MSTL + AutoETS on log1p; None when augurs cannot fit the series (for example a constant
/// one, which has nothing to estimate) or yields non-finite values.
fn mstl_ets(values: &[f64], horizon: usize, level: f64) -> Option<SeriesForecast> {
    let z: Vec<f64> = values.iter().map(|v| v.max(0.0).ln_1p()).collect();
    if z.iter().all(|v| (v - z[0]).abs() < 1e-12) {
        return None;
    }
    // A wide seasonal window keeps the yearly pattern (nearly) fixed: with a handful of years
    // per series, a pattern free to drift year to year follows noise (its backtests lost to
    // seasonal naive). Robust fitting keeps one-off dips out of the pattern.
    let mut stl = augurs_mstl::stlrs::params();
    stl.robust(true);
    let mut decomposition = augurs_mstl::stlrs::MstlParams::new();
    decomposition.stl_params(stl).seasonal_lengths(&[SEASONAL_WINDOW]);
    let model =
        MSTLModel::new(vec![SEASON], AutoETS::non_seasonal().into_trend_model()).mstl_params(decomposition);
    let fitted = model.fit(&z).ok()?;
    let predicted = fitted.predict(horizon, level).ok()?;
    let intervals = predicted.intervals?;
    let months: Vec<MonthForecast> = predicted
        .point
        .iter()
        .zip(&intervals.lower)
        .zip(&intervals.upper)
        .map(|((point, lower), upper)| MonthForecast {
            units: point.exp_m1().max(0.0),
            lower: lower.exp_m1().max(0.0),
            upper: upper.exp_m1().max(0.0),
        })
        .collect();
    let finite = months.iter().all(|m| m.units.is_finite() && m.lower.is_finite() && m.upper.is_finite());
    (finite && months.len() == horizon).then_some(SeriesForecast { months, method: METHOD })
}

/// Too short for a seasonal model: last year's month where there is one, else the mean.
fn fallback(values: &[f64], horizon: usize, z_q: f64) -> SeriesForecast {
    let n = values.len();
    let average = mean(values);
    let spread = if n > 1 {
        (values.iter().map(|v| (v - average).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        average.abs()
    };
    let months = (1..=horizon)
        .map(|h| {
            let point =
                if n >= SEASON { values[n + h - 1 - SEASON * (1 + (h - 1) / SEASON)] } else { average };
            MonthForecast {
                units: point.max(0.0),
                lower: (point - z_q * spread).max(0.0),
                upper: (point + z_q * spread).max(0.0),
            }
        })
        .collect();
    SeriesForecast { months, method: if n >= SEASON { "seasonal naive" } else { "mean" } }
}

/// Seasonal naive: the same month a year earlier.
pub fn seasonal_naive(values: &[f64], horizon: usize) -> Vec<f64> {
    let n = values.len();
    (1..=horizon)
        .map(|h| if n >= SEASON { values[n + h - 1 - SEASON * (1 + (h - 1) / SEASON)] } else { mean(values) })
        .collect()
}

/// Fewest backtest errors, pooled over the series, to calibrate an interval on.
pub const MIN_CALIBRATION_ERRORS: usize = 20;

/// An interval calibrated on backtest errors: the empirical quantiles of the log errors of
/// horizon totals, pooled over series of similar size ([`calibrate_by_size`]; split-conformal
/// in spirit: the errors come from forecasts made without the months they are judged on).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Quantiles of ln((1 + actual) / (1 + predicted)) at (1 − level) / 2 and (1 + level) / 2.
    pub lower_log: f64,
    pub upper_log: f64,
    /// Errors the quantiles were taken from.
    pub errors: usize,
}

impl Calibration {
    /// The interval of a total forecast at `point`, never below 0 and always holding the point.
    pub fn interval(&self, point: f64) -> (f64, f64) {
        let point = point.max(0.0);
        let lower = ((point + 1.0) * self.lower_log.exp() - 1.0).max(0.0);
        let upper = (point + 1.0) * self.upper_log.exp() - 1.0;
        (lower.min(point), upper.max(point))
    }
}

/// The `q` quantile of sorted values, interpolating between neighbours.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

fn quantiles_of(errors: impl Iterator<Item = f64>, level: f64) -> Option<(f64, f64)> {
    let mut sorted: Vec<f64> = errors.filter(|e| e.is_finite()).collect();
    if sorted.len() < MIN_CALIBRATION_ERRORS {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    Some((quantile(&sorted, (1.0 - level) / 2.0), quantile(&sorted, (1.0 + level) / 2.0)))
}

/// Errors (at least) an interval calibrated by size rests on.
pub const LOCAL_CALIBRATION_ERRORS: usize = 40;

/// Intervals calibrated for each of several series on the errors of the series nearest it in
/// size (`sizes`, for example the forecasts): relative errors shrink as volumes grow, so one
/// pool for all would give large series intervals too wide and small, lumpy ones too narrow.
/// Each series takes the errors of its neighbours, nearest first on a log scale and itself
/// included, until it has [`LOCAL_CALIBRATION_ERRORS`] (or all there are). Also returns the
/// coverage: the share of each series' errors inside the interval calibrated the same way
/// without it (leave one out). None where fewer than [`MIN_CALIBRATION_ERRORS`] errors exist.
pub fn calibrate_by_size(
    sizes: &[f64],
    errors: &[&[f64]],
    level: f64,
) -> (Vec<Option<Calibration>>, Option<f64>) {
    let scale: Vec<f64> = sizes.iter().map(|s| s.max(0.0).ln_1p()).collect();
    let pool = |own: usize, with_own: bool| -> Option<(f64, f64, usize)> {
        let mut order: Vec<usize> = (0..errors.len()).filter(|j| with_own || *j != own).collect();
        order.sort_by(|a, b| (scale[*a] - scale[own]).abs().total_cmp(&(scale[*b] - scale[own]).abs()));
        let mut taken: Vec<f64> = Vec::new();
        for j in order {
            if taken.len() >= LOCAL_CALIBRATION_ERRORS {
                break;
            }
            taken.extend(errors[j].iter().copied());
        }
        let count = taken.len();
        quantiles_of(taken.into_iter(), level).map(|(lower, upper)| (lower, upper, count))
    };
    let (mut inside, mut judged) = (0usize, 0usize);
    for (own, own_errors) in errors.iter().enumerate() {
        if let Some((lower, upper, _)) = pool(own, false) {
            judged += own_errors.len();
            inside += own_errors.iter().filter(|e| (lower..=upper).contains(*e)).count();
        }
    }
    let coverage = (judged > 0).then(|| inside as f64 / judged as f64);
    let calibrations = (0..errors.len())
        .map(|own| {
            pool(own, true).map(|(lower_log, upper_log, errors)| Calibration { lower_log, upper_log, errors })
        })
        .collect();
    (calibrations, coverage)
}

/// Accuracy over the last [`HOLDOUT`] months, forecasting `horizon` ahead from rolling origins.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Backtest {
    pub holdout_months: usize,
    /// Mean absolute error scaled by the in-sample seasonal-naive error (below 1 beats it).
    pub mase: f64,
    /// Symmetric mean absolute percentage error, in percent (0-200).
    pub smape: f64,
    /// The same for seasonal naive.
    pub baseline_smape: f64,
    /// Forecast points compared.
    pub points: usize,
    /// Share of the backtest's `horizon`-month totals that the calibrated interval held, each
    /// series judged by an interval calibrated without its own errors ([`calibrate_by_size`]); None until pooled
    /// over enough series.
    pub coverage: Option<f64>,
    /// ln((1 + actual) / (1 + predicted)) of the total over the whole horizon, at each origin
    /// whose horizon lies inside the data: the errors intervals are calibrated on.
    total_log_errors: [f64; HOLDOUT],
    total_errors: usize,
    /// The same for each month compared, with its step after the origin (0: the first month).
    month_log_errors: [(u8, f64); HOLDOUT],
    month_errors: usize,
    abs_error: f64,
    naive_scale: f64,
    smape_sum: f64,
    baseline_sum: f64,
}

fn smape_term(actual: f64, predicted: f64) -> f64 {
    let denominator = actual.abs() + predicted.abs();
    if denominator == 0.0 { 0.0 } else { 200.0 * (actual - predicted).abs() / denominator }
}

/// ln((1 + actual) / (1 + forecast)): the error intervals are calibrated on, comparable across
/// series of any size and defined at 0.
fn log_error(actual: f64, forecast: f64) -> f64 {
    (actual.max(0.0) + 1.0).ln() - (forecast.max(0.0) + 1.0).ln()
}

pub fn backtest(values: &[f64], horizon: usize) -> Backtest {
    backtest_with(values, horizon, |train, steps| {
        forecast(train, steps, 0.8).months.into_iter().map(|m| m.units).collect()
    })
}

/// [`backtest`] with the point forecasts of each origin from `predict(train, steps)`, which must
/// give at least `steps` months: a caller that keeps fits can share them between horizons (the
/// origins of a 6-month backtest are among those of a 3-month one) and with its own forecasts.
pub fn backtest_with(
    values: &[f64],
    horizon: usize,
    mut predict: impl FnMut(&[f64], usize) -> Vec<f64>,
) -> Backtest {
    let n = values.len();
    let horizon = horizon.max(1);
    let mut result = Backtest { holdout_months: HOLDOUT, ..Default::default() };
    if n < MIN_MONTHS + HOLDOUT {
        return result;
    }
    let mut origin = n - HOLDOUT;
    while origin < n {
        let train = &values[..origin];
        let predicted = predict(train, horizon);
        let naive = seasonal_naive(train, horizon);
        if origin + horizon <= n && predicted.len() >= horizon && result.total_errors < HOLDOUT {
            let actual: f64 = values[origin..origin + horizon].iter().sum();
            let forecast: f64 = predicted[..horizon].iter().sum();
            result.total_log_errors[result.total_errors] = log_error(actual, forecast);
            result.total_errors += 1;
        }
        for h in 0..horizon.min(n - origin).min(predicted.len()) {
            let actual = values[origin + h];
            if result.month_errors < HOLDOUT {
                result.month_log_errors[result.month_errors] = (h as u8, log_error(actual, predicted[h]));
                result.month_errors += 1;
            }
            result.abs_error += (actual - predicted[h]).abs();
            result.smape_sum += smape_term(actual, predicted[h]);
            result.baseline_sum += smape_term(actual, naive[h]);
            result.points += 1;
        }
        origin += horizon;
    }
    let train = &values[..n - HOLDOUT];
    let diffs: Vec<f64> = (SEASON..train.len()).map(|t| (train[t] - train[t - SEASON]).abs()).collect();
    result.naive_scale = mean(&diffs);
    result.finish()
}

impl Backtest {
    /// The errors of the horizon totals (see `total_log_errors`).
    pub fn total_log_errors(&self) -> &[f64] {
        &self.total_log_errors[..self.total_errors]
    }

    /// The errors of single months `step` months after their origin (0: the first).
    pub fn month_log_errors(&self, step: usize) -> Vec<f64> {
        self.month_log_errors[..self.month_errors]
            .iter()
            .filter(|(s, _)| usize::from(*s) == step)
            .map(|(_, e)| *e)
            .collect()
    }

    fn finish(mut self) -> Self {
        if self.points > 0 {
            let points = self.points as f64;
            self.smape = self.smape_sum / points;
            self.baseline_smape = self.baseline_sum / points;
            self.mase = if self.naive_scale > 0.0 { self.abs_error / points / self.naive_scale } else { 0.0 };
        }
        self
    }

    /// Pools several series' backtests into one figure set (point-weighted).
    pub fn pool(tests: &[Backtest]) -> Backtest {
        let mut pooled = Backtest { holdout_months: HOLDOUT, ..Default::default() };
        let mut mase_sum = 0.0;
        let mut scaled = 0usize;
        for t in tests.iter().filter(|t| t.points > 0) {
            pooled.points += t.points;
            pooled.smape_sum += t.smape_sum;
            pooled.baseline_sum += t.baseline_sum;
            if t.naive_scale > 0.0 {
                mase_sum += t.mase * t.points as f64;
                scaled += t.points;
            }
        }
        let mut pooled = pooled.finish();
        pooled.mase = if scaled > 0 { mase_sum / scaled as f64 } else { 0.0 };
        pooled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(months: usize, growth: f64, noise: u64) -> Vec<f64> {
        let mut state = noise;
        (0..months)
            .map(|t| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let jitter = 1.0 + ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.2;
                let season = 1.0 + 0.4 * (std::f64::consts::TAU * t as f64 / 12.0).cos();
                1_000.0 * (1.0 + growth).powf(t as f64 / 12.0) * season * jitter
            })
            .collect()
    }

    #[test]
    fn forecasts_follow_season_and_growth_with_intervals() {
        let values = series(96, 0.2, 7);
        let result = forecast(&values, 12, 0.8);
        assert_eq!(result.months.len(), 12);
        // January (cos peak) above July (trough), both above the level of two years before.
        assert!(result.months[0].units > result.months[6].units * 1.5, "{:?}", result.months);
        assert!(result.months.iter().all(|m| m.lower <= m.units && m.units <= m.upper));
        assert!(result.months[0].units > values[72]);
    }

    #[test]
    fn the_method_beats_seasonal_naive_on_noisy_growth() {
        let test = backtest(&series(120, 0.25, 3), 3);
        assert_eq!(test.points, 12);
        assert!(test.smape < test.baseline_smape, "{test:?}");
        assert!(test.mase < 1.0, "{test:?}");
    }

    #[test]
    fn normal_quantiles_match_the_tables() {
        for (p, z) in
            [(0.5, 0.0), (0.9, 1.281_551_6), (0.95, 1.644_853_6), (0.975, 1.959_964_0), (0.995, 2.575_829_3)]
        {
            assert!((normal_quantile(p) - z).abs() < 1e-6, "{p}: {}", normal_quantile(p));
            assert!((normal_quantile(1.0 - p) + z).abs() < 1e-6, "{p}");
        }
        assert!((normal_quantile(0.001) + 3.090_232_3).abs() < 1e-6);
    }

    #[test]
    fn empty_single_and_constant_series() {
        assert!(forecast(&[], 3, 0.8).months.iter().all(|m| m.units == 0.0));
        let single = forecast(&[5.0], 3, 0.8);
        assert_eq!(single.months.len(), 3);
        assert_eq!(single.method, "mean");
        let constant = forecast(&[40.0; 60], 3, 0.8);
        assert!(constant.months.iter().all(|m| (m.units - 40.0).abs() < 1.0), "{:?}", constant.months);
        assert_eq!(backtest(&[1.0; 10], 3).points, 0);
    }

    #[test]
    fn backtests_keep_the_log_errors_of_whole_horizon_totals() {
        let values: Vec<f64> = (0..48).map(|t| 100.0 + t as f64).collect();
        // A forecaster that always says 100 a month: each 3-month total's error is known.
        let test = backtest_with(&values, 3, |_, steps| vec![100.0; steps]);
        let expected: Vec<f64> = [36, 39, 42, 45]
            .iter()
            .map(|&origin| {
                let actual: f64 = values[origin..origin + 3].iter().sum();
                (actual + 1.0).ln() - 301.0f64.ln()
            })
            .collect();
        assert_eq!(test.total_log_errors().len(), 4);
        for (got, want) in test.total_log_errors().iter().zip(&expected) {
            assert!((got - want).abs() < 1e-12, "{got} {want}");
        }
        // At 6 months the origins are 36 and 42; a horizon past the data counts no total.
        assert_eq!(backtest_with(&values, 6, |_, steps| vec![100.0; steps]).total_log_errors().len(), 2);
        assert_eq!(backtest_with(&values, 5, |_, steps| vec![100.0; steps]).total_log_errors().len(), 2);
    }

    #[test]
    fn calibrated_intervals_hold_their_level_and_follow_the_size_of_the_series() {
        // 40 series from 10 to 100,000 units, 4 errors each from a normal whose sd falls with
        // size (0.6 for the smallest, 0.1 for the largest), drawn by Box-Muller on a fixed LCG.
        let mut state = 42u64;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let sizes: Vec<f64> = (0..40).map(|i| 10f64.powf(1.0 + i as f64 / 10.0)).collect();
        let sd = |size: f64| 0.6 - 0.125 * (size.log10() - 1.0);
        let series: Vec<Vec<f64>> = sizes
            .iter()
            .map(|size| {
                (0..4)
                    .map(|_| {
                        sd(*size) * (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos()
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
        let (calibrations, coverage) = calibrate_by_size(&sizes, &refs, 0.8);
        let coverage = coverage.expect("enough errors");
        assert!((0.72..=0.88).contains(&coverage), "{coverage}");
        let (small, large) = (calibrations[0].expect("small"), calibrations[39].expect("large"));
        assert_eq!(small.errors, LOCAL_CALIBRATION_ERRORS);
        let width = |c: Calibration| c.upper_log - c.lower_log;
        // The normal's 10%-90% range is 2.56 sd: about 1.5 for the smallest, 0.26 for the largest.
        assert!(width(small) > 2.0 * width(large), "{small:?} {large:?}");
        assert!((width(large) - 2.56 * 0.1).abs() < 0.2, "{large:?}");
        let (lower, upper) = large.interval(100_000.0);
        assert!(lower < 100_000.0 && upper > 100_000.0 && upper / lower < 1.6, "{lower} {upper}");
        assert_eq!(small.interval(0.0).0, 0.0, "never below 0");
        // Errors all above 0 (a forecast that always falls short) still give an interval holding the point.
        let biased: Vec<Vec<f64>> = (0..10).map(|i| vec![0.5 + i as f64 * 0.01; 3]).collect();
        let refs: Vec<&[f64]> = biased.iter().map(Vec::as_slice).collect();
        let (calibrations, _) = calibrate_by_size(&[100.0; 10], &refs, 0.8);
        let (lower, upper) = calibrations[0].expect("enough").interval(100.0);
        assert!(lower <= 100.0 && upper > 150.0, "{lower} {upper}");
        // Too few errors: no calibration, no coverage.
        let (calibrations, coverage) = calibrate_by_size(&[1.0, 2.0], &[&[0.1; 10], &[0.2; 9]], 0.8);
        assert!(calibrations.iter().all(Option::is_none) && coverage.is_none());
    }
}
