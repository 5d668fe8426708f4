//! Sales whose source gave only a quarter or a year land on the period's first day. They count
//! in an answer only where it holds their whole period — in quarterly or yearly figures, and in
//! totals over ranges that cover the period — and never in a month they may not have been sold
//! in. Summaries sum the rollup as it is and take these groups out again where they do not
//! belong; the answers built on them say what was left out and why.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::cube::{CoarseDatedGroup, CodedFilter, Cube, Sums, month_date};
use crate::domain::{DatePrecision, ResolvedFilter};

/// Whether an answer is split into periods, and how long they are (months).
fn period_holds(precision: DatePrecision, period_months: Option<u32>) -> bool {
    period_months.is_none_or(|months| months >= precision.months())
}

/// The groups a summary of `filter` sums from the rollup but must not count: their first day is
/// in the range, but the range or the summary's periods (of `period_months`, when grouped by
/// period) do not hold their whole quarter or year.
pub fn left_out<'a>(
    cube: &'a Cube,
    filter: &'a ResolvedFilter,
    period_months: Option<u32>,
) -> impl Iterator<Item = &'a CoarseDatedGroup> + 'a {
    let coded = CodedFilter::new(cube.dictionary(), filter);
    cube.coarse_dated().iter().filter(move |group| {
        let Some(first_day) = month_date(group.month) else { return false };
        let last_day = month_date(group.month + group.precision.months() as i32)
            .and_then(|next| next.pred_opt())
            .unwrap_or(first_day);
        let summed =
            filter.from.is_none_or(|from| from <= first_day) && filter.to.is_none_or(|to| first_day <= to);
        let held = filter.to.is_none_or(|to| last_day <= to) && period_holds(group.precision, period_months);
        summed
            && !held
            && coded.keeps_named(
                cube.dictionary(),
                group.model_id,
                &group.country,
                group.fuel_type,
                group.transmission,
            )
    })
}

/// What an answer left out because its source dated it too coarsely.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeftOut {
    pub sums: Sums,
    /// The precisions of the rows left out.
    pub precisions: BTreeSet<DatePrecision>,
    /// The first day of the first and of the last period left out.
    pub span: Option<(NaiveDate, NaiveDate)>,
}

impl LeftOut {
    pub fn of<'a>(groups: impl IntoIterator<Item = &'a CoarseDatedGroup>) -> Self {
        let mut out = LeftOut::default();
        for group in groups {
            out.sums += group.sums;
            out.precisions.insert(group.precision);
            if let Some(day) = month_date(group.month) {
                out.span = Some(out.span.map_or((day, day), |(first, last)| (first.min(day), last.max(day))));
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.sums.rows == 0
    }

    /// "by year (date precision YEAR)", "by quarter or by year (date precision QUARTER, YEAR)".
    pub fn dated(&self) -> String {
        let words: Vec<&str> = self
            .precisions
            .iter()
            .map(|p| match p {
                DatePrecision::Quarter => "by quarter",
                DatePrecision::Year => "by year",
                DatePrecision::Month => "by month",
                DatePrecision::Day => "by day",
            })
            .collect();
        let names: Vec<&str> = self.precisions.iter().map(|p| p.as_str()).collect();
        format!("only {} (date precision {})", words.join(" or "), names.join(", "))
    }

    /// The finest granularity whose periods hold every row left out.
    pub fn holding_granularity(&self) -> super::Granularity {
        if self.precisions.contains(&DatePrecision::Year) {
            super::Granularity::Year
        } else {
            super::Granularity::Quarter
        }
    }

    /// A note for an answer that left these rows out: how many, dated how, and where they count.
    pub fn note(&self, answer: &str) -> String {
        let periods = match self.span {
            Some((first, last)) if first != last => format!(" from {first} to {last}"),
            Some((first, _)) => format!(" of {first}"),
            None => String::new(),
        };
        let counts_in = if self.precisions.contains(&DatePrecision::Year) {
            "yearly figures"
        } else {
            "quarterly and yearly figures"
        };
        format!(
            "{} units in {} sale rows{periods} are dated {}: {answer} leaves them out, since it cannot place them in a month; they count in {counts_in} and in totals over whole periods",
            self.sums.units,
            self.sums.rows,
            self.dated(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cube::{Dictionary, month_index};
    use crate::domain::{FuelType, Transmission};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn group(first_day: NaiveDate, precision: DatePrecision, country: &str, units: i64) -> CoarseDatedGroup {
        CoarseDatedGroup {
            month: month_index(first_day),
            model_id: 1,
            country: country.into(),
            fuel_type: FuelType::Petrol,
            transmission: Transmission::Automatic,
            precision,
            sums: Sums { units, revenue: 0.0, priced_units: 0, rows: 1 },
        }
    }

    fn cube() -> Cube {
        Cube::from_groups(1, Dictionary::default(), Vec::new()).unwrap().with_coarse_dated(vec![
            group(d(2024, 1, 1), DatePrecision::Year, "DE", 100),
            group(d(2024, 4, 1), DatePrecision::Quarter, "DE", 30),
            group(d(2024, 1, 1), DatePrecision::Year, "FR", 7),
        ])
    }

    fn units(cube: &Cube, filter: &ResolvedFilter, period_months: Option<u32>) -> i64 {
        LeftOut::of(left_out(cube, filter, period_months)).sums.units
    }

    #[test]
    fn rows_count_only_where_their_whole_period_is_held() {
        let cube = cube();
        let all = ResolvedFilter::default();
        assert_eq!(units(&cube, &all, None), 0, "totals over all time hold every period");
        assert_eq!(units(&cube, &all, Some(12)), 0, "years hold years and quarters");
        assert_eq!(units(&cube, &all, Some(3)), 107, "quarters do not hold years");
        assert_eq!(units(&cube, &all, Some(1)), 137, "months hold neither");
        let first_half =
            ResolvedFilter { from: Some(d(2024, 1, 1)), to: Some(d(2024, 6, 30)), ..all.clone() };
        assert_eq!(units(&cube, &first_half, None), 107, "half a year does not hold the year");
        let second_quarter =
            ResolvedFilter { from: Some(d(2024, 4, 1)), to: Some(d(2024, 6, 30)), ..all.clone() };
        assert_eq!(units(&cube, &second_quarter, None), 0, "the year's rows were never summed here");
        let germany = ResolvedFilter { countries: Some(["DE".to_string()].into()), ..all };
        assert_eq!(units(&cube, &germany, Some(1)), 130);
    }

    #[test]
    fn the_note_names_the_precision_and_the_figures() {
        let cube = cube();
        let left = LeftOut::of(left_out(&cube, &ResolvedFilter::default(), Some(1)));
        assert_eq!(left.precisions, [DatePrecision::Quarter, DatePrecision::Year].into());
        let note = left.note("seasonality");
        assert!(note.starts_with("137 units in 3 sale rows from 2024-01-01 to 2024-04-01"), "{note}");
        assert!(note.contains("date precision QUARTER, YEAR") && note.contains("seasonality"), "{note}");
    }
}
