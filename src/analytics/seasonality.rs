//! Seasonality by STL (seasonal-trend decomposition by LOESS, Cleveland et al. 1990; the
//! stlrs crate, as augurs uses it), robust so that one-off dips such as April 2020 do not bend
//! the pattern, on log(1 + y) so that the pattern is multiplicative. The monthly indices are the
//! seasonal component averaged by calendar month, back on the original scale and normalised to
//! average 1.0; strength follows Wang, Smith & Hyndman (2006): 1 − Var(remainder) /
//! Var(seasonal + remainder).

use augurs_mstl::stlrs;

use super::mean;

/// Months of data a decomposition needs: two full cycles.
pub const MIN_MONTHS: usize = 24;

#[derive(Debug, Clone, PartialEq)]
pub struct Seasonality {
    /// 12 indices, January first, averaging 1.0.
    pub monthly_index: [f64; 12],
    /// Months (1-12) with index ≥ 1.05, highest first; at least the single highest.
    pub peak_months: Vec<u32>,
    /// Months (1-12) with index ≤ 0.95, lowest first; at least the single lowest.
    pub trough_months: Vec<u32>,
    /// 0 (no seasonality) to 1 (all variation is seasonal).
    pub strength: f64,
    /// Months of data used.
    pub months: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeasonalityError {
    #[error(
        "the series has {months} months of data; seasonality needs at least {MIN_MONTHS} (two full years)"
    )]
    TooShort { months: usize },
    #[error("the series has no sales")]
    Empty,
    #[error("the decomposition failed: {0}")]
    Decomposition(String),
}

/// `values` are consecutive monthly totals; `first_month0` is the calendar month (0 = January)
/// of the first value.
pub fn decompose(values: &[f64], first_month0: usize) -> Result<Seasonality, SeasonalityError> {
    if values.len() < MIN_MONTHS {
        return Err(SeasonalityError::TooShort { months: values.len() });
    }
    if values.iter().all(|v| *v <= 0.0) {
        return Err(SeasonalityError::Empty);
    }
    let logged: Vec<f64> = values.iter().map(|v| v.max(0.0).ln_1p()).collect();
    let constant = logged.iter().all(|v| (v - logged[0]).abs() < 1e-12);
    let (monthly_index, strength) = if constant {
        ([1.0; 12], 0.0)
    } else {
        let stl = stlrs::params()
            .robust(true)
            .fit(&logged, 12)
            .map_err(|e| SeasonalityError::Decomposition(e.to_string()))?;
        let mut by_month: Vec<Vec<f64>> = vec![Vec::new(); 12];
        for (t, seasonal) in stl.seasonal().iter().enumerate() {
            by_month[(first_month0 + t) % 12].push(*seasonal);
        }
        let raw: [f64; 12] = std::array::from_fn(|m| mean(&by_month[m]).exp());
        let scale = mean(&raw);
        let index = if scale > 0.0 { raw.map(|v| v / scale) } else { [1.0; 12] };
        let strength = stl.seasonal_strength();
        (index, if strength.is_finite() { strength.clamp(0.0, 1.0) } else { 0.0 })
    };
    let n = values.len();

    let mut order: Vec<usize> = (0..12).collect();
    order.sort_by(|a, b| monthly_index[*b].total_cmp(&monthly_index[*a]));
    let mut peak_months: Vec<u32> =
        order.iter().filter(|m| monthly_index[**m] >= 1.05).map(|m| *m as u32 + 1).collect();
    if peak_months.is_empty() {
        peak_months.push(order[0] as u32 + 1);
    }
    let mut trough_months: Vec<u32> =
        order.iter().rev().filter(|m| monthly_index[**m] <= 0.95).map(|m| *m as u32 + 1).collect();
    if trough_months.is_empty() {
        trough_months.push(order[11] as u32 + 1);
    }
    Ok(Seasonality { monthly_index, peak_months, trough_months, strength, months: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seasonal_series(years: usize, factors: [f64; 12], growth: f64) -> Vec<f64> {
        (0..years * 12).map(|t| 1_000.0 * (1.0 + growth).powf(t as f64 / 12.0) * factors[t % 12]).collect()
    }

    #[test]
    fn finds_planted_peaks_and_troughs_despite_growth() {
        let mut factors = [1.0; 12];
        factors[2] = 2.0;
        factors[8] = 2.0;
        factors[1] = 0.5;
        factors[7] = 0.5;
        let result = decompose(&seasonal_series(6, factors, 0.2), 0).unwrap();
        assert!(
            result.peak_months.starts_with(&[3, 9]) || result.peak_months.starts_with(&[9, 3]),
            "{result:?}"
        );
        assert!(result.trough_months.contains(&2) && result.trough_months.contains(&8), "{result:?}");
        assert!((result.monthly_index.iter().sum::<f64>() / 12.0 - 1.0).abs() < 1e-9);
        assert!(result.strength > 0.9, "{}", result.strength);
    }

    #[test]
    fn a_series_starting_mid_year_is_aligned_to_calendar_months() {
        let mut factors = [1.0; 12];
        factors[0] = 1.8;
        let series: Vec<f64> = (0..36).map(|t| 500.0 * factors[(t + 6) % 12]).collect();
        let result = decompose(&series, 6).unwrap();
        assert_eq!(result.peak_months[0], 1);
    }

    #[test]
    fn short_empty_and_constant_series_do_not_invent_patterns() {
        assert_eq!(decompose(&[], 0), Err(SeasonalityError::TooShort { months: 0 }));
        assert_eq!(decompose(&[5.0], 0), Err(SeasonalityError::TooShort { months: 1 }));
        assert_eq!(decompose(&[0.0; 30], 0), Err(SeasonalityError::Empty));
        let flat = decompose(&[100.0; 36], 0).unwrap();
        assert_eq!(flat.strength, 0.0);
        assert!(flat.monthly_index.iter().all(|i| (i - 1.0).abs() < 1e-9));
    }
}
