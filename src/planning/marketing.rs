//! Which models deserve more marketing in a market: high-value models losing ground, scored
//! from their value (price against the market's, revenue share) and their momentum: against
//! the market over the last year, and against their own forecast over the last three months.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::PlanningError;
use super::forecast::{Backtests, forecast_models};
use crate::app::Snapshot;
use crate::domain::ResolvedFilter;
use crate::store::Store;
use crate::summary::{self, AggregateRow, Dimension, SummaryRequest};

#[derive(Debug, Clone, PartialEq)]
pub struct Priority {
    pub model_id: i32,
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// Why a model ranks where it does: the kind of reason and the figures it rests on. Rendered
/// to text with [`Reason::text`]; the money kinds exist only for viewers who may see money.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Units over the last twelve months against the twelve before, and the market's change.
    Momentum { own_change: f64, market_change: f64 },
    /// Units of the last whole months against the model's own forecast made before them.
    AgainstForecast { gap: f64, months: u32 },
    /// The model's share of the market's revenue over the last twelve months (money).
    RevenueShare { share: f64 },
    /// The model's average price against the market's (money).
    Price { price: f64, market_price: f64 },
    /// The model keeps pace with the market: no marketing need.
    KeepsPace { model: String },
}

impl Reason {
    /// Whether the reason states money (prices or revenue).
    pub fn is_money(&self) -> bool {
        matches!(self, Reason::RevenueShare { .. } | Reason::Price { .. })
    }

    pub fn text(&self) -> String {
        match self {
            Reason::Momentum { own_change, market_change } => format!(
                "units {} {:.0}% year over year while the market {} {:.0}%",
                if *own_change < 0.0 { "down" } else { "up" },
                own_change.abs() * 100.0,
                if *market_change < 0.0 { "fell" } else { "grew" },
                market_change.abs() * 100.0
            ),
            Reason::AgainstForecast { gap, months } => format!(
                "sold {:.0}% {} its own forecast over the last {months} months",
                gap.abs() * 100.0,
                if *gap < 0.0 { "below" } else { "above" }
            ),
            Reason::RevenueShare { share } => format!("revenue share {:.1}%", share * 100.0),
            Reason::Price { price, market_price } => format!(
                "average price ${price:.0}, {:.2}× the market's ${market_price:.0}",
                if *market_price > 0.0 { price / market_price } else { 1.0 }
            ),
            Reason::KeepsPace { model } => format!("{model} keeps pace with the market: no marketing need"),
        }
    }
}

/// A model's last two years in a market, as the score needs them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ModelYears {
    pub units_last: f64,
    pub units_before: f64,
    pub revenue_last: f64,
    pub priced_units_last: f64,
    /// Units of the last three whole months against what the model's own forecast, made before
    /// them, predicted (-0.14: 14% short); None without a forecast.
    pub against_forecast: Option<f64>,
}

/// How much a shortfall against the model's own forecast weighs against one against the market.
const FORECAST_WEIGHT: f64 = 0.5;
/// Months the comparison with the model's own forecast covers.
const FORECAST_MONTHS: u32 = 3;

fn change(last: f64, before: f64) -> Option<f64> {
    (before > 0.0).then(|| last / before - 1.0)
}

