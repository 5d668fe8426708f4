//! The columnar in-memory view for analytics: the monthly rollup held as plain vectors of coded
//! columns (markets by position in a dictionary, fuels and gearboxes by code; regions and body
//! types looked up from markets and models). Its size follows the rollup (months × models ×
//! markets × fuels × gearboxes), not the number of sale rows; it is rebuilt after every ingest.
//! Summaries read its columns as slices in tight loops (`crate::summary`): at a dashboard's sizes
//! a per-request query plan cost more than the sums themselves. Coarser levels of the same rows,
//! summed ahead (`levels`), let a summary read only as many rows as its dimensions need.

pub mod daily;
mod held_months;
mod levels;
pub mod recent_rows;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbErr, Statement};

use rustc_hash::FxHashMap;

use self::daily::DailyGroups;
use self::held_months::MonthTotals;
pub use self::levels::{Level, LevelDimensions};
use self::recent_rows::{HeldRows, RecentRows};
use crate::domain::{DatePrecision, FuelType, Month, ParseEnumError, ResolvedFilter, Transmission};

#[derive(Debug, thiserror::Error)]
pub enum CubeError {
    #[error("database error while loading the cube: {0}")]
    Database(#[from] DbErr),
    #[error("the rollup cannot be loaded: {0}")]
    Invalid(String),
}

/// Month index of a date ([`Month::index`]): what the cube's month column holds.
pub fn month_index(date: chrono::NaiveDate) -> i32 {
    Month::of(date).index()
}

/// First day of the month with the given index.
pub fn month_date(index: i32) -> Option<chrono::NaiveDate> {
    Month::from_index(index).first_day()
}

/// A month index as people write it (2024-03), for logs and messages.
pub fn month_label(index: i32) -> String {
    Month::from_index(index).to_string()
}

/// The cube's names for its dimensions: market codes by position, each market's region and each
/// model's body type. The catalogue's, read with the rollup: groups name markets by code here,
/// and regions and body types are looked up rather than stored per group.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    countries: Vec<String>,
    country_codes: FxHashMap<String, u32>,
    region_of_country: Vec<u32>,
    regions: Vec<String>,
    body_of_model: FxHashMap<i32, u32>,
    /// `body_of_model` as an array by id (ids are small: the catalogue's serial numbers), with
    /// `u32::MAX` for none; empty when some id is too large for that.
    body_by_model_id: Vec<u32>,
    bodies: Vec<String>,
}

fn intern(names: &mut Vec<String>, name: &str) -> u32 {
    match names.iter().position(|n| n == name) {
        Some(index) => index as u32,
        None => {
            names.push(name.to_string());
            names.len() as u32 - 1
        }
    }
}

impl Dictionary {
    /// From each market's (code, region) and each model's (id, body type).
    pub fn new<'a>(
        countries: impl IntoIterator<Item = (&'a str, &'a str)>,
        models: impl IntoIterator<Item = (i32, &'a str)>,
    ) -> Self {
        let mut dictionary = Self::default();
        for (code, region) in countries {
            dictionary.add_country(code, region);
        }
        for (id, body) in models {
            let body = intern(&mut dictionary.bodies, body);
            dictionary.body_of_model.insert(id, body);
        }
        if let Some(max) = dictionary.max_model_id().filter(|max| (0..=65_535).contains(max)) {
            dictionary.body_by_model_id = vec![u32::MAX; max as usize + 1];
            for (id, body) in &dictionary.body_of_model {
                if let Ok(id) = usize::try_from(*id) {
                    dictionary.body_by_model_id[id] = *body;
                }
            }
        }
        dictionary
    }

    fn add_country(&mut self, code: &str, region: &str) -> u32 {
        if let Some(known) = self.country_codes.get(code) {
            return *known;
        }
        let region = intern(&mut self.regions, region);
        self.countries.push(code.to_string());
        self.region_of_country.push(region);
        let index = self.countries.len() as u32 - 1;
        self.country_codes.insert(code.to_string(), index);
        index
    }

