//! Aggregates by any dimensions and period, and model rankings.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, SimpleObject, Value};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::catalogue::{CarModel, CatalogueCountry, CatalogueModel, Country};
use super::enums::{
    self, BodyType, Comparison, Dimension, FuelType, Granularity, Metric, RankBy, SortOrder, Transmission,
};
use super::error::ApiError;
use super::filter::{DateRange, SalesFilter};
use super::one_pass::{self, OnePassList, one_pass_fields, one_pass_output};
use super::scalars::Date;
use super::{app, resolve_filter};
use crate::data::Snapshot;
use crate::domain::ResolvedFilter;
use crate::store::catalogue::Catalogue;
use crate::summary::compare::{self, ComparedRow};
use crate::summary::windows::{ROLLING_MONTHS, Windows};
use crate::summary::{self, AggregateRow, SummaryRequest};

/// Largest `limit` a ranking or summary accepts.
pub const MAX_LIMIT: i32 = 10_000;

/// One group of sales; the dimensions not grouped by are null. Summaries return hundreds of
/// groups, so it resolves in one pass (`super::one_pass`), declared once below.
pub struct SalesAggregate {
    row: AggregateRow,
    catalogue: std::sync::Arc<Catalogue>,
    compared: Option<Compared>,
    /// Present when the selection asks for a figure read against the other groups.
    windows: Option<Windows>,
}

/// The months a `rollingAverage` spans, checked.
fn rolling_months(months: i32) -> Result<u32, ApiError> {
    u32::try_from(months).ok().filter(|m| ROLLING_MONTHS.contains(m)).ok_or_else(|| {
        ApiError::BadUserInput(format!("`months` is {months}: a rolling average spans 3, 6 or 12 months"))
    })
}

/// A group against the range it is compared with.
#[derive(Debug, Clone)]
struct Compared {
    previous: PreviousSales,
    change: f64,
    change_ratio: Option<f64>,
}

impl Compared {
    fn of(row: &ComparedRow, metric: summary::Metric) -> Self {
        Self {
            previous: PreviousSales(row.previous.clone()),
            change: row.change(metric),
            change_ratio: row.change_ratio(metric),
        }
    }
}

impl SalesAggregate {
    pub fn new(row: AggregateRow, catalogue: std::sync::Arc<Catalogue>) -> Self {
        Self { row, catalogue, compared: None, windows: None }
    }

    fn compared(row: ComparedRow, metric: summary::Metric, catalogue: std::sync::Arc<Catalogue>) -> Self {
        let compared = Some(Compared::of(&row, metric));
        Self { row: row.current, catalogue, compared, windows: None }
    }
}

one_pass_output!(SalesAggregate, schema: SalesAggregateSchema);

