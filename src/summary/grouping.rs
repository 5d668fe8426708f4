//! The summary kernel: sums coded facts (cube rows, day groups, rows read from the database)
//! into the groups a request asks for, in one pass with a hash map keyed by small integers.
//! Names (market codes, regions, body types) are looked up only for the groups that come out.

use std::cmp::Ordering;
use std::ops::Range;

use rustc_hash::FxHashMap;

use super::{AggregateRow, Dimension, Granularity, Metric, SortOrder, SummaryRequest};
use crate::cube::daily::MonthDays;
use crate::cube::{CodedFilter, ColumnSlices, Dictionary, Sums, month_date};
use crate::domain::{FuelType, ResolvedFilter, Transmission};
use crate::store::catalogue::Catalogue;
use crate::store::sales::EdgeGroup;

/// A group's coded dimensions; those not grouped by stay zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct GroupKey {
    period: i32,
    model_id: i32,
    country: u32,
    region: u32,
    body: u32,
    fuel_type: u8,
    transmission: u8,
}

/// Which dimensions a request groups by.
#[derive(Debug, Clone, Copy, Default)]
struct GroupedBy {
    period: bool,
    model: bool,
    country: bool,
    region: bool,
    body: bool,
    fuel_type: bool,
    transmission: bool,
}

impl GroupedBy {
    fn new(dims: &[Dimension]) -> Self {
        let has = |d: Dimension| dims.contains(&d);
        Self {
            period: has(Dimension::Period),
            model: has(Dimension::Model),
            country: has(Dimension::Country),
            region: has(Dimension::Region),
            body: has(Dimension::BodyType),
            fuel_type: has(Dimension::FuelType),
            transmission: has(Dimension::Transmission),
        }
    }

    fn any(&self) -> bool {
        self.period
            || self.model
            || self.country
            || self.region
            || self.body
            || self.fuel_type
            || self.transmission
    }
}

/// Names beyond the cube's dictionary, numbered after it: markets and models that rows newer
/// than the cube name (read from the database), named from the catalogue.
#[derive(Debug, Default)]
struct Extras {
    countries: Vec<String>,
    region_of_country: Vec<u32>,
    regions: Vec<String>,
    bodies: Vec<String>,
    body_of_model: FxHashMap<i32, u32>,
}

/// The position of `name` in `base`, or after it in `extras` (added there if new).
fn position_or_push(base: &[String], extras: &mut Vec<String>, name: &str) -> u32 {
    if let Some(index) = base.iter().position(|n| n == name) {
        return index as u32;
    }
    let index = match extras.iter().position(|n| n == name) {
        Some(index) => index,
        None => {
            extras.push(name.to_string());
            extras.len() - 1
        }
    };
    (base.len() + index) as u32
}

/// `names[position]`, or `extras[position - names.len()]`.
fn name_at<'n>(names: &'n [String], extras: &'n [String], position: u32) -> Option<&'n str> {
    let position = position as usize;
    names.get(position).or_else(|| extras.get(position.checked_sub(names.len())?)).map(String::as_str)
}

/// Groups whose keys fit a small space are summed into an array indexed by the key (a few
/// loads and adds a fact) rather than a hash map: most dashboard groupings have tens to a few
/// thousand possible groups. Larger spaces, and facts outside the space (markets or models
/// newer than the cube), go to the hash map.
const DENSE_SLOTS: u64 = 16_384;

/// The array of [`Grouper`]'s small key spaces: each key field is a digit of a mixed-radix
/// number, a field not grouped by has radix 1.
#[derive(Debug)]
struct DenseSlots {
    /// Radices of period, model id, market, region, body, fuel, gearbox.
    radix: [u32; 7],
    /// What one step of each digit adds to the index.
    strides: [usize; 7],
    /// The first period of the span (its index is 0).
    first_period: i32,
    step: i32,
    sums: Vec<Sums>,
}

