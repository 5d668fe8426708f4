//! The catalogue: models, countries, and who is asking.

use std::collections::{HashMap, VecDeque};

use async_graphql::{Context, ID, Object, Result, SimpleObject, Value};
use entity::{car_model, country};

use super::enums::{self, BodyType};
use super::error::ApiError;
use super::loaders;
use super::one_pass::{EntityAt, one_pass_fields, one_pass_output};
use super::scalars::Date;
use super::{app, viewer};
use crate::auth;
use crate::domain::Scope;

/// A car model of the catalogue. Pages and rankings repeat it, so it resolves in one pass
/// (`super::one_pass`), declared once below.
pub struct CarModel(pub car_model::Model);

one_pass_output!(CarModel, schema: CarModelSchema);

/// A model of the catalogue in memory, borrowed: a page names the same few models on every row,
/// and cloning one per row cost more than the rest of its resolution. Answers as [`CarModel`].
pub struct CatalogueModel<'m>(pub &'m car_model::Model);

one_pass_fields! {
    /// A BMW model in the catalogue.
    schema CarModelSchema as "CarModel";
    fn car_model_field(model: &car_model::Model, _ctx, field) {
        /// The model's id.
        id "id": ID = ID(model.id.to_string());
        /// The catalogue name, e.g. "3 Series", "X5", "iX".
        name "name": &str = model.name.as_str();
        /// The body style; UNKNOWN for imported models whose source did not say.
        body_type "bodyType": BodyType = enums::body_type(&model.body_type);
        /// Base price in USD before the country price index; null for imported models.
        #[graphql(visible = "crate::access::visibility::car_model_base_price")]
        base_price "basePrice": Option<f64> = model.base_price;
    }
    answered by CarModel as |model| &model.0;
    answered by CatalogueModel<'_> as |model| model.0;
}

/// A market: an ISO 3166-1 country, or a region's unallocated market (XE …) for data kept by region.
/// Resolved in one pass like [`CarModel`].
pub struct Country(pub country::Model);

one_pass_output!(Country, schema: CountrySchema);

/// A market of the catalogue in memory, borrowed (see [`CatalogueModel`]). Answers as [`Country`].
pub struct CatalogueCountry<'c>(pub &'c country::Model);

one_pass_fields! {
    /// A market: a country (or an unallocated region market from imports).
    schema CountrySchema as "Country";
    fn country_field(country: &country::Model, _ctx, field) {
        /// ISO 3166-1 alpha-2 code, e.g. "DE".
        code "code": &str = country.code.as_str();
        /// English name, e.g. "Germany".
        name "name": &str = country.name.as_str();
        /// The catalogue region, e.g. "Europe".
        region "region": &str = country.region.as_str();
    }
    answered by Country as |country| &country.0;
    answered by CatalogueCountry<'_> as |country| country.0;
}

/// The caller, as its token says.
pub struct Viewer(pub auth::Viewer);

/// The caller, from the bearer token.
#[Object]
impl Viewer {
    /// The token's subject (user name).
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// admin, executive, manager or analyst.
    async fn role(&self) -> &str {
        self.0.role.as_str()
    }

    /// Regions the token is scoped to (empty: not limited by region).
    async fn regions(&self) -> &[String] {
        &self.0.regions
    }

    /// True when the policy limits what this viewer sees to `regions`.
    async fn limited_to_regions(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(!super::access(ctx)?.policy.sees_all_regions(self.0.role))
    }

    /// Protected schema coordinates ("Query.sales", "Sale.revenue", "Metric.REVENUE") this viewer
    /// may not use, so that a client leaves them out instead of collecting FORBIDDEN errors.
    async fn denied_fields(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(super::access(ctx)?.policy.denied_to(self.0.role))
    }
}

/// How fresh the data is.
#[derive(SimpleObject)]
pub struct DataStatus {
    /// Grows with every ingest; caches and subscriptions key on it.
    pub version: i64,
    /// The first month with sales (its first day).
    pub first_month: Option<Date>,
    /// The day of the latest sale: where "last quarter" of the data ends.
    pub last_sale_day: Option<Date>,
}