one_pass_fields! {
    /// One group of sales; the dimensions not grouped by are null.
    schema SalesAggregateSchema as "SalesAggregate";
    fn sales_aggregate_field(group: &SalesAggregate, ctx, field) {
        /// First day of the month, quarter or year (when grouped by PERIOD).
        period "period": Option<Date> = group.row.period.map(Date);
        /// The model.
        model "model": Option<CarModel> =>
            match group.row.model_id.and_then(|id| group.catalogue.model_by_id(id)) {
                Some(model) => one_pass::resolve_nested(&CatalogueModel(model), ctx, field)?,
                None => Value::Null,
            };
        /// The market.
        country "country": Option<Country> =>
            match group.row.country.as_deref().and_then(|code| group.catalogue.country(code)) {
                Some(country) => one_pass::resolve_nested(&CatalogueCountry(country), ctx, field)?,
                None => Value::Null,
            };
        /// The region (when grouped by REGION).
        region "region": Option<&str> = group.row.region.as_deref();
        /// The body type (when grouped by BODY_TYPE).
        body_type "bodyType": Option<BodyType> = group.row.body_type.as_deref().map(enums::body_type);
        /// The fuel type (when grouped by FUEL_TYPE).
        fuel_type "fuelType": Option<FuelType> = group.row.fuel_type.as_deref().map(enums::fuel_type);
        /// The gearbox (when grouped by TRANSMISSION).
        transmission "transmission": Option<Transmission> =
            group.row.transmission.as_deref().map(enums::transmission);
        /// Cars sold.
        units "units": i64 = group.row.units;
        /// Money taken in USD; null when no sale of the group had a price.
        #[graphql(visible = "crate::access::visibility::sales_aggregate_revenue")]
        revenue "revenue": Option<f64> = group.row.revenue();
        /// Revenue per car in USD over the sales that had a price.
        #[graphql(visible = "crate::access::visibility::sales_aggregate_average_price")]
        average_price "averagePrice": Option<f64> = group.row.average_price();
        /// The group over the range compared with (`compareTo` or `compareRange`); null when not
        /// compared. A group that sold nothing then has 0 units.
        previous "previous": Option<&PreviousSales> => match &group.compared {
            Some(compared) => one_pass::resolve_nested(&compared.previous, ctx, field)?,
            None => Value::Null,
        };
        /// The metric now less the metric then; null when not compared.
        change "change": Option<f64> = group.compared.as_ref().map(|c| c.change);
        /// The change as a part of the metric then (0.1 = +10%); null when not compared or when
        /// the group had nothing then.
        change_ratio "changeRatio": Option<f64> = group.compared.as_ref().and_then(|c| c.change_ratio);
        /// Grouped by PERIOD: the metric from the first period of the group's year (within the
        /// filter's range) to this one, year to date. Null otherwise.
        running_total "runningTotal": Option<f64> = group.windows.as_ref().and_then(|w| w.running_total);
        /// Grouped by PERIOD: the mean of the metric per period over the `months` ending with this
        /// period (a period without sales counts 0). Null otherwise, and where the filter's range
        /// does not hold the whole window.
        rolling_average "rollingAverage"(
            #[graphql(desc = "3, 6 or 12; a whole number of the grouping's periods.")] months: i32
        ): Result<Option<f64>> => {
            let (_, months) = ctx.param_value::<i32>("months", None)?;
            match rolling_months(months) {
                Ok(months) => {
                    group.windows.as_ref().and_then(|w| w.rolling_average(months)).answer()
                }
                Err(error) => {
                    let error: async_graphql::Error = error.into();
                    ctx.add_error(ctx.set_error_path(error.into_server_error(field.pos)));
                    Value::Null
                }
            }
        };
        /// The group's part of the filtered total of its period (of the whole answer without
        /// PERIOD), 0 to 1; null when that total is 0.
        share_of_total "shareOfTotal": Option<f64> = group.windows.as_ref().and_then(|w| w.share_of_total);
        /// The group's rank by the metric (1 = largest, ties share a rank) among the groups with
        /// its value of `dimension` and, unless that is PERIOD, its period: a model's rank within
        /// its country. Null unless grouped by `dimension` and at least one other dimension.
        rank_within "rankWithin"(
            #[graphql(desc = "A dimension grouped by.")] dimension: Dimension
        ): Option<i32> => {
            let (_, dimension) = ctx.param_value::<Dimension>("dimension", None)?;
            let rank = group.windows.as_ref().and_then(|w| w.rank_within(dimension.into()));
            rank.map(|rank| rank as i32).answer()
        };
    }
    answered by SalesAggregate as |group| group;
}

/// What a group sold over the range it is compared with.
#[derive(Debug, Clone)]
pub struct PreviousSales(AggregateRow);

one_pass_output!(PreviousSales, schema: PreviousSalesSchema);

one_pass_fields! {
    /// What a group sold over the range it is compared with.
    schema PreviousSalesSchema as "PreviousSales";
    fn previous_sales_field(previous: &PreviousSales, _ctx, field) {
        /// Cars sold.
        units "units": i64 = previous.0.units;
        /// Money taken in USD; null when no sale of the group had a price.
        #[graphql(visible = "crate::access::visibility::previous_sales_revenue")]
        revenue "revenue": Option<f64> = previous.0.revenue();
        /// Revenue per car in USD over the sales that had a price.
        #[graphql(visible = "crate::access::visibility::previous_sales_average_price")]
        average_price "averagePrice": Option<f64> = previous.0.average_price();
    }
    answered by PreviousSales as |previous| previous;
}

