//! Forecasts (which models will sell most) and inventory plans.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::catalogue::{CarModel, Country};
use super::error::ApiError;
use super::filter::SalesFilter;
use super::scalars::Date;
use super::{app, resolve_filter};
use crate::analytics::forecast;
use crate::data::Snapshot;
use crate::planning::{PlanningError, forecast as plan_forecast, inventory, marketing, segments};

/// Horizons a client may ask for, in months.
pub const HORIZONS: std::ops::RangeInclusive<i32> = 1..=24;

impl From<PlanningError> for ApiError {
    fn from(error: PlanningError) -> Self {
        match error {
            PlanningError::Invalid(message) => ApiError::BadUserInput(message),
            PlanningError::Database(error) => error.into(),
            PlanningError::Summary(error) => error.into(),
            other => ApiError::internal(other),
        }
    }
}

/// A model the answer refers to, from the snapshot's catalogue.
fn catalogue_model(snapshot: &Snapshot, id: i32) -> Result<CarModel> {
    let model = snapshot.catalogue.model_by_id(id).cloned();
    Ok(model
        .map(CarModel)
        .ok_or_else(|| ApiError::internal(format!("model {id} is not in the catalogue")))?)
}

fn horizon(value: i32) -> Result<usize, ApiError> {
    super::error::in_range("horizonMonths", value, HORIZONS)
}

/// How well the method forecast the last 12 months from rolling origins.
#[derive(SimpleObject)]
pub struct Backtest {
    /// Months forecast from rolling origins and compared with what happened.
    pub holdout_months: i32,
    /// Mean absolute error over the in-sample seasonal-naive error: below 1 beats it.
    pub mase: f64,
    /// Symmetric mean absolute percentage error, in percent (0-200).
    pub smape: f64,
    /// sMAPE of seasonal naive (same month last year) on the same months.
    pub baseline_smape: f64,
    /// Share of the backtest's totals over the horizon, over every model of the forecast's
    /// market, that the 80% interval of the total held, each model judged by an interval
    /// calibrated without its own errors (leave one out): what to expect of the intervals
    /// shown. Null with fewer than 20 backtest totals.
    pub coverage: Option<f64>,
}

impl From<forecast::Backtest> for Backtest {
    fn from(b: forecast::Backtest) -> Self {
        Self {
            holdout_months: b.holdout_months as i32,
            mase: b.mase,
            smape: b.smape,
            baseline_smape: b.baseline_smape,
            coverage: b.coverage,
        }
    }
}

/// One forecast month.
#[derive(SimpleObject)]
pub struct MonthForecast {
    /// First day of the month.
    pub month: Date,
    /// Predicted units.
    pub units: f64,
    /// Lower end of the 80% interval.
    pub lower: f64,
    /// Upper end of the 80% interval.
    pub upper: f64,
}

/// A model's forecast over the horizon.
pub struct ModelForecast {
    rank: i32,
    prediction: plan_forecast::ModelPrediction,
    country: Option<String>,
    snapshot: Arc<Snapshot>,
}

/// A model's forecast over the horizon.
#[Object]
impl ModelForecast {
    /// 1 for the model predicted to sell most.
    async fn rank(&self) -> i32 {
        self.rank
    }

    /// The model.
    async fn model(&self) -> Result<CarModel> {
        catalogue_model(&self.snapshot, self.prediction.model_id)
    }

    /// The market, when the filter names exactly one.
    async fn country(&self) -> Option<Country> {
        self.snapshot.catalogue.country(self.country.as_deref()?).cloned().map(Country)
    }

    /// The method this model's forecast used: the one its own backtest chose (see
    /// `Forecast.method`).
    async fn method(&self) -> &'static str {
        self.prediction.method.name()
    }

    /// This model's own backtest by that method: its errors over the last 12 months, against
    /// seasonal naive's over the same months (`coverage` is the market's: see `Forecast.backtest`).
    async fn backtest(&self) -> Backtest {
        self.prediction.backtest.into()
    }

    /// Predicted units over the horizon.
    async fn units(&self) -> f64 {
        self.prediction.total.units
    }

    /// Lower bound of the 80% interval of the total over the horizon, calibrated on the
    /// backtest errors of the market's models nearest this one in size (see
    /// `backtest.coverage`); never below 0.
    async fn lower(&self) -> f64 {
        self.prediction.total.lower
    }

    /// Upper bound of the 80% interval of the total over the horizon, calibrated likewise.
    async fn upper(&self) -> f64 {
        self.prediction.total.upper
    }

    /// The path month by month.
    async fn months(&self) -> Vec<MonthForecast> {
        self.prediction
            .months
            .iter()
            .map(|(month, m)| MonthForecast {
                month: Date(*month),
                units: m.units,
                lower: m.lower,
                upper: m.upper,
            })
            .collect()
    }
}