    /// The position of a market code.
    pub fn country(&self, code: &str) -> Option<u32> {
        self.country_codes.get(code).copied()
    }

    pub fn countries(&self) -> &[String] {
        &self.countries
    }

    pub fn country_code(&self, country: u32) -> Option<&str> {
        self.countries.get(country as usize).map(String::as_str)
    }

    pub fn region_of(&self, country: u32) -> Option<u32> {
        self.region_of_country.get(country as usize).copied()
    }

    pub fn region_name(&self, region: u32) -> Option<&str> {
        self.regions.get(region as usize).map(String::as_str)
    }

    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    pub fn bodies(&self) -> &[String] {
        &self.bodies
    }

    #[inline]
    pub fn body_of(&self, model_id: i32) -> Option<u32> {
        match usize::try_from(model_id).ok().and_then(|id| self.body_by_model_id.get(id)) {
            Some(body) => (*body != u32::MAX).then_some(*body),
            None => self.body_of_model.get(&model_id).copied(),
        }
    }

    /// The largest model id named.
    pub fn max_model_id(&self) -> Option<i32> {
        self.body_of_model.keys().max().copied()
    }

    pub fn body_name(&self, body: u32) -> Option<&str> {
        self.bodies.get(body as usize).map(String::as_str)
    }
}

async fn load_coarse_dated<C: ConnectionTrait>(db: &C) -> Result<Vec<CoarseDatedGroup>, CubeError> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT month, model_id, country_code, fuel_type, transmission, date_precision, units, \
             revenue, priced_units, row_count FROM coarse_dated_rollup ORDER BY month",
        ))
        .await?;
    let invalid = |e: ParseEnumError| CubeError::Invalid(e.to_string());
    rows.iter()
        .map(|row| {
            let month: chrono::NaiveDate = row.try_get_by_index(0)?;
            Ok(CoarseDatedGroup {
                month: month_index(month),
                model_id: row.try_get_by_index(1)?,
                country: row.try_get_by_index(2)?,
                fuel_type: row.try_get_by_index::<String>(3)?.parse().map_err(invalid)?,
                transmission: row.try_get_by_index::<String>(4)?.parse().map_err(invalid)?,
                precision: row.try_get_by_index::<String>(5)?.parse().map_err(invalid)?,
                sums: Sums {
                    units: row.try_get_by_index(6)?,
                    revenue: row.try_get_by_index(7)?,
                    priced_units: row.try_get_by_index(8)?,
                    rows: row.try_get_by_index(9)?,
                },
            })
        })
        .collect()
}

/// The cube's columns as slices, row by row in month order, for the aggregation kernels.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSlices<'a> {
    pub month: &'a [i32],
    pub model_id: &'a [i32],
    /// Positions in the [`Dictionary`]'s markets.
    pub country: &'a [u32],
    /// [`FuelType::code`]s.
    pub fuel_type: &'a [u32],
    /// [`Transmission::code`]s.
    pub transmission: &'a [u32],
    pub units: &'a [i64],
    pub revenue: &'a [f64],
    pub priced_units: &'a [i64],
    pub rows: &'a [i64],
}

/// A [`ResolvedFilter`] turned into checks on coded values: a market by its position, a fuel
/// and a gearbox by bit, so that testing a group costs a few loads, not string comparisons.
#[derive(Debug, Clone)]
pub struct CodedFilter<'a> {
    filter: &'a ResolvedFilter,
    /// By market position; `None` keeps every market.
    countries: Option<Vec<bool>>,
    fuel_types: u32,
    transmissions: u32,
}

/// The codes of `values` as bits of a mask; every bit when there is no restriction.
pub(crate) fn bits<T: Copy>(values: &Option<std::collections::BTreeSet<T>>, code: impl Fn(T) -> u8) -> u32 {
    match values {
        Some(values) => values.iter().fold(0, |acc, v| acc | 1 << code(*v)),
        None => u32::MAX,
    }
}

