//! Sales summaries by any dimensions and period: whole months come from the cube (the rollup in
//! memory), the partial months at a range's edges from the day groups in memory (or the sale
//! rows, until those are loaded), so that any day range is exact and needs no database query.

pub mod coarse_dates;
pub mod compare;
mod grouping;
pub mod windows;

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};

pub use self::grouping::Grouper;
use crate::cube::{Cube, HeldDays, LevelDimensions, month_index};
use crate::domain::ResolvedFilter;
use crate::store::catalogue::Catalogue;
use crate::store::{Store, sales};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Period,
    Model,
    Country,
    Region,
    BodyType,
    FuelType,
    Transmission,
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Dimension::Period,
        Dimension::Model,
        Dimension::Country,
        Dimension::Region,
        Dimension::BodyType,
        Dimension::FuelType,
        Dimension::Transmission,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Granularity {
    #[default]
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Metric {
    #[default]
    Units,
    Revenue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SummaryRequest {
    pub group_by: Vec<Dimension>,
    pub granularity: Granularity,
    pub metric: Metric,
    pub order: SortOrder,
    pub limit: Option<usize>,
}

/// One group: the dimensions grouped by are set, the others `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AggregateRow {
    pub period: Option<NaiveDate>,
    pub model_id: Option<i32>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub body_type: Option<String>,
    pub fuel_type: Option<String>,
    pub transmission: Option<String>,
    pub units: i64,
    /// Sum over the rows that had a price.
    pub revenue_sum: f64,
    pub priced_units: i64,
    /// Sale rows in the group.
    pub rows: i64,
}

impl AggregateRow {
    /// Revenue in USD, or `None` when no row of the group had a price.
    pub fn revenue(&self) -> Option<f64> {
        (self.priced_units > 0).then_some(self.revenue_sum)
    }

    /// The group's figure of `metric`: units, or revenue over the rows that had a price.
    pub fn value(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Units => self.units as f64,
            Metric::Revenue => self.revenue_sum,
        }
    }

    pub fn average_price(&self) -> Option<f64> {
        (self.priced_units > 0).then(|| self.revenue_sum / self.priced_units as f64)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("sale rows the summary cannot read: {0}")]
    Invalid(String),
    #[error("aggregation worker failed: {0}")]
    Worker(String),
}

/// A date range as whole months (month indices, inclusive) plus the partial months at its edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSplit {
    pub whole_months: Option<(i32, i32)>,
    pub partial: Vec<(NaiveDate, NaiveDate)>,
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn last_of_month(date: NaiveDate) -> NaiveDate {
    first_of_month(date).checked_add_months(Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(date)
}

pub fn split_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> RangeSplit {
    let mut partial = Vec::new();
    let mut start = from.map_or(i32::MIN, month_index);
    let mut end = to.map_or(i32::MAX, month_index);
    if let (Some(f), Some(t)) = (from, to)
        && start == end
    {
        return if f.day() == 1 && t == last_of_month(t) {
            RangeSplit { whole_months: Some((start, end)), partial }
        } else {
            RangeSplit { whole_months: None, partial: vec![(f, t)] }
        };
    }
    if let Some(f) = from
        && f.day() != 1
    {
        partial.push((f, last_of_month(f)));
        start += 1;
    }
    if let Some(t) = to
        && t != last_of_month(t)
    {
        partial.push((first_of_month(t), t));
        end -= 1;
    }
    RangeSplit { whole_months: (start <= end).then_some((start, end)), partial }
}

/// Above this many cube rows a summary is summed on the blocking pool, off the async workers
/// (about a millisecond of work).
const INLINE_ROWS: usize = 200_000;

/// Where a partial month's sums come from.
enum EdgeSource {
    /// The day groups in memory, and the days of the month wanted.
    Days(Arc<crate::cube::daily::MonthDays>, u32, u32),
    /// The sale rows' groups, read from the database.
    Rows(Vec<sales::EdgeGroup>),
}

/// The dimensions of a cube row that grouping by `dims` under `filter` tells apart.
pub fn kept_apart(filter: &ResolvedFilter, dims: &[Dimension]) -> LevelDimensions {
    let grouped = |wanted: &[Dimension]| dims.iter().any(|d| wanted.contains(d));
    LevelDimensions::needed_by(filter).and(LevelDimensions {
        model: grouped(&[Dimension::Model, Dimension::BodyType]),
        country: grouped(&[Dimension::Country, Dimension::Region]),
        fuel_and_gearbox: grouped(&[Dimension::FuelType, Dimension::Transmission]),
    })
}

/// Groups the filtered sales by the requested dimensions, from the coarsest level of the cube
/// that tells apart what they need.
#[tracing::instrument(target = "salesgraph::trace", name = "summarize", skip_all)]
pub async fn summarize(
    store: &Store,
    cube: &Arc<Cube>,
    catalogue: &Arc<Catalogue>,
    filter: &ResolvedFilter,
    request: &SummaryRequest,
) -> Result<Vec<AggregateRow>, SummaryError> {
    let mut dims: Vec<Dimension> = Vec::new();
    for d in &request.group_by {
        if !dims.contains(d) {
            dims.push(*d);
        }
    }
    let finish = {
        let (dims, request) = (dims.clone(), request.clone());
        move |grouper: Grouper<'_>| grouper.finish(&dims, &request)
    };
    group(store, cube, catalogue, filter, dims, request.granularity, finish).await
}

/// Units sold of one model in one month (a month index), under a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelMonthUnits {
    pub model_id: i32,
    pub month: i32,
    pub units: i64,
}

