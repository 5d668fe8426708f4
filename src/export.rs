//! Flat exports of an answer, for spreadsheets and BI tools that load tables rather than JSON
//! (Excel, Power BI, Grafana): the first list in the answer becomes a table, one row per item,
//! nested objects flattened into `model.name`-style columns, and polars writes it as CSV or
//! Parquet with a type per column (integers, floats, booleans, ISO dates, text).

use async_graphql::indexmap::IndexMap;
use async_graphql::{Name, Value};
use polars::prelude::*;

/// The table formats an answer can be exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

impl ExportFormat {
    pub const fn media_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub const fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }

    /// The format a `format=` parameter names (`csv`, `parquet`); `json` and anything else: none.
    pub fn named(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }

    /// The format an `Accept` header asks for: the first of the media types salesgraph answers
    /// in that it names decides, so a client listing JSON first still gets JSON.
    pub fn accepted(accept: &str) -> Option<Self> {
        for media_type in accept.split(',') {
            let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            match essence.as_str() {
                "text/csv" => return Some(Self::Csv),
                "application/vnd.apache.parquet" | "application/x-parquet" => return Some(Self::Parquet),
                "application/json" | "application/graphql-response+json" => return None,
                _ => {}
            }
        }
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "the answer holds no list to export as a table: select a list field (for example `topModels {{ … }}` or `sales {{ edges {{ node {{ … }} }} }}`)"
    )]
    NoList,
    #[error("cannot write the table: {0}")]
    Write(#[from] PolarsError),
}

/// An answer's table, and the name of the list it came from.
pub struct Table {
    pub name: String,
    pub frame: DataFrame,
}

/// The `data` of a JSON answer (its keys in the order the query selected them), or `None` when
/// the answer has errors: an answer with errors is never turned into a table.
pub fn data_of(answer: &[u8]) -> serde_json::Result<Option<Value>> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        data: Value,
        #[serde(default)]
        errors: Vec<serde::de::IgnoredAny>,
    }
    let answer: Answer = serde_json::from_slice(answer)?;
    Ok(answer.errors.is_empty().then_some(answer.data))
}