/// Forecasts ranked by predicted units, with the method and its measured accuracy.
#[derive(SimpleObject)]
pub struct Forecast {
    /// The forecasting method, e.g. damped-trend exponential smoothing with seasonality.
    pub method: String,
    /// Pooled over the models returned.
    pub backtest: Backtest,
    /// Models ranked by predicted units, most first.
    pub predictions: Vec<ModelForecast>,
    /// What the forecast leaves out and why (sales dated only by quarter or year).
    pub notes: Vec<String>,
}

/// How a market's stock of a model compares with what the forecast needs.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::planning::inventory::StockStatus")]
pub enum StockStatus {
    /// On hand does not cover the forecast demand.
    Short,
    /// Between the recommended stock and one more horizon's demand above it.
    Ok,
    /// More than another horizon's demand above the recommended stock.
    Excess,
}

/// What a market should hold of one model.
pub struct InventoryRecommendation {
    recommendation: inventory::Recommendation,
    snapshot: Arc<Snapshot>,
}

/// What to stock of one model in one market, and why.
#[Object]
impl InventoryRecommendation {
    /// The model.
    async fn model(&self) -> Result<CarModel> {
        catalogue_model(&self.snapshot, self.recommendation.model_id)
    }

    /// Predicted units over the horizon.
    async fn forecast_units(&self) -> f64 {
        self.recommendation.forecast_units
    }

    /// Extra units against forecast error at a 95% service level.
    async fn safety_stock(&self) -> f64 {
        self.recommendation.safety_stock
    }

    /// Units in stock as of the last month.
    async fn on_hand(&self) -> i64 {
        self.recommendation.on_hand
    }

    /// Forecast plus safety stock, rounded up.
    async fn recommended_stock(&self) -> i64 {
        self.recommendation.recommended_stock
    }

    /// Units to order to reach the recommended stock.
    async fn reorder_units(&self) -> i64 {
        self.recommendation.reorder_units
    }

    /// SHORT, OK or EXCESS against the recommended stock.
    async fn status(&self) -> StockStatus {
        self.recommendation.status.into()
    }

    /// Why, in words.
    async fn reasons(&self) -> &[String] {
        &self.recommendation.reasons
    }
}

/// A model that deserves more marketing in the filtered market.
pub struct MarketingPriority {
    rank: i32,
    priority: marketing::Priority,
    snapshot: Arc<Snapshot>,
}

/// A model that deserves more marketing in the filtered market, with the reasons.
#[Object]
impl MarketingPriority {
    /// 1 for the model that most needs it.
    async fn rank(&self) -> i32 {
        self.rank
    }

    /// The model.
    async fn model(&self) -> Result<CarModel> {
        catalogue_model(&self.snapshot, self.priority.model_id)
    }

    /// 0 when the model keeps pace with its market; higher for valuable models losing more ground.
    async fn score(&self) -> f64 {
        self.priority.score
    }

    /// Why, in words: change against the market and against the model's own forecast, and
    /// for roles that may see money its revenue share and price.
    async fn reasons(&self) -> Vec<String> {
        self.priority.reasons.iter().map(marketing::Reason::text).collect()
    }

    /// The same reasons with the figures they rest on, for clients that render their own text.
    async fn explanations(&self) -> Vec<PriorityReason> {
        self.priority.reasons.iter().map(PriorityReason::of).collect()
    }
}

/// What a marketing reason is about.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    /// Units over the last twelve months against the twelve before, beside the market's change.
    Momentum,
    /// Units of the last whole months against the model's own forecast made before them.
    AgainstForecast,
    /// The model's share of the market's revenue (only for roles that may see money).
    RevenueShare,
    /// The model's average price against the market's (only for roles that may see money).
    Price,
    /// The model keeps pace with its market.
    KeepsPace,
}

/// One reason of a marketing priority: its kind, its figures and its text.
#[derive(SimpleObject)]
pub struct PriorityReason {
    /// What the reason is about.
    pub kind: ReasonKind,
    /// The model's figure: its change (0.1 = +10%), gap to its forecast, revenue share or price.
    pub value: Option<f64>,
    /// The figure it is compared with: the market's change or average price.
    pub compared_with: Option<f64>,
    /// The model's units from `from` to `to` (momentum and against-forecast reasons): what
    /// `salesSummary` gives for the model over those days.
    pub units: Option<f64>,
    /// The units they are compared with: the model's from `comparedFrom` to `comparedTo`
    /// (momentum), or what its forecast made before `from` predicted for `from`..`to`.
    pub compared_with_units: Option<f64>,
    /// First day `units` cover.
    pub from: Option<Date>,
    /// Last day `units` cover.
    pub to: Option<Date>,
    /// First day of the period compared with (momentum: a year earlier).
    pub compared_from: Option<Date>,
    /// Last day of the period compared with.
    pub compared_to: Option<Date>,
    /// The reason in words, as in `reasons`.
    pub text: String,
}

