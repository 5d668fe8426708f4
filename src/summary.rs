//! Sales summaries by any dimensions and period: whole months come from the cube (the rollup in
//! memory), the partial months at a range's edges from the day groups in memory (or the sale
//! rows, until those are loaded), so that any day range is exact and needs no database query.

use std::collections::BTreeSet;

use chrono::{Datelike, Months, NaiveDate};
use polars::prelude::*;

use crate::cube::{Cube, col as c, month_index};
use crate::domain::ResolvedFilter;
use crate::store::catalogue::Catalogue;
use crate::store::sales::EdgeGroup;
use crate::store::{Store, sales};
use rustc_hash::FxHashMap;

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

    pub fn average_price(&self) -> Option<f64> {
        (self.priced_units > 0).then(|| self.revenue_sum / self.priced_units as f64)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("columnar engine error: {0}")]
    Polars(#[from] PolarsError),
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

fn in_list<T: Clone>(name: &str, values: &BTreeSet<T>, series: impl FnOnce(Vec<T>) -> Series) -> Expr {
    col(name).is_in(lit(series(values.iter().cloned().collect())).implode(true), false)
}

/// The cube's rows for the whole months and the filter.
fn cube_rows(cube: &Cube, filter: &ResolvedFilter, (start, end): (i32, i32)) -> LazyFrame {
    let mut predicate = lit(true);
    if let Some(countries) = &filter.countries {
        predicate = predicate.and(in_list(c::COUNTRY, countries, |v| Series::new("".into(), v)));
    }
    if let Some(models) = &filter.model_ids {
        predicate = predicate.and(in_list(c::MODEL_ID, models, |v| Series::new("".into(), v)));
    }
    if let Some(fuels) = &filter.fuel_types {
        let names: BTreeSet<String> = fuels.iter().map(|f| f.as_str().to_string()).collect();
        predicate = predicate.and(in_list(c::FUEL_TYPE, &names, |v| Series::new("".into(), v)));
    }
    if let Some(transmissions) = &filter.transmissions {
        let names: BTreeSet<String> = transmissions.iter().map(|t| t.as_str().to_string()).collect();
        predicate = predicate.and(in_list(c::TRANSMISSION, &names, |v| Series::new("".into(), v)));
    }
    cube.months(start, end).filter(predicate)
}

/// Partial-month groups from the sale rows, shaped like the cube.
async fn edge_rows(
    store: &Store,
    cube: &Cube,
    catalogue: &Catalogue,
    filter: &ResolvedFilter,
    partial: &[(NaiveDate, NaiveDate)],
) -> Result<Option<LazyFrame>, SummaryError> {
    let mut groups = Vec::new();
    for (from, to) in partial {
        let month = month_index(*from);
        let in_month = match cube.edge_groups(filter, *from, *to) {
            Some(held) => held,
            None => sales::edge_groups(store, filter, *from, *to).await?,
        };
        groups.extend(in_month.into_iter().map(|group| (month, group)));
    }
    if groups.is_empty() {
        return Ok(None);
    }
    // A few dozen models and markets name thousands of groups: look each up once.
    let mut bodies: FxHashMap<i32, &str> = FxHashMap::default();
    let mut regions: FxHashMap<&str, &str> = FxHashMap::default();
    let mut body_column = Vec::with_capacity(groups.len());
    let mut region_column = Vec::with_capacity(groups.len());
    for (_, group) in &groups {
        body_column.push(*bodies.entry(group.model_id).or_insert_with(|| {
            catalogue.model_by_id(group.model_id).map_or("UNKNOWN", |m| m.body_type.as_str())
        }));
        region_column.push(
            *regions
                .entry(group.country_code.as_str())
                .or_insert_with(|| catalogue.country(&group.country_code).map_or("", |c| c.region.as_str())),
        );
    }
    let text = |field: fn(&EdgeGroup) -> &str| groups.iter().map(|(_, g)| field(g)).collect::<Vec<&str>>();
    let frame = DataFrame::new(
        groups.len(),
        vec![
            Column::new(c::MONTH.into(), groups.iter().map(|(m, _)| *m).collect::<Vec<i32>>()),
            Column::new(c::MODEL_ID.into(), groups.iter().map(|(_, g)| g.model_id).collect::<Vec<i32>>()),
            Column::new(c::COUNTRY.into(), text(|g| g.country_code.as_str())),
            Column::new(c::REGION.into(), region_column),
            Column::new(c::BODY_TYPE.into(), body_column),
            Column::new(c::FUEL_TYPE.into(), text(|g| g.fuel_type.as_str())),
            Column::new(c::TRANSMISSION.into(), text(|g| g.transmission.as_str())),
            Column::new(c::UNITS.into(), groups.iter().map(|(_, g)| g.units).collect::<Vec<i64>>()),
            Column::new(c::REVENUE.into(), groups.iter().map(|(_, g)| g.revenue).collect::<Vec<f64>>()),
            Column::new(
                c::PRICED_UNITS.into(),
                groups.iter().map(|(_, g)| g.priced_units).collect::<Vec<i64>>(),
            ),
            Column::new(c::ROWS.into(), groups.iter().map(|(_, g)| g.row_count).collect::<Vec<i64>>()),
            Column::new(c::COARSE_ROWS.into(), vec![0i64; groups.len()]),
        ],
    )?;
    Ok(Some(frame.lazy()))
}

fn key_column(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Period => "period",
        Dimension::Model => c::MODEL_ID,
        Dimension::Country => c::COUNTRY,
        Dimension::Region => c::REGION,
        Dimension::BodyType => c::BODY_TYPE,
        Dimension::FuelType => c::FUEL_TYPE,
        Dimension::Transmission => c::TRANSMISSION,
    }
}

