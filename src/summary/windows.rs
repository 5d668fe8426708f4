//! Figures of a group read against the other groups of the same answer: its running total
//! within the year (year to date), trailing averages over months, its share of its period's
//! total, and its rank within a parent dimension. They need every group of the answer, so
//! they are computed before any limit cuts it.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use rustc_hash::FxHashMap;

use super::{AggregateRow, Dimension, Granularity, Metric};

/// The windows `rollingAverage` offers, in months.
pub const ROLLING_MONTHS: [u32; 3] = [3, 6, 12];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Windows {
    /// The metric from the first period of the group's year (within the answer) to this one;
    /// `None` unless grouped by period.
    pub running_total: Option<f64>,
    /// Per [`ROLLING_MONTHS`]: the mean of the metric over the periods of that many months
    /// ending with this one; `None` unless grouped by period, when the months are not a whole
    /// number of periods, or when the answer's range does not hold the whole window.
    pub rolling: [Option<f64>; 3],
    /// The group's part of its period's total (of the whole answer's total without periods);
    /// `None` when that total is 0.
    pub share_of_total: Option<f64>,
    /// Per grouped dimension, when grouped by two or more: the group's rank by the metric
    /// (1 = largest; ties share a rank) among the groups with its value of that dimension (and
    /// its period, unless the dimension is the period).
    pub ranks: Vec<(Dimension, u32)>,
}

impl Windows {
    /// The trailing mean over `months`, when offered.
    pub fn rolling_average(&self, months: u32) -> Option<f64> {
        ROLLING_MONTHS.iter().position(|m| *m == months).and_then(|i| self.rolling[i])
    }

    /// The rank within `dimension`, when grouped by it and by something else.
    pub fn rank_within(&self, dimension: Dimension) -> Option<u32> {
        self.ranks.iter().find(|(d, _)| *d == dimension).map(|(_, rank)| *rank)
    }
}

/// A group's value of one dimension, borrowed: keys are built for every group of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Part<'a> {
    Day(Option<NaiveDate>),
    Id(Option<i32>),
    Name(Option<&'a str>),
}

fn dimension_value(row: &AggregateRow, dimension: Dimension) -> Part<'_> {
    match dimension {
        Dimension::Period => Part::Day(row.period),
        Dimension::Model => Part::Id(row.model_id),
        Dimension::Country => Part::Name(row.country.as_deref()),
        Dimension::Region => Part::Name(row.region.as_deref()),
        Dimension::BodyType => Part::Name(row.body_type.as_deref()),
        Dimension::FuelType => Part::Name(row.fuel_type.as_deref()),
        Dimension::Transmission => Part::Name(row.transmission.as_deref()),
    }
}

/// The groups a group is ranked among within `parent`: those with its value of it and, unless
/// the parent is the period, its period (groups of different periods do not compete).
fn partition_of(row: &AggregateRow, parent: Dimension) -> (Option<NaiveDate>, Part<'_>) {
    let period = if parent == Dimension::Period { None } else { row.period };
    (period, dimension_value(row, parent))
}

/// A series' periods: each one's row (by index) and metric.
type SeriesPeriods = BTreeMap<NaiveDate, (usize, f64)>;

/// The group's values of `dims` other than the period: the series it belongs to.
fn series_key<'a>(row: &'a AggregateRow, dims: &[Dimension]) -> Vec<Part<'a>> {
    dims.iter().filter(|d| **d != Dimension::Period).map(|d| dimension_value(row, *d)).collect()
}

