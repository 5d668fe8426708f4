//! Objects and lists resolved in one pass, for the types an answer repeats hundreds of times: a
//! page's edges and rows, and the models and markets they name. async-graphql resolves every
//! field of every object as its own boxed future behind the extension chain, and every list item
//! through the extension hook too; on a page of 100 rows that machinery was most of the server's
//! time (perf). A [`OnePass`] object walks its selection once and writes each field's value,
//! asking the access guard's [`field_denial`] for each field first, as the guard extension would.
//!
//! Each such type has an ordinary `#[Object]` twin that declares it to the schema (descriptions,
//! visibility) and serves as the reference its one pass must answer like (tested per type).
//! `@skip`/`@include` are applied before execution starts and the schema declares no other
//! executable directive, so a field's directives need no handling here.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
};

use crate::access::RequestAccess;
use crate::access::guard::{field_denial, forbidden_at};
use crate::app::AppContext;

/// An object type resolved in one pass over its selection. Everything such an object names is
/// at hand by the time it resolves (a page loads what the catalogue lacks first), so no field
/// awaits: a future per field and per nested object cost more than most fields' own work
/// (moving the nested futures alone showed in a page's profile).
pub trait OnePass: Send + Sync {
    /// The GraphQL type's name: `__typename`, and the owner of the coordinates the guard checks.
    const TYPE_NAME: &'static str;

    /// The value of one selected field, by its schema name (never `__typename`, and already
    /// allowed by the guard). `ctx` is the field's own context: nested objects resolve their
    /// selection under it, and errors take its path.
    fn field_value<'a>(&'a self, ctx: &'a Context<'a>, field: &'a Positioned<Field>) -> ServerResult<Value>;
}

/// Resolves `object`'s selection into one JSON object, fields in the order asked.
pub fn resolve_object<'a, T: OnePass>(
    object: &'a T,
    ctx: &'a ContextSelectionSet<'a>,
) -> ServerResult<Value> {
    let mut selected = Vec::new();
    selected_fields(ctx, T::TYPE_NAME, ctx.item, &mut selected)?;
    let access = ctx.data_opt::<RequestAccess>();
    // Most of these types protect no field: then no field needs the policy's word.
    let guarded = access.is_none_or(|access| access.policy.protects_any_of(T::TYPE_NAME));
    let app = || ctx.data_opt::<std::sync::Arc<AppContext>>().map(|app| &**app);
    let mut answer = IndexMap::with_capacity(selected.len());
    for field in selected {
        let name = field.node.name.node.as_str();
        // A fresh name, not a clone of the document's: the parsed document is shared by every
        // request with the same text, and both workers bumping the same reference counts for
        // every field of every row made those increments three quarters of this function's
        // time (perf annotate: cores trading the cache line). Allocating is far cheaper.
        let key = Name::new(field.node.response_key().node.as_str());
        if name == "__typename" {
            answer.insert(key, Value::String(T::TYPE_NAME.to_string()));
            continue;
        }
        let ctx_field = ctx.with_field(field);
        if let Some(message) = guarded.then(|| field_denial(access, app, T::TYPE_NAME, name)).flatten() {
            if let Some(path) = &ctx_field.path_node {
                ctx.add_error(forbidden_at(path, message));
            }
            answer.insert(key, Value::Null);
            continue;
        }
        let value = object.field_value(&ctx_field, field)?;
        merge_field(&mut answer, key, value);
    }
    Ok(Value::Object(answer))
}

/// Resolves a nested one-pass object under its field.
pub fn resolve_nested<'a, T: OnePass>(
    object: &'a T,
    ctx: &'a Context<'a>,
    field: &'a Positioned<Field>,
) -> ServerResult<Value> {
    let nested = ctx.with_selection_set(&field.node.selection_set);
    resolve_object(object, &nested)
}

/// A nullable `Float`: null for a missing value (and for NaN, which JSON cannot carry).
pub fn number_or_null(value: Option<f64>) -> Value {
    value.map_or(Value::Null, Value::from)
}

