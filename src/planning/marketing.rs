//! Which models deserve more marketing in a market: high-value models losing ground, scored
//! from their value (price against the market's, revenue share) and their momentum: against
//! the market over the last year, and against their own forecast over the last three months.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::PlanningError;
use super::forecast::{Backtests, forecast_models};
use crate::data::Snapshot;
use crate::domain::{ResolvedFilter, relative_change};
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
    /// Units over the last twelve months against the same days a year earlier, and the
    /// market's change over the same windows.
    Momentum { own_change: f64, market_change: f64, units: f64, units_before: f64, windows: YearOverYear },
    /// Units of the last whole months against the model's own forecast made before them.
    AgainstForecast(AgainstForecast),
    /// The model's share of the market's revenue over the last twelve months (money).
    RevenueShare { share: f64 },
    /// The model's average price against the market's (money).
    Price { price: f64, market_price: f64 },
    /// The model keeps pace with the market: no marketing need.
    KeepsPace { model: String },
}

/// The days a reason's figures cover (both ends included): the figures equal what
/// `salesSummary` gives over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The last twelve months and the twelve before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearOverYear {
    pub last: Window,
    pub before: Window,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.from, self.to)
    }
}

impl Reason {
    /// Whether the reason states money (prices or revenue).
    pub fn is_money(&self) -> bool {
        matches!(self, Reason::RevenueShare { .. } | Reason::Price { .. })
    }

