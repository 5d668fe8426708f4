//! The one place where field-level access is decided ([`field_denial`]) and enforced: an
//! async-graphql extension that looks at every field before its resolver runs, and the one
//! resolver that writes its fields without that machinery (`graphql::sales::Sale`, a page's rows)
//! asks the same function. A denied field resolves to null and its error (code `FORBIDDEN`, path
//! of the field) joins the response, so the rest of the answer still arrives. A field whose
//! arguments use a protected enum value (`metric: REVENUE`) is denied the same way.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{
    ErrorExtensionValues, PathSegment, QueryPathNode, QueryPathSegment, Request, Response, ServerError,
    ServerResult, Value, Variables,
};

use super::RequestAccess;

/// Installs the guard on a schema.
pub struct FieldAccess;

impl ExtensionFactory for FieldAccess {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldAccessGuard::default())
    }
}

#[derive(Default)]
struct FieldAccessGuard {
    /// The request's variables, with the operation's defaults filled in for those the request
    /// leaves out: a protected enum value may come from either.
    variables: Mutex<Variables>,
    operation_name: Mutex<Option<String>>,
    denied: Mutex<Vec<ServerError>>,
}

fn path_of(node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut path: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|n| match n.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_string()),
            QueryPathSegment::Index(index) => PathSegment::Index(index),
        })
        .collect();
    path.reverse();
    path
}

fn forbidden_message(role: &str, coordinate: &str, resource: &str) -> String {
    format!("the {role} role may not read {coordinate} ({resource})")
}

/// The named type inside a type reference such as `[Metric!]!`.
fn named_type(reference: &str) -> &str {
    reference.trim_matches(|c| matches!(c, '[' | ']' | '!'))
}

/// How deep [`denied_value`] looks into lists and input objects.
const MAX_VALUE_WALK: usize = 64;

/// A default value as the registry writes it (GraphQL literal syntax): an enum value is read
/// directly, anything else through the parser.
fn default_value(literal: &str) -> Option<Value> {
    if !literal.is_empty() && literal.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()) {
        return Some(match literal {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            "null" => Value::Null,
            _ if literal.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'-') => {
                return serde_json::from_str::<serde_json::Value>(literal)
                    .ok()
                    .and_then(|v| Value::from_json(v).ok());
            }
            name => Value::Enum(async_graphql::Name::new(name)),
        });
    }
    let document = async_graphql::parser::parse_query(format!("{{ f(a: {literal}) }}")).ok()?;
    let (_, operation) = document.operations.iter().next()?;
    let async_graphql::parser::types::Selection::Field(field) =
        &operation.node.selection_set.node.items.first()?.node
    else {
        return None;
    };
    let (_, value) = field.node.arguments.first()?;
    value.node.clone().into_const()
}

/// The first protected enum value the role may not use anywhere inside `value` (lists and
/// input objects included, their fields' defaults too), read as type `type_name`.
fn denied_value(
    registry: &async_graphql::registry::Registry,
    access: &RequestAccess,
    type_name: &str,
    value: &Value,
    depth: usize,
) -> Option<String> {
    // Deeper values were refused before parsing; this only bounds the walk.
    if depth > MAX_VALUE_WALK {
        return None;
    }
    match value {
        Value::List(items) => {
            items.iter().find_map(|item| denied_value(registry, access, type_name, item, depth + 1))
        }
        Value::Enum(member) => denied_member(access, type_name, member.as_str()),
        Value::String(member) => denied_member(access, type_name, member),
        Value::Object(fields) => {
            let Some(async_graphql::registry::MetaType::InputObject { input_fields, .. }) =
                registry.types.get(type_name)
            else {
                return None;
            };
            input_fields.values().find_map(|meta| {
                let given = fields.get(meta.name.as_str()).cloned();
                let value = given.or_else(|| meta.default_value.as_deref().and_then(default_value))?;
                denied_value(registry, access, named_type(&meta.ty), &value, depth + 1)
            })
        }
        _ => None,
    }
}

fn denied_member(access: &RequestAccess, enum_type: &str, member: &str) -> Option<String> {
    let protection = access.policy.protection_of(enum_type, member)?;
    (!protection.allowed.contains(&access.viewer.role)).then(|| {
        forbidden_message(access.viewer.role.as_str(), &format!("{enum_type}.{member}"), &protection.resource)
    })
}