#[derive(Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    /// Every car model of the catalogue, by name.
    async fn models(&self, ctx: &Context<'_>) -> Result<Vec<CarModel>> {
        let snapshot = app(ctx)?.snapshot();
        let mut models: Vec<CarModel> = snapshot.catalogue.models.iter().cloned().map(CarModel).collect();
        models.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(models)
    }

    /// Every market, optionally of one region, by code.
    async fn countries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the markets of this region (e.g. \"Europe\").")] region: Option<String>,
    ) -> Result<Vec<Country>> {
        let snapshot = app(ctx)?.snapshot();
        if let Some(region) = &region
            && !snapshot.catalogue.regions().iter().any(|r| r.eq_ignore_ascii_case(region))
        {
            return Err(super::error::ApiError::BadUserInput(format!(
                "unknown region \"{region}\" (expected one of {})",
                snapshot.catalogue.regions().join(", ")
            ))
            .into());
        }
        Ok(snapshot
            .catalogue
            .countries
            .iter()
            .filter(|c| region.as_ref().is_none_or(|r| c.region.eq_ignore_ascii_case(r)))
            .cloned()
            .map(Country)
            .collect())
    }

    /// The data's version and span, so that a client can anchor relative periods ("last
    /// quarter") on the data rather than on today's date.
    /// A viewer scoped to some regions sees their data's freshness: the version of the last
    /// ingest that changed them and their span, never another region's imports.
    async fn data_status(&self, ctx: &Context<'_>) -> Result<DataStatus> {
        let app = app(ctx)?;
        let snapshot = app.snapshot();
        let Scope::Regions(regions) = super::access(ctx)?.scope() else {
            return Ok(DataStatus {
                version: snapshot.version,
                first_month: snapshot.cube.first_month().map(Date),
                last_sale_day: snapshot.last_sale_day.map(Date),
            });
        };
        let own = |region: &str| regions.iter().any(|r| r.eq_ignore_ascii_case(region));
        let statuses: Vec<_> =
            snapshot.regions.iter().filter(|(region, _)| own(region)).map(|(_, s)| *s).collect();
        let version = statuses.iter().map(|s| s.version).max().unwrap_or(0);
        let first_month = statuses.iter().map(|s| s.span.first_month).min().and_then(crate::cube::month_date);
        let last_month = statuses.iter().map(|s| s.span.last_month).max().and_then(crate::cube::month_date);
        let last_sale_day = match last_month {
            Some(since) => {
                let codes: Vec<String> = snapshot
                    .catalogue
                    .countries
                    .iter()
                    .filter(|c| own(&c.region))
                    .map(|c| c.code.clone())
                    .collect();
                app.store.count_query();
                crate::store::sales::last_sale_day_among(app.store.read(), since, codes)
                    .await
                    .map_err(ApiError::from)?
            }
            None => None,
        };
        Ok(DataStatus { version, first_month: first_month.map(Date), last_sale_day: last_sale_day.map(Date) })
    }

    /// Who is asking: subject, role and regions from the bearer token.
    async fn me(&self, ctx: &Context<'_>) -> Result<Viewer> {
        Ok(Viewer(viewer(ctx)?.clone()))
    }

    /// Federation: a `CarModel` another subgraph names by id (`@key(fields: "id")`). The
    /// representations of one request load in one batch; an id the catalogue does not know is
    /// null, as a router expects of a reference that dangles.
    #[graphql(entity)]
    async fn car_model_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<EntityAt<CarModel>>> {
        let index = representation_index(ctx, "CarModel", "id", &id.0)?;
        let Ok(id) = id.parse::<i32>() else { return Ok(None) };
        let model = ctx.data::<loaders::Models>()?.load_one(id).await?;
        Ok(model.map(|model| EntityAt { index, entity: CarModel(model) }))
    }

    /// Federation: a `CarModel` another subgraph names by its catalogue name
    /// (`@key(fields: "name")`).
    #[graphql(entity)]
    async fn car_model_by_name(&self, ctx: &Context<'_>, name: String) -> Result<Option<EntityAt<CarModel>>> {
        let index = representation_index(ctx, "CarModel", "name", &name)?;
        let model = ctx.data::<loaders::Models>()?.load_one(loaders::ModelName(name)).await?;
        Ok(model.map(|model| EntityAt { index, entity: CarModel(model) }))
    }

    /// Federation: a `Country` another subgraph names by code (`@key(fields: "code")`). Every
    /// viewer sees every market of the catalogue, as `countries` answers; figures stay behind
    /// the queries that scope them.
    #[graphql(entity)]
    async fn country_by_code(&self, ctx: &Context<'_>, code: String) -> Result<Option<EntityAt<Country>>> {
        let index = representation_index(ctx, "Country", "code", &code)?;
        let country = ctx.data::<loaders::Countries>()?.load_one(code).await?;
        Ok(country.map(|country| EntityAt { index, entity: Country(country) }))
    }
}

