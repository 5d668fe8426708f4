//! Parsing of the values people keep in CSV files: numbers with thousands separators or decimal
//! commas, dates in many formats or split over columns, month names.

use chrono::NaiveDate;

use crate::domain::DatePrecision;

/// Reads "8,300.00" (or, with `decimal_comma`, "8.300,00") as 8300.0; a leading currency sign
/// and surrounding spaces are allowed.
pub fn parse_number(raw: &str, decimal_comma: bool) -> Result<f64, String> {
    let text = raw.trim().trim_start_matches(['$', '€', '£']).trim();
    if text.is_empty() {
        return Err("is empty".to_string());
    }
    let (thousands, decimal) = if decimal_comma { ('.', ',') } else { (',', '.') };
    let cleaned: String = text
        .chars()
        .filter(|c| *c != thousands && *c != ' ' && *c != '\u{a0}' && *c != '\'')
        .map(|c| if c == decimal { '.' } else { c })
        .collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("\"{raw}\" is not a number"))
}

/// Units: a whole number of at least 1 ("8,300.00" is 8300; "2.5" and "-3" are refused).
pub fn parse_units(raw: &str, decimal_comma: bool) -> Result<i32, String> {
    let value = parse_number(raw, decimal_comma).map_err(|e| format!("units {e}"))?;
    if value.fract() != 0.0 {
        return Err(format!("units \"{raw}\" is not a whole number"));
    }
    if value < 1.0 {
        return Err(format!("units \"{raw}\" must be at least 1"));
    }
    if value > f64::from(i32::MAX) {
        return Err(format!("units \"{raw}\" is too large"));
    }
    Ok(value as i32)
}

/// A price in USD; empty means "no price" (revenue stays null), negative is refused.
pub fn parse_price(raw: &str, decimal_comma: bool) -> Result<Option<f64>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let value = parse_number(raw, decimal_comma).map_err(|e| format!("unit price {e}"))?;
    if value < 0.0 {
        return Err(format!("unit price \"{raw}\" is negative"));
    }
    Ok(Some(value))
}

/// A date with the given chrono format, or ISO when none is given. Formats without a day
/// (`%Y`, `%Y-%m`, `%m/%Y` …) land on the first day of the period, with that precision.
pub fn parse_date(raw: &str, format: Option<&str>) -> Result<(NaiveDate, DatePrecision), String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("date is empty".to_string());
    }
    let bad = |expected: &str| format!("date \"{raw}\" does not match {expected}");
    match format {
        Some(format) => {
            let has_day = ["%d", "%e", "%j", "%F", "%D", "%x"].iter().any(|d| format.contains(d));
            let has_month = has_day || ["%m", "%b", "%B", "%h"].iter().any(|d| format.contains(d));
            if has_day {
                NaiveDate::parse_from_str(text, format)
                    .map(|d| (d, DatePrecision::Day))
                    .map_err(|_| bad(format))
            } else if has_month {
                NaiveDate::parse_from_str(&format!("{text} 1"), &format!("{format} %d"))
                    .map(|d| (d, DatePrecision::Month))
                    .map_err(|_| bad(format))
            } else if format.trim() == "%Y" {
                year_start(text).ok_or_else(|| bad(format))
            } else {
                Err(format!("date format \"{format}\" names neither a year, a month nor a day"))
            }
        }
        None => {
            // FromStr reads ISO dates without interpreting a format string on every row.
            if let Ok(date) = text.parse::<NaiveDate>() {
                Ok((date, DatePrecision::Day))
            } else if let Ok(date) = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d") {
                Ok((date, DatePrecision::Month))
            } else {
                year_start(text).ok_or_else(|| bad("YYYY-MM-DD (give --date-format for other forms)"))
            }
        }
    }
}

