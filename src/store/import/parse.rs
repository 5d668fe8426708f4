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

/// The most units one row may carry: a year of one model in one market is well below it, and a
/// row above it is far more likely a typo or a unit mix-up than a sale.
pub const MAX_UNITS_PER_ROW: i32 = 1_000_000;

/// The highest unit price accepted, in US dollars.
pub const MAX_UNIT_PRICE: f64 = 10_000_000.0;

/// Numbers in sales files are written out: exponents ("1e9") are refused rather than read.
fn refuse_exponent(raw: &str, what: &str) -> Result<(), String> {
    if raw.contains(['e', 'E']) {
        return Err(format!("{what} \"{raw}\" is not a plain number"));
    }
    Ok(())
}

/// Units: a whole number from 1 to [`MAX_UNITS_PER_ROW`] ("8,300.00" is 8300; "2.5", "-3" and
/// "1e6" are refused).
pub fn parse_units(raw: &str, decimal_comma: bool) -> Result<i32, String> {
    refuse_exponent(raw, "units")?;
    let value = parse_number(raw, decimal_comma).map_err(|e| format!("units {e}"))?;
    if value.fract() != 0.0 {
        return Err(format!("units \"{raw}\" is not a whole number"));
    }
    if value < 1.0 {
        return Err(format!("units \"{raw}\" must be at least 1"));
    }
    if value > f64::from(MAX_UNITS_PER_ROW) {
        return Err(format!("units \"{raw}\" is over the limit of {MAX_UNITS_PER_ROW} per row"));
    }
    Ok(value as i32)
}

/// A price in USD; empty means "no price" (revenue stays null), negative is refused.
pub fn parse_price(raw: &str, decimal_comma: bool) -> Result<Option<f64>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    refuse_exponent(raw, "unit price")?;
    let value = parse_number(raw, decimal_comma).map_err(|e| format!("unit price {e}"))?;
    if value < 0.0 {
        return Err(format!("unit price \"{raw}\" is negative"));
    }
    if value > MAX_UNIT_PRICE {
        return Err(format!("unit price \"{raw}\" is over the limit of {MAX_UNIT_PRICE} USD"));
    }
    Ok(Some(value))
}

/// A date with the given chrono format, or ISO (`YYYY-MM-DD`, `YYYY-MM`, a quarter as `YYYY-Qn`,
/// or `YYYY`) when none is given. The text must be exactly what the format writes for that date (no spaces around it, no
/// sign, no missing zeros unless the format says `%-d`), and within the dates salesgraph accepts.
/// Formats without a day (`%Y`, `%Y-%m`, `%m/%Y` …) land on the first day of the period, with
/// that precision.
pub fn parse_date(raw: &str, format: Option<&str>) -> Result<(NaiveDate, DatePrecision), String> {
    if raw.trim().is_empty() {
        return Err("date is empty".to_string());
    }
    if raw.trim() != raw {
        return Err(format!("date \"{raw}\" has spaces around it"));
    }
    let bad = |expected: &str| format!("date \"{raw}\" does not match {expected}");
    let (date, precision) = match format {
        Some(format) => {
            let has_day = ["%d", "%e", "%j", "%F", "%D", "%x"].iter().any(|d| format.contains(d))
                || format.contains("%-d");
            let has_month = has_day || ["%m", "%b", "%B", "%h"].iter().any(|d| format.contains(d));
            let (date, precision) = if has_day {
                NaiveDate::parse_from_str(raw, format)
                    .map(|d| (d, DatePrecision::Day))
                    .map_err(|_| bad(format))?
            } else if has_month {
                NaiveDate::parse_from_str(&format!("{raw} 1"), &format!("{format} %d"))
                    .map(|d| (d, DatePrecision::Month))
                    .map_err(|_| bad(format))?
            } else if format.trim() == "%Y" {
                year_start(raw).ok_or_else(|| bad(format))?
            } else {
                return Err(format!("date format \"{format}\" names neither a year, a month nor a day"));
            };
            // chrono's parser is lenient (signs, long years, missing zeros): only the text the
            // format itself writes for that date is taken.
            if date.format(format).to_string() != raw {
                return Err(bad(format));
            }
            (date, precision)
        }
        None => crate::domain::parse_iso_day(raw)
            .map(|d| (d, DatePrecision::Day))
            .or_else(|| crate::domain::parse_iso_month(raw).map(|d| (d, DatePrecision::Month)))
            .or_else(|| quarter_start(raw))
            .or_else(|| year_start(raw))
            .ok_or_else(|| bad("YYYY-MM-DD (give --date-format for other forms)"))?,
    };
    match crate::domain::date_out_of_range(date) {
        Some(reason) => Err(format!("date \"{raw}\": {reason}")),
        None => Ok((date, precision)),
    }
}

