//! The sale rows of the newest months, held in memory month by month as compact columns, so that
//! pages of sales (newest first, the dashboard's "latest sales" and every first page a client
//! opens) are cut without a database query. At 10 million rows on PostgreSQL the database alone
//! spent about 0.44 ms of CPU on each page, more than the two cores have per page at the
//! throughput a 5 ms p99 under 16 connections needs; from memory a page costs a scan of the rows
//! it skips and the rows it returns.
//!
//! Rows are used only when they are the rows the database holds at the snapshot's data version:
//! each held month must add up to what the cube holds for that month (rows and units), and the
//! months must have been checked against the table's ids at that version ([`IdSpan`]: ingests
//! only add rows and ids are never reused, so the same count and id range mean the same rows,
//! even after a full reseed whose totals happen to match). Anything else (a month not loaded,
//! over the budget, touched by an ingest since, or a sync still under way) sends the page to the
//! database as before. Nothing here can make a page wrong; at worst it is not used.
//!
//! Memory: about 45 bytes per row, newest months first, up to a budget
//! (`SALESGRAPH_RECENT_ROWS_MIB`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Datelike, NaiveDate};
use entity::sale;
use rustc_hash::FxHashMap;
use sea_orm::{ConnectionTrait, DbErr};

use super::daily::DayGroup;
use super::held_months::MonthTotals;
use super::held_months::{HeldMonth, HeldMonths, SyncReport};
use super::{CodedFilter, Sums};
use crate::domain::{DatePrecision, FuelType, ResolvedFilter, Transmission};
use crate::store::sales::{self, Direction, IdSpan, Page, SaleCursor};

#[derive(Debug, thiserror::Error)]
pub enum RecentRowsError {
    #[error("database error while loading recent sale rows: {0}")]
    Database(#[from] DbErr),
    #[error("sale rows of {month}: {reason}")]
    Unusable { month: String, reason: String },
}

/// Bit of [`MonthRows::known`]: the row has a unit price.
const PRICE_KNOWN: u8 = 1;
/// Bit of [`MonthRows::known`]: the row has a revenue.
const REVENUE_KNOWN: u8 = 2;

/// Bytes of one row's columns (id, day, model, market, units, price, revenue, known, fuel,
/// gearbox, colour, date precision).
const ROW_BYTES: usize = 8 + 1 + 4 + 2 + 4 + 8 + 8 + 1 + 1 + 1 + 2 + 1;

/// One month's sale rows, newest first (ties by id, highest first), as compact columns.
#[derive(Debug, Default)]
pub struct MonthRows {
    month: i32,
    totals: MonthTotals,
    span: IdSpan,
    /// The month's market codes and colours; rows name them by position.
    countries: Vec<String>,
    colors: Vec<String>,
    id: Vec<i64>,
    day: Vec<u8>,
    model_id: Vec<i32>,
    country: Vec<u16>,
    units: Vec<i32>,
    unit_price: Vec<f64>,
    revenue: Vec<f64>,
    /// [`PRICE_KNOWN`] and [`REVENUE_KNOWN`].
    known: Vec<u8>,
    fuel_type: Vec<FuelType>,
    transmission: Vec<Transmission>,
    /// 0: no colour; otherwise a position in `colors` plus one.
    color: Vec<u16>,
    date_precision: Vec<DatePrecision>,
}

/// The position of `name` in `names`, added when new; `None` past what a u16 can number.
fn position(names: &mut Vec<String>, index: &mut FxHashMap<String, u16>, name: &str) -> Option<u16> {
    if let Some(known) = index.get(name) {
        return Some(*known);
    }
    let next = u16::try_from(names.len()).ok().filter(|n| *n < u16::MAX)?;
    names.push(name.to_string());
    index.insert(name.to_string(), next);
    Some(next)
}

impl MonthRows {
    /// Builds the month `month` from its rows, which must all lie in it, newest first (ties by
    /// id, highest first), as [`sales::rows_between`] reads them.
    pub fn from_rows(month: i32, rows: Vec<sale::Model>) -> Result<Self, String> {
        let mut out = MonthRows { month, ..Default::default() };
        let (mut country_index, mut color_index) = (FxHashMap::default(), FxHashMap::default());
        let mut previous: Option<(u8, i64)> = None;
        for row in rows {
            if super::month_index(row.sold_on) != month {
                return Err(format!("row {} of {} lies outside the month", row.id, row.sold_on));
            }
            let day = row.sold_on.day() as u8;
            if previous.is_some_and(|key| key <= (day, row.id)) {
                return Err(format!("row {} is out of the newest-first order", row.id));
            }
            previous = Some((day, row.id));
            let unusable = |e: crate::domain::ParseEnumError| e.to_string();
            let country = position(&mut out.countries, &mut country_index, &row.country_code)
                .ok_or("too many markets in one month")?;
            let color = match row.color.as_deref() {
                None => 0,
                Some(color) => position(&mut out.colors, &mut color_index, color)
                    .ok_or("too many colours in one month")?
                    .checked_add(1)
                    .ok_or("too many colours in one month")?,
            };
            out.fuel_type.push(row.fuel_type.parse().map_err(unusable)?);
            out.transmission.push(row.transmission.parse().map_err(unusable)?);
            out.date_precision.push(row.date_precision.parse().map_err(unusable)?);
            out.known.push(
                if row.unit_price.is_some() { PRICE_KNOWN } else { 0 }
                    | if row.revenue.is_some() { REVENUE_KNOWN } else { 0 },
            );
            out.unit_price.push(row.unit_price.unwrap_or(0.0));
            out.revenue.push(row.revenue.unwrap_or(0.0));
            out.id.push(row.id);
            out.day.push(day);
            out.model_id.push(row.model_id);
            out.country.push(country);
            out.units.push(row.units);
            out.color.push(color);
            out.totals.rows += 1;
            out.totals.units += i64::from(row.units);
        }
        out.span = IdSpan {
            rows: out.id.len() as i64,
            min_id: out.id.iter().copied().min().unwrap_or(0),
            max_id: out.id.iter().copied().max().unwrap_or(0),
        };
        Ok(out)
    }