/// A model's place in a ranking. Resolved in one pass (`super::one_pass`), declared once below.
pub struct RankedModel {
    rank: i32,
    model: CarModel,
    row: AggregateRow,
    share: f64,
    compared: Option<Compared>,
}

#[cfg(test)]
impl RankedModel {
    /// A place in a ranking without a comparison.
    pub(crate) fn uncompared(rank: i32, model: CarModel, row: AggregateRow, share: f64) -> Self {
        Self { rank, model, row, share, compared: None }
    }
}

one_pass_output!(RankedModel, schema: RankedModelSchema);

one_pass_fields! {
    /// A model's place in a ranking.
    schema RankedModelSchema as "RankedModel";
    fn ranked_model_field(ranked: &RankedModel, ctx, field) {
        /// 1 for the first.
        rank "rank": i32 = ranked.rank;
        /// The model.
        model "model": CarModel => one_pass::resolve_nested(&ranked.model, ctx, field)?;
        /// Cars sold.
        units "units": i64 = ranked.row.units;
        /// Money taken in USD; null when none of its sales had a price.
        #[graphql(visible = "crate::access::visibility::ranked_model_revenue")]
        revenue "revenue": Option<f64> = ranked.row.revenue();
        /// Its part of the filtered total of the ranking metric, from 0 to 1.
        share "share": f64 = ranked.share;
        /// The model over the range compared with (`compareTo` or `compareRange`); null when not
        /// compared.
        previous "previous": Option<&PreviousSales> => match &ranked.compared {
            Some(compared) => one_pass::resolve_nested(&compared.previous, ctx, field)?,
            None => Value::Null,
        };
        /// The ranking metric now less then; null when not compared.
        change "change": Option<f64> = ranked.compared.as_ref().map(|c| c.change);
        /// The change as a part of the metric then (0.1 = +10%); null when not compared or when the
        /// model had nothing then.
        change_ratio "changeRatio": Option<f64> = ranked.compared.as_ref().and_then(|c| c.change_ratio);
    }
    answered by RankedModel as |ranked| ranked;
}

/// Fields of the grouped-rows connection beside its edges.
#[derive(SimpleObject)]
pub struct AggregateConnectionFields {
    /// Groups over all pages.
    pub total_count: i64,
}

pub type SalesAggregateConnection = Connection<String, SalesAggregate, AggregateConnectionFields>;

/// A position in the ordered groups of one data version: opaque to clients, and refused once
/// new data has moved the groups.
pub fn aggregate_cursor(version: i64, index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("agg:{version}:{index}"))
}

pub fn decode_aggregate_cursor(text: &str, version: i64) -> Result<usize, ApiError> {
    let not_ours =
        || ApiError::BadUserInput(format!("`after` \"{text}\" is not a cursor of this connection"));
    let decoded = URL_SAFE_NO_PAD.decode(text).map_err(|_| not_ours())?;
    let decoded = String::from_utf8(decoded).map_err(|_| not_ours())?;
    let mut parts = decoded.strip_prefix("agg:").ok_or_else(not_ours)?.split(':');
    let (Some(from), Some(index), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(not_ours());
    };
    let from: i64 = from.parse().map_err(|_| not_ours())?;
    let index: usize = index.parse().map_err(|_| not_ours())?;
    if from != version {
        return Err(ApiError::BadUserInput(format!(
            "`after` is from data version {from} and the data is now at version {version}: start again without `after`"
        )));
    }
    Ok(index)
}

/// The arguments `salesSummary` and its connection share, defaults applied.
fn summary_request(
    group_by: Vec<Dimension>,
    granularity: Option<Granularity>,
    metric: Option<Metric>,
    order: Option<SortOrder>,
    limit: Option<usize>,
) -> SummaryRequest {
    SummaryRequest {
        group_by: group_by.into_iter().map(Into::into).collect(),
        granularity: granularity.unwrap_or(Granularity::Month).into(),
        metric: metric.unwrap_or(Metric::Units).into(),
        order: order.unwrap_or(SortOrder::Desc).into(),
        limit,
    }
}

