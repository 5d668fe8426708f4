//! A small SQL builder for the read queries whose shape depends on the filter: placeholders in
//! the backend's style, values collected alongside.

use sea_orm::{DbBackend, Statement, Value};

use crate::domain::ResolvedFilter;

pub struct SqlBuilder {
    backend: DbBackend,
    sql: String,
    values: Vec<Value>,
}

impl SqlBuilder {
    pub fn new(backend: DbBackend, sql: &str) -> Self {
        Self { backend, sql: sql.to_string(), values: Vec::new() }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn param(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.values.len().to_string());
            }
            _ => self.sql.push('?'),
        }
        self
    }

    /// ` AND column IN (…)`; an empty list matches nothing.
    pub fn and_in<V: Into<Value>>(&mut self, column: &str, values: impl IntoIterator<Item = V>) -> &mut Self {
        let mut values: Vec<Value> = values.into_iter().map(Into::into).collect();
        if values.is_empty() {
            return self.push(" AND 1 = 0");
        }
        if values.len() == 1 {
            // `=` rather than a one-element IN, which some planners treat as a list and sort after.
            self.push(" AND ").push(column).push(" = ");
            return self.param(values.remove(0));
        }
        self.push(" AND ").push(column).push(" IN (");
        let mut first = true;
        for value in values {
            if !first {
                self.push(", ");
            }
            first = false;
            self.param(value);
        }
        self.push(")")
    }

    /// The filter's conditions on the `sale` table (alias-free), each as ` AND …`.
    pub fn and_filter(&mut self, filter: &ResolvedFilter) -> &mut Self {
        if let Some(from) = filter.from {
            self.push(" AND sold_on >= ").param(from);
        }
        if let Some(to) = filter.to {
            self.push(" AND sold_on <= ").param(to);
        }
        if let Some(countries) = &filter.countries {
            self.and_in("country_code", countries.iter().map(String::as_str));
        }
        if let Some(models) = &filter.model_ids {
            self.and_in("model_id", models.iter().copied());
        }
        if let Some(fuels) = &filter.fuel_types {
            self.and_in("fuel_type", fuels.iter().map(|f| f.as_str()));
        }
        if let Some(transmissions) = &filter.transmissions {
            self.and_in("transmission", transmissions.iter().map(|t| t.as_str()));
        }
        self
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.sql, self.values)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn filter_conditions_with_backend_placeholders() {
        let filter = ResolvedFilter {
            from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1),
            countries: Some(BTreeSet::from(["DE".to_string(), "FR".to_string()])),
            model_ids: Some(BTreeSet::new()),
            ..Default::default()
        };
        let mut pg = SqlBuilder::new(DbBackend::Postgres, "SELECT 1 FROM sale WHERE 1 = 1");
        pg.and_filter(&filter);
        let statement = pg.build();
        assert_eq!(
            statement.sql,
            "SELECT 1 FROM sale WHERE 1 = 1 AND sold_on >= $1 AND country_code IN ($2, $3) AND 1 = 0"
        );
        assert_eq!(statement.values.map(|v| v.0.len()), Some(3));
    }
}
