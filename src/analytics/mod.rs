//! Analytics over time series: plain data in, plain data out (no GraphQL, HTTP or SQL here),
//! so each is unit-tested on small series.

pub mod forecast;
pub mod forecast_memo;
pub mod seasonality;
pub mod segments;
pub mod trend;

/// Mean of a slice; 0 for an empty one.
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}