/// A year of four digits within the accepted dates, as its first day.
fn year_start(text: &str) -> Option<(NaiveDate, DatePrecision)> {
    let text = text.trim();
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(text.parse().ok()?, 1, 1)?;
    crate::domain::date_out_of_range(date).is_none().then_some((date, DatePrecision::Year))
}

/// A quarter written `2024-Q2`, `2024Q2` or `2024 Q2` (any case), as its first day.
fn quarter_start(text: &str) -> Option<(NaiveDate, DatePrecision)> {
    let upper = text.to_ascii_uppercase();
    let (year, quarter) = upper.split_once('Q')?;
    let year = year.strip_suffix(['-', ' ']).unwrap_or(year);
    let (start, _) = year_start(year)?;
    let month = quarter_first_month(quarter).ok()?;
    let date = NaiveDate::from_ymd_opt(start.year(), month, 1)?;
    crate::domain::date_out_of_range(date).is_none().then_some((date, DatePrecision::Quarter))
}

/// The first month (1, 4, 7 or 10) of a quarter written 1-4 or Q1-Q4.
fn quarter_first_month(raw: &str) -> Result<u32, String> {
    let text = raw.trim();
    let digits = text.strip_prefix(['Q', 'q']).unwrap_or(text);
    match digits.parse::<u32>() {
        Ok(quarter @ 1..=4) if !digits.starts_with('+') => Ok(quarter * 3 - 2),
        _ => Err(format!("quarter \"{raw}\" is not 1-4 or Q1-Q4")),
    }
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

/// A date split over year, quarter, month and day columns (all but the year optional). A month
/// given with a quarter must lie in it.
pub fn parse_split_date(
    year: &str,
    quarter: Option<&str>,
    month: Option<&str>,
    day: Option<&str>,
) -> Result<(NaiveDate, DatePrecision), String> {
    let (start, _) = year_start(year).ok_or_else(|| format!("year \"{year}\" is not a year"))?;
    let quarter_month = quarter.map(quarter_first_month).transpose()?;
    let Some(month) = month else {
        return match quarter_month {
            Some(first) => NaiveDate::from_ymd_opt(start.year(), first, 1)
                .map(|d| (d, DatePrecision::Quarter))
                .ok_or_else(|| {
                    format!("year \"{year}\" quarter \"{}\" is not a date", quarter.unwrap_or(""))
                }),
            None => Ok((start, DatePrecision::Year)),
        };
    };
    let month_number = parse_month(month)?;
    if let (Some(first), Some(quarter)) = (quarter_month, quarter)
        && !(first..first + 3).contains(&month_number)
    {
        return Err(format!("month \"{month}\" is not in quarter \"{quarter}\""));
    }
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
        assert!(parse_units("1e9", false).unwrap_err().contains("1e9"));
        assert!(parse_units("2147483647", false).unwrap_err().contains("limit"));
        assert_eq!(parse_units("1,000,000", false), Ok(MAX_UNITS_PER_ROW));
    }

    #[test]
    fn prices_may_be_missing_but_not_negative() {
        assert_eq!(parse_price("", false), Ok(None));
        assert_eq!(parse_price("45.000,50", true), Ok(Some(45000.5)));
        assert!(parse_price("-1", false).is_err());
        assert!(parse_price("1e308", false).is_err());
        assert!(parse_price("20,000,000", false).unwrap_err().contains("limit"));
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
        assert_eq!(parse_date("5/3/2024", Some("%-d/%-m/%Y")), Ok((d(2024, 3, 5), DatePrecision::Day)));
    }

    #[test]
    fn dates_outside_the_range_or_loosely_written_are_refused() {
        for bad in [
            "0000-01-01",
            "9999-12-31",
            "+10000-01-01",
            "-0001-01-01",
            "2024-1-1",
            " 2024-01-01",
            "1899-12-31",
        ] {
            assert!(parse_date(bad, None).is_err(), "{bad} landed");
        }
        assert!(parse_date("9999-01-01", None).unwrap_err().contains("2199-12-31"));
        assert!(parse_date("01/01/9999", Some("%d/%m/%Y")).is_err());
        assert!(parse_date("1/1/2024", Some("%d/%m/%Y")).is_err(), "the format writes 01/01/2024");
        assert!(parse_date("+2024-01-01", Some("%Y-%m-%d")).is_err());
        assert!(parse_date("0001", Some("%Y")).is_err());
        assert!(parse_split_date("9999", None, Some("1"), None).is_err());
    }

    #[test]
    fn split_dates_and_month_names() {
        assert_eq!(
            parse_split_date("2023", None, Some("March"), None),
            Ok((d(2023, 3, 1), DatePrecision::Month))
        );
        assert_eq!(
            parse_split_date("2023", None, Some("11"), Some("30")),
            Ok((d(2023, 11, 30), DatePrecision::Day))
        );
        assert_eq!(parse_split_date("2023", None, None, None), Ok((d(2023, 1, 1), DatePrecision::Year)));
        assert!(parse_split_date("2023", None, Some("Foo"), None).is_err());
        assert_eq!(parse_month("sep"), Ok(9));
    }

    #[test]
    fn quarters_land_on_their_first_day_with_quarter_precision() {
        for text in ["2024-Q2", "2024Q2", "2024 q2"] {
            assert_eq!(parse_date(text, None), Ok((d(2024, 4, 1), DatePrecision::Quarter)), "{text}");
        }
        for bad in ["2024-Q5", "2024-Q0", "2024-Q", "Q2", "2024-Q+2", "9999-Q1"] {
            assert!(parse_date(bad, None).is_err(), "{bad} landed");
        }
        assert_eq!(
            parse_split_date("2023", Some("Q4"), None, None),
            Ok((d(2023, 10, 1), DatePrecision::Quarter))
        );
        assert_eq!(
            parse_split_date("2023", Some("3"), None, None),
            Ok((d(2023, 7, 1), DatePrecision::Quarter))
        );
        assert_eq!(
            parse_split_date("2023", Some("Q1"), Some("2"), None),
            Ok((d(2023, 2, 1), DatePrecision::Month)),
            "a month refines its quarter"
        );
        let outside = parse_split_date("2023", Some("Q1"), Some("5"), None).unwrap_err();
        assert!(outside.contains("quarter \"Q1\""), "{outside}");
        assert!(parse_split_date("2023", Some("Q5"), None, None).unwrap_err().contains("Q5"));
    }
}

/// The longest model, market or colour name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A name as a file or a mutation gives it: at most [`MAX_NAME_CHARS`] characters of letters,
/// digits, spaces and the punctuation real model and colour names use (`-_.+/&'()`), so that a
/// stray megabyte, a control character or markup never becomes part of the catalogue.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        let shown: String = name.chars().take(20).collect();
        return Err(format!(
            "{what} \"{shown}…\" has {chars} characters: at most {MAX_NAME_CHARS} are allowed"
        ));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || " -_.+/&'()".contains(*c))) {
        return Err(format!(
            "{what} \"{}\" contains {bad:?}, which names may not contain",
            name.escape_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_plain() {
        assert!(check_name("model", "M3 Competition").is_ok());
        assert!(check_name("model", "Série 3 (G20)").is_ok());
        assert!(check_name("model", &"x".repeat(100_000)).unwrap_err().contains("100000"));
        assert!(check_name("model", "a\u{0}b").unwrap_err().contains("\\0"));
        assert!(check_name("model", "<script>alert(1)</script>").unwrap_err().contains("'<'"));
    }
}