pub(crate) fn check_limit(limit: Option<i32>) -> Result<Option<usize>, ApiError> {
    limit.map(|l| super::error::in_range("limit", l, 1..=MAX_LIMIT)).transpose()
}

/// The comparison `compareTo` or `compareRange` asks for (not both); ranking by the change
/// needs one.
fn comparison_of(
    compare_to: Option<Comparison>,
    compare_range: Option<DateRange>,
    rank_by: RankBy,
) -> Result<Option<compare::Comparison>, ApiError> {
    let comparison = match (compare_to, compare_range) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadUserInput("pass `compareTo` or `compareRange`, not both".to_string()));
        }
        (Some(comparison), None) => Some(comparison.into()),
        (None, Some(range)) => Some(compare::Comparison::Range(range.from.0, range.to.0)),
        (None, None) => None,
    };
    if comparison.is_none() && rank_by != RankBy::Metric {
        return Err(ApiError::BadUserInput(
            "`rankBy` CHANGE and CHANGE_RATIO rank by the change against another range: pass `compareTo` or `compareRange`"
                .to_string(),
        ));
    }
    Ok(comparison)
}

/// The figures a selection may ask for that read a group against the others of the answer.
const WINDOW_FIELDS: [&str; 4] = ["runningTotal", "rollingAverage", "shareOfTotal", "rankWithin"];

fn asks_for_windows(fields: async_graphql::Lookahead<'_>) -> bool {
    WINDOW_FIELDS.iter().any(|name| fields.field(name).exists())
}

/// The groups of a summary, each compared with the range `comparison` names when given, and
/// read against each other when `windows` (before the limit cuts them).
async fn aggregates(
    store: &crate::store::Store,
    snapshot: &Snapshot,
    filter: &ResolvedFilter,
    request: &SummaryRequest,
    comparison: Option<compare::Comparison>,
    rank_by: RankBy,
    windows: bool,
) -> Result<Vec<SalesAggregate>, ApiError> {
    let catalogue = &snapshot.catalogue;
    // Windows read every group of the answer: the limit applies after them.
    let whole;
    let asked = if windows {
        whole = SummaryRequest { limit: None, ..request.clone() };
        &whole
    } else {
        request
    };
    let mut groups: Vec<SalesAggregate> = match comparison {
        None => summary::summarize(store, &snapshot.cube, catalogue, filter, asked)
            .await?
            .into_iter()
            .map(|row| SalesAggregate::new(row, catalogue.clone()))
            .collect(),
        Some(comparison) => compare::summarize_compared(
            store,
            &snapshot.cube,
            catalogue,
            filter,
            asked,
            comparison,
            rank_by.into(),
            snapshot.last_sale_day,
        )
        .await?
        .into_iter()
        .map(|row| SalesAggregate::compared(row, request.metric, catalogue.clone()))
        .collect(),
    };
    if windows {
        let rows: Vec<&AggregateRow> = groups.iter().map(|group| &group.row).collect();
        let range_start = filter.from.or(snapshot.cube.first_month());
        let computed =
            summary::windows::of(&rows, &request.group_by, request.granularity, request.metric, range_start);
        for (group, windows) in groups.iter_mut().zip(computed) {
            group.windows = Some(windows);
        }
        if let Some(limit) = request.limit {
            groups.truncate(limit);
        }
    }
    Ok(groups)
}

#[derive(Default)]
pub struct SummaryQuery;

