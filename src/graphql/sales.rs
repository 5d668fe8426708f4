//! Raw sale rows as a Relay connection over keyset cursors.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use entity::sale;

use super::catalogue::{CarModel, Country};
use super::enums::{self, FuelType, Transmission};
use super::error::ApiError;
use super::filter::SalesFilter;
use super::loaders::{Countries, Models};
use super::scalars::Date;
use super::{app, resolve_filter};
use crate::store::sales::{self, Direction, SaleCursor};

/// Page sizes a client may ask for.
pub const PAGE_SIZES: std::ops::RangeInclusive<i32> = 1..=1_000;
pub const DEFAULT_PAGE_SIZE: i32 = 100;

/// One dealer's sales of one model on one day.
pub struct Sale(pub sale::Model);

/// One dealer's sales of one model on one day.
#[Object]
impl Sale {
    /// The sale row's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The day of the sale (the first day of its month or year when the source was coarser).
    async fn sold_on(&self) -> Date {
        Date(self.0.sold_on)
    }

    /// The model.
    async fn model(&self, ctx: &Context<'_>) -> Result<CarModel> {
        let loader = ctx.data::<Models>()?;
        let model = loader.load_one(self.0.model_id).await?;
        model
            .map(CarModel)
            .ok_or_else(|| ApiError::internal(format!("sale {} has no model", self.0.id)).into())
    }

    /// The market.
    async fn country(&self, ctx: &Context<'_>) -> Result<Country> {
        let loader = ctx.data::<Countries>()?;
        let country = loader.load_one(self.0.country_code.clone()).await?;
        country
            .map(Country)
            .ok_or_else(|| ApiError::internal(format!("sale {} has no country", self.0.id)).into())
    }

    /// Cars sold (at least 1).
    async fn units(&self) -> i32 {
        self.0.units
    }

    /// Price per car in USD; null when the source had no price.
    #[graphql(visible = "crate::access::visibility::sale_unit_price")]
    async fn unit_price(&self) -> Option<f64> {
        self.0.unit_price
    }

    /// units × unitPrice in USD; null when the source had no price.
    #[graphql(visible = "crate::access::visibility::sale_revenue")]
    async fn revenue(&self) -> Option<f64> {
        self.0.revenue
    }

    /// What the car runs on; UNKNOWN for imported rows that did not say.
    async fn fuel_type(&self) -> FuelType {
        enums::fuel_type(&self.0.fuel_type)
    }

    /// The gearbox; UNKNOWN for imported rows that did not say.
    async fn transmission(&self) -> Transmission {
        enums::transmission(&self.0.transmission)
    }

    /// Paint colour, e.g. "Black"; null when unknown.
    async fn color(&self) -> Option<&str> {
        self.0.color.as_deref()
    }
}

/// Fields of the sales connection beside its edges.
#[derive(SimpleObject)]
pub struct SaleConnectionFields {
    /// Rows matching the filter, over all pages.
    pub total_count: i64,
}

pub type SaleConnection = Connection<String, Sale, SaleConnectionFields>;

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
        complexity = "first.or(last).unwrap_or(DEFAULT_PAGE_SIZE).max(1) as usize + child_complexity",
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
        let window_start = {
            let snapshot = app.snapshot();
            let newest = position.map(|p| p.sold_on).or(snapshot.last_sale_day);
            newest.and_then(|day| snapshot.cube.page_window(&filter, crate::cube::month_index(day), size + 1))
        };
        let page = sales::page(&app.store, &filter, direction, position, size, window_start)
            .await
            .map_err(ApiError::from)?;
        // Counted only when asked for; the rollup counts rows per group, so only partial months
        // at the range's edges touch the table.
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            let snapshot = app.snapshot();
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
        // each for any it lacks, however many rows reference them.
        let node = ctx.look_ahead().field("edges").field("node");
        if node.field("model").exists() {
            let ids: std::collections::BTreeSet<i32> = page.rows.iter().map(|r| r.model_id).collect();
            super::loaders::prime_models(ctx.data::<Models>()?, ids).await?;
        }
        if node.field("country").exists() {
            let codes: std::collections::BTreeSet<String> =
                page.rows.iter().map(|r| r.country_code.clone()).collect();
            super::loaders::prime_countries(ctx.data::<Countries>()?, codes).await?;
        }
        let mut connection =
            Connection::with_additional_fields(has_previous, has_next, SaleConnectionFields { total_count });
        connection
            .edges
            .extend(page.rows.into_iter().map(|row| Edge::new(SaleCursor::of(&row).encode(), Sale(row))));
        Ok(Some(connection))
    }
}
