//! The corpus's notation for a question's expected reading (tests/ask/corpus.txt):
//! `INTENT; field=value; ...`, shared by the parser's corpus test and the API's ask tests.
#![allow(dead_code)]

use salesgraph::ask::{Intent, Interpretation};
use salesgraph::domain::{BodyType, FuelType};
use salesgraph::summary::compare::Comparison;
use salesgraph::summary::{Granularity, Metric, SortOrder};

/// The corpus, for the tests that read it.
pub const CORPUS: &str = include_str!("../ask/corpus.txt");

/// The questions as people type them (tests/ask/typed.txt), written apart from the parser.
pub const TYPED: &str = include_str!("../ask/typed.txt");

/// Every question of a corpus file with its `asOf`, section (the last `# header`) and the
/// expected reading as written (parsed by [`try_expected`] so that a reading the parser cannot
/// express yet counts as a miss rather than stopping the test).
pub fn questions(text: &str) -> Vec<(chrono::NaiveDate, String, String, String)> {
    let mut as_of = chrono::NaiveDate::from_ymd_opt(2024, 5, 20).expect("date");
    let mut section = String::new();
    let mut questions = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(date) = line.strip_prefix("@asOf ") {
            as_of = date.parse().expect("asOf date");
        } else if let Some(header) = line.strip_prefix('#') {
            section = header.trim().to_string();
        } else if let Some((question, spec)) = line.split_once("||") {
            questions.push((as_of, section.clone(), question.trim().to_string(), spec.trim().to_string()));
        }
    }
    questions
}

/// The reading a line expects, or why the parser's types cannot express it.
pub fn try_expected(spec: &str) -> Result<Interpretation, String> {
    let name = spec.split(';').next().unwrap_or_default().trim();
    match find_intent(name) {
        Some(_) => Ok(expected(spec)),
        None => Err(format!("intent {name} does not exist")),
    }
}

/// The questions under a `# header` line of the corpus (up to the next header), each with
/// its `asOf` and expected reading.
pub fn block(header: &str) -> Vec<(chrono::NaiveDate, String, Interpretation)> {
    let mut as_of = chrono::NaiveDate::from_ymd_opt(2024, 5, 20).expect("date");
    let mut inside = false;
    let mut questions = Vec::new();
    for line in CORPUS.lines().map(str::trim) {
        if let Some(date) = line.strip_prefix("@asOf ") {
            as_of = date.parse().expect("asOf date");
        } else if line.starts_with('#') {
            inside = line.starts_with(header);
        } else if let (true, Some((question, spec))) = (inside, line.split_once("||")) {
            questions.push((as_of, question.trim().to_string(), expected(spec)));
        }
    }
    questions
}

pub fn intent(name: &str) -> Intent {
    find_intent(name).unwrap_or_else(|| panic!("unknown intent {name}"))
}

fn find_intent(name: &str) -> Option<Intent> {
    [
        Intent::TopModels,
        Intent::TopCountries,
        Intent::Total,
        Intent::Trend,
        Intent::Compare,
        Intent::Seasonality,
        Intent::Forecast,
        Intent::Marketing,
        Intent::Inventory,
        Intent::Growth,
        Intent::Share,
        Intent::AveragePrice,
        Intent::Unknown,
    ]
    .into_iter()
    .find(|i| i.name() == name)
}

/// The reading a corpus line expects.
pub fn expected(spec: &str) -> Interpretation {
    let mut parts = spec.split(';').map(str::trim);
    let mut i = Interpretation { intent: intent(parts.next().expect("intent")), ..Interpretation::unknown() };
    let list = |v: &str| v.split('+').map(|s| s.trim().to_string()).collect::<Vec<_>>();
    for part in parts.filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or_else(|| panic!("bad field {part}"));
        match key {
            "models" => i.models = list(value),
            "countries" => i.countries = list(value),
            "regions" => i.regions = list(value),
            "body" => {
                i.body_types = list(value).iter().map(|b| b.parse::<BodyType>().expect("body")).collect()
            }
            "fuel" => {
                i.fuel_types = list(value).iter().map(|f| f.parse::<FuelType>().expect("fuel")).collect()
            }
            "period" => {
                let (from, to) = value.split_once("..").expect("FROM..TO");
                i.from = Some(from.parse().expect("from"));
                i.to = Some(to.parse().expect("to"));
            }
            "limit" => i.limit = Some(value.parse().expect("limit")),
            "metric" => i.metric = if value == "REVENUE" { Metric::Revenue } else { Metric::Units },
            "order" => i.order = if value == "ASC" { SortOrder::Asc } else { SortOrder::Desc },
            "granularity" => {
                i.granularity = Some(match value {
                    "MONTH" => Granularity::Month,
                    "QUARTER" => Granularity::Quarter,
                    _ => Granularity::Year,
                })
            }
            "compare" => {
                i.compare = Some(match value {
                    "PREVIOUS_YEAR" => Comparison::PreviousYear,
                    "PREVIOUS_PERIOD" => Comparison::PreviousPeriod,
                    range => {
                        let (from, to) = range.split_once("..").expect("FROM..TO");
                        Comparison::Range(from.parse().expect("from"), to.parse().expect("to"))
                    }
                })
            }
            other => panic!("unknown field {other}"),
        }
    }
    i
}
