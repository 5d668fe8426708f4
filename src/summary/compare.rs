//! Summaries compared with another range of days: the same groups summed over both ranges and
//! matched, so that each group carries what it was then, and how much it changed. Groups present
//! in only one range appear with zero on the other side.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};

use super::{
    AggregateRow, Dimension, Granularity, Metric, PeriodSeries, SortOrder, SummaryError, SummaryRequest,
    summarize,
};
use crate::cube::{Cube, month_index};
use crate::domain::{ResolvedFilter, relative_change};
use crate::store::Store;
use crate::store::catalogue::Catalogue;

/// What a range is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// The same number of days immediately before.
    PreviousPeriod,
    /// The same calendar days a year earlier (29 February falls on 28 February).
    PreviousYear,
    /// Any range of days, `from` to `to` inclusive.
    Range(NaiveDate, NaiveDate),
}

/// What the groups are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RankBy {
    /// The metric in the range asked for.
    #[default]
    Metric,
    /// The metric's change against the range compared with.
    Change,
    /// The relative change; groups without a base come last.
    ChangeRatio,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Summary(#[from] SummaryError),
    /// The request cannot be compared as asked; the message says why.
    #[error("{0}")]
    Invalid(String),
}

/// The day a year before, 29 February falling on 28 February.
pub fn year_before(day: NaiveDate) -> NaiveDate {
    day.checked_sub_months(Months::new(12)).unwrap_or(day)
}

/// The range `from..=to` is compared with.
pub fn compared_range(
    from: NaiveDate,
    to: NaiveDate,
    comparison: Comparison,
) -> Result<(NaiveDate, NaiveDate), CompareError> {
    match comparison {
        Comparison::PreviousPeriod => {
            let days = (to - from).num_days() + 1;
            let before = from.pred_opt().zip(from.checked_sub_days(chrono::Days::new(days as u64)));
            before.map(|(last, first)| (first, last)).ok_or_else(|| {
                CompareError::Invalid(format!("the period before {from} is outside the calendar"))
            })
        }
        Comparison::PreviousYear => Ok((year_before(from), year_before(to))),
        Comparison::Range(first, last) if first > last => {
            Err(CompareError::Invalid(format!("compareRange: `from` {first} is after `to` {last}")))
        }
        Comparison::Range(first, last) => Ok((first, last)),
    }
}

/// One group in both ranges: `current` over the range asked for, `previous` over the range
/// compared with; both carry the group's dimensions as the current range names them.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedRow {
    pub current: AggregateRow,
    pub previous: AggregateRow,
}

impl ComparedRow {
    /// The metric now less the metric then.
    pub fn change(&self, metric: Metric) -> f64 {
        self.current.value(metric) - self.previous.value(metric)
    }

    /// The change as a part of the metric then (0.1 = +10%); `None` where that was 0.
    pub fn change_ratio(&self, metric: Metric) -> Option<f64> {
        relative_change(self.current.value(metric), self.previous.value(metric))
    }
}

