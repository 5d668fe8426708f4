//! Raw sale rows as a Relay connection over keyset cursors. A page repeats its row type a
//! hundred times and more, so the connection, its edges and rows resolve in one pass each
//! (`super::one_pass`), each declared once with `one_pass_fields!`.

use std::sync::Arc;

use async_graphql::connection::PageInfo;
use async_graphql::parser::types::Field;
use async_graphql::{Context, ID, Object, Positioned, Result};
use entity::sale;

use super::catalogue::{CarModel, CatalogueCountry, CatalogueModel, Country};
use super::enums::{self, FuelType, Transmission};
use super::error::ApiError;
use super::filter::SalesFilter;
use super::loaders::{Countries, Models, PageNames};
use super::one_pass::{self, OnePassList, one_pass_fields, one_pass_output};
use super::scalars::Date;
use super::{app, resolve_filter};
use crate::store::sales::{Direction, SaleCursor};

/// Page sizes a client may ask for.
pub const PAGE_SIZES: std::ops::RangeInclusive<i32> = 1..=1_000;
pub const DEFAULT_PAGE_SIZE: i32 = 100;

/// One dealer's sales of one model on one day: a row of a page, with the names its page loaded.
pub struct Sale(pub sale::Model, pub Arc<PageNames>);

one_pass_output!(Sale, schema: SaleSchema);

one_pass_fields! {
    /// One dealer's sales of one model on one day.
    schema SaleSchema as "Sale";
    fn sale_field(sale: &Sale, ctx, field) {
        /// The sale row's id.
        id "id": ID = ID(sale.0.id.to_string());
        /// The day of the sale (the first day of its month or year when the source was coarser).
        sold_on "soldOn": Date = Date(sale.0.sold_on);
        /// The model.
        model "model": CarModel => match sale.1.model(sale.0.model_id) {
            Some(model) => one_pass::resolve_nested(&CatalogueModel(model), ctx, field)?,
            None => return Err(missing_name(ctx, field, format!("sale {} has no model", sale.0.id))),
        };
        /// The market.
        country "country": Country => match sale.1.country(&sale.0.country_code) {
            Some(country) => one_pass::resolve_nested(&CatalogueCountry(country), ctx, field)?,
            None => return Err(missing_name(ctx, field, format!("sale {} has no country", sale.0.id))),
        };
        /// Cars sold (at least 1).
        units "units": i32 = sale.0.units;
        /// Price per car in USD; null when the source had no price.
        #[graphql(visible = "crate::access::visibility::sale_unit_price")]
        unit_price "unitPrice": Option<f64> = sale.0.unit_price;
        /// units × unitPrice in USD; null when the source had no price.
        #[graphql(visible = "crate::access::visibility::sale_revenue")]
        revenue "revenue": Option<f64> = sale.0.revenue;
        /// What the car runs on; UNKNOWN for imported rows that did not say.
        fuel_type "fuelType": FuelType = enums::fuel_type(&sale.0.fuel_type);
        /// The gearbox; UNKNOWN for imported rows that did not say.
        transmission "transmission": Transmission = enums::transmission(&sale.0.transmission);
        /// Paint colour, e.g. "Black"; null when unknown.
        color "color": Option<&str> = sale.0.color.as_deref();
    }
    answered by Sale as |sale| sale;
}

/// The error of a row whose model or market neither the catalogue nor the database knows.
fn missing_name(ctx: &Context<'_>, field: &Positioned<Field>, message: String) -> async_graphql::ServerError {
    ctx.set_error_path(async_graphql::Error::from(ApiError::internal(message)).into_server_error(field.pos))
}

/// A row of a page with its place in the order: the cursor is written only when asked for.
pub struct SaleEdge(pub Sale);

impl SaleEdge {
    fn cursor(&self) -> String {
        SaleCursor::of(&self.0.0).encode()
    }
}

one_pass_output!(SaleEdge, schema: SaleEdgeSchema);

one_pass_fields! {
    /// An edge in a connection.
    schema SaleEdgeSchema as "SaleEdge";
    fn sale_edge_field(edge: &SaleEdge, ctx, field) {
        /// The item at the end of the edge
        node "node": &Sale => one_pass::resolve_nested(&edge.0, ctx, field)?;
        /// A cursor for use in pagination
        cursor "cursor": String = edge.cursor();
    }
    answered by SaleEdge as |edge| edge;
}

/// A page of sale rows: the Relay connection's shape, as async-graphql's `Connection` has it.
pub struct SaleConnection {
    pub edges: Vec<SaleEdge>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub total_count: i64,
}

