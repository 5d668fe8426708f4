//! Per-model features from the cube for segmentation: price, volume, growth, volatility and
//! electric share over the two years up to the filter's `to` (default: the last sale).

use std::collections::BTreeMap;

use chrono::Months;

use super::PlanningError;
use crate::analytics::segments::{self, Features, SegmentAnalysis};
use crate::cube::month_index;
use crate::data::Snapshot;
use crate::domain::{ResolvedFilter, relative_change};
use crate::store::Store;
use crate::summary::{self, Dimension, SummaryRequest};

/// Segments with the model ids of their members.
pub struct ModelSegments {
    pub analysis: SegmentAnalysis,
    pub model_ids: Vec<i32>,
}

#[tracing::instrument(target = "salesgraph::trace", name = "segment models", skip_all, fields(k = ?k))]
pub async fn segment_models(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    k: Option<usize>,
    with_money: bool,
) -> Result<ModelSegments, PlanningError> {
    let Some(end) = filter.to.or(snapshot.last_sale_day) else {
        return Err(PlanningError::Invalid("there are no sales to segment".into()));
    };
    let start = end.checked_sub_months(Months::new(24)).and_then(|d| d.succ_opt()).unwrap_or(end);
    let window = ResolvedFilter { from: Some(start), to: Some(end), ..filter.clone() };
    let by_fuel =
        SummaryRequest { group_by: vec![Dimension::Model, Dimension::FuelType], ..Default::default() };
    let last_year = ResolvedFilter {
        from: end.checked_sub_months(Months::new(12)).and_then(|d| d.succ_opt()),
        ..window.clone()
    };
    let (monthly, fuels) = tokio::try_join!(
        summary::units_by_model_and_month(store, &snapshot.cube, &snapshot.catalogue, &window),
        summary::summarize(store, &snapshot.cube, &snapshot.catalogue, &last_year, &by_fuel),
    )?;
    let first = month_index(start);
    let mut months: BTreeMap<i32, [f64; 24]> = BTreeMap::new();
    for sold in &monthly {
        let slot = (sold.month - first).clamp(0, 23) as usize;
        months.entry(sold.model_id).or_insert([0.0; 24])[slot] += sold.units as f64;
    }
    let mut money: BTreeMap<i32, (f64, f64, f64, f64)> = BTreeMap::new();
    for row in &fuels {
        if let Some(model) = row.model_id {
            let entry = money.entry(model).or_default();
            entry.0 += row.revenue_sum;
            entry.1 += row.priced_units as f64;
            entry.2 += row.units as f64;
            if row.fuel_type.as_deref() == Some("ELECTRIC") {
                entry.3 += row.units as f64;
            }
        }
    }
    let mut model_ids = Vec::new();
    let mut features = Vec::new();
    for (model, series) in &months {
        let before: f64 = series[..12].iter().sum();
        let last: f64 = series[12..].iter().sum();
        let Some(&(revenue, priced, units, electric)) = money.get(model) else { continue };
        if last <= 0.0 || units <= 0.0 {
            continue;
        }
        let mean = series.iter().sum::<f64>() / 24.0;
        let sd = (series.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 24.0).sqrt();
        model_ids.push(*model);
        features.push(Features {
            // Without money the price plays no part: neither in the clusters nor in their names.
            average_price: if priced > 0.0 && with_money { revenue / priced } else { 0.0 },
            units_per_year: last,
            // A model new this year counts as doubling rather than as infinite growth.
            growth: relative_change(last, before).unwrap_or(1.0),
            volatility: if mean > 0.0 { sd / mean } else { 0.0 },
            electric_share: electric / units,
        });
    }
    let analysis = tokio::task::spawn_blocking(move || segments::segment(&features, k))
        .await
        .map_err(|e| PlanningError::Worker(e.to_string()))?
        .map_err(|e| PlanningError::Invalid(e.to_string()))?;
    Ok(ModelSegments { analysis, model_ids })
}
