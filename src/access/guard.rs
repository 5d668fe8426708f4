//! The one place where field-level access is decided ([`field_denial`]) and enforced: an
//! async-graphql extension that looks at every field before its resolver runs, and the one
//! resolver that writes its fields without that machinery (`graphql::sales::Sale`, a page's rows)
//! asks the same function. A denied field resolves to null and its error (code `FORBIDDEN`, path
//! of the field) joins the response, so the rest of the answer still arrives. A field whose
//! arguments use a protected enum value (`metric: REVENUE`) is denied the same way.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextResolve, ResolveInfo,
};
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
    /// The request's variables: an enum argument may come from one.
    variables: Mutex<Variables>,
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

impl FieldAccessGuard {
    /// The first protected enum value among the field's arguments that the role may not use.
    fn denied_argument(
        &self,
        ctx: &ExtensionContext<'_>,
        info: &ResolveInfo<'_>,
        access: &RequestAccess,
    ) -> Option<String> {
        let field = ctx.schema_env.registry.types.get(info.parent_type)?.field_by_name(info.name)?;
        for (name, value) in &info.field.arguments {
            let Some(argument) = field.args.get(name.node.as_str()) else { continue };
            let enum_type = named_type(&argument.ty);
            if !access.policy.protects_any_of(enum_type) {
                continue;
            }
            let value = {
                let variables = self.variables.lock().ok()?;
                value
                    .node
                    .clone()
                    .into_const_with(|name| Ok::<_, ()>(variables.get(&name).cloned().unwrap_or(Value::Null)))
                    .ok()?
            };
            let values = match value {
                Value::List(items) => items,
                single => vec![single],
            };
            for item in values {
                let member = match &item {
                    Value::Enum(name) => name.as_str(),
                    Value::String(text) => text.as_str(),
                    _ => continue,
                };
                if let Some(protection) = access.policy.protection_of(enum_type, member)
                    && !protection.allowed.contains(&access.viewer.role)
                {
                    return Some(forbidden_message(
                        access.viewer.role.as_str(),
                        &format!("{enum_type}.{member}"),
                        &protection.resource,
                    ));
                }
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
        next.run(ctx, request).await
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
        let message = field_denial(access, app, info.parent_type, info.name).or_else(|| match access {
            Some(access) if !info.field.arguments.is_empty() => self.denied_argument(ctx, &info, access),
            _ => None,
        });
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
    fn named_types_lose_their_wrapping() {
        assert_eq!(named_type("[Metric!]!"), "Metric");
        assert_eq!(named_type("Metric"), "Metric");
    }
}