impl PriorityReason {
    fn of(reason: &marketing::Reason) -> Self {
        use marketing::Reason;
        let mut out = Self {
            kind: ReasonKind::KeepsPace,
            value: None,
            compared_with: None,
            units: None,
            compared_with_units: None,
            from: None,
            to: None,
            compared_from: None,
            compared_to: None,
            text: reason.text(),
        };
        match reason {
            Reason::Momentum { own_change, market_change, units, units_before, windows } => {
                out.kind = ReasonKind::Momentum;
                (out.value, out.compared_with) = (Some(*own_change), Some(*market_change));
                (out.units, out.compared_with_units) = (Some(*units), Some(*units_before));
                (out.from, out.to) = (Some(Date(windows.last.from)), Some(Date(windows.last.to)));
                (out.compared_from, out.compared_to) =
                    (Some(Date(windows.before.from)), Some(Date(windows.before.to)));
            }
            Reason::AgainstForecast(against) => {
                out.kind = ReasonKind::AgainstForecast;
                out.value = Some(against.gap());
                (out.units, out.compared_with_units) = (Some(against.units), Some(against.predicted));
                (out.from, out.to) = (Some(Date(against.window.from)), Some(Date(against.window.to)));
            }
            Reason::RevenueShare { share } => {
                out.kind = ReasonKind::RevenueShare;
                out.value = Some(*share);
            }
            Reason::Price { price, market_price } => {
                out.kind = ReasonKind::Price;
                (out.value, out.compared_with) = (Some(*price), Some(*market_price));
            }
            Reason::KeepsPace { .. } => {}
        }
        out
    }
}

/// A segment's centre, in original units.
#[derive(SimpleObject)]
pub struct SegmentCentroid {
    /// USD per car.
    #[graphql(visible = "crate::access::visibility::segment_centroid_average_price")]
    pub average_price: Option<f64>,
    /// Units over the last twelve months.
    pub units_per_year: f64,
    /// Last twelve months against the twelve before (0.1 = +10%).
    pub growth: f64,
    /// Coefficient of variation of monthly units over two years.
    pub volatility: f64,
    /// Share of units that are electric (0-1).
    pub electric_share: f64,
}

/// A group of models with similar price, volume, growth and mix.
#[derive(SimpleObject)]
pub struct Segment {
    /// 1 for the segment with the most volume.
    pub id: i32,
    /// Derived from the centroid ("volume core", "premium flagship", "electric growth", …).
    pub label: String,
    /// The models in the segment.
    pub models: Vec<CarModel>,
    /// The segment's centre, in original units.
    pub centroid: SegmentCentroid,
}

/// Models grouped by k-means over standardized features.
#[derive(SimpleObject)]
pub struct SegmentAnalysis {
    /// How many segments.
    pub k: i32,
    /// Mean silhouette (-1 to 1): how well separated the segments are.
    pub silhouette: f64,
    /// The segments, the one with the most volume first.
    pub segments: Vec<Segment>,
}

#[derive(Default)]
pub struct PlanningQuery;