/// Where each representation stands in `_entities`' argument, read once per request: entity
/// resolvers ask in the order of the representations (each asks before it awaits anything), so
/// a representation sent twice gets both its places, and one carrying several keys is claimed
/// once, by the key that resolved it.
#[derive(Default)]
pub struct EntityIndexes(std::sync::Mutex<Option<Places>>);

/// The places of the representations by type name, key field and key value, and which of them
/// a resolver has claimed.
#[derive(Default)]
struct Places {
    by_key: HashMap<(String, String, String), VecDeque<usize>>,
    claimed: Vec<bool>,
}

impl Places {
    fn read(representations: &[async_graphql::Any]) -> Self {
        let mut places = Places { claimed: vec![false; representations.len()], ..Default::default() };
        for (index, representation) in representations.iter().enumerate() {
            let Value::Object(fields) = &representation.0 else { continue };
            let Some(Value::String(typename)) = fields.get("__typename") else { continue };
            for (name, field) in fields {
                let text = match field {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    _ => continue,
                };
                places.by_key.entry((typename.clone(), name.to_string(), text)).or_default().push_back(index);
            }
        }
        places
    }

    /// The first place of this key no resolver has claimed yet, now claimed.
    fn claim(&mut self, type_name: &str, key: &str, value: &str) -> Option<usize> {
        let queue = self.by_key.get_mut(&(type_name.to_string(), key.to_string(), value.to_string()))?;
        while let Some(index) = queue.pop_front() {
            if let Some(claimed) = self.claimed.get_mut(index).filter(|claimed| !**claimed) {
                *claimed = true;
                return Some(index);
            }
        }
        None
    }
}

fn representation_index(ctx: &Context<'_>, type_name: &str, key: &str, value: &str) -> Result<usize> {
    let indexes = ctx.data::<EntityIndexes>()?;
    let mut places =
        indexes.0.lock().map_err(|_| ApiError::internal("entity indexes poisoned".to_string()))?;
    if places.is_none() {
        let (_, representations) = ctx.param_value::<Vec<async_graphql::Any>>("representations", None)?;
        *places = Some(Places::read(&representations));
    }
    Ok(places.as_mut().and_then(|places| places.claim(type_name, key, value)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_representation_is_claimed_once_whatever_keys_it_carries() {
        let representation =
            |json: serde_json::Value| async_graphql::Any(Value::from_json(json).expect("a value"));
        let mut places = Places::read(&[
            representation(serde_json::json!({ "__typename": "CarModel", "id": "3", "name": "X5" })),
            representation(serde_json::json!({ "__typename": "CarModel", "name": "X5" })),
            representation(serde_json::json!({ "__typename": "Country", "code": "DE" })),
            representation(serde_json::json!({ "__typename": "CarModel", "name": "X5" })),
        ]);
        assert_eq!(places.claim("CarModel", "id", "3"), Some(0));
        assert_eq!(places.claim("CarModel", "name", "X5"), Some(1), "the first is resolved by its id");
        assert_eq!(places.claim("Country", "code", "DE"), Some(2));
        assert_eq!(places.claim("CarModel", "name", "X5"), Some(3));
        assert_eq!(places.claim("CarModel", "name", "X5"), None);
        assert_eq!(places.claim("Country", "code", "FR"), None);
    }
}
