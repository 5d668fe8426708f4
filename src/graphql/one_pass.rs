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
use std::future::Future;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
};

use crate::access::RequestAccess;
use crate::access::guard::{field_denial, forbidden_at};
use crate::app::AppContext;

/// An object type resolved in one pass over its selection.
pub trait OnePass: Send + Sync {
    /// The GraphQL type's name: `__typename`, and the owner of the coordinates the guard checks.
    const TYPE_NAME: &'static str;

    /// The value of one selected field, by its schema name (never `__typename`, and already
    /// allowed by the guard). `ctx` is the field's own context: nested objects resolve their
    /// selection under it, and errors take its path.
    fn field_value<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        field: &'a Positioned<Field>,
    ) -> impl Future<Output = ServerResult<Value>> + Send + 'a;
}

/// Resolves `object`'s selection into one JSON object, fields in the order asked.
pub async fn resolve_object<'a, T: OnePass>(
    object: &'a T,
    ctx: &'a ContextSelectionSet<'a>,
) -> ServerResult<Value> {
    let mut selected = Vec::new();
    selected_fields(ctx, T::TYPE_NAME, ctx.item, &mut selected)?;
    let access = ctx.data_opt::<RequestAccess>();
    let app = ctx.data_opt::<std::sync::Arc<AppContext>>().map(|app| &**app);
    let mut answer = IndexMap::with_capacity(selected.len());
    for field in selected {
        let name = field.node.name.node.as_str();
        let key = field.node.response_key().node.clone();
        if name == "__typename" {
            answer.insert(key, Value::String(T::TYPE_NAME.to_string()));
            continue;
        }
        let ctx_field = ctx.with_field(field);
        if let Some(message) = field_denial(access, app, T::TYPE_NAME, name) {
            if let Some(path) = &ctx_field.path_node {
                ctx.add_error(forbidden_at(path, message));
            }
            answer.insert(key, Value::Null);
            continue;
        }
        let value = object.field_value(&ctx_field, field).await?;
        merge_field(&mut answer, key, value);
    }
    Ok(Value::Object(answer))
}

/// Resolves a nested one-pass object under its field.
pub async fn resolve_nested<'a, T: OnePass>(
    object: &'a T,
    ctx: &'a Context<'a>,
    field: &'a Positioned<Field>,
) -> ServerResult<Value> {
    let nested = ctx.with_selection_set(&field.node.selection_set);
    resolve_object(object, &nested).await
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
/// Fragments on other types never apply: none of these types implements an interface or
/// belongs to a union.
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
    match (answer.get_mut(&key), value) {
        (Some(Value::Object(earlier)), Value::Object(later)) => {
            for (key, value) in later {
                merge_field(earlier, key, value);
            }
        }
        (Some(_), _) => {}
        (None, value) => {
            answer.insert(key, value);
        }
    }
}

/// A non-null list of one-pass objects (`[T!]!`), its items resolved one after another without
/// the per-item extension hook: the guard decides on fields, and no list item is protected.
/// Whatever the items load (models, markets) must be primed first: a load inside one item
/// would wait out the loader's batching delay alone.
pub struct OnePassList<'a, T>(pub Vec<&'a T>);

impl<T: OnePass + OutputType> OutputType for OnePassList<'_, T> {
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
            items.push(resolve_object(*item, &ctx_item).await?);
        }
        Ok(Value::List(items))
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
                $crate::graphql::one_pass::resolve_object(self, ctx).await
            }
        }
    };
}
pub(crate) use one_pass_output;
