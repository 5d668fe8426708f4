//! Dataloaders: the models and countries of a page of sales, from the catalogue in memory; any
//! it lacks (added by an import on another replica since this one's last refresh) load in one
//! query each, before the page's rows resolve ([`PageNames`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{car_model, country};
use prometheus_client::metrics::counter::Counter;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::store::Store;
use crate::store::catalogue::Catalogue;

/// Per-request loaders with a cache: a key loaded once (or primed by a page) is not asked again.
pub type Models = DataLoader<ModelLoader, HashMapCache>;
pub type Countries = DataLoader<CountryLoader, HashMapCache>;

/// The models loader of one request; `batches` counts the batches it runs.
pub fn models(store: Store, catalogue: Arc<Catalogue>, batches: Counter) -> Models {
    DataLoader::with_cache(ModelLoader { store, catalogue, batches }, tokio::spawn, HashMapCache::default())
}

/// The markets loader of one request; `batches` counts the batches it runs.
pub fn countries(store: Store, catalogue: Arc<Catalogue>, batches: Counter) -> Countries {
    DataLoader::with_cache(CountryLoader { store, catalogue, batches }, tokio::spawn, HashMapCache::default())
}

/// A model's catalogue name as a loader key (federation's `CarModel @key(fields: "name")`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelName(pub String);

impl From<ModelName> for sea_orm::Value {
    fn from(name: ModelName) -> Self {
        name.0.into()
    }
}

/// The models and markets a page's rows name: the catalogue in memory, and what it lacks (added
/// by an import on another replica since this one's refresh) loaded before the rows resolve, in
/// one query each through the request's loaders. Rows then find their names without awaiting.
pub struct PageNames {
    catalogue: Arc<Catalogue>,
    models: HashMap<i32, car_model::Model>,
    countries: HashMap<String, country::Model>,
}

impl PageNames {
    /// Names from `catalogue` alone.
    pub fn new(catalogue: Arc<Catalogue>) -> Self {
        Self { catalogue, models: HashMap::new(), countries: HashMap::new() }
    }

    /// The names of `model_ids` and `country_codes`, loading those the catalogue lacks.
    pub async fn load<'k>(
        catalogue: Arc<Catalogue>,
        models: &Models,
        countries: &Countries,
        model_ids: impl IntoIterator<Item = i32>,
        country_codes: impl IntoIterator<Item = &'k str>,
    ) -> async_graphql::Result<Self> {
        let missing_models: std::collections::BTreeSet<i32> =
            model_ids.into_iter().filter(|id| catalogue.model_by_id(*id).is_none()).collect();
        let missing_countries: std::collections::BTreeSet<&str> =
            country_codes.into_iter().filter(|code| catalogue.country_by_code(code).is_none()).collect();
        let mut names = Self::new(catalogue);
        if !missing_models.is_empty() {
            names.models = models.load_many(missing_models).await?;
        }
        if !missing_countries.is_empty() {
            names.countries = countries.load_many(missing_countries.into_iter().map(str::to_string)).await?;
        }
        Ok(names)
    }

    pub fn model(&self, id: i32) -> Option<&car_model::Model> {
        self.catalogue.model_by_id(id).or_else(|| self.models.get(&id))
    }

    pub fn country(&self, code: &str) -> Option<&country::Model> {
        self.catalogue.country_by_code(code).or_else(|| self.countries.get(code))
    }
}

pub struct ModelLoader {
    store: Store,
    catalogue: Arc<Catalogue>,
    batches: Counter,
}

pub struct CountryLoader {
    store: Store,
    catalogue: Arc<Catalogue>,
    batches: Counter,
}

impl Loader<i32> for ModelLoader {
    type Value = car_model::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        self.batches.inc();
        let in_memory = |id: &i32| self.catalogue.model_by_id(*id).cloned();
        catalogue_then_table::<car_model::Entity, _>(
            &self.store,
            ids,
            in_memory,
            car_model::Column::Id,
            |m| m.id,
        )
        .await
    }
}

impl Loader<ModelName> for ModelLoader {
    type Value = car_model::Model;
    type Error = async_graphql::Error;

    async fn load(&self, names: &[ModelName]) -> Result<HashMap<ModelName, Self::Value>, Self::Error> {
        self.batches.inc();
        let in_memory = |name: &ModelName| self.catalogue.model_by_name(&name.0).cloned();
        catalogue_then_table::<car_model::Entity, _>(
            &self.store,
            names,
            in_memory,
            car_model::Column::Name,
            |m| ModelName(m.name.clone()),
        )
        .await
    }
}

impl Loader<String> for CountryLoader {
    type Value = country::Model;
    type Error = async_graphql::Error;

    async fn load(&self, codes: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        self.batches.inc();
        let in_memory = |code: &String| self.catalogue.country_by_code(code).cloned();
        catalogue_then_table::<country::Entity, _>(
            &self.store,
            codes,
            in_memory,
            country::Column::Code,
            |c| c.code.clone(),
        )
        .await
    }
}

/// The rows of `keys`: those the catalogue in memory holds, and the rest (added by an import
/// on another replica since this one's refresh) from `E`'s table in one query on `column`.
async fn catalogue_then_table<E, K>(
    store: &Store,
    keys: &[K],
    in_memory: impl Fn(&K) -> Option<E::Model>,
    column: E::Column,
    key_of: impl Fn(&E::Model) -> K,
) -> Result<HashMap<K, E::Model>, async_graphql::Error>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    K: Clone + Eq + std::hash::Hash + Into<sea_orm::Value>,
{
    let mut found: HashMap<K, E::Model> =
        keys.iter().filter_map(|key| Some((key.clone(), in_memory(key)?))).collect();
    let missing: Vec<K> = keys.iter().filter(|key| !found.contains_key(*key)).cloned().collect();
    if !missing.is_empty() {
        store.count_query();
        let rows = E::find()
            .filter(column.is_in(missing))
            .all(store.read())
            .await
            .map_err(super::error::ApiError::from)?;
        found.extend(rows.into_iter().map(|row| (key_of(&row), row)));
    }
    Ok(found)
}