#[Object]
impl SaleConnection {
    /// Information to aid in pagination.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.edges.first().map(SaleEdge::cursor),
            end_cursor: self.edges.last().map(SaleEdge::cursor),
        }
    }

    /// A list of edges.
    async fn edges(&self) -> OnePassList<&SaleEdge> {
        OnePassList(self.edges.iter().collect())
    }

    /// A list of nodes.
    async fn nodes(&self) -> OnePassList<&Sale> {
        OnePassList(self.edges.iter().map(|edge| &edge.0).collect())
    }

    /// Rows matching the filter, over all pages.
    async fn total_count(&self) -> i64 {
        self.total_count
    }
}

fn cursor(name: &str, text: Option<String>) -> Result<Option<SaleCursor>, ApiError> {
    text.map(|t| {
        SaleCursor::decode(&t).ok_or_else(|| {
            ApiError::BadUserInput(format!("`{name}` \"{t}\" is not a cursor of this connection"))
        })
    })
    .transpose()
}

#[derive(Default)]
pub struct SalesQuery;

#[Object]
impl SalesQuery {
    /// Sale rows, newest first (ties by id), as a Relay connection: `first`/`after` walk
    /// forward, `last`/`before` backward; page sizes 1 to 1,000 (default 100).
    #[graphql(
        complexity = "super::limits::list_weight(first.or(last), DEFAULT_PAGE_SIZE, *PAGE_SIZES.end()) + child_complexity",
        visible = "crate::access::visibility::query_sales"
    )]
    async fn sales(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sales to look at; all of them when omitted.")] filter: Option<SalesFilter>,
        #[graphql(desc = "Page size going forward: 1 to 1,000 (default 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(desc = "Page size going backward: 1 to 1,000.")] last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen.")] before: Option<String>,
    ) -> Result<Option<SaleConnection>> {
        let app = app(ctx)?;
        let filter = resolve_filter(ctx, filter.as_ref())?;
        if first.is_some() && last.is_some() {
            return Err(ApiError::BadUserInput("give either `first` or `last`, not both".into()).into());
        }
        let (direction, size, position) = match last {
            Some(last) => (
                Direction::Backward,
                super::error::in_range("last", last, PAGE_SIZES)? as u64,
                cursor("before", before)?,
            ),
            None => (
                Direction::Forward,
                super::error::in_range("first", first.unwrap_or(DEFAULT_PAGE_SIZE), PAGE_SIZES)? as u64,
                cursor("after", after)?,
            ),
        };
        // One snapshot for the page, its count and its names: all of one data version.
        let snapshot = app.snapshot();
        let page = crate::pages::sales_page(&app.store, &snapshot, &filter, direction, position, size)
            .await
            .map_err(ApiError::from)?;
        // Counted only when asked for; the rollup counts rows per group, so only partial months
        // at the range's edges touch the table.
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            let totals = crate::summary::summarize(
                &app.store,
                &snapshot.cube,
                &snapshot.catalogue,
                &filter,
                &crate::summary::SummaryRequest::default(),
            )
            .await
            .map_err(ApiError::from)?;
            totals.first().map_or(0, |t| t.rows)
        } else {
            0
        };
        let (has_previous, has_next) = match direction {
            Direction::Forward => (position.is_some(), page.has_more),
            Direction::Backward => (page.has_more, position.is_some()),
        };
        // The page's models and countries (when asked for) from the catalogue in memory, one query
        // each for any it lacks, however many rows reference them: loaded before the rows
        // resolve, which then find them without awaiting.
        let look_ahead = ctx.look_ahead();
        let asked = |field: &str| {
            look_ahead.field("edges").field("node").field(field).exists()
                || look_ahead.field("nodes").field(field).exists()
        };
        let catalogue = snapshot.catalogue.clone();
        let names = Arc::new(if asked("model") || asked("country") {
            let model_ids = page.rows.iter().map(|r| r.model_id).filter(|_| asked("model"));
            let codes = page.rows.iter().map(|r| r.country_code.as_str()).filter(|_| asked("country"));
            PageNames::load(catalogue, ctx.data::<Models>()?, ctx.data::<Countries>()?, model_ids, codes)
                .await?
        } else {
            PageNames::new(catalogue)
        });
        let connection = SaleConnection {
            edges: page.rows.into_iter().map(|row| SaleEdge(Sale(row, names.clone()))).collect(),
            has_previous_page: has_previous,
            has_next_page: has_next,
            total_count,
        };
        Ok(Some(connection))
    }
}
