//! The catalogue as the database holds it: models and countries, with lookups by name.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use entity::{car_model, country};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, QueryOrder, Set};

use crate::domain::BodyType;

/// Models and countries, indexed for lookups by id, code, name and alias.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub models: Vec<car_model::Model>,
    pub countries: Vec<country::Model>,
    model_by_key: HashMap<String, usize>,
    country_by_key: HashMap<String, usize>,
    /// Exact ids and codes, as sale rows name them: a page looks up every row's model and market.
    model_by_id: FxHashMap<i32, usize>,
    country_by_code: FxHashMap<String, usize>,
}

/// Folds a model name for matching: case-insensitive, without spaces, hyphens, quotes or a
/// leading make ("BMW X5", "x-5" and "X 5" all fold to "x5").
pub fn model_key(name: &str) -> String {
    let folded: String = name
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_' && *c != '"' && *c != '\'')
        .flat_map(char::to_lowercase)
        .collect();
    match folded.strip_prefix("bmw") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => folded,
    }
}

fn country_key(name: &str) -> String {
    name.trim().trim_matches(|c| c == '"' || c == '\'').trim().to_lowercase()
}

impl Catalogue {
    pub async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, DbErr> {
        let models = car_model::Entity::find().order_by_asc(car_model::Column::Id).all(db).await?;
        let countries = country::Entity::find().order_by_asc(country::Column::Code).all(db).await?;
        Ok(Self::new(models, countries))
    }

    /// The catalogue the migrations install, without a database (tests, benchmarks).
    pub fn builtin() -> Self {
        let models = migration::catalogue::MODELS
            .iter()
            .enumerate()
            .map(|(i, m)| car_model::Model {
                id: i as i32 + 1,
                name: m.name.to_string(),
                body_type: m.body_type.to_string(),
                base_price: Some(m.base_price),
                fuels: Some(m.fuels.join(",")),
                launch_year: Some(m.launch_year),
                end_year: m.end_year,
            })
            .collect();
        let countries = migration::catalogue::COUNTRIES
            .iter()
            .map(|(code, name, region)| country::Model {
                code: code.to_string(),
                name: name.to_string(),
                region: region.to_string(),
            })
            .collect();
        Self::new(models, countries)
    }

    pub fn new(models: Vec<car_model::Model>, countries: Vec<country::Model>) -> Self {
        let mut catalogue = Self { models, countries, ..Self::default() };
        catalogue.reindex();
        catalogue
    }

    fn reindex(&mut self) {
        self.model_by_key = self.models.iter().enumerate().map(|(i, m)| (model_key(&m.name), i)).collect();
        self.model_by_id = self.models.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
        self.country_by_code = self.countries.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect();
        self.country_by_key.clear();
        for (i, c) in self.countries.iter().enumerate() {
            self.country_by_key.insert(country_key(&c.code), i);
            self.country_by_key.insert(country_key(&c.name), i);
        }
    }

    pub fn model_by_name(&self, name: &str) -> Option<&car_model::Model> {
        self.model_by_key.get(&model_key(name)).map(|&i| &self.models[i])
    }

    pub fn model_by_id(&self, id: i32) -> Option<&car_model::Model> {
        self.model_by_id.get(&id).map(|&i| &self.models[i])
    }

    /// A country by its exact code, as sale rows name it.
    pub fn country_by_code(&self, code: &str) -> Option<&country::Model> {
        self.country_by_code.get(code).map(|&i| &self.countries[i])
    }

    /// A country by ISO code (alpha-2 or alpha-3) or name: English, common short names, or in
    /// its own language ("Deutschland"), case- and accent-insensitively.
    pub fn country(&self, code_or_name: &str) -> Option<&country::Model> {
        self.country_by_key
            .get(&country_key(code_or_name))
            .map(|&i| &self.countries[i])
            .or_else(|| self.country_by_code(crate::domain::country_names::code_of(code_or_name)?))
    }

    pub fn regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = self.countries.iter().map(|c| c.region.clone()).collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// Adds a model that an import names but the catalogue lacks.
    pub async fn add_model<C: ConnectionTrait>(
        &mut self,
        db: &C,
        name: &str,
        body_type: BodyType,
    ) -> Result<car_model::Model, DbErr> {
        let model = car_model::ActiveModel {
            name: Set(name.trim().to_string()),
            body_type: Set(body_type.as_str().to_string()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        self.models.push(model.clone());
        self.reindex();
        Ok(model)
    }

    /// Adds a region's unallocated market (XE "Europe (unallocated)" …) the first time it is needed.
    pub async fn add_country<C: ConnectionTrait>(
        &mut self,
        db: &C,
        code: &str,
        name: &str,
        region: &str,
    ) -> Result<country::Model, DbErr> {
        let country = country::ActiveModel {
            code: Set(code.to_string()),
            name: Set(name.to_string()),
            region: Set(region.to_string()),
        }
        .insert(db)
        .await?;
        self.countries.push(country.clone());
        self.reindex();
        Ok(country)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_keys_fold_case_spaces_hyphens_and_make() {
        assert_eq!(model_key("X5"), "x5");
        assert_eq!(model_key(" BMW x-5 "), "x5");
        assert_eq!(model_key("\"3 Series\""), "3series");
        assert_eq!(model_key("3-series"), "3series");
        assert_eq!(model_key("BMW"), "bmw");
    }
}
