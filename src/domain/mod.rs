//! Plain domain types shared by every layer: the dimensions' enumerations, the sales filter and
//! the shapes of aggregate requests.

mod enums;
pub mod filter;

pub use enums::{BodyType, DatePrecision, FuelType, ParseEnumError, Transmission};
pub use filter::{FilterError, ResolvedFilter, SalesFilter, Scope};

use chrono::{Datelike, NaiveDate};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_the_driver_writes_them() {
        for (y, m, d) in [(2024, 3, 9), (1999, 12, 31), (5, 1, 1), (2026, 10, 20)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(iso_date(date), date.format("%F").to_string());
        }
    }
}
