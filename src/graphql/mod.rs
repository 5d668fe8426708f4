//! The GraphQL schema: one file per domain; resolvers stay thin (arguments → domain types →
//! store, cube and summary functions).

pub mod analytics;
pub mod ask;
pub mod catalogue;
pub mod cost;
pub mod enums;
pub mod error;
pub mod filter;
pub mod import;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod one_pass;
pub mod operation_rules;
pub mod parsed;
pub mod planning;
pub mod sales;
pub mod scalars;
pub mod summary;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Schema};

use crate::access::{FieldAccess, RequestAccess};
use crate::app::AppContext;
use crate::auth::Viewer;
use crate::domain::ResolvedFilter;
use error::ApiError;

/// Reading sales: the catalogue, raw rows, aggregates, analytics, plans and questions in English.
#[derive(MergedObject, Default)]
pub struct Query(
    catalogue::CatalogueQuery,
    sales::SalesQuery,
    summary::SummaryQuery,
    analytics::AnalyticsQuery,
    planning::PlanningQuery,
    ask::AskQuery,
);

pub type AppSchema = Schema<Query, import::MutationRoot, live::SubscriptionRoot>;

/// Limits a schema is built with.
#[derive(Debug, Clone, Copy)]
pub struct SchemaLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub introspection: bool,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        Self { max_depth: 15, max_complexity: 2_000, introspection: true }
    }
}

/// Federation is always on: `_service` and `_entities` cost nothing to a client that does not
/// ask for them, and one schema serves alone or behind a router without a switch to forget.
pub fn build_schema(limits: SchemaLimits) -> AppSchema {
    let builder = Schema::build(Query::default(), import::MutationRoot, live::SubscriptionRoot)
        .enable_federation()
        .extension(operation_rules::OperationRules {
            cost_limits: cost::CostLimits {
                max_complexity: limits.max_complexity,
                max_depth: limits.max_depth,
            },
        })
        .extension(FieldAccess)
        // For `ask`'s inner queries; the HTTP endpoint keeps its own for the texts clients send.
        .data(parsed::ParsedQueries::default())
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if limits.introspection { builder.finish() } else { builder.disable_introspection().finish() }
}

/// The schema as SDL: what `salesgraph schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build_schema(SchemaLimits::default()).sdl()
}

/// The schema as a federation v2 subgraph declares it: what `_service { sdl }` answers and
/// `salesgraph schema --federation` prints, for a router's composition.
pub fn subgraph_sdl() -> String {
    build_schema(SchemaLimits::default())
        .sdl_with_options(async_graphql::SDLExportOptions::new().federation().compose_directive())
}

pub(crate) fn app<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<AppContext>> {
    ctx.data::<Arc<AppContext>>()
}

pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    ctx.data::<Viewer>()
}

/// What every execution of the schema needs: the application, the viewer and their access,
/// and fresh dataloaders. HTTP requests, `ask`'s inner queries and subscriptions all use it.
pub fn viewer_data(app: &Arc<AppContext>, access: RequestAccess) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    data.insert(app.clone());
    data.insert(access.viewer.clone());
    data.insert(access);
    data.insert(catalogue::EntityIndexes::default());
    let catalogue = app.snapshot().catalogue.clone();
    data.insert(loaders::models(app.store.clone(), catalogue.clone(), app.metrics.loader_batches("models")));
    data.insert(loaders::countries(app.store.clone(), catalogue, app.metrics.loader_batches("countries")));
    data
}

/// A request carrying [`viewer_data`] (its data is exactly that: requests arrive without any).
pub fn request_data(
    mut request: async_graphql::Request,
    app: &Arc<AppContext>,
    access: RequestAccess,
) -> async_graphql::Request {
    request.data = viewer_data(app, access);
    request
}

pub(crate) fn access<'a>(ctx: &Context<'a>) -> Result<&'a RequestAccess, ApiError> {
    ctx.data::<RequestAccess>().map_err(|e| ApiError::internal(e.message))
}

/// A filter argument checked against the catalogue and narrowed to the viewer's scope: the only
/// way resolvers get a filter, so that no read escapes the scope.
pub(crate) fn resolve_filter(
    ctx: &Context<'_>,
    filter: Option<&filter::SalesFilter>,
) -> Result<ResolvedFilter, ApiError> {
    let snapshot = app(ctx).map_err(|e| ApiError::internal(e.message))?.snapshot();
    let domain_filter: crate::domain::SalesFilter = filter.map(Into::into).unwrap_or_default();
    Ok(domain_filter.resolve_within(&snapshot.catalogue, &access(ctx)?.scope())?)
}
