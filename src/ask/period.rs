//! Time expressions (docs/ask.md, "Periods") found in a token stream: each match
//! says which tokens it used and the inclusive dates it means.

use chrono::{Datelike, NaiveDate};

use crate::domain::Month;

use super::words::{month_number, number_word};

/// A period and the tokens that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Indexes of the tokens the expression used.
    pub tokens: Vec<usize>,
}

/// [`Month::index`] of month `month` (1 to 12, as the words and `as_of` give it) of `year`
/// (1950 to 2100 as questions write it), widened so that offsets cannot overflow.
fn month_index(year: i32, month: u32) -> i64 {
    Month::from_year_month(year, month.clamp(1, 12)).map_or(i64::from(year) * 12, |m| i64::from(m.index()))
}

fn month_of_index(index: i64) -> Option<Month> {
    i32::try_from(index).ok().map(Month::from_index)
}

fn month_first(index: i64) -> Option<NaiveDate> {
    month_of_index(index)?.first_day()
}

fn month_last(index: i64) -> Option<NaiveDate> {
    month_of_index(index)?.last_day()
}

/// Whole months `first..=last` (month indexes).
fn months(first: i64, last: i64) -> Option<(NaiveDate, NaiveDate)> {
    Some((month_first(first)?, month_last(last)?))
}

fn year_of(text: &str) -> Option<i32> {
    if text.len() != 4 {
        return None;
    }
    let year: i32 = text.parse().ok()?;
    (1950..=2100).contains(&year).then_some(year)
}

fn count_of(text: &str) -> Option<u32> {
    text.parse::<u32>().ok().or_else(|| number_word(text)).filter(|n| (1..=240).contains(n))
}

fn quarter_of(text: &str) -> Option<u32> {
    match text {
        "q1" | "first" | "1st" => Some(1),
        "q2" | "second" | "2nd" => Some(2),
        "q3" | "third" | "3rd" => Some(3),
        "q4" | "fourth" | "4th" => Some(4),
        _ => None,
    }
}

/// Words time expressions are made of: known words, never typos of others.
pub const WORDS: &[&str] = &[
    "last",
    "next",
    "this",
    "current",
    "previous",
    "past",
    "prior",
    "coming",
    "upcoming",
    "since",
    "between",
    "from",
    "to",
    "until",
    "through",
    "ytd",
    "date",
    "year",
    "years",
    "month",
    "months",
    "quarter",
    "quarters",
    "week",
    "weeks",
    "day",
    "days",
    "half",
    "first",
    "second",
    "third",
    "fourth",
    "today",
    "yesterday",
    "few",
    "several",
    "during",
];

struct Scanner<'a> {
    tokens: &'a [String],
    used: &'a [bool],
    as_of: NaiveDate,
}

