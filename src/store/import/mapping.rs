//! Which CSV column feeds which field: the canonical header, `--map field=Header` and
//! `--set field=value`.

use std::collections::HashMap;
use std::str::FromStr;

/// A field of a sale row that a CSV column (or a `--set` value) can supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    SoldOn,
    Year,
    Quarter,
    Month,
    Day,
    Model,
    Country,
    Region,
    Units,
    UnitPrice,
    FuelType,
    Transmission,
    Color,
    BodyType,
}

impl Field {
    const ALL: &'static [(Field, &'static str)] = &[
        (Field::SoldOn, "sold_on"),
        (Field::Year, "year"),
        (Field::Quarter, "quarter"),
        (Field::Month, "month"),
        (Field::Day, "day"),
        (Field::Model, "model"),
        (Field::Country, "country"),
        (Field::Region, "region"),
        (Field::Units, "units"),
        (Field::UnitPrice, "unit_price_usd"),
        (Field::FuelType, "fuel_type"),
        (Field::Transmission, "transmission"),
        (Field::Color, "color"),
        (Field::BodyType, "body_type"),
    ];

    pub fn name(self) -> &'static str {
        Field::ALL.iter().find(|(f, _)| *f == self).map_or("?", |(_, n)| n)
    }
}

impl FromStr for Field {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let key = text.trim().to_lowercase();
        let key = match key.as_str() {
            "date" => "sold_on",
            "unit_price" | "price" => "unit_price_usd",
            "fuel" => "fuel_type",
            "colour" => "color",
            "body" => "body_type",
            other => other,
        };
        Field::ALL.iter().find(|(_, n)| *n == key).map(|(f, _)| *f).ok_or_else(|| {
            format!(
                "unknown field \"{text}\" (expected one of {})",
                Field::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// Parses `field=value` as given to `--map` and `--set`.
pub fn parse_assignment(text: &str) -> Result<(Field, String), String> {
    let (field, value) =
        text.split_once('=').ok_or_else(|| format!("\"{text}\" is not of the form field=value"))?;
    Ok((field.parse()?, value.trim().to_string()))
}

/// Where each field comes from in one file.
#[derive(Debug, Default)]
pub struct ColumnMap {
    columns: HashMap<Field, usize>,
    constants: HashMap<Field, String>,
}

fn header_key(header: &str) -> String {
    header.trim().trim_matches('"').trim().to_lowercase()
}

impl ColumnMap {
    /// Resolves `--map` against the header; unmapped fields fall back to a column of their own
    /// name (the canonical header). Unnamed and unmapped columns are ignored.
    pub fn resolve(
        headers: &[String],
        map: &[(Field, String)],
        set: &[(Field, String)],
    ) -> Result<Self, String> {
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, header) in headers.iter().enumerate() {
            let key = header_key(header);
            if key.is_empty() {
                continue;
            }
            if let Some(first) = index.insert(key, i) {
                return Err(format!(
                    "the header names column \"{}\" twice (columns {} and {}): each column needs its own name",
                    header.trim(),
                    first + 1,
                    i + 1
                ));
            }
        }
        let mut columns = HashMap::new();
        for (field, header) in map {
            let i = index.get(&header_key(header)).ok_or_else(|| {
                format!(
                    "--map {}={header}: the file has no column \"{header}\" (its columns: {})",
                    field.name(),
                    headers.iter().map(|h| h.trim()).filter(|h| !h.is_empty()).collect::<Vec<_>>().join(", ")
                )
            })?;
            columns.insert(*field, *i);
        }
        for (field, name) in Field::ALL {
            if let (false, Some(i)) = (columns.contains_key(field), index.get(*name)) {
                columns.insert(*field, *i);
            }
        }
        let constants: HashMap<Field, String> = set.iter().cloned().collect();
        let resolved = Self { columns, constants };
        resolved.check_required(headers)?;
        Ok(resolved)
    }

    fn has(&self, field: Field) -> bool {
        self.columns.contains_key(&field) || self.constants.contains_key(&field)
    }

    fn check_required(&self, headers: &[String]) -> Result<(), String> {
        let mut missing = Vec::new();
        if !self.has(Field::SoldOn) && !self.has(Field::Year) {
            missing.push("sold_on (or year)");
        }
        if !self.has(Field::Model) {
            missing.push("model");
        }
        if !self.has(Field::Country) && !self.has(Field::Region) {
            missing.push("country (or region)");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "no column for {}; the file's columns are: {} (map them with --map field=Column, or supply a value with --set field=VALUE)",
                missing.join(", "),
                headers.iter().map(|h| h.trim()).collect::<Vec<_>>().join(", ")
            ))
        }
    }

    /// The field's cell exactly as the file has it (no trimming), else its `--set` value.
    pub fn get_untrimmed<'r>(&'r self, record: &'r csv::StringRecord, field: Field) -> Option<&'r str> {
        match self.columns.get(&field).and_then(|&i| record.get(i)) {
            Some(value) if !value.trim().is_empty() => Some(value),
            _ => self.constants.get(&field).map(String::as_str).filter(|v| !v.is_empty()),
        }
    }

    /// The field's value in this record: its column, else its `--set` value; `None` when
    /// neither exists or the cell is empty.
    pub fn get<'r>(&'r self, record: &'r csv::StringRecord, field: Field) -> Option<&'r str> {
        let from_column = self.columns.get(&field).and_then(|&i| record.get(i)).map(str::trim);
        match from_column {
            Some(value) if !value.is_empty() => Some(value),
            _ => self.constants.get(&field).map(String::as_str).filter(|v| !v.is_empty()),
        }
    }

    pub fn provides(&self, field: Field) -> bool {
        self.has(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn canonical_header_needs_no_map() {
        let map = ColumnMap::resolve(&headers(&["sold_on", "model", "country", "units"]), &[], &[]).unwrap();
        let record = csv::StringRecord::from(vec!["2024-01-02", " X5 ", "DE", "3"]);
        assert_eq!(map.get(&record, Field::Model), Some("X5"));
        assert_eq!(map.get(&record, Field::FuelType), None);
    }

    #[test]
    fn mapped_headers_match_after_trimming_and_set_fills_gaps() {
        let h = headers(&[" Datum ", "Modell", "Stückzahl", ""]);
        let map = ColumnMap::resolve(
            &h,
            &[parse_assignment("sold_on=Datum").unwrap(), parse_assignment("model=Modell").unwrap()],
            &[parse_assignment("country=NO").unwrap()],
        )
        .unwrap();
        let record = csv::StringRecord::from(vec!["01.02.2024", "iX", "5", "junk"]);
        assert_eq!(map.get(&record, Field::Country), Some("NO"));
        assert_eq!(map.get(&record, Field::SoldOn), Some("01.02.2024"));
    }

    #[test]
    fn missing_columns_are_named() {
        let error = ColumnMap::resolve(&headers(&["a", "b"]), &[], &[]).unwrap_err();
        assert!(error.contains("sold_on") && error.contains("model") && error.contains("country"), "{error}");
        let error = ColumnMap::resolve(&headers(&["a"]), &[parse_assignment("model=Nope").unwrap()], &[])
            .unwrap_err();
        assert!(error.contains("\"Nope\""), "{error}");
        assert!(parse_assignment("colour_code=x").unwrap_err().contains("colour_code"));
    }
}
