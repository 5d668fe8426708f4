//! The one write path for sale rows: batched inserts, the monthly rollup kept in step
//! incrementally (only the groups an ingest touches), and the data version bump — all inside the
//! caller's transaction, so that an ingest lands whole or not at all.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::domain::{DatePrecision, FuelType, Transmission};

/// One dealer's sales of one model on one day, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSale {
    pub sold_on: NaiveDate,
    pub model_id: i32,
    pub country_code: String,
    pub units: i32,
    /// USD per unit; `None` when the source had no price (then revenue is null, not zero).
    pub unit_price: Option<f64>,
    pub fuel_type: FuelType,
    pub transmission: Transmission,
    pub color: Option<String>,
    pub date_precision: DatePrecision,
}

impl NewSale {
    pub fn revenue(&self) -> Option<f64> {
        self.unit_price.map(|price| price * f64::from(self.units))
    }
}

/// What an ingest wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub rows: u64,
    pub units: u64,
    pub rollup_groups: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RollupKey {
    month: NaiveDate,
    model_id: i32,
    country_code: String,
    fuel_type: FuelType,
    transmission: Transmission,
}

#[derive(Debug, Clone, Copy, Default)]
struct RollupDelta {
    units: i64,
    revenue: f64,
    priced_units: i64,
    row_count: i64,
    coarse_rows: i64,
}

const SALE_COLUMNS: &[&str] = &[
    "sold_on",
    "model_id",
    "country_code",
    "units",
    "unit_price",
    "revenue",
    "fuel_type",
    "transmission",
    "color",
    "date_precision",
];

const ROLLUP_COLUMNS: &[&str] = &[
    "month",
    "model_id",
    "country_code",
    "fuel_type",
    "transmission",
    "units",
    "revenue",
    "priced_units",
    "row_count",
    "coarse_rows",
];

/// Rows per INSERT: 1,000 rows × 10 columns stays under SQLite's and PostgreSQL's parameter limits.
const BATCH_ROWS: usize = 1_000;