fn year_start(text: &str) -> Option<(NaiveDate, DatePrecision)> {
    let year: i32 = text.trim().parse().ok().filter(|y| (1900..=2200).contains(y))?;
    NaiveDate::from_ymd_opt(year, 1, 1).map(|d| (d, DatePrecision::Year))
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A month as 1-12, "03", "March" or "Mar".
pub fn parse_month(raw: &str) -> Result<u32, String> {
    let text = raw.trim().to_lowercase();
    if let Ok(n) = text.parse::<u32>() {
        return if (1..=12).contains(&n) { Ok(n) } else { Err(format!("month \"{raw}\" is not 1-12")) };
    }
    MONTHS
        .iter()
        .position(|m| text.len() >= 3 && m.starts_with(&text))
        .map(|i| i as u32 + 1)
        .ok_or_else(|| format!("month \"{raw}\" is not a month"))
}

/// A date split over year, month and day columns (month and day optional).
pub fn parse_split_date(
    year: &str,
    month: Option<&str>,
    day: Option<&str>,
) -> Result<(NaiveDate, DatePrecision), String> {
    let (start, _) = year_start(year).ok_or_else(|| format!("year \"{year}\" is not a year"))?;
    let Some(month) = month else { return Ok((start, DatePrecision::Year)) };
    let month_number = parse_month(month)?;
    let Some(day) = day else {
        return NaiveDate::from_ymd_opt(start.year_ce().1 as i32, month_number, 1)
            .map(|d| (d, DatePrecision::Month))
            .ok_or_else(|| format!("year \"{year}\" month \"{month}\" is not a date"));
    };
    let day_number: u32 = day.trim().parse().map_err(|_| format!("day \"{day}\" is not a number"))?;
    NaiveDate::from_ymd_opt(start.year_ce().1 as i32, month_number, day_number)
        .map(|d| (d, DatePrecision::Day))
        .ok_or_else(|| format!("{year}-{month}-{day} is not a date"))
}

use chrono::Datelike as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn numbers_with_separators() {
        assert_eq!(parse_number("8,300.00", false), Ok(8300.0));
        assert_eq!(parse_number("8.300,00", true), Ok(8300.0));
        assert_eq!(parse_number(" $45,000.5 ", false), Ok(45000.5));
        assert!(parse_number("abc", false).is_err());
    }

    #[test]
    fn units_must_be_whole_and_positive() {
        assert_eq!(parse_units("8,300.00", false), Ok(8300));
        assert!(parse_units("2.5", false).unwrap_err().contains("whole"));
        assert!(parse_units("-3", false).unwrap_err().contains("at least 1"));
        assert!(parse_units("0", false).is_err());
    }

    #[test]
    fn prices_may_be_missing_but_not_negative() {
        assert_eq!(parse_price("", false), Ok(None));
        assert_eq!(parse_price("45.000,50", true), Ok(Some(45000.5)));
        assert!(parse_price("-1", false).is_err());
    }

    #[test]
    fn dates_in_many_forms() {
        assert_eq!(parse_date("2024-03-05", None), Ok((d(2024, 3, 5), DatePrecision::Day)));
        assert_eq!(parse_date("05.03.2024", Some("%d.%m.%Y")), Ok((d(2024, 3, 5), DatePrecision::Day)));
        assert_eq!(parse_date("03/05/2024", Some("%m/%d/%Y")), Ok((d(2024, 3, 5), DatePrecision::Day)));
        assert_eq!(parse_date("2024-03", Some("%Y-%m")), Ok((d(2024, 3, 1), DatePrecision::Month)));
        assert_eq!(parse_date("2024", Some("%Y")), Ok((d(2024, 1, 1), DatePrecision::Year)));
        assert_eq!(parse_date("2024-03", None), Ok((d(2024, 3, 1), DatePrecision::Month)));
        assert!(parse_date("2024-13-01", None).unwrap_err().contains("2024-13-01"));
        assert!(parse_date("31/02/2024", Some("%d/%m/%Y")).is_err());
    }

    #[test]
    fn split_dates_and_month_names() {
        assert_eq!(parse_split_date("2023", Some("March"), None), Ok((d(2023, 3, 1), DatePrecision::Month)));
        assert_eq!(
            parse_split_date("2023", Some("11"), Some("30")),
            Ok((d(2023, 11, 30), DatePrecision::Day))
        );
        assert_eq!(parse_split_date("2023", None, None), Ok((d(2023, 1, 1), DatePrecision::Year)));
        assert!(parse_split_date("2023", Some("Foo"), None).is_err());
        assert_eq!(parse_month("sep"), Ok(9));
    }
}