impl FieldAccessGuard {
    /// The first protected enum value the role may not use among the field's arguments as they
    /// finally resolve: written in the query, from a variable, from the variable's default, or
    /// the argument's own default, at any depth of a list or input object.
    fn denied_argument(
        &self,
        ctx: &ExtensionContext<'_>,
        info: &ResolveInfo<'_>,
        access: &RequestAccess,
    ) -> Option<String> {
        let registry = &ctx.schema_env.registry;
        let field = registry.types.get(info.parent_type)?.field_by_name(info.name)?;
        if field.args.is_empty() {
            return None;
        }
        let variables = self.variables.lock().ok()?;
        for (name, argument) in &field.args {
            // Only a protected enum, or an input object that may hold one, can carry a protected
            // value: scalar arguments (limits, cursors, questions) are not resolved at all.
            let type_name = named_type(&argument.ty);
            let may_hold = access.policy.protects_any_of(type_name)
                || matches!(
                    registry.types.get(type_name),
                    Some(async_graphql::registry::MetaType::InputObject { .. })
                );
            if !may_hold {
                continue;
            }
            let written = info.field.arguments.iter().find(|(n, _)| n.node.as_str() == name.as_str());
            let value = match written {
                Some((_, value)) => value
                    .node
                    .clone()
                    .into_const_with(|name| Ok::<_, ()>(variables.get(&name).cloned().unwrap_or(Value::Null)))
                    .ok()?,
                None => match argument.default_value.as_deref().and_then(default_value) {
                    Some(value) => value,
                    None => continue,
                },
            };
            if let Some(message) = denied_value(registry, access, type_name, &value, 0) {
                return Some(message);
            }
        }
        None
    }
}

#[async_trait::async_trait]
impl Extension for FieldAccessGuard {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut variables) = self.variables.lock() {
            variables.clone_from(&request.variables);
        }
        if let Ok(mut operation_name) = self.operation_name.lock() {
            operation_name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    /// Once the document is parsed, the executed operation's variable defaults join the
    /// variables the request gave, as the resolvers will see them.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let name = self.operation_name.lock().ok().and_then(|name| name.clone());
        let operation = match (&document.operations, name) {
            (DocumentOperations::Single(operation), _) => Some(operation),
            (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name.as_str()),
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                operations.values().next()
            }
            _ => None,
        };
        if let (Some(operation), Ok(mut known)) = (operation, self.variables.lock()) {
            for definition in &operation.node.variable_definitions {
                let name = &definition.node.name.node;
                if !known.contains_key(name)
                    && let Some(default) = definition.node.default_value()
                {
                    known.insert(name.clone(), default.clone());
                }
            }
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if let Ok(mut denied) = self.denied.lock() {
            response.errors.append(&mut denied);
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        let access = ctx.data_opt::<RequestAccess>();
        let app = || ctx.data_opt::<Arc<crate::app::AppContext>>().map(|app| &**app);
        let message = field_denial(access, app, info.parent_type, info.name)
            .or_else(|| access.and_then(|access| self.denied_argument(ctx, &info, access)));
        match message {
            Some(message) => {
                let error = forbidden_at(info.path_node, message);
                if let Ok(mut denied) = self.denied.lock() {
                    denied.push(error);
                }
                Ok(None)
            }
            None => next.run(ctx, info).await,
        }
    }
}

/// Why this request may not read `parent_type.field` (arguments aside), or `None` when it may.
/// The guard asks it for every field it sees; a resolver that writes an object's fields in one
/// pass without the per-field machinery (`graphql::sales::Sale`) must ask it for each field.
/// The HTTP layer always sets the viewer; without one, protected fields fail closed against
/// the policy `app` holds (looked up only then: this runs for every field of every answer).
pub fn field_denial<'a>(
    access: Option<&RequestAccess>,
    app: impl FnOnce() -> Option<&'a crate::app::AppContext>,
    parent_type: &str,
    field: &str,
) -> Option<String> {
    match access {
        Some(access) => access
            .policy
            .protection_of(parent_type, field)
            .filter(|protection| !protection.allowed.contains(&access.viewer.role))
            .map(|protection| {
                forbidden_message(
                    access.viewer.role.as_str(),
                    &format!("{parent_type}.{field}"),
                    &protection.resource,
                )
            }),
        None => app()
            .filter(|app| app.policy.current().protection_of(parent_type, field).is_some())
            .map(|_| "no viewer for this request".to_string()),
    }
}

/// The error a denied field answers with: code `FORBIDDEN`, at the field's path.
pub fn forbidden_at(path_node: &QueryPathNode<'_>, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.path = path_of(path_node);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "FORBIDDEN");
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_defaults_are_read_as_values() {
        assert_eq!(default_value("REVENUE"), Some(Value::Enum(async_graphql::Name::new("REVENUE"))));
        assert_eq!(default_value("5"), Some(Value::from(5)));
        assert_eq!(default_value("true"), Some(Value::Boolean(true)));
        assert_eq!(
            default_value("[UNITS, REVENUE]"),
            Some(Value::List(vec![
                Value::Enum(async_graphql::Name::new("UNITS")),
                Value::Enum(async_graphql::Name::new("REVENUE"))
            ]))
        );
    }

    #[test]
    fn named_types_lose_their_wrapping() {
        assert_eq!(named_type("[Metric!]!"), "Metric");
        assert_eq!(named_type("Metric"), "Metric");
    }
}