/// The first list in `data`, depth first in the order the fields were selected, as a table.
pub fn table(data: &Value) -> Result<Table, ExportError> {
    let (name, items) = first_list(data, "").ok_or(ExportError::NoList)?;
    let rows: Vec<Vec<(String, &Value)>> = items
        .iter()
        .map(|item| {
            let mut cells = Vec::new();
            match item {
                Value::Object(fields) => flatten(fields, "", &mut cells),
                other => cells.push((leaf_name(&name).to_string(), other)),
            }
            cells
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    for cells in &rows {
        for (column, _) in cells {
            if !names.contains(column) {
                names.push(column.clone());
            }
        }
    }
    // A null object in one row and its fields in another: the fields are the columns.
    let covered = |column: &String| names.iter().any(|other| other.starts_with(&format!("{column}.")));
    let names: Vec<String> = names.iter().filter(|column| !covered(column)).cloned().collect();
    let height = rows.len();
    let columns = names
        .iter()
        .map(|column| {
            let values: Vec<&Value> = rows
                .iter()
                .map(|cells| {
                    cells.iter().find(|(name, _)| name == column).map_or(&Value::Null, |(_, value)| *value)
                })
                .collect();
            typed_column(column, &values)
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    Ok(Table { name: leaf_name(&name).to_string(), frame: DataFrame::new(height, columns)? })
}

/// Writes the table in `format`.
pub fn write(table: &mut Table, format: ExportFormat) -> Result<Vec<u8>, ExportError> {
    let mut bytes = Vec::new();
    match format {
        ExportFormat::Csv => {
            CsvWriter::new(&mut bytes).include_header(true).finish(&mut table.frame)?;
        }
        ExportFormat::Parquet => {
            ParquetWriter::new(&mut bytes).finish(&mut table.frame)?;
        }
    }
    Ok(bytes)
}

fn leaf_name(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn first_list<'a>(value: &'a Value, path: &str) -> Option<(String, &'a Vec<Value>)> {
    let Value::Object(fields) = value else { return None };
    for (key, value) in fields {
        let here = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
        match value {
            Value::List(items) => return Some((here, items)),
            Value::Object(_) => {
                if let Some(found) = first_list(value, &here) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

fn flatten<'a>(fields: &'a IndexMap<Name, Value>, prefix: &str, cells: &mut Vec<(String, &'a Value)>) {
    for (key, value) in fields {
        let column = format!("{prefix}{key}");
        match value {
            Value::Object(nested) => flatten(nested, &format!("{column}."), cells),
            other => cells.push((column, other)),
        }
    }
}

/// One column, typed by what its values hold: integers, floats, booleans, ISO dates or text
/// (lists, and columns mixing kinds, as their JSON text).
fn typed_column(name: &str, values: &[&Value]) -> PolarsResult<Column> {
    let present = || values.iter().filter(|value| !matches!(value, Value::Null));
    let number = |value: &Value| match value {
        Value::Number(number) => Some(number.clone()),
        _ => None,
    };
    let name: PlSmallStr = name.into();
    if present().next().is_none() {
        return Ok(Column::new(name, values.iter().map(|_| None::<String>).collect::<Vec<_>>()));
    }
    if present().all(|value| number(value).is_some_and(|n| n.is_i64())) {
        let integers: Vec<Option<i64>> = values.iter().map(|value| number(value)?.as_i64()).collect();
        return Ok(Column::new(name, integers));
    }
    if present().all(|value| number(value).is_some()) {
        let floats: Vec<Option<f64>> = values.iter().map(|value| number(value)?.as_f64()).collect();
        return Ok(Column::new(name, floats));
    }
    if present().all(|value| matches!(value, Value::Boolean(_))) {
        let flags: Vec<Option<bool>> = values
            .iter()
            .map(|value| if let Value::Boolean(flag) = value { Some(*flag) } else { None })
            .collect();
        return Ok(Column::new(name, flags));
    }
    let day = |value: &Value| {
        let Value::String(text) = value else { return None };
        let date = (text.len() == 10).then(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())??;
        Some(crate::domain::days_since_epoch(date))
    };
    if present().all(|value| day(value).is_some()) {
        let days: Vec<Option<i32>> = values.iter().map(|value| day(value)).collect();
        return Column::new(name, days).cast(&DataType::Date);
    }
    let text = |value: &Value| match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Enum(name) => Some(name.to_string()),
        other => serde_json::to_string(other).ok(),
    };
    Ok(Column::new(name, values.iter().map(|value| text(value)).collect::<Vec<_>>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value from JSON text, its keys in the order written (as an answer's are).
    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("JSON")
    }

    fn csv(data: Value) -> String {
        let mut table = table(&data).expect("a table");
        String::from_utf8(write(&mut table, ExportFormat::Csv).expect("written")).expect("utf-8")
    }

    #[test]
    fn the_first_list_is_the_table_with_nested_objects_flattened() {
        let data = json(
            r#"{
            "dataStatus": { "version": 3 },
            "topModels": [
                { "rank": 1, "model": { "name": "X5", "bodyType": "SUV" }, "units": 120.5, "first": "2024-01-31" },
                { "rank": 2, "model": { "name": "3 Series", "bodyType": "SEDAN" }, "units": 98.0, "first": null }
            ],
            "later": [{ "ignored": true }]
        }"#,
        );
        let table = table(&data).unwrap();
        assert_eq!(table.name, "topModels");
        let names: Vec<&str> = table.frame.get_column_names().into_iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["rank", "model.name", "model.bodyType", "units", "first"]);
        let types: Vec<DataType> = table.frame.dtypes();
        assert_eq!(
            types,
            [DataType::Int64, DataType::String, DataType::String, DataType::Float64, DataType::Date]
        );
        assert_eq!(
            csv(data),
            "rank,model.name,model.bodyType,units,first\n1,X5,SUV,120.5,2024-01-31\n2,3 Series,SEDAN,98.0,\n"
        );
    }

    #[test]
    fn a_connection_exports_its_edges_and_odd_values_keep_their_text() {
        let data = json(
            r#"{ "sales": { "totalCount": 2, "edges": [
            { "node": { "id": "7", "model": null, "reasons": ["a", "b"], "note": "x" } },
            { "node": { "id": "8", "model": { "name": "iX" }, "reasons": [], "note": 3 } }
        ] } }"#,
        );
        assert_eq!(
            csv(data),
            "node.id,node.reasons,node.note,node.model.name\n7,\"[\"\"a\"\",\"\"b\"\"]\",x,\n8,[],3,iX\n"
        );
    }

    #[test]
    fn an_answer_with_errors_has_no_table() {
        let failed = br#"{"data":{"models":[{"name":"X5","basePrice":null}]},"errors":[{"message":"no"}]}"#;
        assert!(data_of(failed).unwrap().is_none());
        let data = data_of(br#"{"data":{"models":[{"name":"X5"}]}}"#).unwrap().expect("data");
        assert_eq!(csv(data), "name\nX5\n");
    }

    #[test]
    fn an_answer_without_a_list_is_refused_with_a_reason() {
        let error = table(&json(r#"{ "dataStatus": { "version": 1 } }"#)).err().expect("no table");
        assert!(error.to_string().contains("no list"), "{error}");
    }

    #[test]
    fn accept_headers_choose_the_first_format_they_name() {
        assert_eq!(ExportFormat::accepted("text/csv"), Some(ExportFormat::Csv));
        assert_eq!(ExportFormat::accepted("application/vnd.apache.parquet;q=1"), Some(ExportFormat::Parquet));
        assert_eq!(ExportFormat::accepted("application/json, text/csv"), None);
        assert_eq!(ExportFormat::accepted("text/html, text/CSV;q=0.9"), Some(ExportFormat::Csv));
        assert_eq!(ExportFormat::accepted("*/*"), None);
        assert_eq!(ExportFormat::named("Parquet"), Some(ExportFormat::Parquet));
        assert_eq!(ExportFormat::named("json"), None);
    }
}