/// The error a one-pass field reports when the selection names a field the type lacks (which
/// validation has already refused: reaching it means a field was added to the twin only).
pub fn unknown_field<T: OnePass>(field: &Positioned<Field>) -> ServerError {
    ServerError::new(
        format!(r#"Cannot query field "{}" on type "{}"."#, field.node.name.node, T::TYPE_NAME),
        Some(field.pos),
    )
}

/// The fields a selection set asks of an object of `type_name`, fragments spread in order.
/// A fragment applies when its type condition names this type: none of these types implements
/// an interface, and the one union they belong to (federation's `_Entity`) is only ever spread
/// into by type (`... on CarModel`).
fn selected_fields<'a>(
    ctx: &ContextSelectionSet<'a>,
    type_name: &str,
    set: &'a Positioned<SelectionSet>,
    out: &mut Vec<&'a Positioned<Field>>,
) -> ServerResult<()> {
    let applies = |condition: Option<&str>| condition.is_none_or(|on| on == type_name);
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) => out.push(field),
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = ctx.query_env.fragments.get(name) else {
                    return Err(ServerError::new(format!(r#"Unknown fragment "{name}"."#), Some(spread.pos)));
                };
                if applies(Some(fragment.node.type_condition.node.on.node.as_str())) {
                    selected_fields(ctx, type_name, &fragment.node.selection_set, out)?;
                }
            }
            Selection::InlineFragment(fragment) => {
                if applies(fragment.node.type_condition.as_ref().map(|c| c.node.on.node.as_str())) {
                    selected_fields(ctx, type_name, &fragment.node.selection_set, out)?;
                }
            }
        }
    }
    Ok(())
}

/// A response key asked twice (`model { name } model { id }`) answers once, the objects' fields
/// merged, as async-graphql's own resolvers do.
fn merge_field(answer: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    use async_graphql::indexmap::map::Entry;
    match answer.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(value);
        }
        Entry::Occupied(mut earlier) => {
            if let (Value::Object(earlier), Value::Object(later)) = (earlier.get_mut(), value) {
                for (key, value) in later {
                    merge_field(earlier, key, value);
                }
            }
        }
    }
}

/// A non-null list of one-pass objects (`[T!]!`), owned or borrowed (`OnePassList<&T>`), its
/// items resolved one after another without the per-item extension hook: the guard decides on
/// fields, and no list item is protected. Whatever the items load (models, markets) must be
/// primed first: a load inside one item would wait out the loader's batching delay alone.
pub struct OnePassList<T>(pub Vec<T>);

impl<T: OnePass + OutputType> OutputType for OnePassList<T> {
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("[{}]", T::qualified_type_name()))
    }

    fn qualified_type_name() -> String {
        format!("[{}]!", T::qualified_type_name())
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry);
        Self::qualified_type_name()
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut items = Vec::with_capacity(self.0.len());
        for (index, item) in self.0.iter().enumerate() {
            let ctx_item = ctx.with_index(index);
            items.push(resolve_object(item, &ctx_item)?);
        }
        Ok(Value::List(items))
    }
}

/// A one-pass object answered as item `index` of federation's `_entities` list. async-graphql
/// resolves each representation under the list's own path, so an error inside one (a field the
/// guard refuses) would lack the index a router needs to put it on the right entity.
pub struct EntityAt<T> {
    pub index: usize,
    pub entity: T,
}

impl<T: OnePass + OutputType> OutputType for EntityAt<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_object(&self.entity, &ctx.with_index(self.index))
    }
}

impl<T: OnePass> OnePass for &T {
    const TYPE_NAME: &'static str = T::TYPE_NAME;

    fn field_value<'a>(&'a self, ctx: &'a Context<'a>, field: &'a Positioned<Field>) -> ServerResult<Value> {
        (**self).field_value(ctx, field)
    }
}

