//! Calendar months as integers: the number of months since January of year 0, so that "three
//! months later", "the quarter this month opens" and "the months between" are integer
//! arithmetic. Every conversion between a month's number and its dates is here.

use chrono::{Datelike, NaiveDate};

/// A calendar month. Its [`index`](Month::index) is what coded columns store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(i32);

impl Month {
    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> Self {
        Self(date.year() * 12 + date.month0() as i32)
    }

    /// Month `number` (1 to 12) of `year`; `None` for a number outside 1 to 12.
    pub fn from_year_month(year: i32, number: u32) -> Option<Self> {
        (1..=12)
            .contains(&number)
            .then(|| year.checked_mul(12)?.checked_add(number as i32 - 1))
            .flatten()
            .map(Self)
    }

    /// The month with this index (months since January of year 0).
    pub const fn from_index(index: i32) -> Self {
        Self(index)
    }

    pub const fn index(self) -> i32 {
        self.0
    }

    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// 1 (January) to 12.
    pub fn number(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    /// Its first day; `None` beyond the dates chrono represents.
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year(), self.number(), 1)
    }

    /// Its last day; `None` beyond the dates chrono represents.
    pub fn last_day(self) -> Option<NaiveDate> {
        self.plus(1).first_day()?.pred_opt()
    }

    /// The month `months` later (earlier when negative), saturating at the index's bounds.
    pub fn plus(self, months: i32) -> Self {
        Self(self.0.saturating_add(months))
    }

    /// The first month of the period of `length` months that holds this one, periods aligned on
    /// January (3: its quarter, 12: its year).
    pub fn start_of_period(self, length: u32) -> Self {
        let length = length.max(1) as i32;
        Self(self.0 - self.0.rem_euclid(length))
    }
}

/// As people write a month: `2024-03`.
impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:02}", self.year(), self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn a_month_round_trips_through_its_index_and_dates() {
        for date in [day(2024, 1, 31), day(2024, 12, 1), day(1900, 2, 28), day(-1, 12, 31), day(0, 1, 1)] {
            let month = Month::of(date);
            assert_eq!(Month::from_index(month.index()), month);
            assert_eq!(Month::from_year_month(date.year(), date.month()), Some(month));
            assert_eq!(month.first_day(), Some(date.with_day(1).expect("day 1")));
            assert_eq!(Month::of(month.last_day().expect("last day")), month);
            assert_eq!(month.last_day().and_then(|d| d.succ_opt()).map(Month::of), Some(month.plus(1)));
        }
        assert_eq!(Month::from_year_month(2024, 13), None);
        assert_eq!(Month::from_year_month(2024, 0), None);
    }

    #[test]
    fn arithmetic_crosses_years() {
        let march = Month::of(day(2024, 3, 9));
        assert_eq!(march.plus(10).to_string(), "2025-01");
        assert_eq!(march.plus(-3).to_string(), "2023-12");
        assert_eq!(march.start_of_period(3).to_string(), "2024-01");
        assert_eq!(march.plus(3).start_of_period(3).to_string(), "2024-04");
        assert_eq!(march.start_of_period(12).to_string(), "2024-01");
        assert_eq!(Month::of(day(2024, 2, 29)).last_day(), Some(day(2024, 2, 29)));
        assert_eq!(Month::of(day(-1, 11, 5)).start_of_period(3).to_string(), "-1-10");
    }
}