impl DenseSlots {
    fn new(radix: [u32; 7], first_period: i32, step: i32) -> Option<Self> {
        let size = radix.iter().try_fold(1u64, |size, r| size.checked_mul(u64::from(*r)))?;
        (size > 0 && size <= DENSE_SLOTS).then(|| {
            let mut strides = [1usize; 7];
            for i in (0..6).rev() {
                strides[i] = strides[i + 1] * radix[i + 1] as usize;
            }
            Self { radix, strides, first_period, step, sums: vec![Sums::default(); size as usize] }
        })
    }

    /// `value`'s part of a slot index as digit `field`, or `None` when out of the space.
    #[inline]
    fn digit(&self, field: usize, value: u32) -> Option<usize> {
        (value < self.radix[field]).then(|| value as usize * self.strides[field])
    }

    /// The key of a slot, `by` saying which fields were grouped (the others stay zero).
    fn key(&self, mut index: usize, by: GroupedBy) -> GroupKey {
        let mut digits = [0u32; 7];
        for (digit, radix) in digits.iter_mut().zip(self.radix).rev() {
            *digit = (index % radix as usize) as u32;
            index /= radix as usize;
        }
        GroupKey {
            period: if by.period { self.first_period + digits[0] as i32 * self.step } else { 0 },
            model_id: digits[1] as i32,
            country: digits[2],
            region: digits[3],
            body: digits[4],
            fuel_type: digits[5] as u8,
            transmission: digits[6] as u8,
        }
    }
}

/// Sums facts into the groups of one request.
pub struct Grouper<'a> {
    dictionary: &'a Dictionary,
    catalogue: &'a Catalogue,
    filter: CodedFilter<'a>,
    by: GroupedBy,
    /// Months per period: 1, 3 or 12.
    step: i32,
    dense: Option<DenseSlots>,
    groups: FxHashMap<GroupKey, Sums>,
    extras: Extras,
}

impl<'a> Grouper<'a> {
    pub fn new(
        dictionary: &'a Dictionary,
        catalogue: &'a Catalogue,
        filter: &'a ResolvedFilter,
        dims: &[Dimension],
        granularity: Granularity,
    ) -> Self {
        let mut grouper = Self {
            dictionary,
            catalogue,
            filter: CodedFilter::new(dictionary, filter),
            by: GroupedBy::new(dims),
            step: granularity.months() as i32,
            dense: None,
            groups: FxHashMap::default(),
            extras: Extras::default(),
        };
        grouper.plan_dense(None);
        grouper
    }

    /// Says that the facts to come lie in the months `first..=last` (month indices): grouping
    /// by period then has a bounded key space too.
    pub fn with_months(mut self, first: i32, last: i32) -> Self {
        self.plan_dense(Some((first, last)));
        self
    }

    fn plan_dense(&mut self, months: Option<(i32, i32)>) {
        let by = self.by;
        let align = |month: i32| month - month.rem_euclid(self.step);
        let (first_period, periods) = match (by.period, months) {
            (false, _) => (0, 1),
            (true, Some((first, last))) if first <= last => {
                let (first, last) = (align(first), align(last));
                (
                    first,
                    u32::try_from((i64::from(last) - i64::from(first)) / i64::from(self.step) + 1)
                        .unwrap_or(u32::MAX),
                )
            }
            (true, _) => {
                self.dense = None;
                return;
            }
        };
        let count = |grouped: bool, n: usize| if grouped { u32::try_from(n).unwrap_or(u32::MAX) } else { 1 };
        let models = self.dictionary.max_model_id().map_or(0, |id| id.max(0) as usize + 1);
        let radix = [
            periods,
            count(by.model, models),
            count(by.country, self.dictionary.countries().len()),
            count(by.region, self.dictionary.regions().len()),
            count(by.body, self.dictionary.bodies().len()),
            count(by.fuel_type, FuelType::ALL.len()),
            count(by.transmission, Transmission::ALL.len()),
        ];
        self.dense = DenseSlots::new(radix, first_period, self.step);
    }

    /// The position of a market code: the dictionary's, or one numbered after it.
    pub fn country(&mut self, code: &str) -> u32 {
        if let Some(known) = self.dictionary.country(code) {
            return known;
        }
        let base = self.dictionary.countries().len();
        if let Some(index) = self.extras.countries.iter().position(|c| c == code) {
            return (base + index) as u32;
        }
        let region_name = self.catalogue.country_by_code(code).map_or("", |c| c.region.as_str()).to_string();
        let region = position_or_push(self.dictionary.regions(), &mut self.extras.regions, &region_name);
        self.extras.countries.push(code.to_string());
        self.extras.region_of_country.push(region);
        let position = (base + self.extras.countries.len() - 1) as u32;
        self.filter.admit_market(position, code);
        position
    }