    pub fn totals(&self) -> MonthTotals {
        self.totals
    }

    pub fn span(&self) -> IdSpan {
        self.span
    }

    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.len() * ROW_BYTES
            + self.countries.iter().chain(&self.colors).map(|name| name.len() + 24).sum::<usize>()
    }

    /// The month's day groups (model × market × fuel × gearbox × day), summed as the database's
    /// GROUP BY sums them ([`crate::store::sql::select_group_sums`]: revenue and priced units over the rows with a
    /// revenue), so that the day groups of a month held here need not read its rows again.
    pub fn day_groups(&self) -> Vec<DayGroup> {
        let mut groups: FxHashMap<(u8, i32, u16, FuelType, Transmission), Sums> = FxHashMap::default();
        for i in 0..self.len() {
            let key =
                (self.day[i], self.model_id[i], self.country[i], self.fuel_type[i], self.transmission[i]);
            let sums = groups.entry(key).or_default();
            sums.units += i64::from(self.units[i]);
            sums.rows += 1;
            if self.known[i] & REVENUE_KNOWN != 0 {
                sums.revenue += self.revenue[i];
                sums.priced_units += i64::from(self.units[i]);
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_unstable_by_key(|(key, _)| *key);
        groups
            .into_iter()
            .map(|((day, model_id, country, fuel_type, transmission), sums)| DayGroup {
                day: u32::from(day),
                model_id,
                country_code: self.countries[usize::from(country)].clone(),
                fuel_type,
                transmission,
                sums,
            })
            .collect()
    }

    fn key(&self, index: usize) -> (u8, i64) {
        (self.day[index], self.id[index])
    }

    /// The cursor as a [`Self::key`], when it lies in this month.
    fn cursor_key(&self, cursor: Option<SaleCursor>) -> Option<(u8, i64)> {
        cursor.filter(|c| super::month_index(c.sold_on) == self.month).map(|c| (c.sold_on.day() as u8, c.id))
    }

    /// The row at `index` as the database would give it.
    fn row(&self, index: usize) -> sale::Model {
        let known = self.known[index];
        let day = u32::from(self.day[index]);
        sale::Model {
            id: self.id[index],
            sold_on: super::month_date(self.month)
                .and_then(|first| first.with_day(day))
                .unwrap_or(NaiveDate::MIN),
            model_id: self.model_id[index],
            country_code: self.countries[self.country[index] as usize].clone(),
            units: self.units[index],
            unit_price: (known & PRICE_KNOWN != 0).then_some(self.unit_price[index]),
            revenue: (known & REVENUE_KNOWN != 0).then_some(self.revenue[index]),
            fuel_type: self.fuel_type[index].as_str().to_string(),
            transmission: self.transmission[index].as_str().to_string(),
            color: match self.color[index] {
                0 => None,
                color => Some(self.colors[color as usize - 1].clone()),
            },
            date_precision: self.date_precision[index].as_str().to_string(),
        }
    }

    /// `filter` as checks on this month's coded values (its days already within the month).
    fn checks<'a>(&self, filter: &'a ResolvedFilter) -> RowChecks<'a> {
        let day_in_month = |date: Option<NaiveDate>, outside: u8| match date {
            Some(date) if super::month_index(date) == self.month => date.day() as u8,
            _ => outside,
        };
        RowChecks {
            filter: CodedFilter::over_markets(&self.countries, filter),
            first_day: day_in_month(filter.from, 1),
            last_day: day_in_month(filter.to, 31),
        }
    }

