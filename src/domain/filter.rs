//! The sales filter as a client sends it, and resolved against the catalogue: names become ids,
//! regions and body types expand, and mistakes are named.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::{BodyType, FuelType, Transmission};
use crate::store::catalogue::Catalogue;

/// What a client asked for; every list is "any of", and lists combine with "and".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SalesFilter {
    /// Inclusive; any day.
    pub from: Option<NaiveDate>,
    /// Inclusive; any day.
    pub to: Option<NaiveDate>,
    pub countries: Vec<String>,
    pub regions: Vec<String>,
    pub models: Vec<String>,
    pub body_types: Vec<BodyType>,
    pub fuel_types: Vec<FuelType>,
    pub transmissions: Vec<Transmission>,
}

/// A filter value that names nothing, or a range that runs backwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "unknown country \"{0}\" (use an ISO 3166-1 code such as \"DE\" or \"DEU\", or the country's name in English or its own language)"
    )]
    UnknownCountry(String),
    #[error("unknown region \"{value}\" (expected one of {expected})")]
    UnknownRegion { value: String, expected: String },
    #[error("unknown model \"{0}\"")]
    UnknownModel(String),
    #[error("`from` {from} is after `to` {to}")]
    FromAfterTo { from: NaiveDate, to: NaiveDate },
    #[error("{value} is outside your regions ({regions})")]
    OutsideScope { value: String, regions: String },
}

/// The part of the data a viewer may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Everything,
    /// Only the markets of these regions (as the token names them; matched ignoring case).
    Regions(Vec<String>),
}

impl Scope {
    /// The country codes the scope allows; `None` for everything.
    pub fn countries(&self, catalogue: &Catalogue) -> Option<BTreeSet<String>> {
        match self {
            Scope::Everything => None,
            Scope::Regions(regions) => Some(
                catalogue
                    .countries
                    .iter()
                    .filter(|c| regions.iter().any(|r| r.trim().eq_ignore_ascii_case(&c.region)))
                    .map(|c| c.code.clone())
                    .collect(),
            ),
        }
    }

    fn describe(&self) -> String {
        match self {
            Scope::Everything => "every region".to_string(),
            Scope::Regions(regions) if regions.is_empty() => "none".to_string(),
            Scope::Regions(regions) => regions.join(", "),
        }
    }
}

/// A filter in catalogue terms. `None` means "no restriction"; an empty set matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ResolvedFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Country codes, with regions expanded (and intersected with any countries named).
    pub countries: Option<BTreeSet<String>>,
    /// Model ids, with body types expanded (and intersected with any models named).
    pub model_ids: Option<BTreeSet<i32>>,
    pub fuel_types: Option<BTreeSet<FuelType>>,
    pub transmissions: Option<BTreeSet<Transmission>>,
}

fn intersect<T: Ord + Clone>(a: Option<BTreeSet<T>>, b: Option<BTreeSet<T>>) -> Option<BTreeSet<T>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
        (a, b) => a.or(b),
    }
}

fn non_empty<T: Ord + Clone>(values: &[T]) -> Option<BTreeSet<T>> {
    (!values.is_empty()).then(|| values.iter().cloned().collect())
}

impl SalesFilter {
    /// Resolves the filter inside a viewer's scope: a country or region the filter names outside
    /// the scope is refused, and without one the result covers the scope's markets only.
    pub fn resolve_within(
        &self,
        catalogue: &Catalogue,
        scope: &Scope,
    ) -> Result<ResolvedFilter, FilterError> {
        let mut resolved = self.resolve(catalogue)?;
        let Some(allowed) = scope.countries(catalogue) else {
            return Ok(resolved);
        };
        let outside =
            |value: &str| FilterError::OutsideScope { value: value.to_string(), regions: scope.describe() };
        for country in &self.countries {
            if let Some(found) = catalogue.country(country)
                && !allowed.contains(&found.code)
            {
                return Err(outside(&format!("country \"{country}\"")));
            }
        }
        for region in &self.regions {
            let inside = catalogue
                .countries
                .iter()
                .filter(|c| c.region.eq_ignore_ascii_case(region.trim()))
                .all(|c| allowed.contains(&c.code));
            if !inside {
                return Err(outside(&format!("region \"{region}\"")));
            }
        }
        resolved.countries = intersect(resolved.countries, Some(allowed));
        Ok(resolved)
    }

    pub fn resolve(&self, catalogue: &Catalogue) -> Result<ResolvedFilter, FilterError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(FilterError::FromAfterTo { from, to });
        }
        let named_countries = if self.countries.is_empty() {
            None
        } else {
            let mut codes = BTreeSet::new();
            for country in &self.countries {
                let found =
                    catalogue.country(country).ok_or_else(|| FilterError::UnknownCountry(country.clone()))?;
                codes.insert(found.code.clone());
            }
            Some(codes)
        };
        let region_countries = if self.regions.is_empty() {
            None
        } else {
            let known = catalogue.regions();
            let mut codes = BTreeSet::new();
            for region in &self.regions {
                let canonical =
                    known.iter().find(|r| r.eq_ignore_ascii_case(region.trim())).ok_or_else(|| {
                        FilterError::UnknownRegion { value: region.clone(), expected: known.join(", ") }
                    })?;
                codes.extend(
                    catalogue.countries.iter().filter(|c| &c.region == canonical).map(|c| c.code.clone()),
                );
            }
            Some(codes)
        };
        let named_models = if self.models.is_empty() {
            None
        } else {
            let mut ids = BTreeSet::new();
            for model in &self.models {
                ids.insert(
                    catalogue
                        .model_by_name(model)
                        .ok_or_else(|| FilterError::UnknownModel(model.clone()))?
                        .id,
                );
            }
            Some(ids)
        };
        let body_models = non_empty(&self.body_types).map(|bodies| {
            catalogue
                .models
                .iter()
                .filter(|m| m.body_type.parse::<BodyType>().is_ok_and(|b| bodies.contains(&b)))
                .map(|m| m.id)
                .collect::<BTreeSet<_>>()
        });
        Ok(ResolvedFilter {
            from: self.from,
            to: self.to,
            countries: intersect(named_countries, region_countries),
            model_ids: intersect(named_models, body_models),
            fuel_types: non_empty(&self.fuel_types),
            transmissions: non_empty(&self.transmissions),
        })
    }
}