    pub fn text(&self) -> String {
        match self {
            Reason::Momentum { own_change, market_change, units, units_before, windows } => format!(
                "units {} {:.0}% year over year ({units:.0} from {} against {units_before:.0} from {}) \
                 while the market {} {:.0}%",
                if *own_change < 0.0 { "down" } else { "up" },
                own_change.abs() * 100.0,
                windows.last,
                windows.before,
                if *market_change < 0.0 { "fell" } else { "grew" },
                market_change.abs() * 100.0
            ),
            Reason::AgainstForecast(against) => format!(
                "sold {:.0} units from {}, {:.0}% {} the {:.0} its own forecast made before them expected",
                against.units,
                against.window,
                against.gap().abs() * 100.0,
                if against.gap() < 0.0 { "below" } else { "above" },
                against.predicted
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
    /// The last three whole months against what the model's own forecast, made before them,
    /// predicted; None without a forecast.
    pub against_forecast: Option<AgainstForecast>,
}

/// A model's units over whole months beside its forecast for them, made before they began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgainstForecast {
    pub units: f64,
    pub predicted: f64,
    pub window: Window,
}

impl AgainstForecast {
    /// Actual against predicted (−0.14: 14% short). Only a positive forecast is compared with,
    /// so there is always a base.
    pub fn gap(&self) -> f64 {
        relative_change(self.units, self.predicted).unwrap_or(0.0)
    }
}

/// How much a shortfall against the model's own forecast weighs against one against the market.
const FORECAST_WEIGHT: f64 = 0.5;
/// Months the comparison with the model's own forecast covers.
const FORECAST_MONTHS: u32 = 3;

/// Scores models; pure so that it is tested on its own. `names` only words the reasons. A
/// viewer who may not see money (`with_money` false) gets a ranking on units alone (lag against
/// the market and against the forecast): a ranking weighted by price or revenue would reveal
/// them through the order, and its reasons would state them.
pub fn score(
    models: &BTreeMap<i32, ModelYears>,
    windows: YearOverYear,
    names: &dyn Fn(i32) -> String,
    with_money: bool,
) -> Vec<Priority> {
    let market_last: f64 = models.values().map(|m| m.units_last).sum();
    let market_before: f64 = models.values().map(|m| m.units_before).sum();
    let market_revenue: f64 = models.values().map(|m| m.revenue_last).sum();
    let market_priced: f64 = models.values().map(|m| m.priced_units_last).sum();
    let market_price = if market_priced > 0.0 { market_revenue / market_priced } else { 0.0 };
    let market_change = relative_change(market_last, market_before).unwrap_or(0.0);
    let mut priorities: Vec<Priority> = models
        .iter()
        .filter(|(_, m)| m.units_last > 0.0 && m.units_before > 0.0)
        .map(|(&model_id, m)| {
            let own = relative_change(m.units_last, m.units_before).unwrap_or(0.0);
            let short_of_forecast = m.against_forecast.map_or(0.0, |against| (-against.gap()).max(0.0));
            let lag = (market_change - own).max(0.0) + FORECAST_WEIGHT * short_of_forecast;
            let price = if m.priced_units_last > 0.0 { m.revenue_last / m.priced_units_last } else { 0.0 };
            let price_ratio = if market_price > 0.0 { price / market_price } else { 1.0 };
            let share = if market_revenue > 0.0 { m.revenue_last / market_revenue } else { 0.0 };
            // Value weighs how much a recovered unit is worth; lag how much ground there is to win.
            let value = if with_money { price_ratio.max(0.1).sqrt() * (1.0 + 5.0 * share) } else { 1.0 };
            let score = 100.0 * lag * value;
            let mut reasons = vec![Reason::Momentum {
                own_change: own,
                market_change,
                units: m.units_last,
                units_before: m.units_before,
                windows,
            }];
            if with_money && market_revenue > 0.0 {
                reasons.push(Reason::RevenueShare { share });
            }
            if let Some(against) = m.against_forecast.filter(|against| against.gap().abs() >= 0.05) {
                reasons.push(Reason::AgainstForecast(against));
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

fn by_model(rows: &[AggregateRow]) -> BTreeMap<i32, AggregateRow> {
    rows.iter().filter_map(|r| Some((r.model_id?, r.clone()))).collect()
}

/// The last twelve months up to the filter's `to` (default the last sale) against the twelve before.
#[tracing::instrument(target = "salesgraph::trace", name = "marketing priorities", skip_all)]
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
    let (last, before) = (by_model(&last), by_model(&before));
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
    for (id, against) in against_own_forecast(store, snapshot, filter, end).await? {
        if let Some(model) = models.get_mut(&id) {
            model.against_forecast = Some(against);
        }
    }
    let names = |id: i32| {
        snapshot.catalogue.model_by_id(id).map_or_else(|| format!("model {id}"), |m| m.name.clone())
    };
    let windows = YearOverYear {
        last: Window { from: last_from, to: end },
        before: Window { from: before_from, to: before_to },
    };
    Ok(score(&models, windows, &names, with_money))
}

/// Each model's last [`FORECAST_MONTHS`] whole months up to `end` against its own forecast made
/// just before them, both over the same days.
async fn against_own_forecast(
    store: &Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    end: NaiveDate,
) -> Result<Vec<(i32, AgainstForecast)>, PlanningError> {
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
    let window = Window { from: window_start, to: window_end };
    let recent = ResolvedFilter { from: Some(window.from), to: Some(window.to), ..filter.clone() };
    let actual =
        by_model(&summary::summarize(store, &snapshot.cube, &snapshot.catalogue, &recent, &request).await?);
    Ok(predicted
        .predictions
        .iter()
        .filter(|p| p.total.units > 0.0)
        .map(|p| {
            let units = actual.get(&p.model_id).map_or(0.0, |r| r.units as f64);
            (p.model_id, AgainstForecast { units, predicted: p.total.units, window })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS: YearOverYear = YearOverYear {
        last: Window { from: date(2024, 1, 1), to: date(2024, 12, 31) },
        before: Window { from: date(2023, 1, 1), to: date(2023, 12, 31) },
    };

    const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        match NaiveDate::from_ymd_opt(year, month, day) {
            Some(date) => date,
            None => panic!("no such day"),
        }
    }

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
        let ranked = score(&models, WINDOWS, &|id| format!("m{id}"), true);
        assert_eq!(ranked[0].model_id, 2, "{ranked:?}");
        assert_eq!(
            ranked[0].reasons[0].text(),
            "units down 30% year over year (70 from 2024-01-01 to 2024-12-31 against 100 from \
             2023-01-01 to 2023-12-31) while the market grew 1%"
        );
        assert!(ranked.iter().find(|p| p.model_id == 1).expect("m1").score == 0.0);
    }

    #[test]
    fn falling_short_of_its_own_forecast_counts_and_is_said() {
        let mut short = years(500.0, 500.0, 50_000.0);
        let quarter = Window { from: date(2024, 10, 1), to: date(2024, 12, 31) };
        short.against_forecast = Some(AgainstForecast { units: 105.0, predicted: 150.0, window: quarter });
        let models = BTreeMap::from([(1, years(500.0, 500.0, 50_000.0)), (2, short)]);
        let ranked = score(&models, WINDOWS, &|id| format!("m{id}"), true);
        assert_eq!(ranked[0].model_id, 2, "{ranked:?}");
        assert!(ranked[0].score > 0.0 && ranked[1].score == 0.0, "{ranked:?}");
        assert!(
            ranked[0].reasons.iter().any(|r| r.text()
                == "sold 105 units from 2024-10-01 to 2024-12-31, 30% below the 150 its own forecast made before them expected"),
            "{ranked:?}"
        );
    }

    #[test]
    fn empty_and_new_models_do_not_panic() {
        assert!(score(&BTreeMap::new(), WINDOWS, &|_| String::new(), true).is_empty());
        let new_only = BTreeMap::from([(1, years(10.0, 0.0, 1.0))]);
        assert!(score(&new_only, WINDOWS, &|_| String::new(), true).is_empty());
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
        let with_money = score(&models, WINDOWS, &|id| format!("m{id}"), true);
        assert_eq!(with_money[0].model_id, 2, "{with_money:?}");
        assert!(with_money[0].reasons.iter().any(Reason::is_money));
        let without = score(&models, WINDOWS, &|id| format!("m{id}"), false);
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
