//! Trend and seasonality of any filtered series.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::enums::{Comparison, Granularity, Metric};
use super::error::ApiError;
use super::filter::SalesFilter;
use super::one_pass::{OnePassList, one_pass_fields, one_pass_output};
use super::scalars::Date;
use super::{app, resolve_filter};
use crate::analytics::{seasonality, trend};
use crate::domain::relative_change;
use crate::summary::{self, PeriodSeries};

/// Which way a series is heading, seasonality and one-off dips aside.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::analytics::trend::Direction")]
pub enum TrendDirection {
    /// Growing by more than 2% a year of its mean level.
    Up,
    /// Shrinking by more than 2% a year of its mean level.
    Down,
    /// Within ±2% a year.
    Flat,
}

/// One period of a trend. A series repeats it once per period, so it resolves in one pass
/// (`super::one_pass`), declared once below.
pub struct TrendPoint {
    pub period: Date,
    pub analysed: trend::TrendPoint,
    /// The figure of the period `compareTo` compares this one with.
    pub previous: Option<f64>,
}

impl TrendPoint {
    pub fn change(&self) -> Option<f64> {
        self.previous.map(|before| self.analysed.value - before)
    }

    pub fn change_ratio(&self) -> Option<f64> {
        self.previous.and_then(|before| relative_change(self.analysed.value, before))
    }
}

one_pass_output!(TrendPoint, schema: TrendPointSchema);

one_pass_fields! {
    /// One period of a trend.
    schema TrendPointSchema as "TrendPoint";
    fn trend_point_field(point: &TrendPoint, _ctx, field) {
        /// First day of the period.
        period "period": Date = point.period;
        /// Units, or revenue in USD, in the period.
        value "value": f64 = point.analysed.value;
        /// Trailing mean over a year of periods (two years for yearly series).
        moving_average "movingAverage": Option<f64> = point.analysed.moving_average;
        /// Change against the same period a year before (0.1 = +10%).
        year_over_year "yearOverYear": Option<f64> = point.analysed.year_over_year;
        /// True when the data or the filter covers the period only in part: not comparable.
        partial "partial": bool = point.analysed.partial;
        /// The period `compareTo` compares this one with (the one before, or the same one a year
        /// earlier; the same days of it where this one is partial); null without `compareTo` or
        /// where that period lies before the data.
        previous "previous": Option<f64> = point.previous;
        /// `value` less `previous`; null where `previous` is.
        change "change": Option<f64> = point.change();
        /// `change` as a part of `previous` (0.1 = +10%); null where `previous` is null or 0.
        change_ratio "changeRatio": Option<f64> = point.change_ratio();
    }
    answered by TrendPoint as |point| point;
}

/// A series with its direction and slope.
#[derive(SimpleObject)]
pub struct Trend {
    /// The series, one point per period, oldest first.
    pub points: OnePassList<TrendPoint>,
    /// UP, DOWN or FLAT, from the robust slope against the series' level.
    pub direction: TrendDirection,
    /// Robust (Theil–Sen, year-apart pairs) change per month, in the metric's unit.
    pub slope_per_month: f64,
    /// The last complete year against the year before (0.1 = +10%).
    pub year_over_year: Option<f64>,
    /// What the series leaves out and why (sales dated more coarsely than its periods).
    pub notes: Vec<String>,
}

/// Monthly seasonal pattern of a series.
#[derive(SimpleObject)]
pub struct Seasonality {
    /// 12 indices, January first, averaging 1.0 (1.3 = 30% above an average month).
    pub monthly_index: Vec<f64>,
    /// Months 1-12 with index at least 1.05, highest first (at least the single highest).
    pub peak_months: Vec<u32>,
    /// Months 1-12 with index at most 0.95, lowest first (at least the single lowest).
    pub trough_months: Vec<u32>,
    /// 0 (no seasonality) to 1 (all variation seasonal).
    pub strength: f64,
    /// Months of data the decomposition used.
    pub months: i32,
    /// What the decomposition leaves out and why (sales dated only by quarter or year).
    pub notes: Vec<String>,
}

async fn series(
    ctx: &Context<'_>,
    filter: Option<&SalesFilter>,
    granularity: summary::Granularity,
    metric: summary::Metric,
) -> Result<PeriodSeries, ApiError> {
    Ok(compared_series(ctx, filter, granularity, metric, None).await?.0)
}