type GroupKey = (
    Option<NaiveDate>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn key_of(row: &AggregateRow) -> GroupKey {
    (
        row.period,
        row.model_id,
        row.country.clone(),
        row.region.clone(),
        row.body_type.clone(),
        row.fuel_type.clone(),
        row.transmission.clone(),
    )
}

/// A row with the same dimensions and nothing summed.
fn empty_like(row: &AggregateRow) -> AggregateRow {
    AggregateRow { units: 0, revenue_sum: 0.0, priced_units: 0, rows: 0, ..row.clone() }
}

/// Matches the groups of two ranges. With periods, a period of the range compared with stands
/// for the period `shift_months` later.
pub fn match_groups(
    current: Vec<AggregateRow>,
    previous: Vec<AggregateRow>,
    shift_months: u32,
) -> Vec<ComparedRow> {
    let mut matched: BTreeMap<GroupKey, ComparedRow> = BTreeMap::new();
    for row in current {
        matched.insert(key_of(&row), ComparedRow { previous: empty_like(&row), current: row });
    }
    for mut row in previous {
        row.period = row.period.and_then(|p| p.checked_add_months(Months::new(shift_months)));
        match matched.get_mut(&key_of(&row)) {
            Some(pair) => pair.previous = row,
            None => {
                matched.insert(key_of(&row), ComparedRow { current: empty_like(&row), previous: row });
            }
        }
    }
    matched.into_values().collect()
}

/// Orders compared groups by `rank_by` (largest first for DESC), then by their dimensions, and
/// cuts them to the limit.
pub fn rank(mut rows: Vec<ComparedRow>, request: &SummaryRequest, rank_by: RankBy) -> Vec<ComparedRow> {
    let metric = request.metric;
    let value = |row: &ComparedRow| match rank_by {
        RankBy::Metric => Some(row.current.value(metric)),
        RankBy::Change => Some(row.change(metric)),
        RankBy::ChangeRatio => row.change_ratio(metric),
    };
    rows.sort_by(|a, b| {
        let by_value = match (value(a), value(b)) {
            (Some(x), Some(y)) => match request.order {
                SortOrder::Desc => y.total_cmp(&x),
                SortOrder::Asc => x.total_cmp(&y),
            },
            // Without a base there is no ratio: such groups come last either way.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_value.then_with(|| key_of(&a.current).cmp(&key_of(&b.current)))
    });
    if let Some(limit) = request.limit {
        rows.truncate(limit);
    }
    rows
}

/// Months back from a period of `granularity` to the one `comparison` compares it with; None
/// for a range of days, which a series of periods does not compare with.
pub fn period_shift(granularity: Granularity, comparison: Comparison) -> Option<u32> {
    match comparison {
        Comparison::PreviousPeriod => Some(granularity.months()),
        Comparison::PreviousYear => Some(12),
        Comparison::Range(..) => None,
    }
}

/// The day `months` earlier; the last day of a month stays the last day of its month, so that a
/// whole period compares with a whole period (30 April to 31 March, 29 February to 28 February).
fn months_before(day: NaiveDate, months: u32, month_end: bool) -> Option<NaiveDate> {
    match day.succ_opt() {
        Some(next) if month_end && next.day0() == 0 => {
            next.checked_sub_months(Months::new(months))?.pred_opt()
        }
        _ => day.checked_sub_months(Months::new(months)),
    }
}

/// What each period of `series` (from [`super::period_series`] with the same filter, granularity and
/// metric) was in the period `comparison` compares it with: the period before, or the same
/// period a year earlier. Where the series covers a period only in part, the same days of the
/// earlier period count. None where the earlier period starts before the first month of data.
#[allow(clippy::too_many_arguments)]
pub async fn previous_of_periods(
    store: &Store,
    cube: &Arc<Cube>,
    catalogue: &Arc<Catalogue>,
    filter: &ResolvedFilter,
    granularity: Granularity,
    metric: Metric,
    last_sale_day: Option<NaiveDate>,
    series: &PeriodSeries,
    comparison: Comparison,
) -> Result<Vec<Option<f64>>, CompareError> {
    let shift = period_shift(granularity, comparison).ok_or_else(|| {
        CompareError::Invalid(
            "a series compares each period with the one before it or a year before it, not with a range of days"
                .to_string(),
        )
    })?;
    let (Some(data_start), Some(first_period)) = (cube.first_month(), series.periods.first()) else {
        return Ok(vec![None; series.periods.len()]);
    };
    let earlier = ResolvedFilter {
        from: filter.from.and_then(|from| months_before(from, shift, false)),
        to: super::covered_until(filter, last_sale_day).and_then(|to| months_before(to, shift, true)),
        ..filter.clone()
    };
    let needed_from = months_before(*first_period, shift, false);
    if earlier.to.zip(needed_from).is_some_and(|(to, from)| to < from) {
        return Ok(vec![None; series.periods.len()]);
    }
    let request =
        SummaryRequest { group_by: vec![Dimension::Period], granularity, metric, ..Default::default() };
    let by_period: BTreeMap<NaiveDate, f64> = summarize(store, cube, catalogue, &earlier, &request)
        .await?
        .iter()
        .filter_map(|row| Some((row.period?, row.value(metric))))
        .collect();
    let data_start = granularity.start_of(data_start);
    Ok(series
        .periods
        .iter()
        .map(|period| {
            let then = period.checked_sub_months(Months::new(shift))?;
            (then >= data_start).then(|| by_period.get(&then).copied().unwrap_or(0.0))
        })
        .collect())
}

/// The filtered sales grouped as `request` asks, over the filter's range and over the range
/// `comparison` names, matched group by group. An open range runs from the first month of data
/// to `last_sale_day`.
#[allow(clippy::too_many_arguments)]
pub async fn summarize_compared(
    store: &Store,
    cube: &Arc<Cube>,
    catalogue: &Arc<Catalogue>,
    filter: &ResolvedFilter,
    request: &SummaryRequest,
    comparison: Comparison,
    rank_by: RankBy,
    last_sale_day: Option<NaiveDate>,
) -> Result<Vec<ComparedRow>, CompareError> {
    let (Some(from), Some(to)) = (filter.from.or(cube.first_month()), filter.to.or(last_sale_day)) else {
        return Ok(Vec::new());
    };
    // A range that ends before it starts holds nothing, and neither does the range before it
    // or a year before it; a range named by hand stands on its own.
    let derived = !matches!(comparison, Comparison::Range(..));
    let (first, last) = if from > to && derived { (from, to) } else { compared_range(from, to, comparison)? };
    let shift = month_index(from) - month_index(first);
    let step = request.granularity.months() as i32;
    if request.group_by.contains(&Dimension::Period) && (shift < 0 || shift % step != 0) {
        return Err(CompareError::Invalid(format!(
            "grouping by PERIOD compares each {} with the one as far before as the ranges are apart; {first} to {last} starts {shift} month(s) before {from} to {to}, which is not a whole number of {}s",
            request.granularity.noun(),
            request.granularity.noun(),
        )));
    }
    let whole = SummaryRequest { limit: None, ..request.clone() };
    let previous_filter = ResolvedFilter { from: Some(first), to: Some(last), ..filter.clone() };
    let (current, previous) = tokio::try_join!(
        summarize(store, cube, catalogue, filter, &whole),
        summarize(store, cube, catalogue, &previous_filter, &whole),
    )?;
    Ok(rank(match_groups(current, previous, shift.max(0) as u32), request, rank_by))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn ranges_compared_with() {
        let previous = |from, to| compared_range(from, to, Comparison::PreviousPeriod).unwrap();
        assert_eq!(previous(d(2024, 3, 1), d(2024, 3, 31)), (d(2024, 1, 30), d(2024, 2, 29)));
        assert_eq!(previous(d(2024, 1, 1), d(2024, 1, 1)), (d(2023, 12, 31), d(2023, 12, 31)));
        let year = |from, to| compared_range(from, to, Comparison::PreviousYear).unwrap();
        assert_eq!(year(d(2024, 2, 29), d(2024, 2, 29)), (d(2023, 2, 28), d(2023, 2, 28)));
        assert_eq!(year(d(2024, 1, 1), d(2024, 12, 31)), (d(2023, 1, 1), d(2023, 12, 31)));
        let backwards =
            compared_range(d(2024, 1, 1), d(2024, 2, 1), Comparison::Range(d(2023, 5, 1), d(2023, 4, 1)));
        assert!(backwards.unwrap_err().to_string().contains("after"));
    }

    fn row(model: i32, units: i64) -> AggregateRow {
        AggregateRow {
            model_id: Some(model),
            units,
            revenue_sum: units as f64 * 10.0,
            priced_units: units,
            rows: 1,
            ..Default::default()
        }
    }

    #[test]
    fn groups_in_one_range_only_meet_zero_and_ratios_need_a_base() {
        let rows = match_groups(vec![row(1, 30), row(2, 5)], vec![row(1, 20), row(3, 8)], 0);
        let by_model: BTreeMap<i32, &ComparedRow> =
            rows.iter().map(|r| (r.current.model_id.unwrap(), r)).collect();
        assert_eq!(by_model[&1].change(Metric::Units), 10.0);
        assert_eq!(by_model[&1].change_ratio(Metric::Units), Some(0.5));
        assert_eq!(by_model[&2].previous.units, 0);
        assert_eq!(by_model[&2].change_ratio(Metric::Units), None, "no base, no ratio");
        assert_eq!(by_model[&3].current.units, 0);
        assert_eq!(by_model[&3].change(Metric::Revenue), -80.0);

        let request = SummaryRequest { limit: Some(2), ..Default::default() };
        let ranked: Vec<i32> = rank(rows.clone(), &request, RankBy::Change)
            .iter()
            .map(|r| r.current.model_id.unwrap())
            .collect();
        assert_eq!(ranked, vec![1, 2], "largest change first, cut to the limit");
        let request = SummaryRequest { order: SortOrder::Asc, ..Default::default() };
        let ranked: Vec<i32> =
            rank(rows, &request, RankBy::ChangeRatio).iter().map(|r| r.current.model_id.unwrap()).collect();
        assert_eq!(ranked, vec![3, 1, 2], "falling first; no ratio last");
    }

    #[test]
    fn periods_of_the_range_compared_with_stand_for_the_later_ones() {
        let month = |m: u32, units| AggregateRow { period: Some(d(2024, m, 1)), ..row(1, units) };
        let before = |m: u32, units| AggregateRow { period: Some(d(2023, m, 1)), ..row(1, units) };
        let rows = match_groups(vec![month(1, 10), month(2, 12)], vec![before(1, 8), before(3, 4)], 12);
        let periods: Vec<(NaiveDate, i64, i64)> =
            rows.iter().map(|r| (r.current.period.unwrap(), r.current.units, r.previous.units)).collect();
        assert_eq!(periods, vec![(d(2024, 1, 1), 10, 8), (d(2024, 2, 1), 12, 0), (d(2024, 3, 1), 0, 4)]);
    }
}
