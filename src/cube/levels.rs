//! Coarser copies of the cube, summed ahead whenever the cube is built: by model and market, by
//! market, by model, and by month alone. A summary reads the smallest level that keeps every
//! dimension it groups or filters by, so that "units by market for a year" adds up twelve months
//! of markets instead of every group of model, market, fuel and gearbox of those months (the
//! pre-aggregations of OLAP engines, chosen per request).

use std::ops::Range;

use rustc_hash::FxHashMap;

use super::{ColumnSlices, Columns, Sums};
use crate::domain::ResolvedFilter;

/// Which dimensions of a cube row a level keeps apart; it sums over the others, which read as
/// zero there (model id 0, the dictionary's first market, the first fuel and gearbox codes).
/// Fuel and gearbox go together: a level keeping one but not the other would rarely be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LevelDimensions {
    pub model: bool,
    pub country: bool,
    pub fuel_and_gearbox: bool,
}

impl LevelDimensions {
    pub const ALL: LevelDimensions = LevelDimensions { model: true, country: true, fuel_and_gearbox: true };

    /// The coarser levels a cube builds besides its rows as loaded.
    pub const COARSER: [LevelDimensions; 4] = [
        LevelDimensions { model: true, country: true, fuel_and_gearbox: false },
        LevelDimensions { model: false, country: true, fuel_and_gearbox: false },
        LevelDimensions { model: true, country: false, fuel_and_gearbox: false },
        LevelDimensions { model: false, country: false, fuel_and_gearbox: false },
    ];

    /// Whether a level keeping `self` can answer for what needs `needed` kept.
    pub fn covers(self, needed: LevelDimensions) -> bool {
        (self.model || !needed.model)
            && (self.country || !needed.country)
            && (self.fuel_and_gearbox || !needed.fuel_and_gearbox)
    }

    /// What `filter` tests, and so needs kept.
    pub fn needed_by(filter: &ResolvedFilter) -> LevelDimensions {
        LevelDimensions {
            model: filter.model_ids.is_some(),
            country: filter.countries.is_some(),
            fuel_and_gearbox: filter.fuel_types.is_some() || filter.transmissions.is_some(),
        }
    }

    pub fn and(self, other: LevelDimensions) -> LevelDimensions {
        LevelDimensions {
            model: self.model || other.model,
            country: self.country || other.country,
            fuel_and_gearbox: self.fuel_and_gearbox || other.fuel_and_gearbox,
        }
    }
}

/// A level's group within one month: the kept dimensions' codes, zero for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GroupKey {
    model_id: i32,
    country: u32,
    fuel_type: u32,
    transmission: u32,
}

/// Cube rows sorted by month, in the coded columns of [`ColumnSlices`].
#[derive(Clone)]
pub struct Level {
    kept: LevelDimensions,
    columns: Columns,
    /// (month index, first row of that month), ascending: a month range is a slice.
    month_starts: Vec<(i32, usize)>,
}

impl Level {
    /// A level of `columns`, whose rows must come sorted by month.
    pub(super) fn from_columns(kept: LevelDimensions, columns: Columns) -> Self {
        let mut month_starts: Vec<(i32, usize)> = Vec::new();
        for (row, month) in columns.month.iter().enumerate() {
            if month_starts.last().is_none_or(|(m, _)| m != month) {
                month_starts.push((*month, row));
            }
        }
        Self { kept, columns, month_starts }
    }

    pub fn kept(&self) -> LevelDimensions {
        self.kept
    }