impl<'a> CodedFilter<'a> {
    /// The filter over the dictionary's market positions.
    pub fn new(dictionary: &Dictionary, filter: &'a ResolvedFilter) -> Self {
        Self::over_markets(&dictionary.countries, filter)
    }

    /// The filter over positions in `markets`, a list of market codes (a dictionary's, or a
    /// month's own in the day groups and recent rows).
    pub fn over_markets(markets: &[String], filter: &'a ResolvedFilter) -> Self {
        let countries =
            filter.countries.as_ref().map(|codes| markets.iter().map(|code| codes.contains(code)).collect());
        Self {
            filter,
            countries,
            fuel_types: bits(&filter.fuel_types, FuelType::code),
            transmissions: bits(&filter.transmissions, Transmission::code),
        }
    }

    /// Whether a group with these coded values passes; `country` is a dictionary position, or
    /// one after it that [`Self::admit_market`] decided.
    #[inline]
    pub fn keeps(&self, model_id: i32, country: u32, fuel_type: u32, transmission: u32) -> bool {
        self.keeps_others(model_id, fuel_type, transmission)
            && self
                .countries
                .as_ref()
                .is_none_or(|wanted| wanted.get(country as usize).copied().unwrap_or(false))
    }

    /// [`Self::keeps`] for row `row` of `facts`.
    #[inline]
    pub fn keeps_row(&self, facts: &ColumnSlices<'_>, row: usize) -> bool {
        self.keeps(facts.model_id[row], facts.country[row], facts.fuel_type[row], facts.transmission[row])
    }

    /// Whether the group's model, fuel and gearbox pass.
    #[inline]
    fn keeps_others(&self, model_id: i32, fuel_type: u32, transmission: u32) -> bool {
        self.fuel_types & (1 << fuel_type) != 0
            && self.transmissions & (1 << transmission) != 0
            && self.filter.model_ids.as_ref().is_none_or(|ids| ids.contains(&model_id))
    }

    /// [`Self::keeps`] for a group whose fuel and gearbox are not coded yet.
    #[inline]
    pub fn keeps_values(
        &self,
        model_id: i32,
        country: u32,
        fuel_type: FuelType,
        transmission: Transmission,
    ) -> bool {
        self.keeps(model_id, country, u32::from(fuel_type.code()), u32::from(transmission.code()))
    }

    /// [`Self::keeps_values`] for a group whose market is named by its code, when the filter
    /// was compiled over `dictionary` (which may lack the market).
    pub fn keeps_named(
        &self,
        dictionary: &Dictionary,
        model_id: i32,
        code: &str,
        fuel_type: FuelType,
        transmission: Transmission,
    ) -> bool {
        match dictionary.country(code) {
            Some(country) => self.keeps_values(model_id, country, fuel_type, transmission),
            None => {
                self.keeps_market(code)
                    && self.keeps_others(
                        model_id,
                        u32::from(fuel_type.code()),
                        u32::from(transmission.code()),
                    )
            }
        }
    }

    /// Whether a market the dictionary lacks passes.
    pub fn keeps_market(&self, code: &str) -> bool {
        self.filter.countries.as_ref().is_none_or(|codes| codes.contains(code))
    }

    /// Decides for a market the dictionary lacks, numbered `position` after it.
    pub fn admit_market(&mut self, position: u32, code: &str) {
        let keep = self.keeps_market(code);
        if let Some(wanted) = self.countries.as_mut() {
            if wanted.len() <= position as usize {
                wanted.resize(position as usize + 1, false);
            }
            wanted[position as usize] = keep;
        }
    }
}

/// What the day groups can tell of one month.
#[derive(Debug, Clone)]
pub enum HeldDays {
    /// The month has no sales as of this cube: nothing to sum.
    NoSales,
    Held(Arc<daily::MonthDays>),
    /// Not loaded, or not in step with this cube: ask the database.
    NotHeld,
}