fn period_expr(granularity: Granularity) -> Expr {
    let month = col(c::MONTH);
    match granularity {
        Granularity::Month => month,
        Granularity::Quarter => month.clone() - (month % lit(3)),
        Granularity::Year => month.clone() - (month % lit(12)),
    }
    .alias("period")
}

/// Groups the filtered sales by the requested dimensions.
pub async fn summarize(
    store: &Store,
    cube: &Cube,
    catalogue: &Catalogue,
    filter: &ResolvedFilter,
    request: &SummaryRequest,
) -> Result<Vec<AggregateRow>, SummaryError> {
    let mut dims: Vec<Dimension> = Vec::new();
    for d in &request.group_by {
        if !dims.contains(d) {
            dims.push(*d);
        }
    }
    let split = split_range(filter.from, filter.to);
    let mut parts = Vec::new();
    if !filter.matches_nothing() {
        if let Some(range) = split.whole_months {
            parts.push(cube_rows(cube, filter, range));
        }
        if let Some(edges) = edge_rows(store, cube, catalogue, filter, &split.partial).await? {
            parts.push(edges);
        }
    }
    let facts = match parts.len() {
        0 => cube.lazy().limit(0),
        1 => parts.remove(0),
        _ => concat(parts, UnionArgs::default())?,
    };
    let sums = [
        col(c::UNITS).sum().alias(c::UNITS),
        col(c::REVENUE).sum().alias(c::REVENUE),
        col(c::PRICED_UNITS).sum().alias(c::PRICED_UNITS),
        col(c::ROWS).sum().alias(c::ROWS),
    ];
    let facts = if dims.contains(&Dimension::Period) {
        facts.with_column(period_expr(request.granularity))
    } else {
        facts
    };
    let keys: Vec<&str> = dims.iter().map(|d| key_column(*d)).collect();
    let grouped = if keys.is_empty() {
        facts.select(sums)
    } else {
        let metric_col = match request.metric {
            Metric::Units => c::UNITS,
            Metric::Revenue => c::REVENUE,
        };
        let mut sort_by = vec![col(metric_col)];
        sort_by.extend(keys.iter().map(|k| col(*k)));
        let mut descending = vec![request.order == SortOrder::Desc];
        descending.extend(keys.iter().map(|_| false));
        let grouped =
            facts.group_by(keys.iter().map(|k| col(*k)).collect::<Vec<_>>()).agg(sums).sort_by_exprs(
                sort_by,
                SortMultipleOptions::default()
                    .with_order_descending_multi(descending)
                    .with_maintain_order(true),
            );
        match request.limit {
            Some(limit) => grouped.limit(limit as IdxSize),
            None => grouped,
        }
    };
    // polars computes on its own threads and may block: keep it off the async workers.
    let frame = tokio::task::spawn_blocking(move || grouped.collect())
        .await
        .map_err(|e| SummaryError::Worker(e.to_string()))??;
    to_rows(&frame, &dims)
}

/// Consecutive periods of one metric over a filter, gaps filled with zero.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeriodSeries {
    /// First day of each period.
    pub periods: Vec<NaiveDate>,
    pub values: Vec<f64>,
    /// Periods the data or the filter covers only in part.
    pub partial: Vec<bool>,
}

impl Granularity {
    pub fn months(self) -> u32 {
        match self {
            Granularity::Month => 1,
            Granularity::Quarter => 3,
            Granularity::Year => 12,
        }
    }

    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        let index = month_index(day);
        let step = self.months() as i32;
        crate::cube::month_date(index - index.rem_euclid(step)).unwrap_or(day)
    }
}

