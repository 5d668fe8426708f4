//! Dataloaders: the models and countries of a page of sales load in one query each.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{car_model, country};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::store::Store;

/// Per-request loaders with a cache: a key loaded once (or primed by a page) is not asked again.
pub type Models = DataLoader<ModelLoader, HashMapCache>;
pub type Countries = DataLoader<CountryLoader, HashMapCache>;

pub fn models(store: Store) -> Models {
    DataLoader::with_cache(ModelLoader(store), tokio::spawn, HashMapCache::default())
}

pub fn countries(store: Store) -> Countries {
    DataLoader::with_cache(CountryLoader(store), tokio::spawn, HashMapCache::default())
}

pub struct ModelLoader(pub Store);
pub struct CountryLoader(pub Store);

impl Loader<i32> for ModelLoader {
    type Value = car_model::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        self.0.count_query();
        let models = car_model::Entity::find()
            .filter(car_model::Column::Id.is_in(ids.iter().copied()))
            .all(self.0.read())
            .await
            .map_err(super::error::ApiError::from)?;
        Ok(models.into_iter().map(|m| (m.id, m)).collect())
    }
}

impl Loader<String> for CountryLoader {
    type Value = country::Model;
    type Error = async_graphql::Error;

    async fn load(&self, codes: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        self.0.count_query();
        let countries = country::Entity::find()
            .filter(country::Column::Code.is_in(codes.iter().cloned()))
            .all(self.0.read())
            .await
            .map_err(super::error::ApiError::from)?;
        Ok(countries.into_iter().map(|c| (c.code.clone(), c)).collect())
    }
}