#[derive(Clone)]
pub struct Cube {
    /// The data version the cube was loaded at.
    pub version: i64,
    /// The rollup's rows as loaded, sorted by month; dimensions coded (see [`ColumnSlices`]).
    base: Level,
    /// The same rows summed over some dimensions (see [`LevelDimensions::COARSER`]).
    coarser: Vec<Level>,
    dictionary: Arc<Dictionary>,
    /// What each month of the base level holds in all: its day groups are used while they match.
    month_totals: Vec<MonthTotals>,
    /// Sale rows by day for the partial months of day ranges, shared by every cube version.
    days: Arc<DailyGroups>,
    /// The newest months' sale rows for pages, shared by every cube version.
    recent: Arc<RecentRows>,
    /// The groups of rows dated only by quarter or year (counted in the rollup too, in their
    /// period's first month).
    coarse_dated: Arc<[CoarseDatedGroup]>,
}

/// What a group of sale rows adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub units: i64,
    /// Over the rows that had a price.
    pub revenue: f64,
    pub priced_units: i64,
    pub rows: i64,
}

impl std::ops::Neg for Sums {
    type Output = Sums;

    fn neg(self) -> Sums {
        Sums {
            units: -self.units,
            revenue: -self.revenue,
            priced_units: -self.priced_units,
            rows: -self.rows,
        }
    }
}

impl std::ops::AddAssign for Sums {
    #[inline]
    fn add_assign(&mut self, other: Self) {
        self.units += other.units;
        self.revenue += other.revenue;
        self.priced_units += other.priced_units;
        self.rows += other.rows;
    }
}

/// What one region's sales add up to, and the months they span (month indices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionSpan {
    pub sums: Sums,
    pub first_month: i32,
    pub last_month: i32,
}

/// One rollup group as loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupGroup {
    pub month: i32,
    pub model_id: i32,
    pub country: String,
    pub fuel_type: FuelType,
    pub transmission: Transmission,
    pub sums: Sums,
    /// Rows whose source gave only a month or a year.
    pub coarse_rows: i64,
}

/// Sale rows whose source gave only their quarter or year, summed by group: the rollup counts
/// them in their period's first month, so an answer finer than their period leaves them out.
#[derive(Debug, Clone, PartialEq)]
pub struct CoarseDatedGroup {
    /// The first month of their period (month index).
    pub month: i32,
    pub model_id: i32,
    pub country: String,
    pub fuel_type: FuelType,
    pub transmission: Transmission,
    pub precision: DatePrecision,
    pub sums: Sums,
}

impl Cube {
    pub fn empty(version: i64) -> Self {
        Self::from_groups(version, Dictionary::default(), Vec::new()).expect("no groups are in month order")
    }