#[Object]
impl PlanningQuery {
    /// Which models will sell most: monthly forecasts `horizonMonths` whole months after the
    /// month of the filter's `to` (default: the last sale), from data up to `to` only, ranked
    /// by predicted units. Units, lower and upper are totals over the horizon.
    #[graphql(
        complexity = "super::limits::list_weight(limit, 5, super::summary::MAX_LIMIT) + child_complexity"
    )]
    async fn forecast(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(default_with = "Some(3)", desc = "Whole months to forecast: 1 to 24.")]
        horizon_months: Option<i32>,
        #[graphql(default_with = "Some(5)", desc = "How many to return (1 to 10,000).")] limit: Option<i32>,
    ) -> Result<Forecast> {
        let app = app(ctx)?;
        let filter = resolve_filter(ctx, filter.as_ref())?;
        let horizon = horizon(horizon_months.unwrap_or(3))?;
        let limit = super::summary::check_limit(Some(limit.unwrap_or(5)))?.unwrap_or(5);
        let snapshot = app.snapshot();
        let result = plan_forecast::forecast_models(
            &app.store,
            &snapshot,
            &filter,
            horizon,
            Some(limit),
            plan_forecast::Backtests::Include,
        )
        .await
        .map_err(ApiError::from)?;
        let country = filter.countries.as_ref().filter(|c| c.len() == 1).and_then(|c| c.first().cloned());
        Ok(Forecast {
            method: plan_forecast::METHOD.to_string(),
            backtest: result.backtest.into(),
            predictions: result
                .predictions
                .into_iter()
                .enumerate()
                .map(|(i, prediction)| ModelForecast {
                    rank: i as i32 + 1,
                    prediction,
                    country: country.clone(),
                    snapshot: snapshot.clone(),
                })
                .collect(),
            notes: result.notes,
        })
    }

    /// Segments of the models the filter covers, by k-means over standardized price, volume,
    /// growth, volatility and electric share over the last two years; `k` is chosen by
    /// silhouette when omitted (2 to 8).
    async fn segments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(desc = "How many segments (at least 2); chosen by silhouette when omitted.")] k: Option<
            i32,
        >,
    ) -> Result<SegmentAnalysis> {
        let app = app(ctx)?;
        let filter = resolve_filter(ctx, filter.as_ref())?;
        let k = match k {
            Some(k) if k < 2 => {
                return Err(ApiError::BadUserInput(format!("`k` is {k}: it must be at least 2")).into());
            }
            other => other.map(|k| k as usize),
        };
        let snapshot = app.snapshot();
        let with_money = super::access(ctx)?.sees_money();
        let result = segments::segment_models(&app.store, &snapshot, &filter, k, with_money)
            .await
            .map_err(ApiError::from)?;
        let model = |i: usize| {
            result.model_ids.get(i).and_then(|id| snapshot.catalogue.model_by_id(*id)).cloned().map(CarModel)
        };
        Ok(SegmentAnalysis {
            k: result.analysis.k as i32,
            silhouette: result.analysis.silhouette,
            segments: result
                .analysis
                .segments
                .iter()
                .map(|s| Segment {
                    id: s.id as i32,
                    label: s.label.clone(),
                    models: s.members.iter().filter_map(|i| model(*i)).collect(),
                    centroid: SegmentCentroid {
                        average_price: Some(s.centroid.average_price),
                        units_per_year: s.centroid.units_per_year,
                        growth: s.centroid.growth,
                        volatility: s.centroid.volatility,
                        electric_share: s.centroid.electric_share,
                    },
                })
                .collect(),
        })
    }

    /// Models that deserve more marketing in the filtered market over the last twelve months
    /// up to the filter's `to`: valuable models whose sales lag the market's.
    #[graphql(
        complexity = "super::limits::list_weight(limit, 10, super::summary::MAX_LIMIT) + child_complexity"
    )]
    async fn marketing_priorities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(default_with = "Some(10)", desc = "How many to return (1 to 10,000).")] limit: Option<i32>,
    ) -> Result<Vec<MarketingPriority>> {
        let app = app(ctx)?;
        let filter = resolve_filter(ctx, filter.as_ref())?;
        let limit = super::summary::check_limit(Some(limit.unwrap_or(10)))?.unwrap_or(10);
        let snapshot = app.snapshot();
        let with_money = super::access(ctx)?.sees_money();
        let ranked = marketing::priorities(&app.store, &snapshot, &filter, with_money)
            .await
            .map_err(ApiError::from)?;
        Ok(ranked
            .into_iter()
            .take(limit)
            .enumerate()
            .map(|(i, priority)| MarketingPriority {
                rank: i as i32 + 1,
                priority,
                snapshot: snapshot.clone(),
            })
            .collect())
    }

    /// What to stock in one market: per model, forecast demand over the horizon, safety stock,
    /// on hand, recommended stock and reorder quantity; models needing the most first.
    #[graphql(visible = "crate::access::visibility::query_inventory_plan")]
    async fn inventory_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ISO code or English name of the market.")] country: String,
        #[graphql(default_with = "Some(3)", desc = "Whole months to forecast: 1 to 24.")]
        horizon_months: Option<i32>,
    ) -> Result<Option<Vec<InventoryRecommendation>>> {
        let app = app(ctx)?;
        let market = SalesFilter { countries: Some(vec![country]), ..Default::default() };
        let code = resolve_filter(ctx, Some(&market))?
            .countries
            .and_then(|codes| codes.into_iter().next())
            .ok_or_else(|| ApiError::internal("a resolved country filter names no country"))?;
        let snapshot = app.snapshot();
        let horizon = horizon(horizon_months.unwrap_or(3))?;
        let plan = inventory::plan(&app.store, &snapshot, &code, horizon).await.map_err(ApiError::from)?;
        Ok(Some(
            plan.into_iter()
                .map(|recommendation| InventoryRecommendation { recommendation, snapshot: snapshot.clone() })
                .collect(),
        ))
    }
}