    fn region_of(&self, country: u32) -> u32 {
        let base = self.dictionary.countries().len();
        self.dictionary
            .region_of(country)
            .or_else(|| self.extras.region_of_country.get((country as usize).checked_sub(base)?).copied())
            .unwrap_or(u32::MAX)
    }

    fn body_of(&mut self, model_id: i32) -> u32 {
        if let Some(body) = self.dictionary.body_of(model_id) {
            return body;
        }
        if let Some(body) = self.extras.body_of_model.get(&model_id) {
            return *body;
        }
        let name =
            self.catalogue.model_by_id(model_id).map_or("UNKNOWN", |m| m.body_type.as_str()).to_string();
        let body = position_or_push(self.dictionary.bodies(), &mut self.extras.bodies, &name);
        self.extras.body_of_model.insert(model_id, body);
        body
    }

    /// The array slot of a fact's group, when the array covers it (the dictionary names its
    /// market and model, and its period lies in the span).
    #[inline]
    fn dense_slot(
        &self,
        month: i32,
        model_id: i32,
        country: u32,
        fuel_type: u32,
        transmission: u32,
    ) -> Option<usize> {
        let dense = self.dense.as_ref()?;
        let by = self.by;
        let mut index = 0;
        if by.period {
            let offset = u32::try_from(month.checked_sub(dense.first_period)?).ok()?;
            let period = if dense.step == 1 { offset } else { offset / dense.step as u32 };
            index += dense.digit(0, period)?;
        }
        if by.model {
            index += dense.digit(1, u32::try_from(model_id).ok()?)?;
        }
        if by.country {
            index += dense.digit(2, country)?;
        }
        if by.region {
            index += dense.digit(3, self.dictionary.region_of(country)?)?;
        }
        if by.body {
            index += dense.digit(4, self.dictionary.body_of(model_id)?)?;
        }
        if by.fuel_type {
            index += dense.digit(5, fuel_type)?;
        }
        if by.transmission {
            index += dense.digit(6, transmission)?;
        }
        Some(index)
    }

    /// Adds one fact of the month with index `month`, if the filter keeps it.
    #[inline]
    pub fn add(
        &mut self,
        month: i32,
        model_id: i32,
        country: u32,
        fuel_type: u32,
        transmission: u32,
        sums: Sums,
    ) {
        if !self.filter.keeps(model_id, country, fuel_type, transmission) {
            return;
        }
        if let Some(slot) = self.dense_slot(month, model_id, country, fuel_type, transmission)
            && let Some(dense) = self.dense.as_mut()
        {
            dense.sums[slot] += sums;
            return;
        }
        let by = self.by;
        let key = if by.any() {
            GroupKey {
                period: if by.period { month - month.rem_euclid(self.step) } else { 0 },
                model_id: if by.model { model_id } else { 0 },
                country: if by.country { country } else { 0 },
                region: if by.region { self.region_of(country) } else { 0 },
                body: if by.body { self.body_of(model_id) } else { 0 },
                fuel_type: if by.fuel_type { fuel_type as u8 } else { 0 },
                transmission: if by.transmission { transmission as u8 } else { 0 },
            }
        } else {
            GroupKey::default()
        };
        *self.groups.entry(key).or_default() += sums;
    }

