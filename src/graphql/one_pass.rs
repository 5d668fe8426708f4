//! Objects and lists resolved in one pass, for the types an answer repeats hundreds of times: a
//! page's edges and rows, and the models and markets they name. async-graphql resolves every
//! field of every object as its own boxed future behind the extension chain, and every list item
//! through the extension hook too; on a page of 100 rows that machinery was most of the server's
//! time (perf). A [`OnePass`] object walks its selection once and writes each field's value,
//! asking the access guard's [`field_denial`] for each field first, as the guard extension would.
//!
//! Each such type is declared once with [`one_pass_fields!`]: its schema (descriptions, types,
//! arguments, visibility) and the writer of its fields come from the same lines. The tests hold
//! each type to what async-graphql's own field-by-field resolution answers.
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

/// The error a one-pass field reports when the selection names a field the type lacks (which
/// validation has already refused).
pub fn unknown_field(type_name: &str, field: &Positioned<Field>) -> ServerError {
    ServerError::new(
        format!(r#"Cannot query field "{}" on type "{type_name}"."#, field.node.name.node),
        Some(field.pos),
    )
}

/// A field's value as the answer writes it: what async-graphql's own resolution of the same
/// type gives (a scalar's `to_value`, an enum's name, null for `None`), without its future.
pub trait Answer {
    fn answer(&self) -> Value;
}

macro_rules! answered_as_scalar {
    ($($scalar:ty),+) => {
        $(impl Answer for $scalar {
            fn answer(&self) -> Value {
                async_graphql::ScalarType::to_value(self)
            }
        })+
    };
}
answered_as_scalar!(async_graphql::ID, bool, i32, i64, f64, String, super::scalars::Date);

macro_rules! answered_as_enum {
    ($($enum:ty),+) => {
        $(impl Answer for $enum {
            fn answer(&self) -> Value {
                async_graphql::InputType::to_value(self)
            }
        })+
    };
}
answered_as_enum!(super::enums::BodyType, super::enums::FuelType, super::enums::Transmission);

impl Answer for &str {
    fn answer(&self) -> Value {
        Value::String((*self).to_string())
    }
}

impl<T: Answer> Answer for Option<T> {
    fn answer(&self) -> Value {
        self.as_ref().map_or(Value::Null, Answer::answer)
    }
}

/// Declares a one-pass type once: its schema (type and field descriptions, field types and
/// arguments, visibility) and the function that writes its fields. The schema is an `#[Object]`
/// over an empty enum, so it can only describe the type, never resolve it; answers come from
/// the writer. A field is written from a typed value (`= expr`, converted as async-graphql
/// would, so the value must have the declared type) or, for nested objects and fields that
/// report errors, as a `Value` (`=> expr`, which may use `?`). Each `answered by` type resolves
/// in one pass through the writer, given what the closure-like expression finds in it.
///
/// ```ignore
/// one_pass_fields! {
///     /// A market.
///     schema CountrySchema as "Country";
///     fn country_field(country: &country::Model, _ctx, field) {
///         /// ISO code.
///         code "code": &str = country.code.as_str();
///     }
///     answered by Country as |country| &country.0;
/// }
/// ```
macro_rules! one_pass_fields {
    (
        $(#[$type_attr:meta])*
        schema $schema:ident as $type_name:tt;
        fn $writer:ident($source:ident: $source_type:ty, $ctx:ident, $field:ident) {
            $(
                $(#[doc = $doc:expr])*
                $(#[graphql($($option:tt)*)])?
                $rust_name:ident $name:tt $(($($(#[$arg_attr:meta])* $arg:ident: $arg_type:ty),+))?
                    : $field_type:ty $(= $typed:expr)? $(=> $raw:expr)?;
            )+
        }
        $(answered by $implementer:ty as |$this:ident| $source_of:expr;)+
    ) => {
        #[doc = concat!("The schema of `", $type_name, "`, which its one pass answers (never built).")]
        pub enum $schema {}

        impl $schema {
            /// What a field of the schema would answer: nothing, as no value of it exists.
            fn never<T>(&self) -> T {
                match *self {}
            }
        }

        $(#[$type_attr])*
        #[async_graphql::Object(name = $type_name)]
        #[allow(unused_variables)]
        impl $schema {
            $(
                $(#[doc = $doc])*
                #[graphql(name = $name $(, $($option)*)?)]
                async fn $rust_name(&self $($(, $(#[$arg_attr])* $arg: $arg_type)+)?) -> $field_type {
                    self.never()
                }
            )+
        }

        fn $writer<'a>(
            $source: $source_type,
            $ctx: &'a async_graphql::Context<'a>,
            $field: &'a async_graphql::Positioned<async_graphql::parser::types::Field>,
        ) -> async_graphql::ServerResult<async_graphql::Value> {
            #[allow(unused_imports)]
            use $crate::graphql::one_pass::Answer as _;
            Ok(match $field.node.name.node.as_str() {
                $($name => { $({ let value: $field_type = $typed; value.answer() })? $($raw)? })+
                _ => return Err($crate::graphql::one_pass::unknown_field($type_name, $field)),
            })
        }

        $(impl $crate::graphql::one_pass::OnePass for $implementer {
            const TYPE_NAME: &'static str = $type_name;

            fn field_value<'a>(
                &'a self,
                ctx: &'a async_graphql::Context<'a>,
                field: &'a async_graphql::Positioned<async_graphql::parser::types::Field>,
            ) -> async_graphql::ServerResult<async_graphql::Value> {
                let $this = self;
                $writer($source_of, ctx, field)
            }
        })+
    };
}
pub(crate) use one_pass_fields;

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

/// Rows of text cells (`[[String]!]!`), written in one pass: a table's cells are plain text
/// and no cell is protected (the guard decides on the field that holds the table), so they need
/// neither async-graphql's future per item nor its extension hook per item.
pub struct TextRows(pub Vec<Vec<Option<String>>>);

impl OutputType for TextRows {
    fn type_name() -> Cow<'static, str> {
        <Vec<Vec<Option<String>>> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<Vec<Option<String>>> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<Vec<Option<String>>> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let cell =
            |cell: &Option<String>| cell.as_ref().map_or(Value::Null, |text| Value::String(text.clone()));
        Ok(Value::List(self.0.iter().map(|row| Value::List(row.iter().map(cell).collect())).collect()))
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

/// `OutputType` for a [`OnePass`] type: the schema sees its declaration (`one_pass_fields!`),
/// answers come from the one pass.
macro_rules! one_pass_output {
    ($type:ty, schema: $schema:ty) => {
        impl async_graphql::OutputType for $type {
            fn type_name() -> std::borrow::Cow<'static, str> {
                <$schema as async_graphql::OutputType>::type_name()
            }

            fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                <$schema as async_graphql::OutputType>::create_type_info(registry)
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

    use crate::analytics::trend;
    use crate::graphql::analytics::TrendPoint;
    use crate::graphql::catalogue::{CarModel, Country};
    use crate::graphql::loaders::PageNames;
    use crate::graphql::sales::{Sale, SaleEdge};
    use crate::graphql::summary::{RankedModel, SalesAggregate};
    use crate::summary::AggregateRow;

    use super::{OnePassList, TextRows};

    /// The one-pass types over the test's rows, models, markets and groups.
    struct OnePassLists(Vec<sale::Model>, Arc<Catalogue>);

    #[Object]
    impl OnePassLists {
        async fn sales(&self) -> Vec<Sale> {
            let names = Arc::new(PageNames::new(self.1.clone()));
            self.0.iter().cloned().map(|row| Sale(row, names.clone())).collect()
        }

        async fn edges(&self) -> Vec<SaleEdge> {
            let names = Arc::new(PageNames::new(self.1.clone()));
            self.0.iter().cloned().map(|row| SaleEdge(Sale(row, names.clone()))).collect()
        }

        async fn models(&self) -> Vec<CarModel> {
            self.1.models.iter().take(3).cloned().map(CarModel).collect()
        }

        async fn countries(&self) -> Vec<Country> {
            self.1.countries.iter().take(3).cloned().map(Country).collect()
        }

        async fn groups(&self) -> Vec<SalesAggregate> {
            groups(&self.1).into_iter().map(|row| SalesAggregate::new(row, self.1.clone())).collect()
        }

        async fn points(&self) -> OnePassList<TrendPoint> {
            OnePassList(trend_points())
        }

        async fn ranked(&self) -> OnePassList<RankedModel> {
            OnePassList(
                ranked(&self.1)
                    .into_iter()
                    .map(|(rank, model, row, share)| {
                        RankedModel::uncompared(rank, CarModel(model), row, share)
                    })
                    .collect(),
            )
        }

        async fn table(&self) -> TextRows {
            TextRows(table())
        }
    }

    /// The same types resolved field by field by async-graphql itself, as plain `#[Object]`s
    /// written apart from the declarations: what each one pass must answer like, fragments,
    /// aliases, `__typename` and the guard's errors included.
    mod reference {
        use std::sync::Arc;

        use async_graphql::{ID, Object};
        use entity::{car_model, country, sale};

        use crate::graphql::enums::{self, BodyType, FuelType, Transmission};
        use crate::graphql::scalars::Date;
        use crate::store::catalogue::Catalogue;
        use crate::summary::AggregateRow;

        pub struct Lists(pub Vec<sale::Model>, pub Arc<Catalogue>);

        #[Object]
        impl Lists {
            async fn sales(&self) -> Vec<Sale> {
                self.0.iter().map(|row| Sale(row.clone(), self.1.clone())).collect()
            }

            async fn edges(&self) -> Vec<SaleEdge> {
                self.0.iter().map(|row| SaleEdge(Sale(row.clone(), self.1.clone()))).collect()
            }

            async fn models(&self) -> Vec<CarModel> {
                self.1.models.iter().take(3).cloned().map(CarModel).collect()
            }

            async fn countries(&self) -> Vec<Country> {
                self.1.countries.iter().take(3).cloned().map(Country).collect()
            }

            async fn groups(&self) -> Vec<SalesAggregate> {
                super::groups(&self.1).into_iter().map(|row| SalesAggregate(row, self.1.clone())).collect()
            }

            async fn points(&self) -> Vec<TrendPoint> {
                super::trend_points()
                    .into_iter()
                    .map(|p| TrendPoint {
                        period: p.period,
                        value: p.analysed.value,
                        moving_average: p.analysed.moving_average,
                        year_over_year: p.analysed.year_over_year,
                        partial: p.analysed.partial,
                        previous: p.previous,
                        change: p.change(),
                        change_ratio: p.change_ratio(),
                    })
                    .collect()
            }

            async fn ranked(&self) -> Vec<RankedModel> {
                super::ranked(&self.1)
                    .into_iter()
                    .map(|(rank, model, row, share)| RankedModel { rank, model, row, share })
                    .collect()
            }

            async fn table(&self) -> Vec<Vec<Option<String>>> {
                super::table()
            }
        }

        #[derive(async_graphql::SimpleObject)]
        #[graphql(name = "TrendPoint")]
        pub struct TrendPoint {
            period: Date,
            value: f64,
            moving_average: Option<f64>,
            year_over_year: Option<f64>,
            partial: bool,
            previous: Option<f64>,
            change: Option<f64>,
            change_ratio: Option<f64>,
        }

        pub struct RankedModel {
            rank: i32,
            model: car_model::Model,
            row: AggregateRow,
            share: f64,
        }

        #[Object(name = "RankedModel")]
        impl RankedModel {
            async fn rank(&self) -> i32 {
                self.rank
            }
            async fn model(&self) -> CarModel {
                CarModel(self.model.clone())
            }
            async fn units(&self) -> i64 {
                self.row.units
            }
            #[graphql(visible = "crate::access::visibility::ranked_model_revenue")]
            async fn revenue(&self) -> Option<f64> {
                self.row.revenue()
            }
            async fn share(&self) -> f64 {
                self.share
            }
            async fn change(&self) -> Option<f64> {
                None
            }
            async fn change_ratio(&self) -> Option<f64> {
                None
            }
        }

        pub struct Sale(sale::Model, Arc<Catalogue>);

        #[Object(name = "Sale")]
        impl Sale {
            async fn id(&self) -> ID {
                ID(self.0.id.to_string())
            }
            async fn sold_on(&self) -> Date {
                Date(self.0.sold_on)
            }
            async fn model(&self) -> Option<CarModel> {
                self.1.model_by_id(self.0.model_id).cloned().map(CarModel)
            }
            async fn country(&self) -> Option<Country> {
                self.1.country(&self.0.country_code).cloned().map(Country)
            }
            async fn units(&self) -> i32 {
                self.0.units
            }
            #[graphql(visible = "crate::access::visibility::sale_unit_price")]
            async fn unit_price(&self) -> Option<f64> {
                self.0.unit_price
            }
            #[graphql(visible = "crate::access::visibility::sale_revenue")]
            async fn revenue(&self) -> Option<f64> {
                self.0.revenue
            }
            async fn fuel_type(&self) -> FuelType {
                enums::fuel_type(&self.0.fuel_type)
            }
            async fn transmission(&self) -> Transmission {
                enums::transmission(&self.0.transmission)
            }
            async fn color(&self) -> Option<&str> {
                self.0.color.as_deref()
            }
        }

        pub struct SaleEdge(Sale);

        #[Object(name = "SaleEdge")]
        impl SaleEdge {
            async fn node(&self) -> &Sale {
                &self.0
            }
            async fn cursor(&self) -> String {
                crate::store::sales::SaleCursor::of(&self.0.0).encode()
            }
        }

        pub struct CarModel(car_model::Model);

        #[Object(name = "CarModel")]
        impl CarModel {
            async fn id(&self) -> ID {
                ID(self.0.id.to_string())
            }
            async fn name(&self) -> &str {
                &self.0.name
            }
            async fn body_type(&self) -> BodyType {
                enums::body_type(&self.0.body_type)
            }
            #[graphql(visible = "crate::access::visibility::car_model_base_price")]
            async fn base_price(&self) -> Option<f64> {
                self.0.base_price
            }
        }

        pub struct Country(country::Model);

        #[Object(name = "Country")]
        impl Country {
            async fn code(&self) -> &str {
                &self.0.code
            }
            async fn name(&self) -> &str {
                &self.0.name
            }
            async fn region(&self) -> &str {
                &self.0.region
            }
        }

        pub struct SalesAggregate(AggregateRow, Arc<Catalogue>);

        #[Object(name = "SalesAggregate")]
        impl SalesAggregate {
            async fn period(&self) -> Option<Date> {
                self.0.period.map(Date)
            }
            async fn model(&self) -> Option<CarModel> {
                self.0.model_id.and_then(|id| self.1.model_by_id(id)).cloned().map(CarModel)
            }
            async fn country(&self) -> Option<Country> {
                self.0.country.as_deref().and_then(|code| self.1.country(code)).cloned().map(Country)
            }
            async fn region(&self) -> Option<&str> {
                self.0.region.as_deref()
            }
            async fn body_type(&self) -> Option<BodyType> {
                self.0.body_type.as_deref().map(enums::body_type)
            }
            async fn fuel_type(&self) -> Option<FuelType> {
                self.0.fuel_type.as_deref().map(enums::fuel_type)
            }
            async fn transmission(&self) -> Option<Transmission> {
                self.0.transmission.as_deref().map(enums::transmission)
            }
            async fn units(&self) -> i64 {
                self.0.units
            }
            #[graphql(visible = "crate::access::visibility::sales_aggregate_revenue")]
            async fn revenue(&self) -> Option<f64> {
                self.0.revenue()
            }
            #[graphql(visible = "crate::access::visibility::sales_aggregate_average_price")]
            async fn average_price(&self) -> Option<f64> {
                self.0.average_price()
            }
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

    /// Points with every optional figure present and absent, whole and partial.
    fn trend_points() -> Vec<TrendPoint> {
        let day =
            |month| crate::graphql::scalars::Date(NaiveDate::from_ymd_opt(2024, month, 1).expect("date"));
        vec![
            TrendPoint {
                period: day(1),
                analysed: trend::TrendPoint {
                    value: 120.0,
                    moving_average: None,
                    year_over_year: None,
                    partial: true,
                },
                previous: None,
            },
            TrendPoint {
                period: day(2),
                analysed: trend::TrendPoint {
                    value: 1_234.5,
                    moving_average: Some(1_100.25),
                    year_over_year: Some(-0.125),
                    partial: false,
                },
                previous: Some(1_000.0),
            },
        ]
    }

    /// Two places of a ranking, one with a price and one without.
    fn ranked(catalogue: &Catalogue) -> Vec<(i32, entity::car_model::Model, AggregateRow, f64)> {
        let model = |name: &str| catalogue.model_by_name(name).cloned().expect("catalogue model");
        let row = |units, revenue_sum, priced_units| AggregateRow {
            units,
            revenue_sum,
            priced_units,
            rows: 2,
            ..AggregateRow::default()
        };
        vec![(1, model("X5"), row(40, 2_600_000.5, 40), 0.8), (2, model("i4"), row(10, 0.0, 0), 0.2)]
    }

    /// Cells present and absent, in rows of different lengths.
    fn table() -> Vec<Vec<Option<String>>> {
        vec![
            vec![Some("1".to_string()), Some("X5".to_string()), None],
            vec![Some("2".to_string()), None, Some("0.25".to_string())],
            vec![],
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

    /// Runs `selection` on `list` in the one-pass schema and in the reference schema as `role`;
    /// returns each one's answer and the errors each raised, paths relative to the list.
    async fn both(list: &str, selection: &str, role: Role) -> (Json, Json, Vec<Json>, Vec<Json>) {
        let catalogue = Arc::new(Catalogue::builtin());
        let rows = rows(&catalogue);
        let policy = Arc::new(AccessPolicy::default_policy().await.expect("policy"));
        let mut query = if selection.is_empty() {
            format!("{{ {list} }}")
        } else {
            format!("{{ {list} {{ {selection} }} }}")
        };
        if selection.contains("...Row") {
            query.push_str(" fragment Row on Sale { color soldOn }");
        }
        let request = || {
            Request::new(query.clone())
                .data(RequestAccess::new(Viewer::new("test", role, vec![]), policy.clone()))
        };
        let one_pass =
            Schema::build(OnePassLists(rows.clone(), catalogue.clone()), EmptyMutation, EmptySubscription)
                .extension(FieldAccess)
                .finish()
                .execute(request())
                .await;
        let reference = Schema::build(reference::Lists(rows, catalogue), EmptyMutation, EmptySubscription)
            .extension(FieldAccess)
            .finish()
            .execute(request())
            .await;
        let answer_and_errors = |response: async_graphql::Response| -> (Json, Vec<Json>) {
            let response = serde_json::to_value(&response).expect("json");
            let mut errors: Vec<Json> = response["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| serde_json::json!([e["message"], e["path"].as_array().map(|p| p[1..].to_vec())]))
                .collect();
            errors.sort_by_key(|e| e.to_string());
            (response["data"][list].clone(), errors)
        };
        let (one_pass, one_pass_errors) = answer_and_errors(one_pass);
        let (reference, reference_errors) = answer_and_errors(reference);
        (one_pass, reference, one_pass_errors, reference_errors)
    }

    #[tokio::test]
    async fn one_pass_types_answer_as_async_graphql_resolves_them_field_by_field() {
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
            (
                "points",
                "period value movingAverage yearOverYear partial previous change changeRatio __typename"
                    .to_string(),
            ),
            ("points", "v: value period again: value ... on TrendPoint { partial }".to_string()),
            (
                "ranked",
                "rank model { name id } units revenue share change changeRatio __typename".to_string(),
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
    async fn text_rows_answer_as_a_list_of_lists_of_strings() {
        let (one_pass, reference, one_pass_errors, reference_errors) = both("table", "", Role::Analyst).await;
        assert_eq!(one_pass, serde_json::json!([["1", "X5", null], ["2", null, "0.25"], []]));
        assert_eq!(one_pass.to_string(), reference.to_string());
        assert!(one_pass_errors.is_empty() && reference_errors.is_empty());
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