/// The sums [`summarize`] gives grouped by model and month, as bare numbers in no order: for
/// callers that build monthly series (forecasts, segments), which need neither named rows nor
/// their order.
#[tracing::instrument(target = "salesgraph::trace", name = "units by model and month", skip_all)]
pub async fn units_by_model_and_month(
    store: &Store,
    cube: &Arc<Cube>,
    catalogue: &Arc<Catalogue>,
    filter: &ResolvedFilter,
) -> Result<Vec<ModelMonthUnits>, SummaryError> {
    let dims = vec![Dimension::Model, Dimension::Period];
    let finish = |grouper: Grouper<'_>| grouper.finish_units_by_model_and_period();
    group(store, cube, catalogue, filter, dims, Granularity::Month, finish).await
}

/// Sums the filtered sales into a [`Grouper`] by `dims` (distinct), from the coarsest level of
/// the cube that tells apart what they need and the partial months at the range's edges, and
/// hands it to `finish`.
async fn group<T: Send + 'static>(
    store: &Store,
    cube: &Arc<Cube>,
    catalogue: &Arc<Catalogue>,
    filter: &ResolvedFilter,
    dims: Vec<Dimension>,
    granularity: Granularity,
    finish: impl for<'g> FnOnce(Grouper<'g>) -> T + Send + 'static,
) -> Result<T, SummaryError> {
    let split = split_range(filter.from, filter.to);
    // A range that ends before it starts (an open end defaulted to the last sale, say) holds no
    // day; its split would name days outside it.
    let backwards = filter.from.zip(filter.to).is_some_and(|(from, to)| from > to);
    if filter.matches_nothing() || backwards {
        return Ok(finish(Grouper::new(cube.dictionary(), catalogue, filter, &dims, granularity)));
    }
    // Each partial month from its day groups when held, else from the sale rows: decided once
    // here, since a sync may finish loading them while this summary runs.
    let mut edges = Vec::with_capacity(split.partial.len());
    for (from, to) in &split.partial {
        let month = month_index(*from);
        let source = match cube.held_days(month) {
            HeldDays::NoSales => continue,
            HeldDays::Held(days) => EdgeSource::Days(days, from.day(), to.day()),
            HeldDays::NotHeld => EdgeSource::Rows(sales::edge_groups(store, filter, *from, *to).await?),
        };
        edges.push((month, source));
    }
    let needed = kept_apart(filter, &dims);
    let level = cube.level(needed);
    let rows = split.whole_months.map_or(0..0, |(first, last)| level.month_rows(first, last));
    let inline = rows.len() <= INLINE_ROWS;
    // The months the facts lie in: the whole months the cube holds, and the edge months.
    let held = level.facts().month;
    let span =
        [held.get(rows.start).copied(), rows.end.checked_sub(1).and_then(|last| held.get(last).copied())]
            .into_iter()
            .flatten()
            .chain(edges.iter().map(|(month, _)| *month))
            .fold(None, |span: Option<(i32, i32)>, month| {
                Some(span.map_or((month, month), |(first, last)| (first.min(month), last.max(month))))
            });
    let sum = {
        let (cube, catalogue, filter) = (cube.clone(), catalogue.clone(), filter.clone());
        move || -> Result<T, SummaryError> {
            let facts = cube.level(needed).facts();
            let mut grouper = Grouper::new(cube.dictionary(), &catalogue, &filter, &dims, granularity);
            if let Some((first, last)) = span {
                grouper = grouper.with_months(first, last);
            }
            grouper.add_cube_rows(&facts, rows);
            for (month, source) in &edges {
                match source {
                    EdgeSource::Days(days, first, last) => grouper.add_days(*month, days, *first, *last),
                    EdgeSource::Rows(groups) => {
                        for group in groups {
                            grouper.add_edge_group(*month, group).map_err(SummaryError::Invalid)?;
                        }
                    }
                }
            }
            let period_months = dims.contains(&Dimension::Period).then(|| granularity.months());
            for group in coarse_dates::left_out(&cube, &filter, period_months) {
                let country = grouper.country(&group.country);
                grouper.add(
                    group.month,
                    group.model_id,
                    country,
                    u32::from(group.fuel_type.code()),
                    u32::from(group.transmission.code()),
                    -group.sums,
                );
            }
            Ok(finish(grouper))
        }
    };
    if inline {
        sum()
    } else {
        tokio::task::spawn_blocking(sum).await.map_err(|e| SummaryError::Worker(e.to_string()))?
    }
}

