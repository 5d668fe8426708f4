//! Monthly forecasts, each series by the method its own backtest chose. The candidates, simplest
//! first: seasonal naive; Croston's method with the Syntetos–Boylan correction, for intermittent
//! or lumpy demand; AutoETS on units as sold (error, trend and damping chosen by AICc); and MSTL
//! (seasonal-trend decomposition by LOESS, period 12) with an AutoETS trend on log(1 + units), so
//! that seasonality and growth act multiplicatively. ETS and MSTL come from augurs. Every
//! forecast carries a rolling-origin backtest against seasonal naive.

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use augurs_mstl::MSTLModel;

use super::mean;

pub const SEASON: usize = 12;
/// Months held out by the backtest.
pub const HOLDOUT: usize = 12;
/// Fewest months MSTL is fitted on: two whole years and a month.
pub const MIN_MONTHS: usize = 2 * SEASON + 1;
/// Months before the holdout that the method is chosen on ([`choose`]): each is an origin.
pub const CHOICE_MONTHS: usize = 6;
/// How far ahead the choice judges each candidate, in months.
const CHOICE_HORIZON: usize = 3;
/// A more elaborate method must beat each simpler one's sMAPE by this share to be chosen.
const CHOICE_MARGIN: f64 = 0.05;
/// How many standard errors a method's advantage over seasonal naive must reach on the choice's
/// forecasts (a one-sided Diebold–Mariano test on paired sMAPE terms): a few months of forecasts
/// are noisy, and an advantage within their noise is a tie, which goes to the baseline. The
/// terms overlap (each origin forecasts up to three months, and neighbouring origins share
/// months), so they are strongly correlated and their plain standard error understates the
/// noise several times; at 2 a tenth or more of a market's series lost to seasonal naive on
/// months the choice had not seen, in generated sets other than the test's.
const CHOICE_EVIDENCE: f64 = 5.0;

/// STL's seasonal smoothing window, in years: wider than any series here, so (nearly) periodic.
const SEASONAL_WINDOW: usize = 101;

/// How a series is forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// The mean: under a year of history.
    Mean,
    /// The same month a year earlier.
    SeasonalNaive,
    /// Croston's method, Syntetos–Boylan approximation ([`croston_sba`]).
    CrostonSba,
    /// AutoETS (no seasonal term) on units as sold.
    Ets,
    /// MSTL (period 12) with an AutoETS trend, on log(1 + units).
    MstlEtsLog,
}