/// Scores models; pure so that it is tested on its own. `names` only words the reasons. A
/// viewer who may not see money (`with_money` false) gets a ranking on units alone (lag against
/// the market and against the forecast): a ranking weighted by price or revenue would reveal
/// them through the order, and its reasons would state them.
pub fn score(
    models: &BTreeMap<i32, ModelYears>,
    names: &dyn Fn(i32) -> String,
    with_money: bool,
) -> Vec<Priority> {
    let market_last: f64 = models.values().map(|m| m.units_last).sum();
    let market_before: f64 = models.values().map(|m| m.units_before).sum();
    let market_revenue: f64 = models.values().map(|m| m.revenue_last).sum();
    let market_priced: f64 = models.values().map(|m| m.priced_units_last).sum();
    let market_price = if market_priced > 0.0 { market_revenue / market_priced } else { 0.0 };
    let market_change = change(market_last, market_before).unwrap_or(0.0);
    let mut priorities: Vec<Priority> = models
        .iter()
        .filter(|(_, m)| m.units_last > 0.0 && m.units_before > 0.0)
        .map(|(&model_id, m)| {
            let own = change(m.units_last, m.units_before).unwrap_or(0.0);
            let short_of_forecast = m.against_forecast.map_or(0.0, |gap| (-gap).max(0.0));
            let lag = (market_change - own).max(0.0) + FORECAST_WEIGHT * short_of_forecast;
            let price = if m.priced_units_last > 0.0 { m.revenue_last / m.priced_units_last } else { 0.0 };
            let price_ratio = if market_price > 0.0 { price / market_price } else { 1.0 };
            let share = if market_revenue > 0.0 { m.revenue_last / market_revenue } else { 0.0 };
            // Value weighs how much a recovered unit is worth; lag how much ground there is to win.
            let value = if with_money { price_ratio.max(0.1).sqrt() * (1.0 + 5.0 * share) } else { 1.0 };
            let score = 100.0 * lag * value;
            let mut reasons = vec![Reason::Momentum { own_change: own, market_change }];
            if with_money && market_revenue > 0.0 {
                reasons.push(Reason::RevenueShare { share });
            }
            if let Some(gap) = m.against_forecast.filter(|gap| gap.abs() >= 0.05) {
                reasons.push(Reason::AgainstForecast { gap, months: FORECAST_MONTHS });
            }
            if with_money && price > 0.0 {
                reasons.push(Reason::Price { price, market_price });
            }
            if lag == 0.0 {
                reasons.push(Reason::KeepsPace { model: names(model_id) });
            }
            Priority { model_id, score, reasons }
        })
        .collect();
    priorities.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.model_id.cmp(&b.model_id)));
    priorities
}

fn window(rows: &[AggregateRow]) -> BTreeMap<i32, AggregateRow> {
    rows.iter().filter_map(|r| Some((r.model_id?, r.clone()))).collect()
}

/// The last twelve months up to the filter's `to` (default the last sale) against the twelve before.
pub async fn priorities(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    with_money: bool,
) -> Result<Vec<Priority>, PlanningError> {
    let Some(end) = filter.to.or(snapshot.last_sale_day) else { return Ok(Vec::new()) };
    let year_ago = |d: NaiveDate| d.checked_sub_months(Months::new(12)).unwrap_or(d);
    let (last_from, before_to) = (year_ago(end).succ_opt().unwrap_or(end), year_ago(end));
    let before_from = year_ago(before_to).succ_opt().unwrap_or(before_to);
    let request = SummaryRequest { group_by: vec![Dimension::Model], ..Default::default() };
    let last_filter = ResolvedFilter { from: Some(last_from), to: Some(end), ..filter.clone() };
    let before_filter = ResolvedFilter { from: Some(before_from), to: Some(before_to), ..filter.clone() };
    let (last, before) = tokio::try_join!(
        summary::summarize(store, &snapshot.cube, &snapshot.catalogue, &last_filter, &request),
        summary::summarize(store, &snapshot.cube, &snapshot.catalogue, &before_filter, &request),
    )?;
    let (last, before) = (window(&last), window(&before));
    let mut models: BTreeMap<i32, ModelYears> = BTreeMap::new();
    for (id, row) in &last {
        let entry = models.entry(*id).or_default();
        entry.units_last = row.units as f64;
        entry.revenue_last = row.revenue_sum;
        entry.priced_units_last = row.priced_units as f64;
    }
    for (id, row) in &before {
        models.entry(*id).or_default().units_before = row.units as f64;
    }
    for (id, gap) in against_own_forecast(store, snapshot, filter, end).await? {
        if let Some(model) = models.get_mut(&id) {
            model.against_forecast = Some(gap);
        }
    }
    let names = |id: i32| {
        snapshot.catalogue.model_by_id(id).map_or_else(|| format!("model {id}"), |m| m.name.clone())
    };
    Ok(score(&models, &names, with_money))
}