    /// Loads the rollup. Reads the version first: if an ingest lands meanwhile, the cube is at
    /// worst newer than its version says, and the next refresh reloads it.
    pub async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, CubeError> {
        let version = crate::store::data_version::current(db).await?;
        let backend = db.get_database_backend();
        let countries = db
            .query_all_raw(Statement::from_string(backend, "SELECT code, region FROM country ORDER BY code"))
            .await?;
        let models = db
            .query_all_raw(Statement::from_string(backend, "SELECT id, body_type FROM car_model ORDER BY id"))
            .await?;
        let countries: Vec<(String, String)> = countries
            .iter()
            .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
            .collect::<Result<_, DbErr>>()?;
        let models: Vec<(i32, String)> = models
            .iter()
            .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
            .collect::<Result<_, DbErr>>()?;
        let dictionary = Dictionary::new(
            countries.iter().map(|(code, region)| (code.as_str(), region.as_str())),
            models.iter().map(|(id, body)| (*id, body.as_str())),
        );
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT month, model_id, country_code, fuel_type, transmission, units, revenue, \
                 priced_units, row_count, coarse_rows FROM monthly_rollup ORDER BY month",
            ))
            .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in rows {
            let month: chrono::NaiveDate = row.try_get_by_index(0)?;
            let fuel: String = row.try_get_by_index(3)?;
            let transmission: String = row.try_get_by_index(4)?;
            groups.push(RollupGroup {
                month: month_index(month),
                model_id: row.try_get_by_index(1)?,
                country: row.try_get_by_index(2)?,
                fuel_type: fuel.parse().map_err(|e: ParseEnumError| CubeError::Invalid(e.to_string()))?,
                transmission: transmission
                    .parse()
                    .map_err(|e: ParseEnumError| CubeError::Invalid(e.to_string()))?,
                sums: Sums {
                    units: row.try_get_by_index(5)?,
                    revenue: row.try_get_by_index(6)?,
                    priced_units: row.try_get_by_index(7)?,
                    rows: row.try_get_by_index(8)?,
                },
                coarse_rows: row.try_get_by_index(9)?,
            });
        }
        let coarse_dated = load_coarse_dated(db).await?;
        Ok(Self::from_groups(version, dictionary, groups)?.with_coarse_dated(coarse_dated))
    }

    /// A cube of `groups`, which must come sorted by month; a market the dictionary lacks is
    /// added to it without a region.
    pub fn from_groups(
        version: i64,
        mut dictionary: Dictionary,
        groups: Vec<RollupGroup>,
    ) -> Result<Self, CubeError> {
        if groups.windows(2).any(|w| w[0].month > w[1].month) {
            return Err(CubeError::Invalid("rollup groups must come sorted by month".into()));
        }
        let mut month_totals: Vec<MonthTotals> = Vec::new();
        let mut c = Columns::with_capacity(groups.len());
        for group in groups {
            if c.month.last() != Some(&group.month) {
                month_totals.push(MonthTotals::default());
            }
            if let Some(totals) = month_totals.last_mut() {
                totals.rows += group.sums.rows;
                totals.units += group.sums.units;
            }
            let country = match dictionary.country(&group.country) {
                Some(known) => known,
                None => dictionary.add_country(&group.country, ""),
            };
            c.month.push(group.month);
            c.model_id.push(group.model_id);
            c.country.push(country);
            c.fuel_type.push(u32::from(group.fuel_type.code()));
            c.transmission.push(u32::from(group.transmission.code()));
            c.units.push(group.sums.units);
            c.revenue.push(group.sums.revenue);
            c.priced_units.push(group.sums.priced_units);
            c.rows.push(group.sums.rows);
            c.coarse_rows.push(group.coarse_rows);
        }
        let base = Level::from_columns(LevelDimensions::ALL, c);
        let coarser = LevelDimensions::COARSER.iter().map(|kept| base.coarsen(*kept)).collect();
        Ok(Self {
            version,
            base,
            coarser,
            dictionary: Arc::new(dictionary),
            month_totals,
            days: DailyGroups::new(),
            recent: RecentRows::new(),
            coarse_dated: Arc::new([]),
        })
    }

    /// This cube with the groups of rows dated only by quarter or year.
    pub fn with_coarse_dated(mut self, groups: Vec<CoarseDatedGroup>) -> Self {
        self.coarse_dated = groups.into();
        self
    }

    /// The groups of rows dated only by quarter or year, by month.
    pub fn coarse_dated(&self) -> &[CoarseDatedGroup] {
        &self.coarse_dated
    }

    /// This cube with the day groups `days` (carried over from the cube before it).
    pub fn with_days(mut self, days: Arc<DailyGroups>) -> Self {
        self.days = days;
        self
    }

    pub fn days(&self) -> &Arc<DailyGroups> {
        &self.days
    }

    /// This cube with the recent sale rows `recent` (carried over from the cube before it).
    pub fn with_recent(mut self, recent: Arc<RecentRows>) -> Self {
        self.recent = recent;
        self
    }

    pub fn recent(&self) -> &Arc<RecentRows> {
        &self.recent
    }

    /// A page of sale rows cut from memory, when every month it needs is held and in step with
    /// this cube (see [`recent_rows`]); `None` sends it to the database. Going forward,
    /// `window_start` is [`Self::page_window`]'s answer for the page (`None`: back to the first
    /// month): when its month is not held, the rows would be scanned only to be read from the
    /// database after all.
    pub fn recent_page(
        &self,
        filter: &ResolvedFilter,
        direction: crate::store::sales::Direction,
        cursor: Option<crate::store::sales::SaleCursor>,
        size: u64,
        window_start: Option<chrono::NaiveDate>,
    ) -> Option<crate::store::sales::Page> {
        use crate::store::sales::Direction;
        if self.recent.checked_version() != self.version {
            return None;
        }
        let months = self.base.month_starts();
        let (first, last) = (months.first()?.0, months.last()?.0);
        if direction == Direction::Forward {
            let start = cursor.map_or(last, |c| month_index(c.sold_on).min(last));
            let needed = window_start.map_or(first, month_index).max(filter.from.map_or(first, month_index));
            if self.recent.oldest_month().is_none_or(|oldest| oldest > needed.min(start)) {
                return None;
            }
        }
        let held = |month: i32| match months.binary_search_by_key(&month, |(m, _)| *m) {
            Ok(index) => match self.recent.current(month, self.month_totals[index]) {
                Some(rows) => HeldRows::Held(rows),
                None => HeldRows::NotHeld,
            },
            Err(_) => HeldRows::NoSales,
        };
        recent_rows::page(held, first..=last, filter, direction, cursor, size)
    }

    pub fn dictionary(&self) -> &Dictionary {
        &self.dictionary
    }

    /// The base level's columns as slices.
    pub fn facts(&self) -> ColumnSlices<'_> {
        self.base.facts()
    }

    /// The base level's rows of the months `first..=last` (month indices).
    pub fn month_rows(&self, first: i32, last: i32) -> std::ops::Range<usize> {
        self.base.month_rows(first, last)
    }

    /// The smallest level that keeps apart what `needed` says: the base level when nothing
    /// coarser does.
    pub fn level(&self, needed: LevelDimensions) -> &Level {
        self.coarser
            .iter()
            .filter(|level| level.kept().covers(needed))
            .min_by_key(|level| level.len())
            .filter(|level| level.len() < self.base.len())
            .unwrap_or(&self.base)
    }

    /// Each month with sales and what it holds in all, oldest first.
    pub fn month_totals(&self) -> Vec<(i32, MonthTotals)> {
        self.base.month_starts().iter().map(|(m, _)| *m).zip(self.month_totals.iter().copied()).collect()
    }

    /// The day groups of the month `month`, when loaded and in step with this cube.
    pub fn held_days(&self, month: i32) -> HeldDays {
        match self.base.month_starts().binary_search_by_key(&month, |(m, _)| *m) {
            Ok(index) => match self.days.current(month, self.month_totals[index]) {
                Some(days) => HeldDays::Held(days),
                None => HeldDays::NotHeld,
            },
            Err(_) => HeldDays::NoSales,
        }
    }

    /// The first month with sales, if any.
    pub fn first_month(&self) -> Option<chrono::NaiveDate> {
        self.base.month_starts().first().and_then(|(month, _)| month_date(*month))
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
        let level = self.level(LevelDimensions::needed_by(filter));
        let facts = level.facts();
        let coded = CodedFilter::new(&self.dictionary, filter);
        let mut found: u64 = 0;
        let months = level.month_starts();
        let last = months.partition_point(|(m, _)| *m <= from_month);
        for index in (0..last).rev() {
            let (month, start) = months[index];
            if month == from_month {
                continue;
            }
            let end = months.get(index + 1).map_or(level.len(), |(_, r)| *r);
            found += (start..end)
                .filter(|&row| coded.keeps_row(&facts, row))
                .map(|row| facts.rows[row] as u64)
                .sum::<u64>();
            if found >= rows {
                return month_date(month);
            }
        }
        None
    }

    /// Per region (by name): what its rows add up to, and its first and last month with sales
    /// (month indices).
    pub fn region_spans(&self) -> std::collections::BTreeMap<String, RegionSpan> {
        let mut spans = std::collections::BTreeMap::new();
        let facts = self.base.facts();
        let mut by_position: rustc_hash::FxHashMap<u32, RegionSpan> = rustc_hash::FxHashMap::default();
        for row in 0..facts.month.len() {
            let Some(region) = self.dictionary.region_of(facts.country[row]) else { continue };
            let month = facts.month[row];
            let span = by_position.entry(region).or_insert(RegionSpan {
                sums: Sums::default(),
                first_month: month,
                last_month: month,
            });
            span.sums += Sums {
                units: facts.units[row],
                revenue: facts.revenue[row],
                priced_units: facts.priced_units[row],
                rows: facts.rows[row],
            };
            span.first_month = span.first_month.min(month);
            span.last_month = span.last_month.max(month);
        }
        for (position, span) in by_position {
            if let Some(name) = self.dictionary.region_name(position) {
                spans.insert(name.to_string(), span);
            }
        }
        spans
    }

    /// Rollup groups held.
    pub fn len(&self) -> usize {
        self.base.len()
    }

    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// Approximate heap bytes of every level's columns.
    pub fn estimated_bytes(&self) -> usize {
        self.base.estimated_bytes() + self.coarser.iter().map(Level::estimated_bytes).sum::<usize>()
    }

    /// Units over the whole cube (a cheap consistency check against the sale table).
    pub fn total_units(&self) -> i64 {
        self.facts().units.iter().sum()
    }
}