impl Scanner<'_> {
    fn word(&self, i: usize) -> Option<&str> {
        if *self.used.get(i)? {
            return None;
        }
        self.tokens.get(i).map(String::as_str)
    }

    fn is(&self, i: usize, options: &[&str]) -> bool {
        self.word(i).is_some_and(|w| options.contains(&w))
    }

    fn year(&self, i: usize) -> Option<i32> {
        year_of(self.word(i)?)
    }

    fn month(&self, i: usize) -> Option<u32> {
        month_number(self.word(i)?)
    }

    fn this_month(&self) -> i64 {
        i64::from(Month::of(self.as_of).index())
    }

    fn this_quarter_first(&self) -> i64 {
        i64::from(Month::of(self.as_of).start_of_period(3).index())
    }

    /// A quarter with no year: this year's if it has begun, else last year's.
    fn quarter_without_year(&self, quarter: u32) -> i32 {
        let first_month = (quarter - 1) * 3 + 1;
        if first_month <= self.as_of.month() { self.as_of.year() } else { self.as_of.year() - 1 }
    }

    fn month_without_year(&self, month: u32) -> i32 {
        if month <= self.as_of.month() { self.as_of.year() } else { self.as_of.year() - 1 }
    }

    /// An optional "of" or "in" and a year after position `i`; returns the year and the next
    /// position.
    fn trailing_year(&self, i: usize) -> Option<(i32, usize)> {
        if let Some(year) = self.year(i) {
            return Some((year, i + 1));
        }
        if self.is(i, &["of", "in"]) {
            return self.year(i + 1).map(|y| (y, i + 2));
        }
        None
    }

    fn period(&self, first: i64, last: i64, tokens: std::ops::Range<usize>) -> Option<Period> {
        let (from, to) = months(first, last)?;
        Some(Period { from, to, tokens: tokens.collect() })
    }

    /// Whole days, from `from` to `to`.
    fn days(&self, from: NaiveDate, to: NaiveDate, tokens: std::ops::Range<usize>) -> Option<Period> {
        (from <= to).then(|| Period { from, to, tokens: tokens.collect() })
    }

    /// The Monday of `as_of`'s week.
    fn week_start(&self) -> NaiveDate {
        self.as_of - chrono::Duration::days(i64::from(self.as_of.weekday().num_days_from_monday()))
    }

    fn up_to_today(&self, first: i64, tokens: std::ops::Range<usize>) -> Option<Period> {
        let from = month_first(first)?;
        (from <= self.as_of).then(|| Period { from, to: self.as_of, tokens: tokens.collect() })
    }

    /// The expression starting at token `i`, if any.
    fn at(&self, i: usize) -> Option<Period> {
        let w = self.word(i)?;
        let unit = |j: usize| match self.word(j)? {
            "month" | "months" => Some(1),
            "quarter" | "quarters" => Some(3),
            "year" | "years" => Some(12),
            _ => None,
        };
        match w {
            "today" => return self.days(self.as_of, self.as_of, i..i + 1),
            "yesterday" => {
                let day = self.as_of.pred_opt()?;
                return self.days(day, day, i..i + 1);
            }
            "quarter" | "month" if self.is(i + 1, &["to"]) && self.is(i + 2, &["date"]) => {
                let first = if w == "quarter" { self.this_quarter_first() } else { self.this_month() };
                return self.up_to_today(first, i..i + 3);
            }
            "this" | "current" if self.is(i + 1, &["week"]) => {
                return self.days(self.week_start(), self.as_of, i..i + 2);
            }
            "last" | "previous" | "past" | "prior" if self.is(i + 1, &["week"]) => {
                let monday = self.week_start();
                return self.days(monday - chrono::Duration::days(7), monday.pred_opt()?, i..i + 2);
            }
            "last" | "previous" | "past" | "prior" | "over"
                if self.is(i + 2, &["day", "days", "week", "weeks"]) =>
            {
                let n = i64::from(count_of(self.word(i + 1)?)?);
                let yesterday = self.as_of.pred_opt()?;
                return if self.is(i + 2, &["day", "days"]) {
                    self.days(self.as_of - chrono::Duration::days(n), yesterday, i..i + 3)
                } else {
                    let monday = self.week_start();
                    self.days(monday - chrono::Duration::days(7 * n), monday.pred_opt()?, i..i + 3)
                };
            }
            // "the coming months", "the next few months": the next quarter.
            "next" | "coming" | "upcoming"
                if self.is(i + 1, &["months"])
                    || (self.is(i + 1, &["few", "several"]) && self.is(i + 2, &["months"])) =>
            {
                let (from, to) = next_quarter(self.as_of)?;
                let end = if self.is(i + 1, &["months"]) { i + 2 } else { i + 3 };
                return Some(Period { from, to, tokens: (i..end).collect() });
            }
            "ytd" => return self.up_to_today(month_index(self.as_of.year(), 1), i..i + 1),
            "year" if self.is(i + 1, &["to"]) && self.is(i + 2, &["date"]) => {
                return self.up_to_today(month_index(self.as_of.year(), 1), i..i + 3);
            }
            "this" | "current" => {
                return match unit(i + 1)? {
                    1 => self.up_to_today(self.this_month(), i..i + 2),
                    3 => self.up_to_today(self.this_quarter_first(), i..i + 2),
                    _ => self.up_to_today(month_index(self.as_of.year(), 1), i..i + 2),
                };
            }
            "last" | "previous" | "past" | "prior" => {
                if let Some(size) = unit(i + 1) {
                    return match size {
                        1 => self.period(self.this_month() - 1, self.this_month() - 1, i..i + 2),
                        3 => self.period(
                            self.this_quarter_first() - 3,
                            self.this_quarter_first() - 1,
                            i..i + 2,
                        ),
                        _ => {
                            let year = month_index(self.as_of.year(), 1);
                            self.period(year - 12, year - 1, i..i + 2)
                        }
                    };
                }
                let n = i64::from(count_of(self.word(i + 1)?)?);
                let size = unit(i + 2)?;
                let end = match size {
                    1 => self.this_month(),
                    3 => self.this_quarter_first(),
                    _ => month_index(self.as_of.year(), 1),
                };
                return self.period(end - n * size, end - 1, i..i + 3);
            }
            "next" | "coming" | "upcoming" => {
                if let Some(size) = unit(i + 1) {
                    return match size {
                        1 => self.period(self.this_month() + 1, self.this_month() + 1, i..i + 2),
                        3 => self.period(
                            self.this_quarter_first() + 3,
                            self.this_quarter_first() + 5,
                            i..i + 2,
                        ),
                        _ => {
                            let year = month_index(self.as_of.year() + 1, 1);
                            self.period(year, year + 11, i..i + 2)
                        }
                    };
                }
                let n = i64::from(count_of(self.word(i + 1)?)?);
                let size = unit(i + 2)?;
                let start = match size {
                    1 => self.this_month() + 1,
                    3 => self.this_quarter_first() + 3,
                    _ => month_index(self.as_of.year() + 1, 1),
                };
                return self.period(start, start + n * size - 1, i..i + 3);
            }
            "since" => {
                if let Some(year) = self.year(i + 1) {
                    return self.up_to_today(month_index(year, 1), i..i + 2);
                }
                let month = self.month(i + 1)?;
                return match self.year(i + 2) {
                    Some(year) => self.up_to_today(month_index(year, month), i..i + 3),
                    None => self.up_to_today(month_index(self.month_without_year(month), month), i..i + 2),
                };
            }
            "between" | "from" => {
                if let (Some(a), true, Some(b)) =
                    (self.year(i + 1), self.is(i + 2, &["and", "to", "until", "through"]), self.year(i + 3))
                {
                    return (a <= b).then(|| self.period(month_index(a, 1), month_index(b, 12), i..i + 4))?;
                }
                let first = self.month(i + 1)?;
                // from March 2023 to June 2024 / from March to June 2024
                let (first_year, next) = match self.year(i + 2) {
                    Some(year) => (Some(year), i + 3),
                    None => (None, i + 2),
                };
                if !self.is(next, &["to", "until", "through", "and"]) {
                    return None;
                }
                let last = self.month(next + 1)?;
                let last_year = self.year(next + 2);
                let end = if last_year.is_some() { next + 3 } else { next + 2 };
                let last_year = last_year.or(first_year).unwrap_or_else(|| self.month_without_year(last));
                let first_year = first_year.unwrap_or(if first <= last { last_year } else { last_year - 1 });
                let (a, b) = (month_index(first_year, first), month_index(last_year, last));
                return (a <= b).then(|| self.period(a, b, i..end))?;
            }
            _ => {}
        }
        // Q2 2023, Q2, second quarter of 2023
        if let Some(quarter) = quarter_of(w) {
            let (year, end) = if w.starts_with('q') {
                match self.trailing_year(i + 1) {
                    Some((year, end)) => (year, end),
                    None => (self.quarter_without_year(quarter), i + 1),
                }
            } else if self.is(i + 1, &["quarter"]) {
                match self.trailing_year(i + 2) {
                    Some((year, end)) => (year, end),
                    None => (self.quarter_without_year(quarter), i + 2),
                }
            } else if self.is(i + 1, &["half"]) && matches!(quarter, 1 | 2) {
                let (year, end) = self.trailing_year(i + 2)?;
                let first = month_index(year, if quarter == 1 { 1 } else { 7 });
                return self.period(first, first + 5, i..end);
            } else {
                return None;
            };
            let first = month_index(year, (quarter - 1) * 3 + 1);
            return self.period(first, first + 2, i..end);
        }
        if matches!(w, "h1" | "h2") {
            // H1 or H2 alone: this year's if it has begun, else last year's.
            let (year, end) = self
                .trailing_year(i + 1)
                .unwrap_or_else(|| (self.quarter_without_year(if w == "h1" { 1 } else { 3 }), i + 1));
            let first = month_index(year, if w == "h1" { 1 } else { 7 });
            return self.period(first, first + 5, i..end);
        }
        // 2021 to 2023, 2021-2023
        if let Some(year) = self.year(i) {
            if self.is(i + 1, &["to", "until", "through"])
                && let Some(last) = self.year(i + 2)
            {
                return (year <= last)
                    .then(|| self.period(month_index(year, 1), month_index(last, 12), i..i + 3))?;
            }
            if let Some(last) = self.year(i + 1)
                && last > year
            {
                return self.period(month_index(year, 1), month_index(last, 12), i..i + 2);
            }
            return self.period(month_index(year, 1), month_index(year, 12), i..i + 1);
        }
        // March 2024; "in March" (this year's if begun)
        if let Some(month) = self.month(i) {
            if let Some(year) = self.year(i + 1) {
                return self.period(month_index(year, month), month_index(year, month), i..i + 2);
            }
            let introduced = i > 0 && self.is(i - 1, &["in", "during", "for", "of"]);
            // "may" and "march" are verbs too: alone they need a preposition before them.
            if introduced || !matches!(w, "may" | "march") {
                let year = self.month_without_year(month);
                return self.period(month_index(year, month), month_index(year, month), i..i + 1);
            }
        }
        None
    }
}

