//! The patterns the generator plants (data.md, "What the generator plants"): seasonality per
//! market, trends per model, favourites per country, prices, inventory and marketing plants.
//! Every number here is written to `seed_run.facts`, so tests compare what analytics find with
//! what was planted rather than with numbers copied from the analytics' own output.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// Raw monthly factors, January first; [`seasonal_profile`] normalises them to mean 1.
fn raw_profile(country: &str, region: &str) -> [f64; 12] {
    match (country, region) {
        ("GB", _) => [0.9, 0.45, 2.0, 0.85, 0.85, 0.9, 0.85, 0.45, 2.0, 0.9, 0.85, 0.8],
        ("US" | "CA" | "MX", _) => [0.7, 0.75, 0.95, 1.0, 1.15, 1.2, 1.2, 1.15, 0.95, 0.95, 0.95, 1.15],
        ("CN", _) => [1.45, 0.55, 0.95, 0.95, 0.95, 0.95, 0.9, 0.95, 1.2, 1.2, 1.0, 0.95],
        ("JP", _) => [1.0, 1.0, 1.6, 0.6, 0.95, 0.98, 0.98, 0.95, 1.0, 0.98, 0.98, 1.0],
        ("AU" | "NZ" | "ZA" | "BR" | "AR", _) => {
            [0.94, 0.94, 0.94, 0.94, 0.94, 1.3, 0.94, 0.94, 0.94, 0.94, 0.94, 1.3]
        }
        (_, "Europe") => [0.94, 0.94, 1.3, 0.94, 0.94, 1.3, 0.94, 0.6, 0.94, 0.94, 0.94, 1.3],
        _ => {
            // Mild: within 0.9-1.1, a gentle wave.
            let mut profile = [0.0; 12];
            for (m, f) in profile.iter_mut().enumerate() {
                *f = 1.0 + 0.07 * (std::f64::consts::TAU * (m as f64 + 2.0) / 12.0).sin();
            }
            profile
        }
    }
}

/// A market's 12 monthly factors (January first), averaging exactly 1.0.
pub fn seasonal_profile(country: &str, region: &str, seasonal: bool) -> [f64; 12] {
    if !seasonal {
        return [1.0; 12];
    }
    let raw = raw_profile(country, region);
    let mean = raw.iter().sum::<f64>() / 12.0;
    raw.map(|f| f / mean)
}

/// Share of worldwide units by market (data.md: CN 25%, US 17%, DE 11% …; the rest 0.5-2%).
pub fn market_share(country: &str) -> f64 {
    match country {
        "CN" => 0.25,
        "US" => 0.17,
        "DE" => 0.11,
        "GB" => 0.07,
        "FR" | "IT" => 0.04,
        "JP" | "KR" => 0.03,
        "ES" | "CA" => 0.025,
        "AU" => 0.02,
        "NL" | "BE" | "CH" | "SE" | "IN" | "AE" | "TW" => 0.013,
        "AT" | "PL" | "NO" | "DK" | "SA" | "MX" | "BR" => 0.009,
        _ => 0.006,
    }
}

/// Country price index applied to the base price (data.md: NO 1.3, CN 1.2, IN 1.4, US 1.0, DE 1.05).
pub fn price_index(country: &str) -> f64 {
    match country {
        "NO" => 1.3,
        "CN" => 1.2,
        "IN" => 1.4,
        "US" => 1.0,
        "DE" => 1.05,
        "GB" => 1.1,
        "DK" => 1.35,
        "SG" | "BR" | "AR" => 1.25,
        "CH" | "SE" | "JP" | "KR" | "AE" | "SA" => 1.12,
        "MX" | "CA" => 1.02,
        _ => 1.08,
    }
}

/// Yearly price inflation.
pub const INFLATION: f64 = 0.025;

/// Baseline popularity of a model before trends (relative weights).
pub fn popularity(model: &str) -> f64 {
    match model {
        "3 Series" => 1.0,
        "X3" => 0.9,
        "5 Series" | "X1" | "X5" => 0.8,
        "1 Series" => 0.7,
        "2 Series" | "4 Series" => 0.3,
        "X2" | "X4" => 0.28,
        "X6" => 0.2,
        "X7" => 0.25,
        "7 Series" => 0.14,
        "8 Series" => 0.06,
        "M5" => 0.06,
        "M3" | "M4" => 0.1,
        "Z4" => 0.09,
        "i3" => 0.15,
        "i8" => 0.03,
        "i4" | "iX" | "iX3" => 0.2,
        "iX1" => 0.22,
        "i5" => 0.18,
        "i7" => 0.06,
        _ => 0.1,
    }
}