impl ResolvedFilter {
    /// True when some list excludes everything, so that no row can match.
    pub fn matches_nothing(&self) -> bool {
        self.countries.as_ref().is_some_and(BTreeSet::is_empty)
            || self.model_ids.as_ref().is_some_and(BTreeSet::is_empty)
            || self.fuel_types.as_ref().is_some_and(BTreeSet::is_empty)
            || self.transmissions.as_ref().is_some_and(BTreeSet::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::{car_model, country};

    fn catalogue() -> Catalogue {
        let model = |id, name: &str, body: &str| car_model::Model {
            id,
            name: name.into(),
            body_type: body.into(),
            base_price: None,
            fuels: None,
            launch_year: None,
            end_year: None,
        };
        let country = |code: &str, name: &str, region: &str| country::Model {
            code: code.into(),
            name: name.into(),
            region: region.into(),
        };
        Catalogue::new(
            vec![model(1, "3 Series", "SEDAN"), model(2, "X5", "SUV"), model(3, "iX", "SUV")],
            vec![
                country("DE", "Germany", "Europe"),
                country("FR", "France", "Europe"),
                country("US", "United States", "North America"),
            ],
        )
    }

    #[test]
    fn names_resolve_and_lists_intersect() {
        let filter = SalesFilter {
            countries: vec!["germany".into(), "US".into()],
            regions: vec!["europe".into()],
            models: vec!["x-5".into(), "3 Series".into()],
            body_types: vec![BodyType::Suv],
            ..Default::default()
        };
        let resolved = filter.resolve(&catalogue()).unwrap();
        assert_eq!(resolved.countries, Some(BTreeSet::from(["DE".to_string()])));
        assert_eq!(resolved.model_ids, Some(BTreeSet::from([2])));
        assert!(!resolved.matches_nothing());
    }

    #[test]
    fn a_scope_narrows_and_refuses_what_lies_outside() {
        let c = catalogue();
        let europe = Scope::Regions(vec!["europe".into()]);
        let all = SalesFilter::default().resolve_within(&c, &europe).unwrap();
        assert_eq!(all.countries, Some(BTreeSet::from(["DE".to_string(), "FR".to_string()])));
        let france = SalesFilter { countries: vec!["France".into()], ..Default::default() };
        assert_eq!(
            france.resolve_within(&c, &europe).unwrap().countries,
            Some(BTreeSet::from(["FR".to_string()]))
        );
        let us =
            SalesFilter { countries: vec!["US".into()], ..Default::default() }.resolve_within(&c, &europe);
        assert_eq!(
            us,
            Err(FilterError::OutsideScope { value: "country \"US\"".into(), regions: "europe".into() })
        );
        let america = SalesFilter { regions: vec!["North America".into()], ..Default::default() };
        assert!(matches!(america.resolve_within(&c, &europe), Err(FilterError::OutsideScope { .. })));
        let nothing = SalesFilter::default().resolve_within(&c, &Scope::Regions(vec![])).unwrap();
        assert!(nothing.matches_nothing(), "a scope without regions sees no market");
        let everything = SalesFilter::default().resolve_within(&c, &Scope::Everything).unwrap();
        assert_eq!(everything.countries, None);
    }

    #[test]
    fn mistakes_name_the_value() {
        let c = catalogue();
        let unknown = SalesFilter { countries: vec!["Atlantis".into()], ..Default::default() }.resolve(&c);
        assert_eq!(unknown, Err(FilterError::UnknownCountry("Atlantis".into())));
        let unknown = SalesFilter { models: vec!["Model T".into()], ..Default::default() }.resolve(&c);
        assert!(unknown.unwrap_err().to_string().contains("\"Model T\""));
        let region =
            SalesFilter { regions: vec!["Mars".into()], ..Default::default() }.resolve(&c).unwrap_err();
        assert!(region.to_string().contains("\"Mars\"") && region.to_string().contains("Europe"));
        let from = NaiveDate::from_ymd_opt(2024, 5, 1);
        let to = NaiveDate::from_ymd_opt(2024, 4, 1);
        let backwards = SalesFilter { from, to, ..Default::default() }.resolve(&c).unwrap_err();
        assert!(backwards.to_string().contains("2024-05-01"));
    }

    #[test]
    fn disjoint_lists_match_nothing() {
        let filter = SalesFilter {
            countries: vec!["US".into()],
            regions: vec!["Europe".into()],
            ..Default::default()
        };
        assert!(filter.resolve(&catalogue()).unwrap().matches_nothing());
    }
}