    #[inline]
    fn keeps(&self, checks: &RowChecks<'_>, index: usize) -> bool {
        checks.filter.keeps_values(
            self.model_id[index],
            u32::from(self.country[index]),
            self.fuel_type[index],
            self.transmission[index],
        )
    }

    /// Adds to `found` the rows after `cursor` (older), newest first, until it holds `wanted`.
    fn walk_older(
        &self,
        checks: &RowChecks<'_>,
        cursor: Option<SaleCursor>,
        wanted: usize,
        found: &mut Vec<sale::Model>,
    ) {
        let start = self.cursor_key(cursor).map_or(0, |key| self.partition_point(|i| self.key(i) >= key));
        let start = start.max(self.partition_point(|i| self.day[i] > checks.last_day));
        for index in start..self.len() {
            if found.len() >= wanted || self.day[index] < checks.first_day {
                return;
            }
            if self.keeps(checks, index) {
                found.push(self.row(index));
            }
        }
    }

    /// Adds to `found` the rows before `cursor` (newer), nearest first, until it holds `wanted`.
    fn walk_newer(
        &self,
        checks: &RowChecks<'_>,
        cursor: Option<SaleCursor>,
        wanted: usize,
        found: &mut Vec<sale::Model>,
    ) {
        let end =
            self.cursor_key(cursor).map_or(self.len(), |key| self.partition_point(|i| self.key(i) > key));
        let end = end.min(self.partition_point(|i| self.day[i] >= checks.first_day));
        for index in (0..end).rev() {
            if found.len() >= wanted || self.day[index] > checks.last_day {
                return;
            }
            if self.keeps(checks, index) {
                found.push(self.row(index));
            }
        }
    }

    /// The first index whose row fails `holds`, which must hold for a prefix of the rows.
    fn partition_point(&self, holds: impl Fn(usize) -> bool) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if holds(middle) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }
}

/// A [`ResolvedFilter`] as checks on one month's coded values.
struct RowChecks<'a> {
    /// Over the month's market positions.
    filter: CodedFilter<'a>,
    /// The days of the month the filter's range covers.
    first_day: u8,
    last_day: u8,
}

/// What memory can tell of one month for a page.
#[derive(Debug, Clone)]
pub enum HeldRows {
    /// The month has no sales as of this cube.
    NoSales,
    Held(Arc<MonthRows>),
    /// Not loaded, or not in step with this cube: only the database can say.
    NotHeld,
}

