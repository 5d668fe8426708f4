//! Plain domain types shared by every layer: the dimensions' enumerations, the sales filter and
//! the shapes of aggregate requests.

pub mod country_names;
mod enums;
pub mod filter;
mod month;

pub use enums::{BodyType, DatePrecision, FuelType, ParseEnumError, Transmission};
pub use filter::{FilterError, ResolvedFilter, SalesFilter, Scope};
pub use month::Month;

use chrono::{Datelike, NaiveDate};

/// The first day the API and the import accept. Every series, rollup and forecast is sized by
/// the days it covers, so an unbounded date (year 0, year -9999) would size them without limit.
pub const EARLIEST_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a date");
/// The last day the API and the import accept.
pub const LATEST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2199, 12, 31).expect("a date");

/// Why `date` is outside [`EARLIEST_DATE`, `LATEST_DATE`], if it is.
pub fn date_out_of_range(date: NaiveDate) -> Option<String> {
    (!(EARLIEST_DATE..=LATEST_DATE).contains(&date)).then(|| {
        format!(
            "{} is outside the dates salesgraph accepts ({} to {})",
            iso_date(date),
            iso_date(EARLIEST_DATE),
            iso_date(LATEST_DATE)
        )
    })
}

/// How far `now` is from `base`, as a part of `base` (0.1: 10% more, -0.14: 14% less): the one
/// definition behind every change ratio, year-over-year figure and growth salesgraph gives.
/// `None` without a positive base to measure against; sales figures are never negative (a sale
/// has at least one unit and no negative price), so that is a base of 0. The change is taken
/// first: for whole numbers it is exact, and the ratio is then rounded once.
pub fn relative_change(now: f64, base: f64) -> Option<f64> {
    (base > 0.0).then(|| (now - base) / base)
}

/// Days since 1970-01-01: how Arrow's and Parquet's date columns hold a date.
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::default()).num_days() as i32
}

/// The date `days` after 1970-01-01, when chrono can hold it.
pub fn date_of_days_since_epoch(days: i32) -> Option<NaiveDate> {
    NaiveDate::default().checked_add_signed(chrono::Duration::days(i64::from(days)))
}

/// `YYYY-MM-DD`: as the driver stores a date in SQLite and as the API writes one, without going
/// through a format string (chrono's formatter was the largest item of an import's parameter
/// building).
pub fn iso_date(date: NaiveDate) -> String {
    let (year, month, day) = (date.year(), date.month(), date.day());
    if !(0..=9999).contains(&year) {
        return date.format("%Y-%m-%d").to_string();
    }
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let year = year as u32;
    [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        '-',
        digit(month / 10),
        digit(month),
        '-',
        digit(day / 10),
        digit(day),
    ]
    .iter()
    .collect()
}

/// A day written exactly as `YYYY-MM-DD` (four-digit year, two-digit month and day, nothing
/// around it): chrono's own parser also takes `2024-1-1`, signs and five-digit years.
pub fn parse_iso_day(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)
}

/// A month written exactly as `YYYY-MM`, as its first day.
pub fn parse_iso_month(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 7
        && bytes[4] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    NaiveDate::from_ymd_opt(text[0..4].parse().ok()?, text[5..7].parse().ok()?, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strict_iso_days_and_months_are_read() {
        assert_eq!(parse_iso_day("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        for bad in ["2024-1-1", " 2024-01-01", "+10000-01-01", "-0001-01-01", "2023-02-29", "2024-01-01 "] {
            assert_eq!(parse_iso_day(bad), None, "{bad}");
        }
        assert_eq!(parse_iso_month("2024-03"), NaiveDate::from_ymd_opt(2024, 3, 1));
        assert_eq!(parse_iso_month("2024-3"), None);
        assert!(
            date_out_of_range(NaiveDate::from_ymd_opt(1, 1, 1).unwrap())
                .is_some_and(|m| m.contains("0001-01-01"))
        );
        assert_eq!(date_out_of_range(NaiveDate::from_ymd_opt(2199, 12, 31).unwrap()), None);
        assert!(date_out_of_range(NaiveDate::from_ymd_opt(1899, 12, 31).unwrap()).is_some());
    }

    #[test]
    fn a_relative_change_is_measured_against_a_positive_base_and_rounded_once() {
        assert_eq!(relative_change(150.0, 100.0), Some(0.5));
        assert_eq!(relative_change(86.0, 100.0), Some(-0.14));
        // 110 / 100 - 1 would give 0.10000000000000009.
        assert_eq!(relative_change(110.0, 100.0), Some(0.1));
        assert_eq!(relative_change(7.0, 7.0), Some(0.0));
        assert_eq!(relative_change(5.0, 0.0), None, "no base, no ratio");
    }

    #[test]
    fn dates_are_written_as_the_driver_writes_them() {
        for (y, m, d) in [(2024, 3, 9), (1999, 12, 31), (5, 1, 1), (2026, 10, 20)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(iso_date(date), date.format("%F").to_string());
        }
    }
}
