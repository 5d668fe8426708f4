//! GraphQL mirrors of the domain's enumerations (async-graphql's `remote` keeps the domain free
//! of GraphQL while the two stay in step by construction).

use async_graphql::Enum;

/// A car's body style.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::BodyType")]
pub enum BodyType {
    /// Four-door saloon (3, 5, 7 Series, i4, i5, i7, M3, M5).
    Sedan,
    /// Compact with a rear hatch (1 Series, i3).
    Hatchback,
    /// Two-door (2, 4, 8 Series, M4, i8).
    Coupe,
    /// Open two-seater (Z4).
    Roadster,
    /// Sports activity vehicle (the X models, iX, iX1, iX3).
    Suv,
    /// Imported models whose body style the source did not say.
    Unknown,
}

/// What a sold car runs on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::FuelType")]
pub enum FuelType {
    /// Petrol engine.
    Petrol,
    /// Diesel engine.
    Diesel,
    /// Petrol or diesel with an electric motor (plug-in or mild hybrid).
    Hybrid,
    /// Battery electric.
    Electric,
    /// Imported rows that did not say.
    Unknown,
}

/// A sold car's gearbox.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::Transmission")]
pub enum Transmission {
    /// Automatic gearbox.
    Automatic,
    /// Manual gearbox.
    Manual,
    /// Imported rows that did not say.
    Unknown,
}

/// A dimension to group sales by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::summary::Dimension")]
pub enum Dimension {
    /// The calendar period at the requested granularity (its first day).
    Period,
    /// The car model.
    Model,
    /// The market (ISO country code).
    Country,
    /// The market's region.
    Region,
    /// The model's body style.
    BodyType,
    /// What the car runs on.
    FuelType,
    /// The gearbox.
    Transmission,
}

/// The length of a period.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::summary::Granularity")]
pub enum Granularity {
    /// Calendar months.
    Month,
    /// Calendar quarters (January, April, July, October).
    Quarter,
    /// Calendar years.
    Year,
}

/// What to measure and rank by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::summary::Metric")]
pub enum Metric {
    /// Cars sold.
    Units,
    /// Money taken, in USD.
    #[graphql(visible = "crate::access::visibility::metric_revenue")]
    Revenue,
}

/// Ranking direction.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::summary::SortOrder")]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// What a summary's range is compared with.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// The same number of days immediately before the filter's range.
    PreviousPeriod,
    /// The same calendar days a year earlier (29 February compares with 28 February).
    PreviousYear,
}

impl From<Comparison> for crate::summary::compare::Comparison {
    fn from(comparison: Comparison) -> Self {
        match comparison {
            Comparison::PreviousPeriod => Self::PreviousPeriod,
            Comparison::PreviousYear => Self::PreviousYear,
        }
    }
}

/// What groups are ranked by when compared.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::summary::compare::RankBy")]
pub enum RankBy {
    /// The metric over the filter's range.
    Metric,
    /// The metric's change against the range compared with.
    Change,
    /// The relative change (0.1 = +10%); groups that had nothing to grow from come last.
    ChangeRatio,
}

/// Reads stored enumeration names; names this build does not know read as UNKNOWN.
pub fn body_type(text: &str) -> BodyType {
    text.parse::<crate::domain::BodyType>().unwrap_or(crate::domain::BodyType::Unknown).into()
}

pub fn fuel_type(text: &str) -> FuelType {
    text.parse::<crate::domain::FuelType>().unwrap_or(crate::domain::FuelType::Unknown).into()
}

pub fn transmission(text: &str) -> Transmission {
    text.parse::<crate::domain::Transmission>().unwrap_or(crate::domain::Transmission::Unknown).into()
}