    /// The level's columns as slices, for the kernels' tight loops.
    pub fn facts(&self) -> ColumnSlices<'_> {
        let c = &self.columns;
        ColumnSlices {
            month: &c.month,
            model_id: &c.model_id,
            country: &c.country,
            fuel_type: &c.fuel_type,
            transmission: &c.transmission,
            units: &c.units,
            revenue: &c.revenue,
            priced_units: &c.priced_units,
            rows: &c.rows,
        }
    }

    /// The rows of the months `first..=last` (month indices), as a row range of [`ColumnSlices`].
    pub fn month_rows(&self, first: i32, last: i32) -> Range<usize> {
        let start = self.month_starts.partition_point(|(m, _)| *m < first);
        let end = self.month_starts.partition_point(|(m, _)| *m <= last);
        let row = |i: usize| self.month_starts.get(i).map_or(self.len(), |(_, r)| *r);
        row(start)..row(end).max(row(start))
    }

    /// (month index, first row of that month), ascending.
    pub fn month_starts(&self) -> &[(i32, usize)] {
        &self.month_starts
    }

    pub fn len(&self) -> usize {
        self.columns.month.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.month.is_empty()
    }

    pub fn estimated_bytes(&self) -> usize {
        self.columns.heap_bytes() + self.month_starts.capacity() * size_of::<(i32, usize)>()
    }

    /// This level summed over the dimensions `kept` drops, month by month.
    pub(super) fn coarsen(&self, kept: LevelDimensions) -> Level {
        let facts = self.facts();
        let coarse_rows = &self.columns.coarse_rows;
        let mut c = Columns::default();
        let mut groups: FxHashMap<GroupKey, (Sums, i64)> = FxHashMap::default();
        let mut ordered: Vec<(GroupKey, (Sums, i64))> = Vec::new();
        for (index, (month, start)) in self.month_starts.iter().enumerate() {
            let end = self.month_starts.get(index + 1).map_or(self.len(), |(_, r)| *r);
            let rows = *start..end;
            for row in rows {
                let key = GroupKey {
                    model_id: if kept.model { facts.model_id[row] } else { 0 },
                    country: if kept.country { facts.country[row] } else { 0 },
                    fuel_type: if kept.fuel_and_gearbox { facts.fuel_type[row] } else { 0 },
                    transmission: if kept.fuel_and_gearbox { facts.transmission[row] } else { 0 },
                };
                let (sums, coarse) = groups.entry(key).or_default();
                *sums += Sums {
                    units: facts.units[row],
                    revenue: facts.revenue[row],
                    priced_units: facts.priced_units[row],
                    rows: facts.rows[row],
                };
                *coarse += coarse_rows[row];
            }
            ordered.extend(groups.drain());
            // A stable order within the month keeps sums of floats independent of hashing.
            ordered.sort_unstable_by_key(|(key, _)| *key);
            for (key, (sums, coarse)) in ordered.drain(..) {
                c.month.push(*month);
                c.model_id.push(key.model_id);
                c.country.push(key.country);
                c.fuel_type.push(key.fuel_type);
                c.transmission.push(key.transmission);
                c.units.push(sums.units);
                c.revenue.push(sums.revenue);
                c.priced_units.push(sums.priced_units);
                c.rows.push(sums.rows);
                c.coarse_rows.push(coarse);
            }
        }
        Level::from_columns(kept, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_covers_what_it_keeps() {
        let by_market = LevelDimensions { country: true, ..Default::default() };
        assert!(LevelDimensions::ALL.covers(LevelDimensions::ALL));
        assert!(by_market.covers(LevelDimensions::default()));
        assert!(by_market.covers(by_market));
        assert!(!by_market.covers(LevelDimensions { model: true, ..Default::default() }));
        assert!(
            !LevelDimensions::COARSER[0]
                .covers(LevelDimensions { fuel_and_gearbox: true, ..Default::default() })
        );
        let filter = ResolvedFilter {
            countries: Some(["DE".to_string()].into()),
            transmissions: Some([crate::domain::Transmission::Manual].into()),
            ..Default::default()
        };
        assert_eq!(
            LevelDimensions::needed_by(&filter),
            LevelDimensions { model: false, country: true, fuel_and_gearbox: true }
        );
        assert_eq!(LevelDimensions::needed_by(&ResolvedFilter::default()), LevelDimensions::default());
        assert_eq!(
            by_market.and(LevelDimensions { model: true, ..Default::default() }),
            LevelDimensions::COARSER[0]
        );
    }
}