/// `INSERT INTO table (cols) VALUES (…), (…)` with the backend's placeholders.
pub(crate) fn multi_row_insert(backend: DbBackend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = String::with_capacity(64 + rows * columns.len() * 6);
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(&columns.join(", "));
    sql.push_str(") VALUES ");
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..columns.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Writes sale rows batch by batch and, on `finish`, folds them into the rollup.
pub struct IngestWriter {
    backend: DbBackend,
    rollup: HashMap<RollupKey, RollupDelta>,
    summary: IngestSummary,
}

impl IngestWriter {
    pub fn new(backend: DbBackend) -> Self {
        Self { backend, rollup: HashMap::new(), summary: IngestSummary::default() }
    }

    pub async fn write<C: ConnectionTrait>(&mut self, txn: &C, rows: &[NewSale]) -> Result<(), DbErr> {
        if self.backend == DbBackend::Postgres {
            return self.write_postgres(txn, rows).await;
        }
        for chunk in rows.chunks(BATCH_ROWS) {
            let sql = multi_row_insert(self.backend, "sale", SALE_COLUMNS, chunk.len());
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * SALE_COLUMNS.len());
            for sale in chunk {
                values.push(sale.sold_on.into());
                values.push(sale.model_id.into());
                values.push(sale.country_code.as_str().into());
                values.push(sale.units.into());
                values.push(sale.unit_price.into());
                values.push(sale.revenue().into());
                values.push(sale.fuel_type.as_str().into());
                values.push(sale.transmission.as_str().into());
                values.push(sale.color.as_deref().into());
                values.push(sale.date_precision.as_str().into());
                self.accumulate(sale);
            }
            txn.execute_raw(Statement::from_sql_and_values(self.backend, sql, values)).await?;
        }
        Ok(())
    }

    /// PostgreSQL takes a batch as ten arrays unnested into rows: one statement of ten
    /// parameters per 10,000 rows instead of a parameter per cell.
    async fn write_postgres<C: ConnectionTrait>(&mut self, txn: &C, rows: &[NewSale]) -> Result<(), DbErr> {
        use sea_orm::sea_query::ArrayType;
        fn array(kind: ArrayType, values: Vec<Value>) -> Value {
            Value::Array(kind, Some(Box::new(values)))
        }
        for chunk in rows.chunks(BATCH_ROWS * 10) {
            let n = chunk.len();
            let mut columns: [Vec<Value>; 10] = std::array::from_fn(|_| Vec::with_capacity(n));
            for sale in chunk {
                columns[0].push(sale.sold_on.into());
                columns[1].push(sale.model_id.into());
                columns[2].push(sale.country_code.as_str().into());
                columns[3].push(sale.units.into());
                // Array elements cannot be null here: NaN and "" stand for null and are turned
                // back by NULLIF below (a price is never NaN; a colour is never empty).
                columns[4].push(sale.unit_price.unwrap_or(f64::NAN).into());
                columns[5].push(sale.revenue().unwrap_or(f64::NAN).into());
                columns[6].push(sale.fuel_type.as_str().into());
                columns[7].push(sale.transmission.as_str().into());
                columns[8].push(sale.color.as_deref().unwrap_or("").into());
                columns[9].push(sale.date_precision.as_str().into());
                self.accumulate(sale);
            }
            let [sold_on, model, country, units, price, revenue, fuel, transmission, color, precision] =
                columns;
            let values = vec![
                array(ArrayType::ChronoDate, sold_on),
                array(ArrayType::Int, model),
                array(ArrayType::String, country),
                array(ArrayType::Int, units),
                array(ArrayType::Double, price),
                array(ArrayType::Double, revenue),
                array(ArrayType::String, fuel),
                array(ArrayType::String, transmission),
                array(ArrayType::String, color),
                array(ArrayType::String, precision),
            ];
            let sql = format!(
                "INSERT INTO sale ({}) SELECT d, m, c, u, NULLIF(p, 'NaN'::float8), NULLIF(r, 'NaN'::float8), \
                 f, t, NULLIF(k, ''), q FROM UNNEST($1::date[], $2::int4[], $3::text[], $4::int4[], \
                 $5::float8[], $6::float8[], $7::text[], $8::text[], $9::text[], $10::text[]) \
                 AS x(d, m, c, u, p, r, f, t, k, q)",
                SALE_COLUMNS.join(", ")
            );
            txn.execute_raw(Statement::from_sql_and_values(self.backend, sql, values)).await?;
        }
        Ok(())
    }

    fn accumulate(&mut self, sale: &NewSale) {
        let key = RollupKey {
            month: month_start(sale.sold_on),
            model_id: sale.model_id,
            country_code: sale.country_code.clone(),
            fuel_type: sale.fuel_type,
            transmission: sale.transmission,
        };
        let delta = self.rollup.entry(key).or_default();
        delta.units += i64::from(sale.units);
        delta.row_count += 1;
        if let Some(revenue) = sale.revenue() {
            delta.revenue += revenue;
            delta.priced_units += i64::from(sale.units);
        }
        if sale.date_precision != DatePrecision::Day {
            delta.coarse_rows += 1;
        }
        self.summary.rows += 1;
        self.summary.units += sale.units as u64;
    }

    /// Adds this ingest's sums to the rollup groups it touched and bumps the data version.
    pub async fn finish<C: ConnectionTrait>(self, txn: &C) -> Result<IngestSummary, DbErr> {
        let mut groups: Vec<(RollupKey, RollupDelta)> = self.rollup.into_iter().collect();
        // A stable order keeps lock order and the stored bytes independent of hashing.
        groups.sort_by(|a, b| {
            (a.0.month, a.0.model_id, &a.0.country_code, a.0.fuel_type, a.0.transmission).cmp(&(
                b.0.month,
                b.0.model_id,
                &b.0.country_code,
                b.0.fuel_type,
                b.0.transmission,
            ))
        });
        for chunk in groups.chunks(BATCH_ROWS) {
            let mut sql = multi_row_insert(self.backend, "monthly_rollup", ROLLUP_COLUMNS, chunk.len());
            sql.push_str(
                " ON CONFLICT (month, model_id, country_code, fuel_type, transmission) DO UPDATE SET \
                 units = monthly_rollup.units + excluded.units, \
                 revenue = monthly_rollup.revenue + excluded.revenue, \
                 priced_units = monthly_rollup.priced_units + excluded.priced_units, \
                 row_count = monthly_rollup.row_count + excluded.row_count, \
                 coarse_rows = monthly_rollup.coarse_rows + excluded.coarse_rows",
            );
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * ROLLUP_COLUMNS.len());
            for (key, delta) in chunk {
                values.push(key.month.into());
                values.push(key.model_id.into());
                values.push(key.country_code.as_str().into());
                values.push(key.fuel_type.as_str().into());
                values.push(key.transmission.as_str().into());
                values.push(delta.units.into());
                values.push(delta.revenue.into());
                values.push(delta.priced_units.into());
                values.push(delta.row_count.into());
                values.push(delta.coarse_rows.into());
            }
            txn.execute_raw(Statement::from_sql_and_values(self.backend, sql, values)).await?;
        }
        super::data_version::bump(txn).await?;
        Ok(IngestSummary { rollup_groups: groups.len() as u64, ..self.summary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(
            multi_row_insert(DbBackend::Sqlite, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            multi_row_insert(DbBackend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