/// Yearly growth after launch for the electric models (data.md: 25-40%).
pub fn electric_growth(model: &str) -> Option<f64> {
    match model {
        "i4" | "i5" => Some(0.35),
        "iX" => Some(0.30),
        "iX1" => Some(0.40),
        "iX3" | "i7" => Some(0.25),
        _ => None,
    }
}

/// (model, country) favourites with the date from which they hold.
pub const FAVOURITES: &[(&str, &[&str], i32)] = &[
    ("US", &["X5", "X3", "X7"], 2010),
    ("DE", &["3 Series", "5 Series", "X1"], 2010),
    ("CN", &["5 Series", "3 Series", "X3"], 2010),
    ("GB", &["1 Series", "3 Series", "X1"], 2010),
    ("NO", &["iX", "i4", "iX3"], 2022),
];
pub const FAVOURITE_BOOST: f64 = 2.5;

/// High-value models whose sales fall in one market over the last two years (marketing plants).
pub const MARKETING_DECLINES: &[(&str, &str)] = &[("8 Series", "DE"), ("X6", "GB"), ("7 Series", "CN")];
/// Their sales in the last month are this fraction of what they were two years before.
pub const MARKETING_DECLINE_TO: f64 = 0.5;

/// Inventory plants: months of demand on hand as of the last month.
pub const STOCK_SHORT: &[(&str, &str)] = &[("iX", "NO"), ("X5", "US"), ("i4", "DE")];
pub const STOCK_LONG: &[(&str, &str)] = &[("7 Series", "US"), ("Z4", "GB")];
pub const COVER_SHORT_MONTHS: f64 = 0.5;
pub const COVER_LONG_MONTHS: f64 = 10.0;
/// Normal stock: a little more than a quarter's demand.
pub const COVER_NORMAL_MONTHS: (f64, f64) = (3.2, 3.8);

/// Fractional years between two dates.
pub fn years_between(from: NaiveDate, to: NaiveDate) -> f64 {
    (to - from).num_days() as f64 / 365.25
}

/// A model's trend multiplier in a month (launch ramp, growth, decline, fade-out), 0 when off sale.
pub fn trend(model: &str, launch_year: i32, end_year: Option<i32>, month: NaiveDate) -> f64 {
    let year = month.year();
    if year < launch_year || end_year.is_some_and(|end| year > end) {
        return 0.0;
    }
    let launch = NaiveDate::from_ymd_opt(launch_year, 1, 1).unwrap_or(month);
    let since_launch = years_between(launch, month);
    // Models launched after the catalogue's first year ramp up over their first nine months.
    let ramp = if launch_year > 2010 { (0.15 + since_launch / 0.75).min(1.0) } else { 1.0 };
    let mut factor = ramp;
    if let Some(growth) = electric_growth(model) {
        factor *= (1.0 + growth).powf(since_launch);
    }
    match model {
        "7 Series" => factor *= 0.97f64.powf(years_between(date(2010, 1), month)),
        "1 Series" if year >= 2018 => factor *= 0.95f64.powf(years_between(date(2018, 1), month)),
        "X7" => factor *= 1.10f64.powf(since_launch),
        _ => {}
    }
    if let Some(end) = end_year {
        // Fade over the last two years on sale.
        let fade_start = date(end - 1, 1);
        if month >= fade_start {
            factor *= 0.55f64.powf(years_between(fade_start, month) + 0.5);
        }
    }
    factor
}

/// The worldwide dips: April-May 2020 about -50%, 2021-2022 about -15%.
pub fn market_dip(month: NaiveDate) -> f64 {
    match (month.year(), month.month()) {
        (2020, 4 | 5) => 0.5,
        (2021 | 2022, _) => 0.85,
        _ => 1.0,
    }
}

/// Norway's electric share of units: rising from 5% in 2013 to 90% by 2024.
pub fn norway_electric_share(month: NaiveDate) -> f64 {
    let t = years_between(date(2013, 1), month) / 11.0;
    (0.05 + 0.85 * t.clamp(0.0, 1.0)).min(0.9)
}

pub fn date(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN)
}

/// Everything planted, as written to `seed_run.facts`.
#[derive(Debug, Serialize)]
pub struct PlantedFacts {
    pub seasonal: bool,
    /// Country code → 12 monthly factors, January first.
    pub seasonality: std::collections::BTreeMap<String, [f64; 12]>,
    pub electric_growth: std::collections::BTreeMap<String, f64>,
    pub declines: Vec<(String, f64)>,
    pub favourites: Vec<(String, Vec<String>, i32)>,
    pub marketing_declines: Vec<(String, String)>,
    pub stock_short: Vec<(String, String)>,
    pub stock_long: Vec<(String, String)>,
    pub cover_months: (f64, f64, (f64, f64)),
    pub market_share: std::collections::BTreeMap<String, f64>,
    pub price_index: std::collections::BTreeMap<String, f64>,
    pub inflation: f64,
}
