//! The columnar in-memory view for analytics: the monthly rollup joined with the catalogue's
//! dimensions, held as a polars frame. Its size follows the rollup (months × models × markets ×
//! fuels × gearboxes), not the number of sale rows; it is rebuilt after every ingest.

pub mod daily;

use std::sync::Arc;

use polars::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, Statement};

use self::daily::{DailyGroups, MonthTotals};
use crate::domain::ResolvedFilter;
use crate::store::sales::EdgeGroup;

#[derive(Debug, thiserror::Error)]
pub enum CubeError {
    #[error("database error while loading the cube: {0}")]
    Database(#[from] DbErr),
    #[error("columnar engine error: {0}")]
    Polars(#[from] PolarsError),
}

/// Column names of the cube's frame.
pub mod col {
    /// Months since year 0 (year × 12 + month − 1): cheap to compare and to group.
    pub const MONTH: &str = "month";
    pub const MODEL_ID: &str = "model_id";
    pub const COUNTRY: &str = "country";
    pub const REGION: &str = "region";
    pub const BODY_TYPE: &str = "body_type";
    pub const FUEL_TYPE: &str = "fuel_type";
    pub const TRANSMISSION: &str = "transmission";
    pub const UNITS: &str = "units";
    pub const REVENUE: &str = "revenue";
    pub const PRICED_UNITS: &str = "priced_units";
    pub const ROWS: &str = "rows";
    pub const COARSE_ROWS: &str = "coarse_rows";
}

/// Month index of a date: year × 12 + month − 1.
pub fn month_index(date: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    date.year() * 12 + date.month0() as i32
}

/// First day of the month with the given index.
pub fn month_date(index: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
}

/// A month index as people write it (2024-03), for logs and messages.
pub fn month_label(index: i32) -> String {
    format!("{}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1)
}

#[derive(Clone)]
pub struct Cube {
    /// The data version the cube was loaded at.
    pub version: i64,
    /// Rows sorted by month.
    frame: DataFrame,
    /// (month index, first row of that month), ascending: a month range is a slice, so a
    /// query over a quarter reads a quarter's rows rather than scanning every month.
    month_starts: Vec<(i32, usize)>,
    /// What each month of `month_starts` holds in all: its day groups are used while they match.
    month_totals: Vec<MonthTotals>,
    /// Sale rows by day for the partial months of day ranges, shared by every cube version.
    days: Arc<DailyGroups>,
}

impl Cube {
    pub fn empty(version: i64) -> Self {
        Self::from_columns(version, Columns::default()).unwrap_or(Self {
            version,
            frame: DataFrame::empty(),
            month_starts: Vec::new(),
            month_totals: Vec::new(),
            days: DailyGroups::new(),
        })
    }

    /// Loads the rollup. Reads the version first: if an ingest lands meanwhile, the cube is at
    /// worst newer than its version says, and the next refresh reloads it.
    pub async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, CubeError> {
        let version = crate::store::data_version::current(db).await?;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT r.month, r.model_id, r.country_code, c.region, m.body_type, r.fuel_type, \
                 r.transmission, r.units, r.revenue, r.priced_units, r.row_count, r.coarse_rows \
                 FROM monthly_rollup r \
                 JOIN car_model m ON m.id = r.model_id \
                 JOIN country c ON c.code = r.country_code \
                 ORDER BY r.month",
            ))
            .await?;
        let mut columns = Columns::with_capacity(rows.len());
        for row in rows {
            let month: chrono::NaiveDate = row.try_get_by_index(0)?;
            columns.month.push(month_index(month));
            columns.model_id.push(row.try_get_by_index(1)?);
            columns.country.push(row.try_get_by_index(2)?);
            columns.region.push(row.try_get_by_index(3)?);
            columns.body_type.push(row.try_get_by_index(4)?);
            columns.fuel_type.push(row.try_get_by_index(5)?);
            columns.transmission.push(row.try_get_by_index(6)?);
            columns.units.push(row.try_get_by_index(7)?);
            columns.revenue.push(row.try_get_by_index(8)?);
            columns.priced_units.push(row.try_get_by_index(9)?);
            columns.rows.push(row.try_get_by_index(10)?);
            columns.coarse_rows.push(row.try_get_by_index(11)?);
        }
        Ok(Self::from_columns(version, columns)?)
    }

    fn from_columns(version: i64, c: Columns) -> PolarsResult<Self> {
        let height = c.month.len();
        debug_assert!(c.month.windows(2).all(|w| w[0] <= w[1]), "cube rows must come sorted by month");
        let mut month_starts: Vec<(i32, usize)> = Vec::new();
        let mut month_totals: Vec<MonthTotals> = Vec::new();
        for (row, month) in c.month.iter().enumerate() {
            if month_starts.last().is_none_or(|(m, _)| m != month) {
                month_starts.push((*month, row));
                month_totals.push(MonthTotals::default());
            }
            if let Some(totals) = month_totals.last_mut() {
                totals.rows += c.rows[row];
                totals.units += c.units[row];
            }
        }
        let frame = DataFrame::new(
            height,
            vec![
                Column::new(col::MONTH.into(), c.month),
                Column::new(col::MODEL_ID.into(), c.model_id),
                Column::new(col::COUNTRY.into(), c.country),
                Column::new(col::REGION.into(), c.region),
                Column::new(col::BODY_TYPE.into(), c.body_type),
                Column::new(col::FUEL_TYPE.into(), c.fuel_type),
                Column::new(col::TRANSMISSION.into(), c.transmission),
                Column::new(col::UNITS.into(), c.units),
                Column::new(col::REVENUE.into(), c.revenue),
                Column::new(col::PRICED_UNITS.into(), c.priced_units),
                Column::new(col::ROWS.into(), c.rows),
                Column::new(col::COARSE_ROWS.into(), c.coarse_rows),
            ],
        )?;
        Ok(Self { version, frame, month_starts, month_totals, days: DailyGroups::new() })
    }

    /// This cube with the day groups `days` (carried over from the cube before it).
    pub fn with_days(mut self, days: Arc<DailyGroups>) -> Self {
        self.days = days;
        self
    }

    pub fn days(&self) -> &Arc<DailyGroups> {
        &self.days
    }

    /// Each month with sales and what it holds in all, oldest first.
    pub fn month_totals(&self) -> Vec<(i32, MonthTotals)> {
        self.month_starts.iter().map(|(m, _)| *m).zip(self.month_totals.iter().copied()).collect()
    }

    /// The rollup's groups for the days `from..=to` of one month, from the day groups in memory;
    /// `None` when they are not loaded or not in step with this cube (then ask the database).
    pub fn edge_groups(
        &self,
        filter: &ResolvedFilter,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Option<Vec<EdgeGroup>> {
        use chrono::Datelike;
        let month = month_index(from);
        if month_index(to) != month {
            return None;
        }
        let totals = match self.month_starts.binary_search_by_key(&month, |(m, _)| *m) {
            Ok(index) => self.month_totals[index],
            // No sales that month as of this cube: nothing to sum, wherever it is asked.
            Err(_) => return Some(Vec::new()),
        };
        let days = self.days.current(month, totals)?;
        Some(days.sum_days(filter, from.day(), to.day()))
    }

    /// The first month with sales, if any.
    pub fn first_month(&self) -> Option<chrono::NaiveDate> {
        self.month_starts.first().and_then(|(month, _)| month_date(*month))
    }

    pub fn frame(&self) -> &DataFrame {
        &self.frame
    }

    pub fn lazy(&self) -> LazyFrame {
        self.frame.clone().lazy()
    }

    /// The rows of the months `first..=last` (month indices), without scanning the others.
    pub fn months(&self, first: i32, last: i32) -> LazyFrame {
        let start = self.month_starts.partition_point(|(m, _)| *m < first);
        let end = self.month_starts.partition_point(|(m, _)| *m <= last);
        let row = |i: usize| self.month_starts.get(i).map_or(self.frame.height(), |(_, r)| *r);
        let (from, to) = (row(start), row(end));
        self.frame.slice(from as i64, to.saturating_sub(from)).lazy()
    }

    /// The first day of the latest month from which rows matching `filter`, counted newest
    /// first from the month `from_month` down, number at least `rows`; `None` when all of them
    /// together have fewer (or the cube cannot tell). The month `from_month` itself is not
    /// counted, since a cursor may stand anywhere in it. A page of sales reads only from that
    /// day on: on PostgreSQL the months before are partitions it need not plan or open.
    pub fn page_window(
        &self,
        filter: &ResolvedFilter,
        from_month: i32,
        rows: u64,
    ) -> Option<chrono::NaiveDate> {
        let frame = &self.frame;
        let counts = frame.column(col::ROWS).ok()?.i64().ok()?;
        let models = frame.column(col::MODEL_ID).ok()?.i32().ok()?;
        let countries = frame.column(col::COUNTRY).ok()?.str().ok()?;
        let fuels = frame.column(col::FUEL_TYPE).ok()?.str().ok()?;
        let transmissions = frame.column(col::TRANSMISSION).ok()?.str().ok()?;
        let fuel_names: Option<Vec<&str>> =
            filter.fuel_types.as_ref().map(|f| f.iter().map(|f| f.as_str()).collect());
        let transmission_names: Option<Vec<&str>> =
            filter.transmissions.as_ref().map(|t| t.iter().map(|t| t.as_str()).collect());
        let matches = |row: usize| {
            filter.model_ids.as_ref().is_none_or(|ids| models.get(row).is_some_and(|id| ids.contains(&id)))
                && filter
                    .countries
                    .as_ref()
                    .is_none_or(|codes| countries.get(row).is_some_and(|code| codes.contains(code)))
                && fuel_names.as_ref().is_none_or(|names| fuels.get(row).is_some_and(|f| names.contains(&f)))
                && transmission_names
                    .as_ref()
                    .is_none_or(|names| transmissions.get(row).is_some_and(|t| names.contains(&t)))
        };
        let mut found: u64 = 0;
        let last = self.month_starts.partition_point(|(m, _)| *m <= from_month);
        for index in (0..last).rev() {
            let (month, start) = self.month_starts[index];
            if month == from_month {
                continue;
            }
            let end = self.month_starts.get(index + 1).map_or(frame.height(), |(_, r)| *r);
            found += (start..end)
                .filter(|row| matches(*row))
                .map(|row| counts.get(row).unwrap_or(0) as u64)
                .sum::<u64>();
            if found >= rows {
                return month_date(month);
            }
        }
        None
    }

    /// Rollup groups held.
    pub fn len(&self) -> usize {
        self.frame.height()
    }

    pub fn is_empty(&self) -> bool {
        self.frame.height() == 0
    }

    /// Approximate heap bytes of the frame.
    pub fn estimated_bytes(&self) -> usize {
        self.frame.estimated_size()
    }

    /// Units over the whole cube (a cheap consistency check against the sale table).
    pub fn total_units(&self) -> PolarsResult<i64> {
        self.frame.column(col::UNITS)?.as_materialized_series().sum::<i64>()
    }
}

#[derive(Default)]
struct Columns {
    month: Vec<i32>,
    model_id: Vec<i32>,
    country: Vec<String>,
    region: Vec<String>,
    body_type: Vec<String>,
    fuel_type: Vec<String>,
    transmission: Vec<String>,
    units: Vec<i64>,
    revenue: Vec<f64>,
    priced_units: Vec<i64>,
    rows: Vec<i64>,
    coarse_rows: Vec<i64>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        Self {
            month: Vec::with_capacity(n),
            model_id: Vec::with_capacity(n),
            country: Vec::with_capacity(n),
            region: Vec::with_capacity(n),
            body_type: Vec::with_capacity(n),
            fuel_type: Vec::with_capacity(n),
            transmission: Vec::with_capacity(n),
            units: Vec::with_capacity(n),
            revenue: Vec::with_capacity(n),
            priced_units: Vec::with_capacity(n),
            rows: Vec::with_capacity(n),
            coarse_rows: Vec::with_capacity(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_index_round_trips() {
        let date = chrono::NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
        assert_eq!(month_date(month_index(date)), Some(date));
        assert_eq!(month_index(date) - month_index(chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()), 11);
    }

    #[test]
    fn a_page_window_reaches_back_just_far_enough() {
        let month = |m: u32| month_index(chrono::NaiveDate::from_ymd_opt(2024, m, 1).unwrap());
        // Jan: DE 5 rows, FR 50; Feb: DE 7; Mar: DE 2, FR 1; Apr: DE 1 (the cursor's month).
        let groups = [(1, "DE", 5), (1, "FR", 50), (2, "DE", 7), (3, "DE", 2), (3, "FR", 1), (4, "DE", 1)];
        let mut c = Columns::default();
        for (m, country, rows) in groups {
            c.month.push(month(m));
            c.model_id.push(1);
            c.country.push(country.into());
            c.region.push("Europe".into());
            c.body_type.push("SUV".into());
            c.fuel_type.push("PETROL".into());
            c.transmission.push("AUTOMATIC".into());
            c.units.push(rows);
            c.revenue.push(0.0);
            c.priced_units.push(0);
            c.rows.push(rows);
            c.coarse_rows.push(0);
        }
        let cube = Cube::from_columns(1, c).unwrap();
        let germany = ResolvedFilter { countries: Some(["DE".to_string()].into()), ..Default::default() };
        let day = |m: u32| chrono::NaiveDate::from_ymd_opt(2024, m, 1);
        // April itself is not counted: March's 2 and February's 7 make 9.
        assert_eq!(cube.page_window(&germany, month(4), 2), day(3));
        assert_eq!(cube.page_window(&germany, month(4), 9), day(2));
        assert_eq!(cube.page_window(&germany, month(4), 10), day(1));
        assert_eq!(cube.page_window(&germany, month(4), 15), None, "fewer rows than asked for in all");
        assert_eq!(cube.page_window(&ResolvedFilter::default(), month(4), 60), day(1));
        assert_eq!(cube.page_window(&ResolvedFilter::default(), month(3), 7), day(2));
    }

    #[test]
    fn empty_cube_has_the_schema() {
        let cube = Cube::empty(3);
        assert!(cube.is_empty());
        assert_eq!(cube.total_units().unwrap(), 0);
        assert!(cube.frame().column(col::REGION).is_ok());
    }
}