/// The methods that compete for a series, simplest first: ties go to the simpler.
pub const CANDIDATES: [Method; 4] =
    [Method::SeasonalNaive, Method::CrostonSba, Method::Ets, Method::MstlEtsLog];

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Mean => "mean",
            Method::SeasonalNaive => "seasonal naive",
            Method::CrostonSba => "Croston SBA",
            Method::Ets => "AutoETS on units",
            Method::MstlEtsLog => "MSTL + AutoETS on log(1+units)",
        }
    }

    /// Fewest months of history the method is fitted on.
    fn min_months(self) -> usize {
        match self {
            Method::Mean | Method::CrostonSba => 1,
            Method::SeasonalNaive | Method::Ets => SEASON,
            Method::MstlEtsLog => MIN_MONTHS,
        }
    }

    /// What a series too short to choose on is forecast with.
    pub fn default_for(months: usize) -> Method {
        if months >= MIN_MONTHS {
            Method::MstlEtsLog
        } else if months >= SEASON {
            Method::SeasonalNaive
        } else {
            Method::Mean
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonthForecast {
    pub units: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesForecast {
    pub months: Vec<MonthForecast>,
    /// The method that produced it: the one asked for, or a simpler one where that one could not
    /// be fitted (a constant series, say).
    pub method: Method,
}

impl SeriesForecast {
    pub fn points(&self) -> Vec<f64> {
        self.months.iter().map(|m| m.units).collect()
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

/// Forecasts `horizon` months after the consecutive monthly `values` with the method their
/// backtest chooses ([`choose`]); `level` is the interval's coverage (0.8 for 80%).
pub fn forecast(values: &[f64], horizon: usize, level: f64) -> SeriesForecast {
    let method = choose(values, |method, train, steps| fit(method, train, steps, level).points());
    fit(method, values, horizon, level)
}

/// Forecasts `horizon` months after `values` with `method`, or with the simplest fallback that
/// applies where it cannot be fitted. Seasonal positions are relative to the first value.
pub fn fit(method: Method, values: &[f64], horizon: usize, level: f64) -> SeriesForecast {
    let z_q = normal_quantile(0.5 + level / 2.0);
    let n = values.len();
    let fitted = match method {
        Method::MstlEtsLog if n >= MIN_MONTHS => mstl_ets_log(values, horizon, level),
        Method::Ets if n >= Method::Ets.min_months() => ets(values, horizon, level),
        Method::CrostonSba => croston_sba(values).map(|point| SeriesForecast {
            months: (0..horizon).map(|_| spread_around(point, z_q * standard_deviation(values))).collect(),
            method,
        }),
        _ => None,
    };
    fitted.unwrap_or_else(|| simple(values, horizon, z_q))
}

/// The choice of method for `values`. Every month of the [`CHOICE_MONTHS`] before the backtest's
/// holdout is an origin; each candidate (Croston's only for intermittent demand) forecasts up to
/// [`CHOICE_HORIZON`] months ahead of it, within those months. A method other than seasonal naive
/// qualifies when its sMAPE beats seasonal naive's by [`CHOICE_MARGIN`] and its advantage, paired
/// forecast by forecast, is [`CHOICE_EVIDENCE`] standard errors above zero; of those, the lowest
/// sMAPE wins, a more elaborate method again only by the margin. Seasonal naive answers when none
/// qualifies. The holdout itself plays no part, so the backtest's figures judge the choice on
/// months it did not see. A series too short to hold a year before the choice's months keeps
/// [`Method::default_for`] its length.
pub fn choose(values: &[f64], mut predict: impl FnMut(Method, &[f64], usize) -> Vec<f64>) -> Method {
    let n = values.len();
    let Some(first_origin) = n.checked_sub(HOLDOUT + CHOICE_MONTHS).filter(|o| *o >= SEASON) else {
        return Method::default_for(n);
    };
    let end = n - HOLDOUT;
    let intermittent = average_demand_interval(&values[..first_origin]) >= INTERMITTENT_INTERVAL;
    let mut errors_of = |method: Method| -> Vec<f64> {
        let mut terms = Vec::new();
        for origin in first_origin..end {
            let predicted = predict(method, &values[..origin], CHOICE_HORIZON);
            terms.extend(values[origin..end].iter().zip(&predicted).map(|(a, f)| smape_term(*a, *f)));
        }
        terms
    };
    let baseline = errors_of(Method::SeasonalNaive);
    let baseline_score = mean(&baseline);
    let mut best: Option<(Method, f64)> = None;
    let elaborate = CANDIDATES.into_iter().filter(|m| {
        *m != Method::SeasonalNaive
            && m.min_months() <= first_origin
            && (intermittent || *m != Method::CrostonSba)
    });
    for method in elaborate {
        let errors = errors_of(method);
        if errors.len() != baseline.len() || errors.is_empty() {
            continue;
        }
        let score = mean(&errors);
        let advantage: Vec<f64> = baseline.iter().zip(&errors).map(|(b, e)| b - e).collect();
        let qualifies = score < baseline_score * (1.0 - CHOICE_MARGIN)
            && mean(&advantage) > CHOICE_EVIDENCE * standard_error(&advantage);
        if qualifies && best.is_none_or(|(_, known)| score < known * (1.0 - CHOICE_MARGIN)) {
            best = Some((method, score));
        }
    }
    best.map_or(Method::SeasonalNaive, |(method, _)| method)
}

/// The standard error of the mean of `values`.
fn standard_error(values: &[f64]) -> f64 {
    standard_deviation(values) / (values.len() as f64).sqrt()
}

/// Average months from one sale to the next from which demand counts as intermittent, and
/// Croston's method competes: the cut-off of Syntetos, Boylan & Croston's (2005) classification.
const INTERMITTENT_INTERVAL: f64 = 1.32;

/// Months per month with a sale: 1 for a series that sells every month; infinite without sales.
fn average_demand_interval(values: &[f64]) -> f64 {
    let selling = values.iter().filter(|v| **v > 0.0).count();
    if selling == 0 { f64::INFINITY } else { values.len() as f64 / selling as f64 }
}

/// MSTL + AutoETS on log1p; None when augurs cannot fit the series (for example a constant
/// one, which has nothing to estimate) or yields non-finite values.
fn mstl_ets_log(values: &[f64], horizon: usize, level: f64) -> Option<SeriesForecast> {
    let z: Vec<f64> = recent(values).iter().map(|v| v.max(0.0).ln_1p()).collect();
    if is_constant(&z) {
        return None;
    }
    // A wide seasonal window keeps the yearly pattern (nearly) fixed: with a handful of years
    // per series, a pattern free to drift year to year follows noise (its backtests lost to
    // seasonal naive). Robust fitting keeps one-off dips out of the pattern.
    let mut stl = augurs_mstl::stlrs::params();
    stl.robust(true);
    let mut decomposition = augurs_mstl::stlrs::MstlParams::new();
    decomposition.stl_params(stl).seasonal_lengths(&[SEASONAL_WINDOW]);
    // Additive errors only: on log(1 + units) they are already proportional to the level, and
    // leaving out the multiplicative-error models halves the fit.
    let trend = AutoETS::new(1, "AZN").ok()?.into_trend_model();
    let model = MSTLModel::new(vec![SEASON], trend).mstl_params(decomposition);
    let predicted = model.fit(&z).ok()?.predict(horizon, level).ok()?;
    from_augurs(predicted, horizon, f64::exp_m1, Method::MstlEtsLog)
}

/// AutoETS with additive errors on units as sold: the trend of a series too young or too
/// irregular for a seasonal decomposition.
fn ets(values: &[f64], horizon: usize, level: f64) -> Option<SeriesForecast> {
    let y: Vec<f64> = recent(values).iter().map(|v| v.max(0.0)).collect();
    if is_constant(&y) {
        return None;
    }
    let model = AutoETS::new(1, "AZN").ok()?;
    let predicted = model.fit(&y).ok()?.predict(horizon, level).ok()?;
    from_augurs(predicted, horizon, |v| v, Method::Ets)
}

/// Most months a model is fitted on: the time a fit takes grows with the series, and what a
/// market bought more than ten years ago says little about the next months that the last ten
/// years do not.
pub const FITTED_MONTHS: usize = 10 * SEASON;

/// The last [`FITTED_MONTHS`] of `values`, whole years back from the end so that seasonal
/// positions relative to the first value stay those of the whole series.
fn recent(values: &[f64]) -> &[f64] {
    let dropped = values.len().saturating_sub(FITTED_MONTHS);
    &values[dropped - dropped % SEASON..]
}

fn is_constant(values: &[f64]) -> bool {
    values.iter().all(|v| (v - values[0]).abs() < 1e-12)
}

/// Points and intervals from augurs, mapped back to units and floored at 0; None unless finite.
fn from_augurs(
    predicted: augurs_core::Forecast,
    horizon: usize,
    to_units: impl Fn(f64) -> f64,
    method: Method,
) -> Option<SeriesForecast> {
    let intervals = predicted.intervals?;
    let months: Vec<MonthForecast> = predicted
        .point
        .iter()
        .zip(&intervals.lower)
        .zip(&intervals.upper)
        .map(|((point, lower), upper)| MonthForecast {
            units: to_units(*point).max(0.0),
            lower: to_units(*lower).max(0.0),
            upper: to_units(*upper).max(0.0),
        })
        .collect();
    let finite = months.iter().all(|m| m.units.is_finite() && m.lower.is_finite() && m.upper.is_finite());
    (finite && months.len() == horizon).then_some(SeriesForecast { months, method })
}

/// Croston's method with the Syntetos–Boylan approximation: simple exponential smoothing
/// (α = 0.1, each started at its first value) of the nonzero demands and of the months between
/// them, the ratio of the two scaled by 1 − α/2 (Syntetos & Boylan, 2005; as R's
/// `croston(type = "sba")` and statsforecast's `CrostonSBA`): demand per month, the same for
/// every month ahead. None for a series with no demand.
pub fn croston_sba(values: &[f64]) -> Option<f64> {
    const ALPHA: f64 = 0.1;
    let smooth = |items: &mut dyn Iterator<Item = f64>| {
        items.fold(None, |level: Option<f64>, x| Some(level.map_or(x, |l| ALPHA * x + (1.0 - ALPHA) * l)))
    };
    let demands = smooth(&mut values.iter().copied().filter(|v| *v > 0.0))?;
    let mut previous = 0usize;
    let mut gaps = values.iter().enumerate().filter(|(_, v)| **v > 0.0).map(|(i, _)| {
        let gap = (i + 1 - previous) as f64;
        previous = i + 1;
        gap
    });
    let interval = smooth(&mut gaps).filter(|i| *i != 0.0).unwrap_or(1.0);
    Some((1.0 - ALPHA / 2.0) * demands / interval)
}

fn standard_deviation(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return values.first().map_or(0.0, |v| v.abs());
    }
    let average = mean(values);
    (values.iter().map(|v| (v - average).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
}

fn spread_around(point: f64, half_width: f64) -> MonthForecast {
    let point = point.max(0.0);
    MonthForecast { units: point, lower: (point - half_width).max(0.0), upper: point + half_width }
}

/// Seasonal naive with a year of history, else the mean; the interval from the spread of the
/// year-on-year changes (widening with each further year), or of the values.
fn simple(values: &[f64], horizon: usize, z_q: f64) -> SeriesForecast {
    let n = values.len();
    if n < SEASON {
        let half_width = z_q * standard_deviation(values);
        let months = (0..horizon).map(|_| spread_around(mean(values), half_width)).collect();
        return SeriesForecast { months, method: Method::Mean };
    }
    let changes: Vec<f64> = (SEASON..n).map(|t| values[t] - values[t - SEASON]).collect();
    let spread = if changes.is_empty() {
        standard_deviation(values)
    } else {
        (changes.iter().map(|c| c * c).sum::<f64>() / changes.len() as f64).sqrt()
    };
    let months = seasonal_naive(values, horizon)
        .into_iter()
        .enumerate()
        .map(|(h, point)| spread_around(point, z_q * spread * ((1 + h / SEASON) as f64).sqrt()))
        .collect();
    SeriesForecast { months, method: Method::SeasonalNaive }
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

/// The lower and upper bounds of a `level` interval from sorted errors, as split-conformal
/// prediction takes them: the ⌊(n + 1)·α/2⌋-th smallest and the ⌈(n + 1)·(1 − α/2)⌉-th smallest
/// of the n errors (α = 1 − level), so that a new error falls inside with probability at least
/// `level` when it is exchangeable with them. Plain empirical quantiles of a few dozen errors
/// hold a little less than their level.
fn conformal_bounds(sorted: &[f64], level: f64) -> (f64, f64) {
    let n = sorted.len();
    let tail = (1.0 - level).clamp(0.0, 1.0) / 2.0;
    let rank_low = (((n + 1) as f64) * tail).floor() as usize;
    let rank_high = (((n + 1) as f64) * (1.0 - tail)).ceil() as usize;
    (sorted[rank_low.clamp(1, n) - 1], sorted[rank_high.clamp(1, n) - 1])
}

fn quantiles_of(errors: impl Iterator<Item = f64>, level: f64) -> Option<(f64, f64)> {
    let mut sorted: Vec<f64> = errors.filter(|e| e.is_finite()).collect();
    if sorted.len() < MIN_CALIBRATION_ERRORS {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    Some(conformal_bounds(&sorted, level))
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

/// The backtest of the method [`choose`] picks for `values`, fitted afresh at each origin.
pub fn backtest(values: &[f64], horizon: usize) -> Backtest {
    let method = choose(values, |method, train, steps| fit(method, train, steps, 0.8).points());
    backtest_with(values, horizon, |train, steps| fit(method, train, steps, 0.8).points())
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
    fn croston_sba_reproduces_statsforecast() {
        // statsforecast 2.0.1's CrostonSBA().forecast(y, h=1) on the same series.
        let sparse = [0., 0., 5., 0., 3., 0., 0., 0., 7., 2., 0., 0., 0., 4., 0., 6., 0., 0., 1., 0.];
        assert!((croston_sba(&sparse).expect("demand") - 1.466_900_942_961_209).abs() < 1e-12);
        let lumpy = [
            0., 115., 0., 0., 118., 112., 0., 0., 0., 117., 0., 0., 116., 0., 119., 0., 0., 0., 0., 114., 0.,
            0., 113., 0.,
        ];
        assert!((croston_sba(&lumpy).expect("demand") - 42.620_801_129_547_13).abs() < 1e-9);
        assert_eq!(croston_sba(&[0.0; 12]), None);
        let forecast = fit(Method::CrostonSba, &lumpy, 3, 0.8);
        assert_eq!(forecast.method, Method::CrostonSba);
        assert!(forecast.months.iter().all(|m| m.lower == 0.0 && m.upper > m.units), "{forecast:?}");
    }

    /// A forecaster whose errors are set per method and per origin, to test the choice alone.
    fn scripted(
        values: &[f64],
        wrong_by: impl Fn(Method, usize) -> f64,
    ) -> impl FnMut(Method, &[f64], usize) -> Vec<f64> {
        let values = values.to_vec();
        move |method, train, steps| {
            let origin = train.len();
            (0..steps)
                .map(|h| values.get(origin + h).copied().unwrap_or(0.0) * (1.0 + wrong_by(method, origin)))
                .collect()
        }
    }

    #[test]
    fn the_choice_is_made_on_the_months_before_the_holdout_and_ties_go_to_the_baseline() {
        let values: Vec<f64> = (0..60).map(|t| 100.0 + (t % 12) as f64 * 10.0).collect();
        let choice_origins = 60 - HOLDOUT - CHOICE_MONTHS..60 - HOLDOUT;
        // ETS is best before the holdout and worst in it: chosen all the same, since the choice
        // must not see the months its backtest is judged on.
        let choice = choose(
            &values,
            scripted(&values, |method, origin| match method {
                Method::Ets if choice_origins.contains(&origin) => 0.01,
                Method::Ets => 0.9,
                _ => 0.3,
            }),
        );
        assert_eq!(choice, Method::Ets);
        // Within the margin, the simpler wins; beyond it, the better.
        let close = choose(
            &values,
            scripted(&values, |method, _| if method == Method::MstlEtsLog { 0.29 } else { 0.3 }),
        );
        assert_eq!(close, Method::SeasonalNaive);
        let better = choose(
            &values,
            scripted(&values, |method, _| if method == Method::MstlEtsLog { 0.1 } else { 0.3 }),
        );
        assert_eq!(better, Method::MstlEtsLog);
        // Better on average but by turns far better and far worse: an advantage within the
        // noise of the choice's forecasts is a tie, which goes to the baseline.
        let erratic = choose(
            &values,
            scripted(&values, |method, origin| match method {
                Method::MstlEtsLog if origin % 2 == 0 => 0.0,
                Method::MstlEtsLog => 0.5,
                _ => 0.3,
            }),
        );
        assert_eq!(erratic, Method::SeasonalNaive);
        // Croston's method is for intermittent demand only: never chosen for a series that
        // sells every month, however well it would have done.
        let croston = choose(
            &values,
            scripted(&values, |method, _| if method == Method::CrostonSba { 0.0 } else { 0.3 }),
        );
        assert_eq!(croston, Method::SeasonalNaive);
        // Too short to hold a year before the choice's months: the default for its length.
        assert_eq!(choose(&values[..29], scripted(&values, |_, _| 0.0)), Method::default_for(29));
        assert_eq!(Method::default_for(29), Method::MstlEtsLog);
        assert_eq!(Method::default_for(20), Method::SeasonalNaive);
    }

    #[test]
    fn intermittent_demand_is_not_forecast_worse_than_seasonal_naive() {
        // Months of 0 or about 115 units, at random: no seasonal pattern to find.
        let mut state = 5u64;
        let values: Vec<f64> = (0..72)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if (state >> 40).is_multiple_of(3) { 110.0 + ((state >> 20) % 10) as f64 } else { 0.0 }
            })
            .collect();
        let chosen = forecast(&values, 3, 0.8).method;
        assert_ne!(chosen, Method::MstlEtsLog, "a seasonal model for a series with no season");
        let test = backtest(&values, 3);
        assert!(test.smape <= test.baseline_smape * 1.1, "{chosen:?}: {test:?}");
    }

    #[test]
    fn fits_use_the_last_ten_years_in_whole_years() {
        let values: Vec<f64> = (0..150).map(f64::from).collect();
        assert_eq!(recent(&values).len(), 126, "24 months dropped: two whole years");
        assert_eq!(recent(&values)[0], 24.0);
        assert_eq!(recent(&values[..100]).len(), 100);
        // Fifteen years fitted as their last ten: the same forecast, to the last bit.
        let long: Vec<f64> = (0..180).map(|t| 100.0 + (t % 12) as f64 * 5.0 + (t * 7 % 5) as f64).collect();
        for method in [Method::MstlEtsLog, Method::Ets] {
            assert_eq!(fit(method, &long, 3, 0.8), fit(method, &long[60..], 3, 0.8), "{method:?}");
        }
    }

    #[test]
    fn conformal_bounds_take_the_order_statistics_of_split_conformal_prediction() {
        let errors: Vec<f64> = (1..=40).map(f64::from).collect();
        // n = 40, 80%: the ⌊41 · 0.1⌋ = 4th and the ⌈41 · 0.9⌉ = 37th smallest.
        assert_eq!(conformal_bounds(&errors, 0.8), (4.0, 37.0));
        // Too few errors for the level: the extremes.
        assert_eq!(conformal_bounds(&errors[..5], 0.95), (1.0, 5.0));
        // A level of 0: the two middle errors.
        assert_eq!(conformal_bounds(&errors, 0.0), (20.0, 21.0));
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
        assert_eq!(single.method, Method::Mean);
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
        // The largest series' 40 errors are those of the ten largest (sd 0.21 down to 0.1): its
        // width lies between their ranges.
        assert!((2.56 * 0.1..2.56 * 0.22).contains(&width(large)), "{large:?}");
        let (lower, upper) = large.interval(100_000.0);
        assert!(
            lower < 100_000.0 && upper > 100_000.0 && upper / lower < (2.56f64 * 0.22).exp(),
            "{lower} {upper}"
        );
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