/// Consecutive periods of one metric over a filter, gaps filled with zero.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeriodSeries {
    /// First day of each period.
    pub periods: Vec<NaiveDate>,
    pub values: Vec<f64>,
    /// Periods the data or the filter covers only in part.
    pub partial: Vec<bool>,
    /// Sale rows the series counts.
    pub rows: i64,
    /// Sales dated too coarsely for the series' periods.
    pub left_out: coarse_dates::LeftOut,
}

impl PeriodSeries {
    /// Why the series cannot be had at all: every sale it covers is dated more coarsely than
    /// its periods ("the selected sales are dated only by year (date precision YEAR)").
    pub fn too_coarse(&self) -> Option<String> {
        (self.rows == 0 && !self.left_out.is_empty())
            .then(|| format!("the selected sales are dated {}", self.left_out.dated()))
    }
}

impl Granularity {
    /// "month", "quarter" or "year".
    pub fn noun(self) -> &'static str {
        match self {
            Granularity::Month => "month",
            Granularity::Quarter => "quarter",
            Granularity::Year => "year",
        }
    }

    pub fn months(self) -> u32 {
        match self {
            Granularity::Month => 1,
            Granularity::Quarter => 3,
            Granularity::Year => 12,
        }
    }

    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        crate::domain::Month::of(day).start_of_period(self.months()).first_day().unwrap_or(day)
    }
}

/// The last day a series of `filter` covers: its `to`, or the last sale day if earlier.
pub fn covered_until(filter: &ResolvedFilter, last_sale_day: Option<NaiveDate>) -> Option<NaiveDate> {
    match (filter.to, last_sale_day) {
        (Some(to), Some(last)) => Some(to.min(last)),
        (to, last) => to.or(last),
    }
}

