//! Questions in plain English (docs/ask.md): a pure parser from text to an [`Interpretation`] with a
//! confidence, and the structured query each interpretation stands for, so that answers run
//! through the same resolvers, access rules and caches as any other query.

pub mod lexicon;
pub mod parser;
pub mod period;
pub mod query;
mod words;

use chrono::NaiveDate;

use crate::domain::{BodyType, FuelType};
use crate::summary::compare::Comparison;
use crate::summary::{Granularity, Metric, SortOrder};
pub use lexicon::Lexicon;
pub use parser::{MAX_QUESTION_CHARS, Parsed, parse};

/// An answered question: its parse, notes from running it, and the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub parsed: std::sync::Arc<Parsed>,
    pub notes: Vec<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intent {
    TopModels,
    TopCountries,
    Total,
    Trend,
    Compare,
    Seasonality,
    Forecast,
    Marketing,
    Inventory,
    /// Models ranked by how much they grew (or fell) against the period compared with.
    Growth,
    /// What part of the sales a fuel, body type or model makes.
    Share,
    /// Revenue per unit sold of the filter.
    AveragePrice,
    Unknown,
}

impl Intent {
    pub const fn name(self) -> &'static str {
        match self {
            Intent::TopModels => "TOP_MODELS",
            Intent::TopCountries => "TOP_COUNTRIES",
            Intent::Total => "TOTAL",
            Intent::Trend => "TREND",
            Intent::Compare => "COMPARE",
            Intent::Seasonality => "SEASONALITY",
            Intent::Forecast => "FORECAST",
            Intent::Marketing => "MARKETING",
            Intent::Inventory => "INVENTORY",
            Intent::Growth => "GROWTH",
            Intent::Share => "SHARE",
            Intent::AveragePrice => "AVERAGE_PRICE",
            Intent::Unknown => "UNKNOWN",
        }
    }
}

/// A question as a structured query (docs/ask.md, "What a reading holds").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Interpretation {
    pub intent: Intent,
    /// Canonical model names.
    pub models: Vec<String>,
    /// ISO codes.
    pub countries: Vec<String>,
    pub regions: Vec<String>,
    pub body_types: Vec<BodyType>,
    pub fuel_types: Vec<FuelType>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// How many rows the answer ranks, where the intent ranks.
    pub limit: Option<u32>,
    pub metric: Metric,
    pub order: SortOrder,
    pub granularity: Option<Granularity>,
    /// What the period is compared with, when the question compares it ("against last year").
    pub compare: Option<Comparison>,
}

impl Interpretation {
    pub fn unknown() -> Self {
        Self {
            intent: Intent::Unknown,
            models: Vec::new(),
            countries: Vec::new(),
            regions: Vec::new(),
            body_types: Vec::new(),
            fuel_types: Vec::new(),
            from: None,
            to: None,
            limit: None,
            metric: Metric::Units,
            order: SortOrder::Desc,
            granularity: None,
            compare: None,
        }
    }
}
