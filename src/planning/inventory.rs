//! How much of each model a market should hold: forecast demand over the horizon, safety stock
//! from the forecast's uncertainty at a service level, against what is on hand.

use std::collections::BTreeSet;

use entity::inventory;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::PlanningError;
use super::forecast::{Backtests, forecast_models};
use crate::analytics::forecast::normal_quantile;
use crate::data::Snapshot;
use crate::domain::ResolvedFilter;
use crate::store::Store;

/// Share of demand the safety stock should cover.
pub const SERVICE_LEVEL: f64 = 0.95;
/// The forecast intervals' coverage.
const INTERVAL_LEVEL: f64 = 0.8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockStatus {
    /// On hand does not cover the forecast demand.
    Short,
    Ok,
    /// On hand exceeds what is recommended by more than another horizon's demand.
    Excess,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub model_id: i32,
    pub forecast_units: f64,
    pub safety_stock: f64,
    pub on_hand: i64,
    pub recommended_stock: i64,
    pub reorder_units: i64,
    pub status: StockStatus,
    pub reasons: Vec<String>,
}

/// Classifies a stock position; pure so that it is tested on its own.
pub fn recommend(
    model_id: i32,
    forecast_units: f64,
    interval: (f64, f64),
    on_hand: i64,
    months: usize,
) -> Recommendation {
    // Spread of the horizon total from its two-sided interval, as a normal approximation; the
    // service level is one-sided (demand above the stock is what runs out): its quantile.
    let interval_z = normal_quantile(0.5 + INTERVAL_LEVEL / 2.0);
    let sigma = ((interval.1 - interval.0) / (2.0 * interval_z)).max(0.0);
    let service_z = normal_quantile(SERVICE_LEVEL);
    let safety_stock = service_z * sigma;
    let recommended_stock = (forecast_units + safety_stock).ceil() as i64;
    let reorder_units = (recommended_stock - on_hand).max(0);
    let status = if (on_hand as f64) < forecast_units {
        StockStatus::Short
    } else if on_hand as f64 > recommended_stock as f64 + forecast_units {
        StockStatus::Excess
    } else {
        StockStatus::Ok
    };
    let monthly = forecast_units / months.max(1) as f64;
    let cover = if monthly > 0.0 { on_hand as f64 / monthly } else { f64::INFINITY };
    let mut reasons = vec![format!(
        "forecast {forecast_units:.0} units over {months} months (80% interval {:.0}-{:.0})",
        interval.0, interval.1
    )];
    reasons.push(if cover.is_finite() {
        format!("{on_hand} on hand cover {cover:.1} months of forecast demand")
    } else {
        format!("{on_hand} on hand with no forecast demand")
    });
    match status {
        StockStatus::Short => reasons.push(format!(
            "order {reorder_units} to reach {recommended_stock}: demand plus {safety_stock:.0} safety stock \
             ({service_z:.3} × spread {sigma:.0}, the one-sided {:.0}% quantile)",
            SERVICE_LEVEL * 100.0
        )),
        StockStatus::Excess => {
            reasons.push(format!("{} above the recommended {recommended_stock}", on_hand - recommended_stock))
        }
        StockStatus::Ok => {}
    }
    Recommendation {
        model_id,
        forecast_units,
        safety_stock,
        on_hand,
        recommended_stock,
        reorder_units,
        status,
        reasons,
    }
}

/// The plan for one market, models by reorder need (largest first).
#[tracing::instrument(target = "salesgraph::trace", name = "inventory plan", skip_all, fields(horizon = horizon))]
pub async fn plan(
    store: &Store,
    snapshot: &Snapshot,
    country_code: &str,
    horizon: usize,
) -> Result<Vec<Recommendation>, PlanningError> {
    let filter =
        ResolvedFilter { countries: Some(BTreeSet::from([country_code.to_string()])), ..Default::default() };
    let forecast = forecast_models(store, snapshot, &filter, horizon, None, Backtests::Include).await?;
    store.count_query();
    let stock = inventory::Entity::find()
        .filter(inventory::Column::CountryCode.eq(country_code))
        .all(store.read())
        .await?;
    let mut plan: Vec<Recommendation> = forecast
        .predictions
        .iter()
        .map(|p| {
            let on_hand = stock.iter().find(|s| s.model_id == p.model_id).map_or(0, |s| i64::from(s.on_hand));
            recommend(p.model_id, p.total.units, (p.total.lower, p.total.upper), on_hand, horizon)
        })
        .collect();
    plan.sort_by(|a, b| {
        b.reorder_units.cmp(&a.reorder_units).then(b.forecast_units.total_cmp(&a.forecast_units))
    });
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_classified_against_demand_and_safety_stock() {
        let short = recommend(1, 300.0, (240.0, 360.0), 50, 3);
        assert_eq!(short.status, StockStatus::Short);
        assert!(short.safety_stock > 0.0 && short.recommended_stock > 300);
        assert_eq!(short.reorder_units, short.recommended_stock - 50);
        let ok = recommend(1, 300.0, (240.0, 360.0), 340, 3);
        assert_eq!((ok.status, ok.reorder_units), (StockStatus::Ok, ok.recommended_stock - 340));
        let excess = recommend(1, 300.0, (240.0, 360.0), 1_000, 3);
        assert_eq!((excess.status, excess.reorder_units), (StockStatus::Excess, 0));
        assert!(excess.reasons.iter().any(|r| r.contains("above")));
    }

    #[test]
    fn safety_stock_is_the_one_sided_service_quantile() {
        // An 80% interval 240-360 is ±1.2816 spreads of 46.8; at 95% service one-sided, the
        // safety stock is 1.6449 of them (77), not the two-sided 1.96 (92).
        let short = recommend(1, 300.0, (240.0, 360.0), 50, 3);
        let sigma = 60.0 / 1.281_551_6;
        assert!((short.safety_stock - 1.644_853_6 * sigma).abs() < 0.01, "{}", short.safety_stock);
        assert!(short.reasons.iter().any(|r| r.contains("1.645") && r.contains("47")), "{:?}", short.reasons);
    }

    #[test]
    fn no_demand_and_no_stock_do_not_panic() {
        let none = recommend(1, 0.0, (0.0, 0.0), 0, 3);
        assert_eq!((none.status, none.recommended_stock, none.reorder_units), (StockStatus::Ok, 0, 0));
        let idle = recommend(1, 0.0, (0.0, 0.0), 10, 3);
        assert_eq!(idle.status, StockStatus::Excess);
    }
}
