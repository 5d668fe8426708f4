//! The structured query an interpretation stands for: the GraphQL document and variables a
//! frontend would send, and how to read the answer's rows from its result. Running answers
//! through the schema itself is what makes access rules, region scope and validation apply to
//! `ask` unchanged.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::period::month_span;
use super::{Intent, Interpretation};
use crate::domain::{BodyType, FuelType};
use crate::summary::compare::Comparison;
use crate::summary::{Granularity, Metric, SortOrder};

/// A query to run and how to turn its data into columns and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredQuery {
    pub document: String,
    pub variables: Value,
    pub columns: Vec<String>,
    /// Where the list of rows is in the data.
    rows_at: Vec<&'static str>,
    /// Per column, the path inside a row; `#` is the row's 1-based position.
    cells: Vec<Vec<&'static str>>,
    /// Rows kept (INVENTORY ranks its plan only when a limit was asked for).
    keep: Option<usize>,
    /// Where the answer's own notes are in the data, for answers that have them.
    notes_at: Option<Vec<&'static str>>,
    /// Rows kept only when the cell at this column holds one of these values (a SHARE keeps
    /// the part asked about from the groups of the whole).
    keep_only: Option<(usize, Vec<String>)>,
}

/// The selection, columns and cells of what a group was over the range compared with: units,
/// and revenue when the question is about money.
fn previous_parts(i: &Interpretation) -> (&'static str, Vec<String>, Vec<Vec<&'static str>>) {
    if money(i) {
        (
            "previous { units revenue }",
            vec!["previousUnits".into(), "previousRevenue".into()],
            vec![vec!["previous", "units"], vec!["previous", "revenue"]],
        )
    } else {
        ("previous { units }", vec!["previousUnits".into()], vec![vec!["previous", "units"]])
    }
}

/// The `compareTo` or `compareRange` variables of a comparison.
fn comparison_variables(compare: Option<Comparison>) -> (Value, Value) {
    match compare {
        Some(Comparison::PreviousPeriod) => (json!("PREVIOUS_PERIOD"), Value::Null),
        Some(Comparison::PreviousYear) => (json!("PREVIOUS_YEAR"), Value::Null),
        Some(Comparison::Range(from, to)) => {
            (Value::Null, json!({ "from": from.to_string(), "to": to.to_string() }))
        }
        None => (Value::Null, Value::Null),
    }
}

/// Why an interpretation cannot be run as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotRunnable(pub String);

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Units => "UNITS",
        Metric::Revenue => "REVENUE",
    }
}

fn order_name(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    }
}

fn granularity_name(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Month => "MONTH",
        Granularity::Quarter => "QUARTER",
        Granularity::Year => "YEAR",
    }
}

fn body_name(body: BodyType) -> &'static str {
    match body {
        BodyType::Sedan => "SEDAN",
        BodyType::Hatchback => "HATCHBACK",
        BodyType::Coupe => "COUPE",
        BodyType::Roadster => "ROADSTER",
        BodyType::Suv => "SUV",
        BodyType::Unknown => "UNKNOWN",
    }
}

fn fuel_name(fuel: FuelType) -> &'static str {
    match fuel {
        FuelType::Petrol => "PETROL",
        FuelType::Diesel => "DIESEL",
        FuelType::Hybrid => "HYBRID",
        FuelType::Electric => "ELECTRIC",
        FuelType::Unknown => "UNKNOWN",
    }
}