/// Each model's last [`FORECAST_MONTHS`] whole months up to `end` against its own forecast made
/// just before them, as actual / predicted − 1.
async fn against_own_forecast(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    end: NaiveDate,
) -> Result<Vec<(i32, f64)>, PlanningError> {
    let first_of = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    // The last whole month: the month of `end` when `end` is its last day.
    let next_month = first_of(end).checked_add_months(Months::new(1)).unwrap_or(end);
    let window_end =
        if end.succ_opt() == Some(next_month) { end } else { first_of(end).pred_opt().unwrap_or(end) };
    let window_start =
        first_of(window_end).checked_sub_months(Months::new(FORECAST_MONTHS - 1)).unwrap_or(end);
    let Some(origin) = window_start.pred_opt() else { return Ok(Vec::new()) };
    let before_window = ResolvedFilter { to: Some(origin), ..filter.clone() };
    let predicted =
        forecast_models(store, snapshot, &before_window, FORECAST_MONTHS as usize, None, Backtests::Skip)
            .await?;
    let request = SummaryRequest { group_by: vec![Dimension::Model], ..Default::default() };
    let recent = ResolvedFilter { from: Some(window_start), to: Some(window_end), ..filter.clone() };
    let actual =
        window(&summary::summarize(store, &snapshot.cube, &snapshot.catalogue, &recent, &request).await?);
    Ok(predicted
        .predictions
        .iter()
        .filter(|p| p.total.units > 0.0)
        .map(|p| {
            let sold = actual.get(&p.model_id).map_or(0.0, |r| r.units as f64);
            (p.model_id, sold / p.total.units - 1.0)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn years(last: f64, before: f64, price: f64) -> ModelYears {
        ModelYears {
            units_last: last,
            units_before: before,
            revenue_last: last * price,
            priced_units_last: last,
            against_forecast: None,
        }
    }

    #[test]
    fn a_falling_expensive_model_ranks_first() {
        let models = BTreeMap::from([
            (1, years(1_000.0, 900.0, 40_000.0)),
            (2, years(70.0, 100.0, 95_000.0)),
            (3, years(450.0, 500.0, 35_000.0)),
        ]);
        let ranked = score(&models, &|id| format!("m{id}"), true);
        assert_eq!(ranked[0].model_id, 2, "{ranked:?}");
        assert!(ranked[0].reasons[0].text().contains("down 30%"), "{:?}", ranked[0].reasons);
        assert!(ranked.iter().find(|p| p.model_id == 1).expect("m1").score == 0.0);
    }

    #[test]
    fn falling_short_of_its_own_forecast_counts_and_is_said() {
        let mut short = years(500.0, 500.0, 50_000.0);
        short.against_forecast = Some(-0.3);
        let models = BTreeMap::from([(1, years(500.0, 500.0, 50_000.0)), (2, short)]);
        let ranked = score(&models, &|id| format!("m{id}"), true);
        assert_eq!(ranked[0].model_id, 2, "{ranked:?}");
        assert!(ranked[0].score > 0.0 && ranked[1].score == 0.0, "{ranked:?}");
        assert!(
            ranked[0].reasons.iter().any(|r| r.text().contains("30% below its own forecast")),
            "{ranked:?}"
        );
    }

    #[test]
    fn empty_and_new_models_do_not_panic() {
        assert!(score(&BTreeMap::new(), &|_| String::new(), true).is_empty());
        let new_only = BTreeMap::from([(1, years(10.0, 0.0, 1.0))]);
        assert!(score(&new_only, &|_| String::new(), true).is_empty());
    }

    #[test]
    fn without_money_the_ranking_and_the_reasons_rest_on_units_alone() {
        // Two models falling alike: with money the expensive one ranks first; without money
        // they tie on units (ordered by id), and no reason states a price or a revenue share.
        let models = BTreeMap::from([
            (1, years(80.0, 100.0, 20_000.0)),
            (2, years(80.0, 100.0, 150_000.0)),
            (3, years(600.0, 400.0, 40_000.0)),
        ]);
        let with_money = score(&models, &|id| format!("m{id}"), true);
        assert_eq!(with_money[0].model_id, 2, "{with_money:?}");
        assert!(with_money[0].reasons.iter().any(Reason::is_money));
        let without = score(&models, &|id| format!("m{id}"), false);
        assert_eq!((without[0].model_id, without[1].model_id), (1, 2), "{without:?}");
        assert!(without[0].score > 0.0 && without[0].score == without[1].score, "{without:?}");
        for priority in &without {
            assert!(!priority.reasons.iter().any(Reason::is_money), "{priority:?}");
            for reason in &priority.reasons {
                let text = reason.text();
                assert!(
                    !text.contains('$') && !text.contains("revenue") && !text.contains("price"),
                    "{text}"
                );
            }
        }
    }
}