    /// Adds the cube rows `rows`.
    pub fn add_cube_rows(&mut self, facts: &ColumnSlices<'_>, rows: Range<usize>) {
        let rows = rows.start.min(facts.month.len())..rows.end.min(facts.month.len());
        // Equal-length slices let the loop run without a bounds check per column.
        let n = rows.len();
        let month = &facts.month[rows.clone()][..n];
        let model_id = &facts.model_id[rows.clone()][..n];
        let country = &facts.country[rows.clone()][..n];
        let fuel_type = &facts.fuel_type[rows.clone()][..n];
        let transmission = &facts.transmission[rows.clone()][..n];
        let units = &facts.units[rows.clone()][..n];
        let revenue = &facts.revenue[rows.clone()][..n];
        let priced_units = &facts.priced_units[rows.clone()][..n];
        let row_counts = &facts.rows[rows][..n];
        for i in 0..n {
            let sums = Sums {
                units: units[i],
                revenue: revenue[i],
                priced_units: priced_units[i],
                rows: row_counts[i],
            };
            self.add(month[i], model_id[i], country[i], fuel_type[i], transmission[i], sums);
        }
    }

    /// Adds the day groups of the days `first..=last` of the month with index `month`.
    pub fn add_days(&mut self, month: i32, days: &MonthDays, first: u32, last: u32) {
        let countries: Vec<u32> = days.countries().iter().map(|code| self.country(code)).collect();
        days.for_each_between(first, last, |fact| {
            let country = countries.get(fact.country as usize).copied().unwrap_or(u32::MAX);
            self.add(
                month,
                fact.model_id,
                country,
                u32::from(fact.fuel_type.code()),
                u32::from(fact.transmission.code()),
                fact.sums,
            );
        });
    }

    /// Adds a group read from the sale rows of the month with index `month`.
    pub fn add_edge_group(&mut self, month: i32, group: &EdgeGroup) -> Result<(), String> {
        let fuel: FuelType =
            group.fuel_type.parse().map_err(|e: crate::domain::ParseEnumError| e.to_string())?;
        let transmission: Transmission =
            group.transmission.parse().map_err(|e: crate::domain::ParseEnumError| e.to_string())?;
        let country = self.country(&group.country_code);
        let sums = Sums {
            units: group.units,
            revenue: group.revenue,
            priced_units: group.priced_units,
            rows: group.row_count,
        };
        self.add(
            month,
            group.model_id,
            country,
            u32::from(fuel.code()),
            u32::from(transmission.code()),
            sums,
        );
        Ok(())
    }

    fn country_name(&self, country: u32) -> String {
        name_at(self.dictionary.countries(), &self.extras.countries, country).unwrap_or_default().to_string()
    }

    fn region_name(&self, region: u32) -> String {
        name_at(self.dictionary.regions(), &self.extras.regions, region).unwrap_or_default().to_string()
    }

    fn body_name(&self, body: u32) -> String {
        name_at(self.dictionary.bodies(), &self.extras.bodies, body).unwrap_or("UNKNOWN").to_string()
    }

    /// Every group's sums, those of the array among them.
    fn take_groups(&mut self) -> FxHashMap<GroupKey, Sums> {
        let by = self.by;
        let mut groups = std::mem::take(&mut self.groups);
        if let Some(dense) = self.dense.take() {
            // Every fact counts at least one sale row: a slot without rows was never touched.
            for (index, sums) in dense.sums.iter().enumerate().filter(|(_, sums)| sums.rows > 0) {
                *groups.entry(dense.key(index, by)).or_default() += *sums;
            }
        }
        groups
    }

    /// The units of each group with rows, by model and period, in no order: what a grouper by
    /// [`Dimension::Model`] and [`Dimension::Period`] summed, as bare numbers (the model and the
    /// period read 0 when not grouped by).
    pub(super) fn finish_units_by_model_and_period(mut self) -> Vec<super::ModelMonthUnits> {
        self.take_groups()
            .into_iter()
            .filter(|(_, sums)| sums.rows > 0)
            .map(|(key, sums)| super::ModelMonthUnits {
                model_id: key.model_id,
                month: key.period,
                units: sums.units,
            })
            .collect()
    }