/// A level's coded columns, one value per group of a month; the month column holds month
/// indices ([`Month::index`]), the country column positions in the [`Dictionary`]'s markets.
#[derive(Default, Clone)]
struct Columns {
    month: Vec<i32>,
    model_id: Vec<i32>,
    country: Vec<u32>,
    fuel_type: Vec<u32>,
    transmission: Vec<u32>,
    units: Vec<i64>,
    revenue: Vec<f64>,
    priced_units: Vec<i64>,
    rows: Vec<i64>,
    coarse_rows: Vec<i64>,
}

impl Columns {
    fn heap_bytes(&self) -> usize {
        let per_row = 2 * size_of::<i32>() + 3 * size_of::<u32>() + 4 * size_of::<i64>() + size_of::<f64>();
        self.month.capacity() * per_row
    }

    fn with_capacity(n: usize) -> Self {
        Self {
            month: Vec::with_capacity(n),
            model_id: Vec::with_capacity(n),
            country: Vec::with_capacity(n),
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

    /// A rollup group of `rows` rows (and as many units) of model 1, petrol, automatic.
    pub(crate) fn group(month: i32, model_id: i32, country: &str, rows: i64) -> RollupGroup {
        RollupGroup {
            month,
            model_id,
            country: country.into(),
            fuel_type: FuelType::Petrol,
            transmission: Transmission::Automatic,
            sums: Sums { units: rows, revenue: rows as f64 * 1000.0, priced_units: rows, rows },
            coarse_rows: 0,
        }
    }

    pub(crate) fn europe() -> Dictionary {
        Dictionary::new([("DE", "Europe"), ("FR", "Europe"), ("US", "Americas")], [(1, "SUV"), (2, "SEDAN")])
    }

    #[test]
    fn a_page_window_reaches_back_just_far_enough() {
        let month = |m: u32| month_index(chrono::NaiveDate::from_ymd_opt(2024, m, 1).unwrap());
        // Jan: DE 5 rows, FR 50; Feb: DE 7; Mar: DE 2, FR 1; Apr: DE 1 (the cursor's month).
        let groups = [(1, "DE", 5), (1, "FR", 50), (2, "DE", 7), (3, "DE", 2), (3, "FR", 1), (4, "DE", 1)];
        let groups = groups.iter().map(|(m, country, rows)| group(month(*m), 1, country, *rows)).collect();
        let cube = Cube::from_groups(1, europe(), groups).unwrap();
        let germany = ResolvedFilter { countries: Some(["DE".to_string()].into()), ..Default::default() };
        let day = |m: u32| chrono::NaiveDate::from_ymd_opt(2024, m, 1);
        // April itself is not counted: March's 2 and February's 7 make 9.
        assert_eq!(cube.page_window(&germany, month(4), 2), day(3));
        assert_eq!(cube.page_window(&germany, month(4), 9), day(2));
        assert_eq!(cube.page_window(&germany, month(4), 10), day(1));
        assert_eq!(cube.page_window(&germany, month(4), 15), None, "fewer rows than asked for in all");
        assert_eq!(cube.page_window(&ResolvedFilter::default(), month(4), 60), day(1));
        assert_eq!(cube.page_window(&ResolvedFilter::default(), month(3), 7), day(2));
        let electric = ResolvedFilter { fuel_types: Some([FuelType::Electric].into()), ..Default::default() };
        assert_eq!(cube.page_window(&electric, month(4), 1), None, "no electric rows at all");
    }

    #[test]
    fn month_ranges_are_row_slices() {
        let groups =
            vec![group(10, 1, "DE", 1), group(10, 2, "FR", 1), group(12, 1, "DE", 1), group(15, 1, "DE", 1)];
        let cube = Cube::from_groups(1, europe(), groups).unwrap();
        assert_eq!(cube.month_rows(10, 10), 0..2);
        assert_eq!(cube.month_rows(11, 12), 2..3);
        assert_eq!(cube.month_rows(13, 14), 3..3);
        assert_eq!(cube.month_rows(i32::MIN, i32::MAX), 0..4);
        assert_eq!(cube.month_rows(16, 20), 4..4);
        assert!(Cube::from_groups(1, europe(), vec![group(12, 1, "DE", 1), group(10, 1, "DE", 1)]).is_err());
    }

    #[test]
    fn coded_filters_keep_what_the_filter_names() {
        let dictionary = europe();
        let de = dictionary.country("DE").unwrap();
        let us = dictionary.country("US").unwrap();
        let petrol = u32::from(FuelType::Petrol.code());
        let electric = u32::from(FuelType::Electric.code());
        let auto = u32::from(Transmission::Automatic.code());
        let everything = ResolvedFilter::default();
        assert!(CodedFilter::new(&dictionary, &everything).keeps(7, us, electric, auto));
        let narrow = ResolvedFilter {
            countries: Some(["DE".to_string(), "XX".to_string()].into()),
            model_ids: Some([1].into()),
            fuel_types: Some([FuelType::Petrol].into()),
            transmissions: Some([Transmission::Automatic].into()),
            ..Default::default()
        };
        let coded = CodedFilter::new(&dictionary, &narrow);
        assert!(coded.keeps(1, de, petrol, auto));
        assert!(!coded.keeps(2, de, petrol, auto), "model");
        assert!(!coded.keeps(1, us, petrol, auto), "market");
        assert!(!coded.keeps(1, de, electric, auto), "fuel");
        assert!(!coded.keeps(1, de, petrol, u32::from(Transmission::Manual.code())), "gearbox");
        assert!(!coded.keeps(1, 99, petrol, auto), "a position beyond the dictionary");
        assert!(coded.keeps_market("XX") && !coded.keeps_market("YY"));
    }

    #[test]
    fn the_dictionary_names_regions_and_bodies() {
        let mut dictionary = europe();
        let fr = dictionary.country("FR").unwrap();
        assert_eq!(dictionary.country_code(fr), Some("FR"));
        assert_eq!(dictionary.region_of(fr).and_then(|r| dictionary.region_name(r)), Some("Europe"));
        assert_eq!(dictionary.region_of(dictionary.country("DE").unwrap()), dictionary.region_of(fr));
        assert_eq!(dictionary.body_of(2).and_then(|b| dictionary.body_name(b)), Some("SEDAN"));
        assert_eq!(dictionary.body_of(3), None);
        assert_eq!(dictionary.add_country("FR", "Elsewhere"), fr, "a known market keeps its place");
    }

    #[test]
    fn empty_cube_has_the_schema() {
        let cube = Cube::empty(3);
        assert!(cube.is_empty());
        assert_eq!(cube.total_units(), 0);
        assert!(cube.facts().month.is_empty());
        assert_eq!(cube.month_rows(i32::MIN, i32::MAX), 0..0);
    }
}