/// One page cut from the months `held` returns, `months` being the first and last with sales;
/// `None` when it needs a month that is not held. Same order, cursors and `has_more` as
/// [`sales::page`] reading the table.
pub fn page(
    held: impl Fn(i32) -> HeldRows,
    months: std::ops::RangeInclusive<i32>,
    filter: &ResolvedFilter,
    direction: Direction,
    cursor: Option<SaleCursor>,
    size: u64,
) -> Option<Page> {
    let wanted = usize::try_from(size).ok()?.checked_add(1)?;
    let mut oldest = *months.start();
    let mut newest = *months.end();
    if let Some(from) = filter.from {
        oldest = oldest.max(super::month_index(from));
    }
    if let Some(to) = filter.to {
        newest = newest.min(super::month_index(to));
    }
    // Going forward the page starts at the cursor's month and walks back in time; going
    // backward it ends there and walks forward.
    match (direction, cursor) {
        (Direction::Forward, Some(cursor)) => newest = newest.min(super::month_index(cursor.sold_on)),
        (Direction::Backward, Some(cursor)) => oldest = oldest.max(super::month_index(cursor.sold_on)),
        (_, None) => {}
    }
    let in_walking_order: Box<dyn Iterator<Item = i32>> = match direction {
        Direction::Forward => Box::new((oldest..=newest).rev()),
        Direction::Backward => Box::new(oldest..=newest),
    };
    let mut rows = Vec::with_capacity(wanted.min(1_024));
    for month in in_walking_order {
        if rows.len() >= wanted {
            break;
        }
        match held(month) {
            HeldRows::NoSales => {}
            HeldRows::NotHeld => return None,
            HeldRows::Held(month) => {
                let checks = month.checks(filter);
                match direction {
                    Direction::Forward => month.walk_older(&checks, cursor, wanted, &mut rows),
                    Direction::Backward => month.walk_newer(&checks, cursor, wanted, &mut rows),
                }
            }
        }
    }
    let has_more = rows.len() >= wanted;
    rows.truncate(wanted - 1);
    if direction == Direction::Backward {
        rows.reverse();
    }
    Some(Page { rows, has_more })
}

/// The sale rows of the newest months loaded so far, shared by every cube version: see the
/// module.
#[derive(Debug)]
pub struct RecentRows {
    months: HeldMonths<MonthRows>,
    /// The data version every held month was last checked at; pages use the rows only then.
    checked_version: AtomicI64,
}

impl Default for RecentRows {
    fn default() -> Self {
        Self { months: HeldMonths::default(), checked_version: AtomicI64::new(i64::MIN) }
    }
}

impl HeldMonth for MonthRows {
    fn totals(&self) -> MonthTotals {
        self.totals
    }

    fn bytes(&self) -> usize {
        MonthRows::bytes(self)
    }

    fn least_bytes(totals: MonthTotals) -> usize {
        usize::try_from(totals.rows).unwrap_or(usize::MAX).saturating_mul(ROW_BYTES)
    }
}

impl RecentRows {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The data version the held months were last checked at (`i64::MIN`: never).
    pub fn checked_version(&self) -> i64 {
        self.checked_version.load(Ordering::Acquire)
    }

    /// The oldest month held, if any.
    pub fn oldest_month(&self) -> Option<i32> {
        self.months.oldest_month()
    }

    /// The month's rows, when they match the cube's `totals` for it.
    pub fn current(&self, month: i32, totals: MonthTotals) -> Option<Arc<MonthRows>> {
        self.months.current(month, totals)
    }

    /// Brings the held months in line with `months` (each month's index and the cube's totals
    /// for it, as of data version `version`), newest first, within `budget_bytes`: a held month
    /// is kept when its totals and its [`IdSpan`] still match, otherwise read again from `db`;
    /// months beyond the budget or gone from the cube are dropped. Stops early, keeping what it
    /// loaded but leaving the version unchecked, when `superseded` says a newer cube has come.
    pub async fn sync<C: ConnectionTrait>(
        &self,
        db: &C,
        version: i64,
        months: &[(i32, MonthTotals)],
        budget_bytes: usize,
        superseded: impl Fn() -> bool,
    ) -> Result<SyncReport, RecentRowsError> {
        let still_current = |month, held: Arc<MonthRows>| async move {
            let (first, next) = month_bounds(month)?;
            Ok::<_, RecentRowsError>(held.span == sales::id_span(db, first, next).await?)
        };
        let load = |month| async move {
            match load_month(db, month).await {
                Ok(rows) => Ok(Some(rows)),
                Err(RecentRowsError::Unusable { month, reason }) => {
                    tracing::warn!(month, reason, "recent sale rows left to the database");
                    Ok(None)
                }
                Err(error) => Err(error),
            }
        };
        let report = self.months.sync(months, budget_bytes, &superseded, still_current, load).await?;
        if !superseded() {
            self.checked_version.store(version, Ordering::Release);
        }
        Ok(report)
    }
}