#[Object]
impl SummaryQuery {
    /// Sales grouped by the given dimensions, ordered by the metric. `granularity` matters only
    /// when grouping by PERIOD; without PERIOD each group covers the whole filtered range.
    #[graphql(complexity = "super::limits::list_weight(limit, 100, MAX_LIMIT) + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn sales_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(desc = "Dimensions to group by; an empty list gives one total.")] group_by: Vec<Dimension>,
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
            default_with = "Some(SortOrder::Desc)",
            desc = "DESC: largest first; ASC: smallest first."
        )]
        order: Option<SortOrder>,
        #[graphql(
            desc = "Most groups returned (1 to 10,000); all of them when omitted, refused when there are more than 10,000."
        )]
        limit: Option<i32>,
        #[graphql(
            desc = "Compare each group with the same days immediately before the filter's range, or with the same days a year earlier; each group then carries `previous`, `change` and `changeRatio`. An open range runs from the first month of data to the last sale."
        )]
        compare_to: Option<Comparison>,
        #[graphql(desc = "Compare each group with this range of days instead of `compareTo`.")]
        compare_range: Option<DateRange>,
        #[graphql(
            default_with = "Some(RankBy::Metric)",
            desc = "Rank by the metric, or (when compared) by its change or relative change."
        )]
        rank_by: Option<RankBy>,
    ) -> Result<OnePassList<SalesAggregate>> {
        let app = app(ctx)?;
        let filter = resolve_filter(ctx, filter.as_ref())?;
        let rank_by = rank_by.unwrap_or(RankBy::Metric);
        let comparison = comparison_of(compare_to, compare_range, rank_by)?;
        let request = summary_request(group_by, granularity, metric, order, check_limit(limit)?);
        let snapshot = app.snapshot();
        let windows = asks_for_windows(ctx.look_ahead());
        let rows = aggregates(&app.store, &snapshot, &filter, &request, comparison, rank_by, windows).await?;
        // Without `limit` the answer is every group: capped like `limit` itself, so that one
        // request cannot ask for an unbounded answer.
        if limit.is_none() && rows.len() > MAX_LIMIT as usize {
            return Err(ApiError::BadUserInput(format!(
                "the summary has {} groups: at most {MAX_LIMIT} are answered at once; pass `limit` (1 to {MAX_LIMIT}) or page through them with salesSummaryConnection",
                rows.len()
            ))
            .into());
        }
        Ok(OnePassList(rows))
    }

    /// The groups of `salesSummary` as a Relay connection, for BI tools that page through every
    /// group (model × country × month over years) instead of taking one huge answer. Same
    /// order as `salesSummary` (by the metric, ties by the group); pages of 1 to 1,000 groups
    /// (default 100). Cursors are valid while the data version stays the same.
    #[graphql(
        complexity = "super::limits::list_weight(first, 100, *super::sales::PAGE_SIZES.end()) + child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn sales_summary_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(desc = "Dimensions to group by; an empty list gives one total.")] group_by: Vec<Dimension>,
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
            default_with = "Some(SortOrder::Desc)",
            desc = "DESC: largest first; ASC: smallest first."
        )]
        order: Option<SortOrder>,
        #[graphql(desc = "Page size going forward: 1 to 1,000 (default 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Compare each group with the same days immediately before the filter's range, or with the same days a year earlier; each group then carries `previous`, `change` and `changeRatio`. An open range runs from the first month of data to the last sale."
        )]
        compare_to: Option<Comparison>,
        #[graphql(desc = "Compare each group with this range of days instead of `compareTo`.")]
        compare_range: Option<DateRange>,
        #[graphql(
            default_with = "Some(RankBy::Metric)",
            desc = "Rank by the metric, or (when compared) by its change or relative change."
        )]
        rank_by: Option<RankBy>,
    ) -> Result<SalesAggregateConnection> {
        let app = app(ctx)?;
        let filter = resolve_filter(ctx, filter.as_ref())?;
        let rank_by = rank_by.unwrap_or(RankBy::Metric);
        let comparison = comparison_of(compare_to, compare_range, rank_by)?;
        let size = super::error::in_range("first", first.unwrap_or(100), super::sales::PAGE_SIZES)?;
        let snapshot = app.snapshot();
        let start = match &after {
            Some(cursor) => decode_aggregate_cursor(cursor, snapshot.version)? + 1,
            None => 0,
        };
        let request = summary_request(group_by, granularity, metric, order, None);
        let windows = asks_for_windows(ctx.look_ahead().field("edges").field("node"));
        let rows = aggregates(&app.store, &snapshot, &filter, &request, comparison, rank_by, windows).await?;
        let total = rows.len();
        let end = start.saturating_add(size).min(total);
        let mut connection = Connection::with_additional_fields(
            start > 0,
            end < total,
            AggregateConnectionFields { total_count: total as i64 },
        );
        connection.edges.extend(
            rows.into_iter()
                .enumerate()
                .skip(start)
                .take(end.saturating_sub(start))
                .map(|(index, row)| Edge::new(aggregate_cursor(snapshot.version, index), row)),
        );
        Ok(connection)
    }

    /// The models ranked by the metric within the filter, with their share of the total.
    #[graphql(complexity = "super::limits::list_weight(limit, 5, MAX_LIMIT) + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn top_models(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(
            default_with = "Some(Metric::Units)",
            desc = "What to measure and rank by: cars sold, or revenue in USD."
        )]
        metric: Option<Metric>,
        #[graphql(
            default_with = "Some(SortOrder::Desc)",
            desc = "DESC: largest first; ASC: smallest first."
        )]
        order: Option<SortOrder>,
        #[graphql(default_with = "Some(5)", desc = "How many to return (1 to 10,000).")] limit: Option<i32>,
        #[graphql(
            desc = "Compare each group with the same days immediately before the filter's range, or with the same days a year earlier; each group then carries `previous`, `change` and `changeRatio`. An open range runs from the first month of data to the last sale."
        )]
        compare_to: Option<Comparison>,
        #[graphql(desc = "Compare each group with this range of days instead of `compareTo`.")]
        compare_range: Option<DateRange>,
        #[graphql(
            default_with = "Some(RankBy::Metric)",
            desc = "Rank by the metric, or (when compared) by its change or relative change."
        )]
        rank_by: Option<RankBy>,
    ) -> Result<OnePassList<RankedModel>> {
        let app = app(ctx)?;
        let filter = resolve_filter(ctx, filter.as_ref())?;
        let rank_by = rank_by.unwrap_or(RankBy::Metric);
        let comparison = comparison_of(compare_to, compare_range, rank_by)?;
        let metric: summary::Metric = metric.unwrap_or(Metric::Units).into();
        let limit = limit.unwrap_or(5);
        let snapshot = app.snapshot();
        let ranking = SummaryRequest {
            group_by: vec![summary::Dimension::Model],
            metric,
            order: order.unwrap_or(SortOrder::Desc).into(),
            limit: check_limit(Some(limit))?,
            ..Default::default()
        };
        let whole = SummaryRequest::default();
        let (rows, total) = tokio::try_join!(
            aggregates(&app.store, &snapshot, &filter, &ranking, comparison, rank_by, false),
            async {
                Ok(summary::summarize(&app.store, &snapshot.cube, &snapshot.catalogue, &filter, &whole)
                    .await?)
            },
        )?;
        let total = total.first().map_or(0.0, |t| t.value(metric));
        Ok(OnePassList(
            rows.into_iter()
                .enumerate()
                .filter_map(|(i, aggregate)| {
                    let model = snapshot.catalogue.model_by_id(aggregate.row.model_id?)?.clone();
                    let share = if total > 0.0 { aggregate.row.value(metric) / total } else { 0.0 };
                    Some(RankedModel {
                        rank: i as i32 + 1,
                        model: CarModel(model),
                        row: aggregate.row,
                        share,
                        compared: aggregate.compared,
                    })
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_cursors_round_trip_and_expire_with_the_data() {
        let cursor = aggregate_cursor(7, 41);
        assert_eq!(decode_aggregate_cursor(&cursor, 7).ok(), Some(41));
        let stale = decode_aggregate_cursor(&cursor, 8).err().map(|e| e.message());
        assert!(stale.is_some_and(|m| m.contains("version 7") && m.contains("start again")));
        assert!(decode_aggregate_cursor("bm9wZQ", 7).is_err());
        assert!(decode_aggregate_cursor("%%%", 7).is_err());
    }
}