/// The windows of each row, in the rows' order. `dims` are the dimensions grouped by;
/// `range_start` is the first day of the answer's range: a rolling window reaching before its
/// period is not whole.
pub fn of(
    rows: &[&AggregateRow],
    dims: &[Dimension],
    granularity: Granularity,
    metric: Metric,
    range_start: Option<NaiveDate>,
) -> Vec<Windows> {
    let mut unique: Vec<Dimension> = Vec::with_capacity(dims.len());
    for d in dims {
        if !unique.contains(d) {
            unique.push(*d);
        }
    }
    let dims = unique.as_slice();
    let by_period = dims.contains(&Dimension::Period);
    let step = granularity.months();
    let mut out = vec![Windows::default(); rows.len()];

    let mut period_totals: BTreeMap<Option<NaiveDate>, f64> = BTreeMap::new();
    for row in rows {
        *period_totals.entry(row.period).or_default() += row.value(metric);
    }
    for (windows, row) in out.iter_mut().zip(rows) {
        let total = period_totals.get(&row.period).copied().unwrap_or(0.0);
        windows.share_of_total = (total != 0.0).then(|| row.value(metric) / total);
    }

    if by_period {
        let first_period = range_start.map(|day| granularity.start_of(day));
        let mut series: FxHashMap<Vec<Part<'_>>, SeriesPeriods> = FxHashMap::default();
        for (index, row) in rows.iter().enumerate() {
            if let Some(period) = row.period {
                series.entry(series_key(row, dims)).or_default().insert(period, (index, row.value(metric)));
            }
        }
        for periods in series.values() {
            let mut running = (None, 0.0);
            for (period, (index, amount)) in periods {
                if running.0 != Some(period.year()) {
                    running = (Some(period.year()), 0.0);
                }
                running.1 += amount;
                out[*index].running_total = Some(running.1);
                for (slot, months) in ROLLING_MONTHS.iter().enumerate() {
                    if months % step != 0 {
                        continue;
                    }
                    let Some(window_start) = period.checked_sub_months(Months::new(months - step)) else {
                        continue;
                    };
                    if first_period.is_none_or(|first| window_start < first) {
                        continue;
                    }
                    let count = months / step;
                    let sum: f64 = (0..count)
                        .filter_map(|k| period.checked_sub_months(Months::new(k * step)))
                        .map(|p| periods.get(&p).map_or(0.0, |(_, amount)| *amount))
                        .sum();
                    out[*index].rolling[slot] = Some(sum / f64::from(count));
                }
            }
        }
    }

    if dims.len() >= 2 {
        for parent in dims {
            let partition = |row| partition_of(row, *parent);
            let mut partitions: FxHashMap<(Option<NaiveDate>, Part<'_>), Vec<f64>> = FxHashMap::default();
            for row in rows {
                partitions.entry(partition(row)).or_default().push(row.value(metric));
            }
            for values in partitions.values_mut() {
                values.sort_by(|a, b| b.total_cmp(a));
            }
            for (windows, row) in out.iter_mut().zip(rows) {
                let mine = row.value(metric);
                // Largest first: the groups above are those before the first equal to this one.
                let above =
                    partitions.get(&partition(row)).map_or(0, |values| values.partition_point(|v| *v > mine));
                windows.ranks.push((*parent, above as u32 + 1));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    fn row(period: NaiveDate, country: &str, units: i64) -> AggregateRow {
        AggregateRow {
            period: Some(period),
            country: Some(country.into()),
            units,
            rows: 1,
            ..Default::default()
        }
    }

    #[test]
    fn running_totals_reset_each_year_and_rolling_means_need_a_whole_window() {
        let rows = [
            row(d(2023, 11), "DE", 10),
            row(d(2023, 12), "DE", 20),
            row(d(2024, 1), "DE", 30),
            row(d(2024, 3), "DE", 60),
            row(d(2024, 1), "FR", 10),
        ];
        let refs: Vec<&AggregateRow> = rows.iter().collect();
        let w = of(
            &refs,
            &[Dimension::Period, Dimension::Country],
            Granularity::Month,
            Metric::Units,
            Some(d(2023, 11)),
        );
        let running: Vec<Option<f64>> = w.iter().map(|w| w.running_total).collect();
        assert_eq!(running, vec![Some(10.0), Some(30.0), Some(30.0), Some(90.0), Some(10.0)]);
        let three: Vec<Option<f64>> = w.iter().map(|w| w.rolling_average(3)).collect();
        // Windows reaching before the range's first month (2023-11) are not whole; a month
        // without a row counts as 0.
        assert_eq!(three, vec![None, None, Some(20.0), Some(30.0), Some(10.0 / 3.0)]);
        assert_eq!(w[2].share_of_total, Some(0.75), "DE's part of January 2024");
        assert_eq!(w[4].share_of_total, Some(0.25));
        assert_eq!(w[0].rolling_average(5), None, "only 3, 6 and 12 are offered");
    }

    #[test]
    fn ranks_within_a_parent_and_quarters_take_whole_quarter_windows() {
        let model = |country: &str, model: i32, units| AggregateRow {
            country: Some(country.into()),
            model_id: Some(model),
            units,
            rows: 1,
            ..Default::default()
        };
        let rows = [model("DE", 1, 50), model("DE", 2, 70), model("DE", 3, 50), model("FR", 1, 5)];
        let refs: Vec<&AggregateRow> = rows.iter().collect();
        let w = of(&refs, &[Dimension::Country, Dimension::Model], Granularity::Month, Metric::Units, None);
        let within_country: Vec<Option<u32>> = w.iter().map(|w| w.rank_within(Dimension::Country)).collect();
        assert_eq!(within_country, vec![Some(2), Some(1), Some(2), Some(1)], "ties share a rank");
        assert_eq!(w[0].rank_within(Dimension::Model), Some(1), "model 1 sells most of its own in DE");
        assert_eq!(w[0].running_total, None, "no periods, no running total");

        let quarters = [row(d(2024, 1), "DE", 30), row(d(2024, 4), "DE", 60)];
        let refs: Vec<&AggregateRow> = quarters.iter().collect();
        let w = of(&refs, &[Dimension::Period], Granularity::Quarter, Metric::Units, Some(d(2024, 2)));
        assert_eq!(w[1].rolling_average(6), Some(45.0));
        assert_eq!(w[1].rolling_average(3), Some(60.0));
        assert_eq!(w[1].rolling_average(12), None, "the range holds half a year");
    }
}