/// The first time expression in the tokens (lowercase), skipping tokens already used.
pub fn find(tokens: &[String], used: &[bool], as_of: NaiveDate) -> Option<Period> {
    let scanner = Scanner { tokens, used, as_of };
    (0..tokens.len()).find_map(|i| scanner.at(i))
}

/// The next full quarter after `as_of`'s: what FORECAST and INVENTORY mean without a period.
pub fn next_quarter(as_of: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let first = i64::from(Month::of(as_of).start_of_period(3).index()) + 3;
    months(first, first + 2)
}

/// Whole months from `from`'s month to `to`'s month, inclusive.
pub fn month_span(from: NaiveDate, to: NaiveDate) -> i64 {
    month_index(to.year(), to.month()) - month_index(from.year(), from.month()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn period(text: &str) -> Option<(NaiveDate, NaiveDate)> {
        let tokens: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        let used = vec![false; tokens.len()];
        find(&tokens, &used, d(2024, 5, 20)).map(|p| (p.from, p.to))
    }

    #[test]
    fn the_documented_periods() {
        let cases = [
            ("last quarter", (d(2024, 1, 1), d(2024, 3, 31))),
            ("previous quarter", (d(2024, 1, 1), d(2024, 3, 31))),
            ("this quarter", (d(2024, 4, 1), d(2024, 5, 20))),
            ("current quarter", (d(2024, 4, 1), d(2024, 5, 20))),
            ("last month", (d(2024, 4, 1), d(2024, 4, 30))),
            ("this month", (d(2024, 5, 1), d(2024, 5, 20))),
            ("last year", (d(2023, 1, 1), d(2023, 12, 31))),
            ("this year", (d(2024, 1, 1), d(2024, 5, 20))),
            ("year to date", (d(2024, 1, 1), d(2024, 5, 20))),
            ("ytd", (d(2024, 1, 1), d(2024, 5, 20))),
            ("last 6 months", (d(2023, 11, 1), d(2024, 4, 30))),
            ("past three months", (d(2024, 2, 1), d(2024, 4, 30))),
            ("last 2 years", (d(2022, 1, 1), d(2023, 12, 31))),
            ("next month", (d(2024, 6, 1), d(2024, 6, 30))),
            ("next quarter", (d(2024, 7, 1), d(2024, 9, 30))),
            ("next year", (d(2025, 1, 1), d(2025, 12, 31))),
            ("next 6 months", (d(2024, 6, 1), d(2024, 11, 30))),
            ("q2 2023", (d(2023, 4, 1), d(2023, 6, 30))),
            ("second quarter of 2023", (d(2023, 4, 1), d(2023, 6, 30))),
            ("q1", (d(2024, 1, 1), d(2024, 3, 31))),
            ("q3", (d(2023, 7, 1), d(2023, 9, 30))),
            ("h2 2023", (d(2023, 7, 1), d(2023, 12, 31))),
            ("first half of 2022", (d(2022, 1, 1), d(2022, 6, 30))),
            ("2023", (d(2023, 1, 1), d(2023, 12, 31))),
            ("march 2024", (d(2024, 3, 1), d(2024, 3, 31))),
            ("since march 2023", (d(2023, 3, 1), d(2024, 5, 20))),
            ("since 2021", (d(2021, 1, 1), d(2024, 5, 20))),
            ("between 2021 and 2023", (d(2021, 1, 1), d(2023, 12, 31))),
            ("from 2021 to 2023", (d(2021, 1, 1), d(2023, 12, 31))),
            ("2021 to 2023", (d(2021, 1, 1), d(2023, 12, 31))),
            ("from january to march 2024", (d(2024, 1, 1), d(2024, 3, 31))),
            ("in june", (d(2023, 6, 1), d(2023, 6, 30))),
            ("h1", (d(2024, 1, 1), d(2024, 6, 30))),
            ("h2", (d(2023, 7, 1), d(2023, 12, 31))),
            // Days and weeks: whole ones before asOf's day and week (2024-05-20 is a Monday).
            ("past 30 days", (d(2024, 4, 20), d(2024, 5, 19))),
            ("last 7 days", (d(2024, 5, 13), d(2024, 5, 19))),
            ("past 90 days", (d(2024, 2, 20), d(2024, 5, 19))),
            ("last 2 weeks", (d(2024, 5, 6), d(2024, 5, 19))),
            ("last week", (d(2024, 5, 13), d(2024, 5, 19))),
            ("this week", (d(2024, 5, 20), d(2024, 5, 20))),
            ("yesterday", (d(2024, 5, 19), d(2024, 5, 19))),
            ("today", (d(2024, 5, 20), d(2024, 5, 20))),
            ("quarter to date", (d(2024, 4, 1), d(2024, 5, 20))),
            ("month to date", (d(2024, 5, 1), d(2024, 5, 20))),
            ("the coming months", (d(2024, 7, 1), d(2024, 9, 30))),
            ("next few months", (d(2024, 7, 1), d(2024, 9, 30))),
        ];
        for (text, expected) in cases {
            assert_eq!(period(text), Some(expected), "{text}");
        }
        assert_eq!(period("may we see sales"), None, "a verb is not a month");
        assert_eq!(period("top 5 models"), None);
        assert_eq!(next_quarter(d(2024, 5, 20)), Some((d(2024, 7, 1), d(2024, 9, 30))));
        assert_eq!(
            period("last week").map(|(from, _)| from.weekday()),
            Some(chrono::Weekday::Mon),
            "weeks start on Monday"
        );
        assert_eq!(month_span(d(2024, 7, 1), d(2024, 9, 30)), 3);
    }
}