/// The filtered series and, with a `comparison`, what each of its periods was in the period it is
/// compared with; both from one snapshot of the data.
async fn compared_series(
    ctx: &Context<'_>,
    filter: Option<&SalesFilter>,
    granularity: summary::Granularity,
    metric: summary::Metric,
    comparison: Option<summary::compare::Comparison>,
) -> Result<(PeriodSeries, Option<Vec<Option<f64>>>), ApiError> {
    let app = app(ctx).map_err(|e| ApiError::internal(e.message))?;
    let filter = resolve_filter(ctx, filter)?;
    let snapshot = app.snapshot();
    let (store, cube, catalogue) = (&app.store, &snapshot.cube, &snapshot.catalogue);
    let series =
        summary::period_series(store, cube, catalogue, &filter, granularity, metric, snapshot.last_sale_day)
            .await?;
    let previous = match comparison {
        Some(comparison) => Some(
            summary::compare::previous_of_periods(
                store,
                cube,
                catalogue,
                &filter,
                granularity,
                metric,
                snapshot.last_sale_day,
                &series,
                comparison,
            )
            .await?,
        ),
        None => None,
    };
    Ok((series, previous))
}

fn left_out_notes(series: &PeriodSeries, answer: &str) -> Vec<String> {
    if series.left_out.is_empty() { Vec::new() } else { vec![series.left_out.note(answer)] }
}

#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// The filtered sales period by period, with a moving average, year-over-year changes, a
    /// robust slope and a direction that ignores seasonality and one-off dips.
    async fn trend(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(
            default_with = "Some(Granularity::Month)",
            desc = "Period length when grouping by PERIOD, or of the series."
        )]
        granularity: Option<Granularity>,
        #[graphql(
            default_with = "Some(Metric::Units)",
            desc = "What to measure and rank by: cars sold, or revenue in USD."
        )]
        metric: Option<Metric>,
        #[graphql(
            desc = "Compare each period with the one before it, or with the same period a year earlier; each point then carries `previous`, `change` and `changeRatio`."
        )]
        compare_to: Option<Comparison>,
    ) -> Result<Trend> {
        let granularity: summary::Granularity = granularity.unwrap_or(Granularity::Month).into();
        let metric: summary::Metric = metric.unwrap_or(Metric::Units).into();
        let (series, previous) =
            compared_series(ctx, filter.as_ref(), granularity, metric, compare_to.map(Into::into)).await?;
        if let Some(reason) = series.too_coarse() {
            return Err(ApiError::BadUserInput(format!(
                "a trend by {} cannot place these sales: {reason}; ask with granularity {}",
                granularity.noun(),
                series.left_out.holding_granularity().noun().to_uppercase()
            ))
            .into());
        }
        let notes = left_out_notes(&series, "this trend");
        let previous = previous.unwrap_or_else(|| vec![None; series.periods.len()]);
        let periods_per_year = (12 / granularity.months()) as usize;
        let analysis = trend::analyze(&series.values, &series.partial, periods_per_year);
        Ok(Trend {
            points: OnePassList(
                series
                    .periods
                    .iter()
                    .zip(analysis.points)
                    .zip(previous)
                    .map(|((period, analysed), previous)| TrendPoint {
                        period: Date(*period),
                        analysed,
                        previous,
                    })
                    .collect(),
            ),
            direction: analysis.direction.into(),
            slope_per_month: analysis.slope_per_period / f64::from(granularity.months()),
            year_over_year: analysis.year_over_year,
            notes,
        })
    }

    /// Monthly seasonal indices of the filtered sales from a classical decomposition; needs
    /// at least 24 months of data and says so otherwise.
    async fn seasonality(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(
            default_with = "Some(Metric::Units)",
            desc = "What to measure and rank by: cars sold, or revenue in USD."
        )]
        metric: Option<Metric>,
    ) -> Result<Seasonality> {
        let series =
            series(ctx, filter.as_ref(), summary::Granularity::Month, metric.unwrap_or(Metric::Units).into())
                .await?;
        if let Some(reason) = series.too_coarse() {
            return Err(ApiError::BadUserInput(format!(
                "seasonality needs sales dated by month or day; {reason}"
            ))
            .into());
        }
        let notes = left_out_notes(&series, "seasonality");
        // The series spans all the data: months before this selection's first sale are not
        // months without sales, so the decomposition starts at that sale. Only whole months
        // are comparable: a partial first or last month is dropped.
        let first_sale = series.values.iter().position(|v| *v > 0.0).unwrap_or(0);
        let first = first_sale + usize::from(series.partial.get(first_sale) == Some(&true));
        let last = series.values.len()
            - usize::from(series.values.len() > first && series.partial.last() == Some(&true));
        let values = &series.values[first..last.max(first)];
        let first_month0 = series.periods.get(first).map_or(0, |p| chrono::Datelike::month0(p) as usize);
        let result = seasonality::decompose(values, first_month0).map_err(|e| match e {
            seasonality::SeasonalityError::Decomposition(_) => ApiError::internal(e),
            _ => ApiError::BadUserInput(e.to_string()),
        })?;
        Ok(Seasonality {
            monthly_index: result.monthly_index.to_vec(),
            peak_months: result.peak_months,
            trough_months: result.trough_months,
            strength: result.strength,
            months: result.months as i32,
            notes,
        })
    }
}