/// The `SalesFilter` of an interpretation; `to` and `from` may be overridden by the caller.
pub fn filter(i: &Interpretation, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Value {
    let mut filter = Map::new();
    if let Some(from) = from {
        filter.insert("from".into(), json!(from.to_string()));
    }
    if let Some(to) = to {
        filter.insert("to".into(), json!(to.to_string()));
    }
    let mut list = |name: &str, values: Vec<&str>| {
        if !values.is_empty() {
            filter.insert(name.into(), json!(values));
        }
    };
    list("countries", i.countries.iter().map(String::as_str).collect());
    list("regions", i.regions.iter().map(String::as_str).collect());
    list("models", i.models.iter().map(String::as_str).collect());
    list("bodyTypes", i.body_types.iter().map(|b| body_name(*b)).collect());
    list("fuelTypes", i.fuel_types.iter().map(|f| fuel_name(*f)).collect());
    Value::Object(filter)
}

fn money(i: &Interpretation) -> bool {
    i.metric == Metric::Revenue
}

impl StructuredQuery {
    /// The structured query of an interpretation; `None` for UNKNOWN.
    pub fn of(i: &Interpretation) -> Result<Option<Self>, NotRunnable> {
        let period_filter = filter(i, i.from, i.to);
        let measure = if money(i) { "units revenue" } else { "units" };
        let measure_cells: Vec<Vec<&'static str>> =
            if money(i) { vec![vec!["units"], vec!["revenue"]] } else { vec![vec!["units"]] };
        let measure_columns: Vec<String> =
            if money(i) { vec!["units".into(), "revenue".into()] } else { vec!["units".into()] };
        let query = match i.intent {
            Intent::Unknown => return Ok(None),
            Intent::TopModels => Self {
                document: format!(
                    "query Ask($filter: SalesFilter, $metric: Metric, $order: SortOrder, $limit: Int) {{ result: topModels(filter: $filter, metric: $metric, order: $order, limit: $limit) {{ rank model {{ name }} {measure} share }} }}"
                ),
                variables: json!({ "filter": period_filter, "metric": metric_name(i.metric), "order": order_name(i.order), "limit": i.limit }),
                columns: [vec!["rank".to_string(), "model".to_string()], measure_columns, vec!["share".to_string()]].concat(),
                rows_at: vec!["result"],
                cells: [vec![vec!["rank"], vec!["model", "name"]], measure_cells, vec![vec!["share"]]].concat(),
                keep: None,
                notes_at: None,
                keep_only: None,
            },
            Intent::TopCountries => Self {
                document: format!(
                    "query Ask($filter: SalesFilter, $metric: Metric, $order: SortOrder, $limit: Int) {{ result: salesSummary(filter: $filter, groupBy: [COUNTRY], metric: $metric, order: $order, limit: $limit) {{ country {{ code name }} {measure} }} }}"
                ),
                variables: json!({ "filter": period_filter, "metric": metric_name(i.metric), "order": order_name(i.order), "limit": i.limit }),
                columns: [vec!["rank".to_string(), "country".to_string(), "name".to_string()], measure_columns].concat(),
                rows_at: vec!["result"],
                cells: [vec![vec!["#"], vec!["country", "code"], vec!["country", "name"]], measure_cells].concat(),
                keep: None,
                notes_at: None,
                keep_only: None,
            },
            Intent::Total if i.compare.is_some() => {
                let (compare_to, compare_range) = comparison_variables(i.compare);
                let (previous, previous_columns, previous_cells) = previous_parts(i);
                Self {
                    document: format!(
                        "query Ask($filter: SalesFilter, $metric: Metric, $compareTo: Comparison, $compareRange: DateRange) {{ result: salesSummary(filter: $filter, groupBy: [], metric: $metric, compareTo: $compareTo, compareRange: $compareRange) {{ {measure} {previous} change changeRatio }} }}"
                    ),
                    variables: json!({ "filter": period_filter, "metric": metric_name(i.metric), "compareTo": compare_to, "compareRange": compare_range }),
                    columns: [measure_columns, previous_columns, vec!["change".to_string(), "changeRatio".to_string()]].concat(),
                    rows_at: vec!["result"],
                    cells: [measure_cells, previous_cells, vec![vec!["change"], vec!["changeRatio"]]].concat(),
                    keep: None,
                    notes_at: None,
                    keep_only: None,
                }
            }
            Intent::Growth => {
                let (compare_to, compare_range) = comparison_variables(i.compare.or(Some(Comparison::PreviousYear)));
                let (previous, previous_columns, previous_cells) = previous_parts(i);
                Self {
                    document: format!(
                        "query Ask($filter: SalesFilter, $metric: Metric, $order: SortOrder, $limit: Int, $compareTo: Comparison, $compareRange: DateRange) {{ result: salesSummary(filter: $filter, groupBy: [MODEL], metric: $metric, order: $order, limit: $limit, compareTo: $compareTo, compareRange: $compareRange, rankBy: CHANGE) {{ model {{ name }} {measure} {previous} change changeRatio }} }}"
                    ),
                    variables: json!({ "filter": period_filter, "metric": metric_name(i.metric), "order": order_name(i.order), "limit": i.limit, "compareTo": compare_to, "compareRange": compare_range }),
                    columns: [vec!["rank".to_string(), "model".to_string()], measure_columns, previous_columns, vec!["change".to_string(), "changeRatio".to_string()]].concat(),
                    rows_at: vec!["result"],
                    cells: [vec![vec!["#"], vec!["model", "name"]], measure_cells, previous_cells, vec![vec!["change"], vec!["changeRatio"]]].concat(),
                    keep: None,
                    notes_at: None,
                    keep_only: None,
                }
            }
            Intent::Share => {
                // The part asked about, and the whole it is a share of (the filter without it).
                let mut whole = i.clone();
                let (dimension, key, key_cell, parts): (&str, &str, Vec<&'static str>, Vec<String>) =
                    if !i.fuel_types.is_empty() {
                        whole.fuel_types.clear();
                        ("FUEL_TYPE", "fuelType", vec!["fuelType"], i.fuel_types.iter().map(|f| fuel_name(*f).to_string()).collect())
                    } else if !i.body_types.is_empty() {
                        whole.body_types.clear();
                        ("BODY_TYPE", "bodyType", vec!["bodyType"], i.body_types.iter().map(|b| body_name(*b).to_string()).collect())
                    } else if !i.models.is_empty() {
                        whole.models.clear();
                        ("MODEL", "model { name }", vec!["model", "name"], i.models.clone())
                    } else {
                        return Err(NotRunnable("a share needs a part: name a fuel, a body type or a model".into()));
                    };
                let (group_by, period_columns, period_cells, granularity) = match i.granularity {
                    Some(granularity) => (
                        format!("[PERIOD, {dimension}]"),
                        vec!["period".to_string()],
                        vec![vec!["period"]],
                        json!(granularity_name(granularity)),
                    ),
                    None => (format!("[{dimension}]"), Vec::new(), Vec::new(), Value::Null),
                };
                let part_column = period_columns.len();
                Self {
                    document: format!(
                        "query Ask($filter: SalesFilter, $metric: Metric, $granularity: Granularity) {{ result: salesSummary(filter: $filter, groupBy: {group_by}, metric: $metric, granularity: $granularity) {{ period {key} {measure} shareOfTotal }} }}"
                    ),
                    variables: json!({ "filter": filter(&whole, i.from, i.to), "metric": metric_name(i.metric), "granularity": granularity }),
                    columns: [period_columns, vec![dimension.to_lowercase()], measure_columns, vec!["share".to_string()]].concat(),
                    rows_at: vec!["result"],
                    cells: [period_cells, vec![key_cell], measure_cells, vec![vec!["shareOfTotal"]]].concat(),
                    keep: None,
                    notes_at: None,
                    keep_only: Some((part_column, parts)),
                }
            }
            Intent::Total => Self {
                document: format!(
                    "query Ask($filter: SalesFilter) {{ result: salesSummary(filter: $filter, groupBy: []) {{ {measure} }} }}"
                ),
                variables: json!({ "filter": period_filter }),
                columns: measure_columns,
                rows_at: vec!["result"],
                cells: measure_cells,
                keep: None,
                notes_at: None,
                keep_only: None,
            },
            Intent::Trend => {
                let value = if money(i) { "revenue" } else { "units" };
                // Month on month, year on year: each point against the one before or a year before.
                let (compare_to, selection, extra_columns, extra_cells) = match i.compare {
                    None => (Value::Null, "", Vec::new(), Vec::new()),
                    Some(Comparison::Range(..)) => {
                        return Err(NotRunnable(
                            "a series compares each period with the one before or a year before, not with a range: ask for the two totals instead".into(),
                        ));
                    }
                    Some(comparison) => (
                        comparison_variables(Some(comparison)).0,
                        " previous change changeRatio",
                        vec![format!("previous{}", if money(i) { "Revenue" } else { "Units" }), "change".into(), "changeRatio".into()],
                        vec![vec!["previous"], vec!["change"], vec!["changeRatio"]],
                    ),
                };
                Self {
                    document: format!("query Ask($filter: SalesFilter, $granularity: Granularity, $metric: Metric, $compareTo: Comparison) {{ result: trend(filter: $filter, granularity: $granularity, metric: $metric, compareTo: $compareTo) {{ points {{ period value{selection} }} notes }} }}"),
                    variables: json!({
                        "filter": period_filter,
                        "granularity": granularity_name(i.granularity.unwrap_or(Granularity::Month)),
                        "metric": metric_name(i.metric),
                        "compareTo": compare_to,
                    }),
                    columns: [vec!["period".to_string(), value.to_string()], extra_columns].concat(),
                    rows_at: vec!["result", "points"],
                    cells: [vec![vec!["period"], vec!["value"]], extra_cells].concat(),
                    keep: None,
                    notes_at: Some(vec!["result", "notes"]),
                    keep_only: None,
                }
            }
            Intent::AveragePrice => {
                // Revenue per unit, as the summary computes it: one row, or one per model or
                // market named side by side. Money: the viewer's role decides.
                let (group_by, key, key_columns, key_cells): (&str, &str, Vec<String>, Vec<Vec<&'static str>>) =
                    if i.models.len() >= 2 {
                        ("[MODEL]", "model { name }", vec!["model".into()], vec![vec!["model", "name"]])
                    } else if i.countries.len() >= 2 {
                        ("[COUNTRY]", "country { code }", vec!["country".into()], vec![vec!["country", "code"]])
                    } else {
                        ("[]", "", Vec::new(), Vec::new())
                    };
                Self {
                    document: format!(
                        "query Ask($filter: SalesFilter) {{ result: salesSummary(filter: $filter, groupBy: {group_by}, metric: REVENUE) {{ {key} units revenue averagePrice }} }}"
                    ),
                    variables: json!({ "filter": period_filter }),
                    columns: [key_columns, vec!["units".into(), "revenue".into(), "averagePrice".into()]].concat(),
                    rows_at: vec!["result"],
                    cells: [key_cells, vec![vec!["units"], vec!["revenue"], vec!["averagePrice"]]].concat(),
                    keep: None,
                    notes_at: None,
                    keep_only: None,
                }
            }
            Intent::Compare => {
                let places = i.countries.len() + i.regions.len();
                let (dimension, key_columns, key_cells): (&str, Vec<String>, Vec<Vec<&'static str>>) =
                    if i.fuel_types.len() >= 2 && i.models.len() < 2 && places < 2 {
                        ("FUEL_TYPE", vec!["fuelType".into()], vec![vec!["fuelType"]])
                    } else if i.body_types.len() >= 2 && i.models.len() < 2 && places < 2 {
                        ("BODY_TYPE", vec!["bodyType".into()], vec![vec!["bodyType"]])
                    } else if i.models.len() >= 2 || places < 2 {
                        ("MODEL", vec!["model".into()], vec![vec!["model", "name"]])
                    } else if i.regions.len() >= 2 && i.countries.is_empty() {
                        ("REGION", vec!["region".into()], vec![vec!["region"]])
                    } else {
                        ("COUNTRY", vec!["country".into()], vec![vec!["country", "code"]])
                    };
                let key = match dimension {
                    "MODEL" => "model { name }",
                    "REGION" => "region",
                    "FUEL_TYPE" => "fuelType",
                    "BODY_TYPE" => "bodyType",
                    _ => "country { code }",
                };
                Self {
                    document: format!(
                        "query Ask($filter: SalesFilter, $metric: Metric) {{ result: salesSummary(filter: $filter, groupBy: [{dimension}], metric: $metric) {{ {key} {measure} }} }}"
                    ),
                    variables: json!({ "filter": period_filter, "metric": metric_name(i.metric) }),
                    columns: [key_columns, measure_columns].concat(),
                    rows_at: vec!["result"],
                    cells: [key_cells, measure_cells].concat(),
                    keep: None,
                    notes_at: None,
                keep_only: None,
                }
            }
            Intent::Seasonality => Self {
                document: "query Ask($filter: SalesFilter, $metric: Metric) { result: seasonality(filter: $filter, metric: $metric) { monthlyIndex notes } }".to_string(),
                variables: json!({ "filter": period_filter, "metric": metric_name(i.metric) }),
                columns: vec!["month".into(), "index".into()],
                rows_at: vec!["result", "monthlyIndex"],
                cells: vec![vec!["#"], vec![]],
                keep: None,
                notes_at: Some(vec!["result", "notes"]),
                keep_only: None,
            },
            Intent::Forecast => {
                let (from, to) = i.from.zip(i.to).ok_or_else(|| NotRunnable("a forecast needs a period".into()))?;
                // Forecast as of the day before the period, for its whole months.
                let as_of = from.pred_opt().ok_or_else(|| NotRunnable("the period starts too early".into()))?;
                Self {
                    document: "query Ask($filter: SalesFilter, $horizon: Int, $limit: Int) { result: forecast(filter: $filter, horizonMonths: $horizon, limit: $limit) { predictions { rank model { name } units lower upper } notes } }".to_string(),
                    variables: json!({ "filter": filter(i, None, Some(as_of)), "horizon": month_span(from, to), "limit": i.limit }),
                    columns: ["rank", "model", "units", "lower", "upper"].map(String::from).to_vec(),
                    rows_at: vec!["result", "predictions"],
                    cells: vec![vec!["rank"], vec!["model", "name"], vec!["units"], vec!["lower"], vec!["upper"]],
                    keep: None,
                    notes_at: Some(vec!["result", "notes"]),
                keep_only: None,
                }
            }
            Intent::Marketing => Self {
                document: "query Ask($filter: SalesFilter, $limit: Int) { result: marketingPriorities(filter: $filter, limit: $limit) { rank model { name } score reasons } }".to_string(),
                variables: json!({ "filter": period_filter, "limit": i.limit.unwrap_or(10) }),
                columns: ["rank", "model", "score", "reasons"].map(String::from).to_vec(),
                rows_at: vec!["result"],
                cells: vec![vec!["rank"], vec!["model", "name"], vec!["score"], vec!["reasons"]],
                keep: None,
                notes_at: None,
                keep_only: None,
            },
            Intent::Inventory => {
                let [country] = i.countries.as_slice() else {
                    return Err(NotRunnable("an inventory plan is for one market: name one country".into()));
                };
                let (from, to) = i.from.zip(i.to).ok_or_else(|| NotRunnable("an inventory plan needs a period".into()))?;
                Self {
                    document: "query Ask($country: String!, $horizon: Int) { result: inventoryPlan(country: $country, horizonMonths: $horizon) { model { name } status forecastUnits safetyStock onHand recommendedStock reorderUnits } }".to_string(),
                    variables: json!({ "country": country, "horizon": month_span(from, to) }),
                    columns: ["model", "status", "forecastUnits", "safetyStock", "onHand", "recommendedStock", "reorderUnits"]
                        .map(String::from)
                        .to_vec(),
                    rows_at: vec!["result"],
                    cells: vec![
                        vec!["model", "name"],
                        vec!["status"],
                        vec!["forecastUnits"],
                        vec!["safetyStock"],
                        vec!["onHand"],
                        vec!["recommendedStock"],
                        vec!["reorderUnits"],
                    ],
                    keep: i.limit.map(|l| l as usize),
                    notes_at: None,
                keep_only: None,
                }
            }
        };
        Ok(Some(query))
    }

    /// The notes the answer's data carries (what it left out and why).
    pub fn notes(&self, data: &Value) -> Vec<String> {
        let Some(path) = &self.notes_at else { return Vec::new() };
        let mut notes = data;
        for key in path {
            notes = &notes[*key];
        }
        notes.as_array().into_iter().flatten().filter_map(|note| note.as_str().map(str::to_string)).collect()
    }

    /// The answer's rows from the query's data: every cell as text (numbers as JSON writes
    /// them, lists joined with "; "), null where the data has none.
    pub fn rows(&self, data: &Value) -> Vec<Vec<Option<String>>> {
        let mut list = data;
        for key in &self.rows_at {
            list = &list[*key];
        }
        let items: Vec<&Value> = match list {
            Value::Array(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            single => vec![single],
        };
        let rows =
            items.into_iter().take(self.keep.unwrap_or(usize::MAX)).enumerate().map(|(index, item)| {
                self.cells
                    .iter()
                    .map(|path| {
                        if path.first() == Some(&"#") {
                            return Some((index + 1).to_string());
                        }
                        let mut value = item;
                        for key in path {
                            value = &value[*key];
                        }
                        cell(value)
                    })
                    .collect::<Vec<_>>()
            });
        match &self.keep_only {
            Some((column, values)) => rows
                .filter(|row| row.get(*column).and_then(Option::as_ref).is_some_and(|v| values.contains(v)))
                .collect(),
            None => rows.collect(),
        }
    }
}

/// A JSON value as the text of a cell.
pub fn cell(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => Some(items.iter().filter_map(cell).collect::<Vec<_>>().join("; ")),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top_models() -> Interpretation {
        Interpretation {
            intent: Intent::TopModels,
            countries: vec!["DE".into()],
            from: NaiveDate::from_ymd_opt(2024, 1, 1),
            to: NaiveDate::from_ymd_opt(2024, 3, 31),
            limit: Some(5),
            ..Interpretation::unknown()
        }
    }

    #[test]
    fn an_interpretation_becomes_the_query_a_frontend_would_send() {
        let query = StructuredQuery::of(&top_models()).unwrap().unwrap();
        assert!(query.document.contains("topModels(filter: $filter"));
        assert_eq!(
            query.variables,
            json!({ "filter": { "from": "2024-01-01", "to": "2024-03-31", "countries": ["DE"] },
                    "metric": "UNITS", "order": "DESC", "limit": 5 })
        );
        assert_eq!(query.columns, ["rank", "model", "units", "share"]);
        let data = json!({ "result": [{ "rank": 1, "model": { "name": "X5" }, "units": 12, "share": 0.5 }] });
        assert_eq!(
            query.rows(&data),
            vec![vec![Some("1".into()), Some("X5".into()), Some("12".into()), Some("0.5".into())]]
        );
        assert_eq!(StructuredQuery::of(&Interpretation::unknown()), Ok(None));
    }

    #[test]
    fn forecasts_run_as_of_the_day_before_their_period() {
        let forecast = Interpretation {
            intent: Intent::Forecast,
            from: NaiveDate::from_ymd_opt(2024, 7, 1),
            to: NaiveDate::from_ymd_opt(2024, 9, 30),
            ..top_models()
        };
        let query = StructuredQuery::of(&forecast).unwrap().unwrap();
        assert_eq!(query.variables["filter"], json!({ "to": "2024-06-30", "countries": ["DE"] }));
        assert_eq!(query.variables["horizon"], json!(3));
        let inventory = Interpretation { intent: Intent::Inventory, countries: vec![], ..forecast };
        assert!(StructuredQuery::of(&inventory).unwrap_err().0.contains("one country"));
    }

    #[test]
    fn a_series_compares_with_the_period_before_or_a_year_before_never_a_range() {
        let month_on_month = Interpretation {
            intent: Intent::Trend,
            granularity: Some(Granularity::Month),
            compare: Some(Comparison::PreviousPeriod),
            ..top_models()
        };
        let query = StructuredQuery::of(&month_on_month).unwrap().unwrap();
        assert_eq!(query.variables["compareTo"], json!("PREVIOUS_PERIOD"));
        assert_eq!(query.columns, ["period", "units", "previousUnits", "change", "changeRatio"]);
        let range = Comparison::Range(
            NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2023, 3, 31).unwrap(),
        );
        let against_a_range = Interpretation { compare: Some(range), ..month_on_month };
        assert!(StructuredQuery::of(&against_a_range).is_err());
        let price = Interpretation { intent: Intent::AveragePrice, ..top_models() };
        let query = StructuredQuery::of(&price).unwrap().unwrap();
        assert!(query.document.contains("averagePrice") && query.document.contains("metric: REVENUE"));
    }
}