    /// The groups, named, ordered by the metric (then by the grouping keys, ascending) and cut
    /// to the limit. Without dimensions, one row of totals, even when nothing matched.
    pub fn finish(mut self, dims: &[Dimension], request: &SummaryRequest) -> Vec<AggregateRow> {
        let by = self.by;
        let groups = self.take_groups();
        if !by.any() {
            let total = groups.get(&GroupKey::default()).copied().unwrap_or_default();
            return vec![row_of(AggregateRow::default(), total)];
        }
        // A group can be left without rows when coarsely dated sales are taken out again.
        let mut rows: Vec<AggregateRow> = groups
            .iter()
            .filter(|(_, sums)| sums.rows > 0)
            .map(|(key, sums)| {
                let named = AggregateRow {
                    period: by.period.then(|| month_date(key.period)).flatten(),
                    model_id: by.model.then_some(key.model_id),
                    country: by.country.then(|| self.country_name(key.country)),
                    region: by.region.then(|| self.region_name(key.region)),
                    body_type: by.body.then(|| self.body_name(key.body)),
                    fuel_type: by.fuel_type.then(|| {
                        FuelType::from_code(u32::from(key.fuel_type)).map_or("", |f| f.as_str()).to_string()
                    }),
                    transmission: by.transmission.then(|| {
                        Transmission::from_code(u32::from(key.transmission))
                            .map_or("", |t| t.as_str())
                            .to_string()
                    }),
                    ..Default::default()
                };
                row_of(named, *sums)
            })
            .collect();
        let by_metric = |a: &AggregateRow, b: &AggregateRow| {
            let ordering = match request.metric {
                Metric::Units => a.units.cmp(&b.units),
                Metric::Revenue => a.revenue_sum.total_cmp(&b.revenue_sum),
            };
            match request.order {
                SortOrder::Asc => ordering,
                SortOrder::Desc => ordering.reverse(),
            }
        };
        rows.sort_by(|a, b| by_metric(a, b).then_with(|| by_keys(a, b, dims)));
        if let Some(limit) = request.limit {
            rows.truncate(limit);
        }
        rows
    }
}

fn row_of(named: AggregateRow, sums: Sums) -> AggregateRow {
    AggregateRow {
        units: sums.units,
        revenue_sum: sums.revenue,
        priced_units: sums.priced_units,
        rows: sums.rows,
        ..named
    }
}