fn month_bounds(month: i32) -> Result<(NaiveDate, NaiveDate), RecentRowsError> {
    let unusable =
        || RecentRowsError::Unusable { month: super::month_label(month), reason: "no such month".into() };
    Ok((super::month_date(month).ok_or_else(unusable)?, super::month_date(month + 1).ok_or_else(unusable)?))
}

/// Reads one month's sale rows.
pub async fn load_month<C: ConnectionTrait>(db: &C, month: i32) -> Result<MonthRows, RecentRowsError> {
    let (first, next) = month_bounds(month)?;
    let rows = sales::rows_between(db, first, next).await?;
    MonthRows::from_rows(month, rows)
        .map_err(|reason| RecentRowsError::Unusable { month: super::month_label(month), reason })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn sale(id: i64, sold_on: NaiveDate, model_id: i32, country: &str, fuel: FuelType) -> sale::Model {
        sale::Model {
            id,
            sold_on,
            model_id,
            country_code: country.into(),
            units: (id % 5 + 1) as i32,
            unit_price: (id % 3 != 0).then_some(40_000.0 + id as f64),
            revenue: (id % 3 != 0).then_some((40_000.0 + id as f64) * (id % 5 + 1) as f64),
            fuel_type: fuel.as_str().into(),
            transmission: if id % 2 == 0 { "AUTOMATIC" } else { "MANUAL" }.into(),
            color: (id % 4 != 0).then(|| ["Black", "White", "Blue"][id as usize % 3].to_string()),
            date_precision: if id % 7 == 0 { "MONTH" } else { "DAY" }.into(),
        }
    }

    /// The reference: every row sorted newest first, filtered, cut after or before the cursor.
    fn reference(
        rows: &[sale::Model],
        filter: &ResolvedFilter,
        direction: Direction,
        cursor: Option<SaleCursor>,
        size: usize,
    ) -> Page {
        let mut kept: Vec<sale::Model> = rows
            .iter()
            .filter(|r| {
                filter.from.is_none_or(|f| r.sold_on >= f)
                    && filter.to.is_none_or(|t| r.sold_on <= t)
                    && filter.countries.as_ref().is_none_or(|c| c.contains(&r.country_code))
                    && filter.model_ids.as_ref().is_none_or(|m| m.contains(&r.model_id))
                    && filter.fuel_types.as_ref().is_none_or(|f| f.contains(&r.fuel_type.parse().unwrap()))
                    && filter
                        .transmissions
                        .as_ref()
                        .is_none_or(|t| t.contains(&r.transmission.parse().unwrap()))
            })
            .cloned()
            .collect();
        kept.sort_by_key(|r| std::cmp::Reverse((r.sold_on, r.id)));
        let key = |r: &sale::Model| (r.sold_on, r.id);
        match direction {
            Direction::Forward => {
                let after: Vec<_> =
                    kept.into_iter().filter(|r| cursor.is_none_or(|c| key(r) < (c.sold_on, c.id))).collect();
                Page { has_more: after.len() > size, rows: after.into_iter().take(size).collect() }
            }
            Direction::Backward => {
                let mut before: Vec<_> = kept
                    .into_iter()
                    .rev()
                    .filter(|r| cursor.is_none_or(|c| key(r) > (c.sold_on, c.id)))
                    .collect();
                let has_more = before.len() > size;
                before.truncate(size);
                before.reverse();
                Page { rows: before, has_more }
            }
        }
    }

    /// The rows grouped into months, each as [`sales::rows_between`] would read it.
    fn months_of(rows: &[sale::Model]) -> BTreeMap<i32, Arc<MonthRows>> {
        let mut by_month: BTreeMap<i32, Vec<sale::Model>> = BTreeMap::new();
        for row in rows {
            by_month.entry(crate::cube::month_index(row.sold_on)).or_default().push(row.clone());
        }
        by_month
            .into_iter()
            .map(|(month, mut rows)| {
                rows.sort_by_key(|r| std::cmp::Reverse((r.sold_on, r.id)));
                (month, Arc::new(MonthRows::from_rows(month, rows).unwrap()))
            })
            .collect()
    }

    fn page_of(
        months: &BTreeMap<i32, Arc<MonthRows>>,
        filter: &ResolvedFilter,
        direction: Direction,
        cursor: Option<SaleCursor>,
        size: u64,
    ) -> Option<Page> {
        let (first, last) = (*months.keys().next().unwrap(), *months.keys().last().unwrap());
        let held = |month: i32| match months.get(&month) {
            Some(rows) => HeldRows::Held(rows.clone()),
            None => HeldRows::NoSales,
        };
        page(held, first..=last, filter, direction, cursor, size)
    }

    fn sample() -> Vec<sale::Model> {
        // Three months with a gap (April has no sales), ties on days broken by id.
        let mut rows = Vec::new();
        let days =
            [date(2024, 3, 1), date(2024, 3, 31), date(2024, 5, 2), date(2024, 5, 2), date(2024, 6, 15)];
        for (index, day) in days.iter().cycle().take(40).enumerate() {
            let id = index as i64 * 7 % 41 + 1;
            let country = ["DE", "FR", "GB"][index % 3];
            let fuel = [FuelType::Petrol, FuelType::Electric][index % 2];
            rows.push(sale(id, *day, (index % 4) as i32 + 1, country, fuel));
        }
        rows
    }

    #[test]
    fn rows_come_back_as_the_database_gave_them() {
        let rows = sample();
        let months = months_of(&rows);
        let everything = page_of(&months, &ResolvedFilter::default(), Direction::Forward, None, 100).unwrap();
        let mut expected = rows.clone();
        expected.sort_by_key(|r| std::cmp::Reverse((r.sold_on, r.id)));
        assert_eq!(everything.rows, expected, "every column, nulls included");
        assert!(!everything.has_more);
        let march = &months[&(2024 * 12 + 2)];
        assert_eq!(march.totals().rows, 16);
        assert_eq!(march.span().rows, 16);
        assert!(march.bytes() > 16 * 40);
    }

    #[test]
    fn pages_match_the_sorted_filtered_rows() {
        let rows = sample();
        let months = months_of(&rows);
        let filters = [
            ResolvedFilter::default(),
            ResolvedFilter { countries: Some(["DE".to_string()].into()), ..Default::default() },
            ResolvedFilter {
                from: Some(date(2024, 3, 31)),
                to: Some(date(2024, 5, 2)),
                fuel_types: Some([FuelType::Electric].into()),
                ..Default::default()
            },
            ResolvedFilter {
                model_ids: Some([2, 3].into()),
                countries: Some(BTreeSet::new()),
                ..Default::default()
            },
        ];
        for filter in &filters {
            for direction in [Direction::Forward, Direction::Backward] {
                for cursor in [None, Some(SaleCursor { sold_on: date(2024, 5, 2), id: 20 })] {
                    for size in [1, 3, 100] {
                        let got = page_of(&months, filter, direction, cursor, size).unwrap();
                        assert_eq!(
                            got,
                            reference(&rows, filter, direction, cursor, size as usize),
                            "{filter:?} {direction:?} {cursor:?} {size}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_month_not_held_sends_the_page_to_the_database() {
        let rows = sample();
        let months = months_of(&rows);
        let march = 2024 * 12 + 2;
        let held = |month: i32| match months.get(&month) {
            _ if month == march => HeldRows::NotHeld,
            Some(rows) => HeldRows::Held(rows.clone()),
            None => HeldRows::NoSales,
        };
        let all = ResolvedFilter::default();
        let range = march..=2024 * 12 + 5;
        // The newest 5 rows lie in June and May: March is not needed.
        assert!(page(held, range.clone(), &all, Direction::Forward, None, 5).is_some());
        // Every row: March is needed.
        assert!(page(held, range.clone(), &all, Direction::Forward, None, 100).is_none());
        // A filter that ends before March needs only what is held.
        let late = ResolvedFilter { from: Some(date(2024, 4, 1)), ..Default::default() };
        assert_eq!(
            page(held, range, &late, Direction::Forward, None, 100).unwrap(),
            reference(&rows, &late, Direction::Forward, None, 100)
        );
    }

    #[test]
    fn rows_out_of_order_or_outside_the_month_are_refused() {
        let march = 2024 * 12 + 2;
        let a = sale(1, date(2024, 3, 5), 1, "DE", FuelType::Petrol);
        let b = sale(2, date(2024, 3, 5), 1, "DE", FuelType::Petrol);
        assert!(MonthRows::from_rows(march, vec![b.clone(), a.clone()]).is_ok());
        assert!(MonthRows::from_rows(march, vec![a.clone(), b]).unwrap_err().contains("order"));
        let april = sale(3, date(2024, 4, 1), 1, "DE", FuelType::Petrol);
        assert!(MonthRows::from_rows(march, vec![april]).unwrap_err().contains("outside"));
        let mut odd = a;
        odd.fuel_type = "STEAM".into();
        assert!(MonthRows::from_rows(march, vec![odd]).unwrap_err().contains("STEAM"));
    }

    /// Month, day, model, market, fuel, gearbox.
    type GroupKey = (i32, u32, i32, String, String, String);

    fn arbitrary_rows() -> impl Strategy<Value = Vec<sale::Model>> {
        proptest::collection::vec((0u32..90, 1i32..4, 0usize..3, any::<bool>()), 0..120).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(index, (day, model, country, electric))| {
                    let fuel = if electric { FuelType::Electric } else { FuelType::Petrol };
                    let sold_on = date(2024, 1, 1) + chrono::Days::new(u64::from(day));
                    sale(index as i64 + 1, sold_on, model, ["DE", "FR", "US"][country], fuel)
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn any_page_equals_the_reference(
            rows in arbitrary_rows(),
            backward in any::<bool>(),
            cursor in proptest::option::of((0usize..1_000, any::<bool>(), 0u32..90, 0i64..130)),
            size in 1u64..30,
            country in proptest::option::of(0usize..3),
            range in proptest::option::of((0u32..90, 0u32..90)),
        ) {
            prop_assume!(!rows.is_empty());
            let months = months_of(&rows);
            let day = |d: u32| date(2024, 1, 1) + chrono::Days::new(u64::from(d));
            let filter = ResolvedFilter {
                countries: country.map(|c| [["DE", "FR", "US"][c].to_string()].into()),
                from: range.map(|(a, b)| day(a.min(b))),
                to: range.map(|(a, b)| day(a.max(b))),
                ..Default::default()
            };
            let direction = if backward { Direction::Backward } else { Direction::Forward };
            // Mostly a row's own cursor, as clients send them; sometimes any position.
            let cursor = cursor.map(|(row, own, d, id)| match own {
                true => SaleCursor::of(&rows[row % rows.len()]),
                false => SaleCursor { sold_on: day(d), id },
            });
            let got = page_of(&months, &filter, direction, cursor, size).unwrap();
            prop_assert_eq!(got, reference(&rows, &filter, direction, cursor, size as usize));
        }

        #[test]
        fn day_groups_sum_the_rows_as_the_database_groups_them(rows in arbitrary_rows()) {
            // The sample rows leave every third revenue out: those count in units and rows only.
            let mut expected: BTreeMap<GroupKey, (i64, i64, i64, i64)> = BTreeMap::new();
            for row in &rows {
                let key = (
                    crate::cube::month_index(row.sold_on),
                    row.sold_on.day(),
                    row.model_id,
                    row.country_code.clone(),
                    row.fuel_type.clone(),
                    row.transmission.clone(),
                );
                let sums = expected.entry(key).or_default();
                sums.0 += i64::from(row.units);
                sums.3 += 1;
                if let Some(revenue) = row.revenue {
                    sums.1 += revenue.round() as i64;
                    sums.2 += i64::from(row.units);
                }
            }
            let mut got = BTreeMap::new();
            for (month, held) in months_of(&rows) {
                let groups = held.day_groups();
                prop_assert!(groups.windows(2).all(|pair| pair[0].day <= pair[1].day), "sorted by day");
                for group in groups {
                    let key = (
                        month,
                        group.day,
                        group.model_id,
                        group.country_code,
                        group.fuel_type.as_str().to_string(),
                        group.transmission.as_str().to_string(),
                    );
                    let sums = (group.sums.units, group.sums.revenue.round() as i64, group.sums.priced_units, group.sums.rows);
                    prop_assert!(got.insert(key, sums).is_none(), "one group per key");
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