/// The filtered sales as a series of periods, from the filter's `from` (or the first sale) to
/// its `to` (or the last sale day), marking periods that are not wholly covered.
#[tracing::instrument(target = "salesgraph::trace", name = "period series", skip_all)]
pub async fn period_series(
    store: &Store,
    cube: &Arc<Cube>,
    catalogue: &Arc<Catalogue>,
    filter: &ResolvedFilter,
    granularity: Granularity,
    metric: Metric,
    last_sale_day: Option<NaiveDate>,
) -> Result<PeriodSeries, SummaryError> {
    let request =
        SummaryRequest { group_by: vec![Dimension::Period], granularity, metric, ..Default::default() };
    let rows = summarize(store, cube, catalogue, filter, &request).await?;
    let by_period: std::collections::BTreeMap<NaiveDate, f64> =
        rows.iter().filter_map(|r| Some((r.period?, r.value(metric)))).collect();
    let covered_until = covered_until(filter, last_sale_day);
    // The series spans the data, not the filter: a filter from year 1900 on data from 2015
    // starts in 2015 (and a database without sales has no series at all).
    let Some(data_start) = cube.first_month().map(|first| granularity.start_of(first)) else {
        return Ok(PeriodSeries::default());
    };
    let start = Some(filter.from.map_or(data_start, |f| granularity.start_of(f).max(data_start)));
    let end = covered_until.map(|e| granularity.start_of(e)).or_else(|| by_period.keys().last().copied());
    let mut series = PeriodSeries {
        rows: rows.iter().map(|r| r.rows).sum(),
        left_out: coarse_dates::LeftOut::of(coarse_dates::left_out(cube, filter, Some(granularity.months()))),
        ..PeriodSeries::default()
    };
    let (Some(mut period), Some(end)) = (start, end) else { return Ok(series) };
    while period <= end {
        let Some(next) = period.checked_add_months(Months::new(granularity.months())) else { break };
        let starts_late = filter.from.is_some_and(|f| f > period);
        let ends_early = covered_until.is_some_and(|c| c < next.pred_opt().unwrap_or(next));
        series.periods.push(period);
        series.values.push(by_period.get(&period).copied().unwrap_or(0.0));
        series.partial.push(starts_late || ends_early);
        period = next;
    }
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn whole_months_need_no_rows() {
        let split = split_range(Some(d(2024, 1, 1)), Some(d(2024, 3, 31)));
        assert_eq!(split.whole_months, Some((month_index(d(2024, 1, 1)), month_index(d(2024, 3, 1)))));
        assert!(split.partial.is_empty());
        let open = split_range(None, None);
        assert_eq!(open.whole_months, Some((i32::MIN, i32::MAX)));
    }

    #[test]
    fn partial_edges_come_from_rows() {
        let split = split_range(Some(d(2024, 1, 15)), Some(d(2024, 3, 10)));
        assert_eq!(split.whole_months, Some((month_index(d(2024, 2, 1)), month_index(d(2024, 2, 1)))));
        assert_eq!(split.partial, vec![(d(2024, 1, 15), d(2024, 1, 31)), (d(2024, 3, 1), d(2024, 3, 10))]);
        let inside = split_range(Some(d(2024, 2, 3)), Some(d(2024, 2, 29)));
        assert_eq!(inside, RangeSplit { whole_months: None, partial: vec![(d(2024, 2, 3), d(2024, 2, 29))] });
        let adjacent = split_range(Some(d(2024, 1, 31)), Some(d(2024, 2, 1)));
        assert_eq!(adjacent.whole_months, None);
        assert_eq!(adjacent.partial, vec![(d(2024, 1, 31), d(2024, 1, 31)), (d(2024, 2, 1), d(2024, 2, 1))]);
    }

    /// Every grouping, under filters on each dimension, sums the same from the level it reads
    /// as from the rows as loaded; groupings that need less read fewer rows.
    #[test]
    fn each_grouping_reads_a_level_that_answers_as_the_base_does() {
        use crate::cube::{Dictionary, RollupGroup, Sums};
        use crate::domain::{FuelType, Transmission};
        let dictionary = Dictionary::new(
            [("DE", "Europe"), ("FR", "Europe"), ("US", "Americas")],
            [(1, "SUV"), (2, "SEDAN"), (3, "SUV")],
        );
        let mut groups = Vec::new();
        for month in 0..6 {
            for (n, (model_id, country)) in
                [(1, "DE"), (2, "DE"), (2, "FR"), (3, "US"), (1, "US")].iter().enumerate()
            {
                for (fuel, transmission) in [
                    (FuelType::Petrol, Transmission::Automatic),
                    (FuelType::Diesel, Transmission::Manual),
                    (FuelType::Electric, Transmission::Automatic),
                ] {
                    let units = 1 + (month * 7 + n as i32 * 3 + i32::from(fuel.code())) as i64 % 11;
                    groups.push(RollupGroup {
                        month: 2024 * 12 + month,
                        model_id: *model_id,
                        country: country.to_string(),
                        fuel_type: fuel,
                        transmission,
                        // Whole numbers, so that sums in any order are exact.
                        sums: Sums { units, revenue: units as f64 * 100.0, priced_units: units, rows: 1 },
                        coarse_rows: 0,
                    });
                }
            }
        }
        let cube = Cube::from_groups(1, dictionary, groups).unwrap();
        let catalogue = Catalogue::default();
        let all = Dimension::ALL;
        let filters = [
            ResolvedFilter::default(),
            ResolvedFilter {
                countries: Some(["DE".to_string(), "US".to_string()].into()),
                ..Default::default()
            },
            ResolvedFilter { model_ids: Some([2].into()), ..Default::default() },
            ResolvedFilter { fuel_types: Some([FuelType::Diesel].into()), ..Default::default() },
            ResolvedFilter { transmissions: Some([Transmission::Automatic].into()), ..Default::default() },
        ];
        let sum = |level: &crate::cube::Level, filter: &ResolvedFilter, dims: &[Dimension]| {
            let request = SummaryRequest {
                group_by: dims.to_vec(),
                granularity: Granularity::Quarter,
                ..Default::default()
            };
            let mut grouper = Grouper::new(cube.dictionary(), &catalogue, filter, dims, request.granularity);
            grouper.add_cube_rows(&level.facts(), level.month_rows(i32::MIN, i32::MAX));
            grouper.finish(dims, &request)
        };
        let base = cube.level(LevelDimensions::ALL);
        assert_eq!(base.len(), 90);
        for subset in 0..(1u32 << all.len()) {
            let dims: Vec<Dimension> =
                all.iter().enumerate().filter(|(i, _)| subset & (1 << i) != 0).map(|(_, d)| *d).collect();
            for filter in &filters {
                let level = cube.level(kept_apart(filter, &dims));
                assert_eq!(sum(level, filter, &dims), sum(base, filter, &dims), "{dims:?} under {filter:?}");
            }
        }
        let rows_read =
            |dims: &[Dimension], filter: &ResolvedFilter| cube.level(kept_apart(filter, dims)).len();
        let everything = ResolvedFilter::default();
        assert_eq!(rows_read(&[Dimension::Country], &everything), 18, "6 months × 3 markets");
        assert_eq!(rows_read(&[Dimension::Region, Dimension::Period], &everything), 18);
        assert_eq!(rows_read(&[Dimension::BodyType], &everything), 18, "6 months × 3 models");
        assert_eq!(rows_read(&[Dimension::Model], &filters[1]), 30, "6 months × 5 of model and market");
        assert_eq!(rows_read(&[Dimension::Period], &everything), 6);
        assert_eq!(rows_read(&[Dimension::Country], &filters[3]), 90, "fuel needs the rows as loaded");
    }

    #[test]
    fn revenue_is_null_without_prices() {
        let row = AggregateRow { units: 5, ..Default::default() };
        assert_eq!(row.revenue(), None);
        assert_eq!(row.average_price(), None);
        let priced = AggregateRow { units: 5, revenue_sum: 500.0, priced_units: 4, ..Default::default() };
        assert_eq!(priced.average_price(), Some(125.0));
    }
}