/// `OutputType` for a [`OnePass`] type: the schema sees its `#[Object]` twin, answers come from
/// the one pass.
macro_rules! one_pass_output {
    ($type:ty, twin: $twin:ty) => {
        impl async_graphql::OutputType for $type {
            fn type_name() -> std::borrow::Cow<'static, str> {
                <$twin as async_graphql::OutputType>::type_name()
            }

            fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                <$twin as async_graphql::OutputType>::create_type_info(registry)
            }

            async fn resolve(
                &self,
                ctx: &async_graphql::ContextSelectionSet<'_>,
                _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
            ) -> async_graphql::ServerResult<async_graphql::Value> {
                $crate::graphql::one_pass::resolve_object(self, ctx)
            }
        }
    };
}
pub(crate) use one_pass_output;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_graphql::{EmptyMutation, EmptySubscription, Request, Schema};
    use chrono::NaiveDate;
    use serde_json::Value as Json;

    use async_graphql::Object;
    use entity::sale;

    use crate::access::{AccessPolicy, FieldAccess, RequestAccess};
    use crate::auth::{Role, Viewer};
    use crate::store::catalogue::Catalogue;

    use crate::graphql::catalogue::{CarModel, CarModelFields, Country, CountryFields};
    use crate::graphql::loaders::{self, PageNames};
    use crate::graphql::sales::{Sale, SaleEdge, SaleEdgeFields, SaleFields};
    use crate::graphql::summary::{SalesAggregate, SalesAggregateFields};
    use crate::summary::AggregateRow;

    /// The same rows, edges, models and markets behind both resolvers of each one-pass type.
    struct BothResolvers(Vec<sale::Model>, Arc<Catalogue>);

    #[Object]
    impl BothResolvers {
        async fn sales(&self) -> Vec<Sale> {
            let names = Arc::new(PageNames::new(self.1.clone()));
            self.0.iter().cloned().map(|row| Sale(row, names.clone())).collect()
        }

        async fn sales_reference(&self) -> Vec<SaleFields> {
            self.0.iter().cloned().map(SaleFields).collect()
        }

        async fn edges(&self) -> Vec<SaleEdge> {
            let names = Arc::new(PageNames::new(self.1.clone()));
            self.0.iter().cloned().map(|row| SaleEdge(Sale(row, names.clone()))).collect()
        }

        async fn edges_reference(&self) -> Vec<SaleEdgeFields> {
            let names = Arc::new(PageNames::new(self.1.clone()));
            self.0.iter().cloned().map(|row| SaleEdgeFields(SaleEdge(Sale(row, names.clone())))).collect()
        }

        async fn models(&self) -> Vec<CarModel> {
            self.1.models.iter().take(3).cloned().map(CarModel).collect()
        }

        async fn models_reference(&self) -> Vec<CarModelFields> {
            self.1.models.iter().take(3).cloned().map(CarModelFields).collect()
        }

        async fn countries(&self) -> Vec<Country> {
            self.1.countries.iter().take(3).cloned().map(Country).collect()
        }

        async fn countries_reference(&self) -> Vec<CountryFields> {
            self.1.countries.iter().take(3).cloned().map(CountryFields).collect()
        }

        async fn groups(&self) -> Vec<SalesAggregate> {
            groups(&self.1).into_iter().map(|row| SalesAggregate::new(row, self.1.clone())).collect()
        }

        async fn groups_reference(&self) -> Vec<SalesAggregateFields> {
            groups(&self.1)
                .into_iter()
                .map(|row| SalesAggregateFields(SalesAggregate::new(row, self.1.clone())))
                .collect()
        }
    }

    /// Groups with every dimension set, none set, and a price or not.
    fn groups(catalogue: &Catalogue) -> Vec<AggregateRow> {
        vec![
            AggregateRow {
                period: NaiveDate::from_ymd_opt(2024, 4, 1),
                model_id: catalogue.model_by_name("X5").map(|m| m.id),
                country: Some("DE".to_string()),
                region: Some("Europe".to_string()),
                body_type: Some("suv".to_string()),
                fuel_type: Some("diesel".to_string()),
                transmission: Some("manual".to_string()),
                units: 12,
                revenue_sum: 600_000.25,
                priced_units: 10,
                rows: 4,
            },
            AggregateRow { units: 3, rows: 1, ..AggregateRow::default() },
        ]
    }

    fn rows(catalogue: &Catalogue) -> Vec<sale::Model> {
        let model = |name: &str| catalogue.model_by_name(name).map(|m| m.id).expect("catalogue model");
        let row = |id, model_id, country: &str, price: Option<f64>, color: Option<&str>| sale::Model {
            id,
            sold_on: NaiveDate::from_ymd_opt(2024, 3, 9).expect("date"),
            model_id,
            country_code: country.to_string(),
            units: 3,
            unit_price: price,
            revenue: price.map(|p| p * 3.0),
            fuel_type: "electric".to_string(),
            transmission: "automatic".to_string(),
            color: color.map(str::to_string),
            date_precision: "day".to_string(),
        };
        vec![row(7, model("X5"), "DE", Some(65_000.5), Some("Black")), row(8, model("i4"), "GB", None, None)]
    }

    /// Runs `selection` on `list` and on its reference twin as `role`; returns each one's answer
    /// and the errors each raised, paths relative to its own list.
    async fn both(list: &str, selection: &str, role: Role) -> (Json, Json, Vec<Json>, Vec<Json>) {
        let catalogue = Arc::new(Catalogue::builtin());
        let rows = rows(&catalogue);
        let store = crate::store::Store::new(
            sea_orm::Database::connect("sqlite::memory:").await.expect("sqlite"),
            Default::default(),
        );
        let models = loaders::models(store.clone(), catalogue.clone(), Default::default());
        let countries = loaders::countries(store, catalogue.clone(), Default::default());
        loaders::prime_models(&models, rows.iter().map(|r| r.model_id)).await.expect("models");
        loaders::prime_countries(&countries, rows.iter().map(|r| r.country_code.clone()))
            .await
            .expect("countries");
        let schema = Schema::build(BothResolvers(rows, catalogue), EmptyMutation, EmptySubscription)
            .extension(FieldAccess)
            .data(models)
            .data(countries)
            .finish();
        let access = RequestAccess::new(
            Viewer::new("test", role, vec![]),
            Arc::new(AccessPolicy::default_policy().await.expect("policy")),
        );
        let mut query = format!("{{ {list} {{ {selection} }} {list}Reference {{ {selection} }} }}");
        if selection.contains("...Row") {
            query.push_str(" fragment Row on Sale { color soldOn }");
        }
        let response = schema.execute(Request::new(query).data(access)).await;
        let response = serde_json::to_value(&response).expect("json");
        let errors_of = |root: &str| -> Vec<Json> {
            let mut errors: Vec<Json> = response["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["path"][0] == root)
                .map(|e| serde_json::json!([e["message"], e["path"].as_array().map(|p| p[1..].to_vec())]))
                .collect();
            errors.sort_by_key(|e| e.to_string());
            errors
        };
        let reference = format!("{list}Reference");
        (
            response["data"][list].clone(),
            response["data"][&reference].clone(),
            errors_of(list),
            errors_of(&reference),
        )
    }

    #[tokio::test]
    async fn one_pass_types_answer_as_their_per_field_twins_do() {
        let sale = "id soldOn units unitPrice revenue fuelType transmission color";
        let cases = [
            (
                "sales",
                format!("{sale} model {{ id name bodyType basePrice }} country {{ code name region }}"),
            ),
            ("sales", "__typename first: id again: id model { name } model { id } n: units".to_string()),
            ("sales", "...Row ... on Sale { units country { code } } ... { id } id".to_string()),
            ("sales", "country { __typename code } model { __typename }".to_string()),
            ("edges", format!("cursor __typename node {{ {sale} model {{ name }} }} again: node {{ id }}")),
            ("edges", "... on SaleEdge { node { ...Row } } cursor".to_string()),
            ("models", "id name bodyType basePrice __typename".to_string()),
            ("countries", "code name region __typename c: code".to_string()),
            (
                "groups",
                "period model { name } country { code region } region bodyType fuelType transmission units \
                 revenue averagePrice __typename"
                    .to_string(),
            ),
        ];
        for (list, selection) in &cases {
            for role in [Role::Admin, Role::Analyst] {
                let (one_pass, reference, one_pass_errors, reference_errors) =
                    both(list, selection, role).await;
                assert!(
                    reference.as_array().is_some_and(|items| items.len() >= 2),
                    "{selection}: {reference}"
                );
                assert_eq!(one_pass.to_string(), reference.to_string(), "{role:?} {list} {selection}");
                assert_eq!(one_pass_errors, reference_errors, "{role:?} {list} {selection}");
            }
        }
    }

    #[tokio::test]
    async fn one_pass_fields_are_guarded() {
        let (one_pass, _, errors, _) = both("sales", "id revenue", Role::Analyst).await;
        assert_eq!(one_pass[0]["revenue"], Json::Null);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0][1], serde_json::json!([0, "revenue"]));
        let (one_pass, ..) = both("sales", "id revenue", Role::Admin).await;
        assert_eq!(one_pass[0]["revenue"], serde_json::json!(195_001.5));
        let (one_pass, _, errors, _) = both("models", "name basePrice", Role::Analyst).await;
        assert_eq!(one_pass[0]["basePrice"], Json::Null);
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