/// Ties in the metric go by the grouping keys in the order asked, each ascending.
fn by_keys(a: &AggregateRow, b: &AggregateRow, dims: &[Dimension]) -> Ordering {
    dims.iter()
        .map(|d| match d {
            Dimension::Period => a.period.cmp(&b.period),
            Dimension::Model => a.model_id.cmp(&b.model_id),
            Dimension::Country => a.country.cmp(&b.country),
            Dimension::Region => a.region.cmp(&b.region),
            Dimension::BodyType => a.body_type.cmp(&b.body_type),
            Dimension::FuelType => a.fuel_type.cmp(&b.fuel_type),
            Dimension::Transmission => a.transmission.cmp(&b.transmission),
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cube::daily::{DayGroup, MonthDays};
    use crate::cube::{Cube, Dictionary, RollupGroup};

    const JAN: i32 = 2024 * 12;

    fn group(month: i32, model_id: i32, country: &str, fuel: FuelType, units: i64) -> RollupGroup {
        RollupGroup {
            month,
            model_id,
            country: country.into(),
            fuel_type: fuel,
            transmission: Transmission::Automatic,
            sums: Sums { units, revenue: units as f64 * 100.0, priced_units: units, rows: 1 },
            coarse_rows: 0,
        }
    }

    fn dictionary() -> Dictionary {
        Dictionary::new(
            [("DE", "Europe"), ("FR", "Europe"), ("US", "Americas")],
            [(1, "SUV"), (2, "SEDAN"), (3, "SUV")],
        )
    }

    /// Jan–Apr 2024: model 1 in DE every month, model 2 in FR and US, model 3 electric in US.
    fn cube() -> Cube {
        let groups = vec![
            group(JAN, 1, "DE", FuelType::Petrol, 10),
            group(JAN, 2, "FR", FuelType::Diesel, 4),
            group(JAN + 1, 1, "DE", FuelType::Petrol, 20),
            group(JAN + 1, 3, "US", FuelType::Electric, 6),
            group(JAN + 2, 1, "DE", FuelType::Petrol, 30),
            group(JAN + 2, 2, "US", FuelType::Diesel, 5),
            group(JAN + 3, 1, "DE", FuelType::Petrol, 40),
        ];
        Cube::from_groups(1, dictionary(), groups).unwrap()
    }

    fn summarize(cube: &Cube, filter: &ResolvedFilter, request: &SummaryRequest) -> Vec<AggregateRow> {
        let catalogue = Catalogue::default();
        let mut dims = request.group_by.clone();
        dims.dedup();
        let mut grouper = Grouper::new(cube.dictionary(), &catalogue, filter, &dims, request.granularity);
        grouper.add_cube_rows(&cube.facts(), cube.month_rows(i32::MIN, i32::MAX));
        grouper.finish(&dims, request)
    }

    fn by(dims: &[Dimension]) -> SummaryRequest {
        SummaryRequest { group_by: dims.to_vec(), ..Default::default() }
    }

    fn keyed<K>(rows: &[AggregateRow], key: impl Fn(&AggregateRow) -> K) -> Vec<(K, i64)> {
        rows.iter().map(|r| (key(r), r.units)).collect()
    }

    #[test]
    fn groups_by_each_dimension_largest_first() {
        let cube = cube();
        let all = ResolvedFilter::default();
        let countries = summarize(&cube, &all, &by(&[Dimension::Country]));
        assert_eq!(
            keyed(&countries, |r| r.country.clone().unwrap()),
            vec![("DE".into(), 100), ("US".into(), 11), ("FR".into(), 4)]
        );
        assert_eq!(countries[0].revenue(), Some(10_000.0));
        assert_eq!(countries[0].rows, 4);
        assert!(countries.iter().all(|r| r.model_id.is_none() && r.region.is_none()));
        let regions = summarize(&cube, &all, &by(&[Dimension::Region]));
        assert_eq!(
            keyed(&regions, |r| r.region.clone().unwrap()),
            vec![("Europe".into(), 104), ("Americas".into(), 11)]
        );
        let bodies = summarize(&cube, &all, &by(&[Dimension::BodyType]));
        assert_eq!(
            keyed(&bodies, |r| r.body_type.clone().unwrap()),
            vec![("SUV".into(), 106), ("SEDAN".into(), 9)]
        );
        let fuels = summarize(&cube, &all, &by(&[Dimension::FuelType]));
        assert_eq!(
            keyed(&fuels, |r| r.fuel_type.clone().unwrap()),
            vec![("PETROL".into(), 100), ("DIESEL".into(), 9), ("ELECTRIC".into(), 6)]
        );
        let models = summarize(&cube, &all, &by(&[Dimension::Model, Dimension::Transmission]));
        assert_eq!(keyed(&models, |r| (r.model_id.unwrap(), r.transmission.clone().unwrap())).len(), 3);
    }

    /// The bare units by model and month are the named rows' figures, with and without the
    /// array (a span of months given or not), under a filter.
    #[test]
    fn units_by_model_and_month_are_the_rows_figures() {
        let cube = cube();
        let catalogue = Catalogue::default();
        let dims = [Dimension::Model, Dimension::Period];
        let germany = ResolvedFilter {
            countries: Some(std::iter::once("DE".to_string()).collect()),
            ..ResolvedFilter::default()
        };
        for filter in [ResolvedFilter::default(), germany] {
            let mut expected: Vec<(i32, i32, i64)> = summarize(&cube, &filter, &by(&dims))
                .iter()
                .map(|r| (r.model_id.unwrap(), crate::cube::month_index(r.period.unwrap()), r.units))
                .collect();
            expected.sort();
            assert!(!expected.is_empty());
            for span in [None, Some((JAN, JAN + 3))] {
                let mut grouper =
                    Grouper::new(cube.dictionary(), &catalogue, &filter, &dims, Granularity::Month);
                if let Some((first, last)) = span {
                    grouper = grouper.with_months(first, last);
                }
                grouper.add_cube_rows(&cube.facts(), cube.month_rows(i32::MIN, i32::MAX));
                let mut bare: Vec<(i32, i32, i64)> = grouper
                    .finish_units_by_model_and_period()
                    .iter()
                    .map(|u| (u.model_id, u.month, u.units))
                    .collect();
                bare.sort();
                assert_eq!(bare, expected, "span {span:?}");
            }
        }
    }

    #[test]
    fn periods_follow_the_granularity() {
        let cube = cube();
        let all = ResolvedFilter::default();
        let mut request = by(&[Dimension::Period]);
        request.order = SortOrder::Asc;
        let months = summarize(&cube, &all, &request);
        let day = |m: u32| chrono::NaiveDate::from_ymd_opt(2024, m, 1);
        assert_eq!(
            keyed(&months, |r| r.period),
            vec![(day(1), 14), (day(2), 26), (day(3), 35), (day(4), 40)]
        );
        request.granularity = Granularity::Quarter;
        assert_eq!(
            keyed(&summarize(&cube, &all, &request), |r| r.period),
            vec![(day(4), 40), (day(1), 75)],
            "smallest first when ascending"
        );
        request.granularity = Granularity::Year;
        assert_eq!(keyed(&summarize(&cube, &all, &request), |r| r.period), vec![(day(1), 115)]);
    }

    #[test]
    fn the_array_of_small_key_spaces_and_the_hash_map_agree() {
        let cube = cube();
        let catalogue = Catalogue::default();
        let all = ResolvedFilter::default();
        let sum = |dims: &[Dimension], months: Option<(i32, i32)>| {
            let mut grouper = Grouper::new(cube.dictionary(), &catalogue, &all, dims, Granularity::Quarter);
            if let Some((first, last)) = months {
                grouper = grouper.with_months(first, last);
            }
            let dense = grouper.dense.is_some();
            grouper.add_cube_rows(&cube.facts(), cube.month_rows(i32::MIN, i32::MAX));
            // A model the cube's dictionary lacks falls outside the array.
            let late = Sums { units: 1_000, revenue: 0.0, priced_units: 0, rows: 1 };
            grouper.add(JAN + 3, 77, 0, 0, 0, late);
            (dense, grouper.finish(dims, &by(dims)))
        };
        let dims = [Dimension::Period, Dimension::Model, Dimension::Country, Dimension::FuelType];
        let (dense, in_array) = sum(&dims, Some((JAN, JAN + 3)));
        let (sparse, in_map) = sum(&dims, None);
        assert!(dense && !sparse, "periods without a span of months have no bounded key space");
        assert_eq!(in_array, in_map);
        assert_eq!(in_array[0].model_id, Some(77));
        assert_eq!(in_array[0].period, chrono::NaiveDate::from_ymd_opt(2024, 4, 1));
        assert_eq!(in_array.iter().map(|r| r.units).sum::<i64>(), 1_115);
        let all_dims = Dimension::ALL;
        let grouper = Grouper::new(cube.dictionary(), &catalogue, &all, &all_dims, Granularity::Month)
            .with_months(JAN - 1200, JAN);
        assert!(grouper.dense.is_none(), "a key space too large for the array");
    }

    #[test]
    fn ties_go_by_the_keys_and_the_limit_cuts() {
        let groups = vec![
            group(JAN, 2, "FR", FuelType::Petrol, 5),
            group(JAN, 1, "US", FuelType::Petrol, 5),
            group(JAN, 3, "DE", FuelType::Petrol, 5),
            group(JAN, 1, "DE", FuelType::Petrol, 1),
        ];
        let cube = Cube::from_groups(1, dictionary(), groups).unwrap();
        let all = ResolvedFilter::default();
        let rows = summarize(&cube, &all, &by(&[Dimension::Country, Dimension::Model]));
        assert_eq!(
            keyed(&rows, |r| (r.country.clone().unwrap(), r.model_id.unwrap())),
            vec![(("DE".into(), 3), 5), (("FR".into(), 2), 5), (("US".into(), 1), 5), (("DE".into(), 1), 1)]
        );
        let mut top = by(&[Dimension::Model]);
        top.limit = Some(2);
        assert_eq!(keyed(&summarize(&cube, &all, &top), |r| r.model_id.unwrap()), vec![(1, 6), (2, 5)]);
        top.metric = Metric::Revenue;
        top.order = SortOrder::Asc;
        assert_eq!(keyed(&summarize(&cube, &all, &top), |r| r.model_id.unwrap()), vec![(2, 5), (3, 5)]);
    }

    #[test]
    fn filters_apply_to_every_fact() {
        let cube = cube();
        let germany_petrol = ResolvedFilter {
            countries: Some(["DE".to_string(), "FR".to_string()].into()),
            fuel_types: Some([FuelType::Petrol].into()),
            ..Default::default()
        };
        let totals = summarize(&cube, &germany_petrol, &by(&[]));
        assert_eq!(keyed(&totals, |_| ()), vec![((), 100)]);
        let models = ResolvedFilter { model_ids: Some([2, 3].into()), ..Default::default() };
        assert_eq!(keyed(&summarize(&cube, &models, &by(&[])), |_| ()), vec![((), 15)]);
        let manual =
            ResolvedFilter { transmissions: Some([Transmission::Manual].into()), ..Default::default() };
        let nothing = summarize(&cube, &manual, &by(&[]));
        assert_eq!(nothing.len(), 1, "totals without dimensions are one row, even of nothing");
        assert_eq!((nothing[0].units, nothing[0].revenue()), (0, None));
        assert!(summarize(&cube, &manual, &by(&[Dimension::Country])).is_empty());
    }

    #[test]
    fn day_groups_and_database_rows_join_the_same_groups() {
        let cube = cube();
        let catalogue = Catalogue::new(
            Vec::new(),
            vec![entity::country::Model { code: "JP".into(), name: "Japan".into(), region: "Asia".into() }],
        );
        let day = |day, country: &str, units| DayGroup {
            day,
            model_id: 1,
            country_code: country.into(),
            fuel_type: FuelType::Petrol,
            transmission: Transmission::Automatic,
            sums: Sums { units, revenue: 0.0, priced_units: 0, rows: 1 },
        };
        let may = MonthDays::from_groups(vec![day(2, "FR", 3), day(9, "DE", 7), day(20, "DE", 100)]).unwrap();
        let edge = EdgeGroup {
            model_id: 9,
            country_code: "JP".into(),
            fuel_type: "HYBRID".into(),
            transmission: "MANUAL".into(),
            units: 2,
            revenue: 50.0,
            priced_units: 2,
            row_count: 1,
        };
        let all = ResolvedFilter::default();
        let dims = [Dimension::Region];
        let mut grouper = Grouper::new(cube.dictionary(), &catalogue, &all, &dims, Granularity::Month);
        grouper.add_days(JAN + 4, &may, 1, 10);
        grouper.add_edge_group(JAN + 4, &edge).unwrap();
        let regions = grouper.finish(&dims, &by(&dims));
        assert_eq!(
            keyed(&regions, |r| r.region.clone().unwrap()),
            vec![("Europe".into(), 10), ("Asia".into(), 2)],
            "the 20th is outside the days; Japan's region comes from the catalogue"
        );
        let europe_only = ResolvedFilter { countries: Some(["DE".to_string()].into()), ..Default::default() };
        let dims = [Dimension::Country, Dimension::BodyType];
        let mut grouper =
            Grouper::new(cube.dictionary(), &catalogue, &europe_only, &dims, Granularity::Month);
        grouper.add_days(JAN + 4, &may, 1, 31);
        grouper.add_edge_group(JAN + 4, &edge).unwrap();
        let rows = grouper.finish(&dims, &by(&dims));
        assert_eq!(
            keyed(&rows, |r| (r.country.clone().unwrap(), r.body_type.clone().unwrap())),
            vec![(("DE".into(), "SUV".into()), 107)]
        );
        let mut grouper =
            Grouper::new(cube.dictionary(), &catalogue, &all, &[Dimension::BodyType], Granularity::Month);
        grouper.add_edge_group(JAN, &edge).unwrap();
        let unknown = grouper.finish(&[Dimension::BodyType], &by(&[Dimension::BodyType]));
        assert_eq!(unknown[0].body_type.as_deref(), Some("UNKNOWN"), "a model neither knows");
        let bad = EdgeGroup { fuel_type: "STEAM".into(), ..edge };
        let mut grouper = Grouper::new(cube.dictionary(), &catalogue, &all, &[], Granularity::Month);
        assert!(grouper.add_edge_group(JAN, &bad).unwrap_err().contains("STEAM"));
    }
}