/// The filtered sales as a series of periods, from the filter's `from` (or the first sale) to
/// its `to` (or the last sale day), marking periods that are not wholly covered.
pub async fn period_series(
    store: &Store,
    cube: &Cube,
    catalogue: &Catalogue,
    filter: &ResolvedFilter,
    granularity: Granularity,
    metric: Metric,
    last_sale_day: Option<NaiveDate>,
) -> Result<PeriodSeries, SummaryError> {
    let request =
        SummaryRequest { group_by: vec![Dimension::Period], granularity, metric, ..Default::default() };
    let rows = summarize(store, cube, catalogue, filter, &request).await?;
    let value = |row: &AggregateRow| match metric {
        Metric::Units => row.units as f64,
        Metric::Revenue => row.revenue_sum,
    };
    let by_period: std::collections::BTreeMap<NaiveDate, f64> =
        rows.iter().filter_map(|r| Some((r.period?, value(r)))).collect();
    let covered_until = match (filter.to, last_sale_day) {
        (Some(to), Some(last)) => Some(to.min(last)),
        (to, last) => to.or(last),
    };
    let start = filter.from.map(|f| granularity.start_of(f)).or_else(|| by_period.keys().next().copied());
    let end = covered_until.map(|e| granularity.start_of(e)).or_else(|| by_period.keys().last().copied());
    let mut series = PeriodSeries::default();
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

fn to_rows(frame: &DataFrame, dims: &[Dimension]) -> Result<Vec<AggregateRow>, SummaryError> {
    let height = frame.height();
    let units = frame.column(c::UNITS)?.cast(&DataType::Int64)?;
    let units = units.i64()?;
    let revenue = frame.column(c::REVENUE)?.cast(&DataType::Float64)?;
    let revenue = revenue.f64()?;
    let priced = frame.column(c::PRICED_UNITS)?.cast(&DataType::Int64)?;
    let priced = priced.i64()?;
    let row_counts = frame.column(c::ROWS)?.cast(&DataType::Int64)?;
    let row_counts = row_counts.i64()?;
    let has = |d: Dimension| dims.contains(&d);
    let column = |d: Dimension, name: &str, dtype: DataType| -> Result<Option<Column>, PolarsError> {
        if has(d) && frame.schema().contains(name) {
            Ok(Some(frame.column(name)?.cast(&dtype)?))
        } else {
            Ok(None)
        }
    };
    let periods = column(Dimension::Period, "period", DataType::Int32)?;
    let models = column(Dimension::Model, c::MODEL_ID, DataType::Int32)?;
    let texts = [
        column(Dimension::Country, c::COUNTRY, DataType::String)?,
        column(Dimension::Region, c::REGION, DataType::String)?,
        column(Dimension::BodyType, c::BODY_TYPE, DataType::String)?,
        column(Dimension::FuelType, c::FUEL_TYPE, DataType::String)?,
        column(Dimension::Transmission, c::TRANSMISSION, DataType::String)?,
    ];
    let int_at = |col: &Option<Column>, i: usize| -> Result<Option<i32>, PolarsError> {
        col.as_ref().map_or(Ok(None), |c| Ok(c.i32()?.get(i)))
    };
    let text_at = |k: usize, i: usize| -> Result<Option<String>, PolarsError> {
        texts[k].as_ref().map_or(Ok(None), |c| Ok(c.str()?.get(i).map(str::to_string)))
    };
    let mut rows = Vec::with_capacity(height.max(1));
    for i in 0..height {
        rows.push(AggregateRow {
            period: int_at(&periods, i)?.and_then(crate::cube::month_date),
            model_id: int_at(&models, i)?,
            country: text_at(0, i)?,
            region: text_at(1, i)?,
            body_type: text_at(2, i)?,
            fuel_type: text_at(3, i)?,
            transmission: text_at(4, i)?,
            units: units.get(i).unwrap_or(0),
            revenue_sum: revenue.get(i).unwrap_or(0.0),
            priced_units: priced.get(i).unwrap_or(0),
            rows: row_counts.get(i).unwrap_or(0),
        });
    }
    if dims.is_empty() && rows.is_empty() {
        rows.push(AggregateRow::default());
    }
    Ok(rows)
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

    #[test]
    fn revenue_is_null_without_prices() {
        let row = AggregateRow { units: 5, ..Default::default() };
        assert_eq!(row.revenue(), None);
        assert_eq!(row.average_price(), None);
        let priced = AggregateRow { units: 5, revenue_sum: 500.0, priced_units: 4, ..Default::default() };
        assert_eq!(priced.average_price(), Some(125.0));
    }
}
