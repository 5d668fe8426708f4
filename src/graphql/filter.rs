use async_graphql::InputObject;

use super::enums::{BodyType, FuelType, Transmission};
use super::scalars::Date;
use crate::domain;

/// Which sales to look at. Lists mean "any of"; different fields combine with "and".
#[derive(InputObject, Debug, Clone, Default)]
pub struct SalesFilter {
    /// First day included.
    pub from: Option<Date>,
    /// Last day included.
    pub to: Option<Date>,
    /// ISO 3166-1 codes ("DE", "DEU") or names: in English ("Germany"), short ("UK", "USA") or
    /// in the country's own language ("Deutschland").
    pub countries: Option<Vec<String>>,
    /// Region names from the catalogue ("Europe", "Asia", …).
    pub regions: Option<Vec<String>>,
    /// Model names from the catalogue ("3 Series", "X5", "iX").
    pub models: Option<Vec<String>>,
    /// Body styles (any of).
    pub body_types: Option<Vec<BodyType>>,
    /// Fuel types (any of).
    pub fuel_types: Option<Vec<FuelType>>,
    /// Gearboxes (any of).
    pub transmissions: Option<Vec<Transmission>>,
}

/// A range of days, both ends included.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct DateRange {
    /// First day included.
    pub from: Date,
    /// Last day included.
    pub to: Date,
}

fn list<T: Clone, U: From<T>>(values: &Option<Vec<T>>) -> Vec<U> {
    values.iter().flatten().cloned().map(U::from).collect()
}

impl From<&SalesFilter> for domain::SalesFilter {
    fn from(input: &SalesFilter) -> Self {
        domain::SalesFilter {
            from: input.from.map(|d| d.0),
            to: input.to.map(|d| d.0),
            countries: list(&input.countries),
            regions: list(&input.regions),
            models: list(&input.models),
            body_types: list(&input.body_types),
            fuel_types: list(&input.fuel_types),
            transmissions: list(&input.transmissions),
        }
    }
}
