//! Raw sale rows as a Relay connection over keyset cursors. A page repeats its row type a
//! hundred times and more, so the connection, its edges and rows resolve in one pass each
//! (`super::one_pass`), their `#[Object]` twins declaring them to the schema.

use async_graphql::connection::PageInfo;
use async_graphql::parser::types::Field;
use async_graphql::{Context, ID, Object, Positioned, Result, ServerResult, Value};
use entity::sale;

use super::catalogue::{CarModel, Country};
use super::enums::{self, FuelType, Transmission};
use super::error::ApiError;
use super::filter::SalesFilter;
use super::loaders::{Countries, Models};
use super::one_pass::{self, OnePass, OnePassList, one_pass_output};
use super::scalars::Date;
use super::{app, resolve_filter};
use crate::store::sales::{self, Direction, SaleCursor};

/// Page sizes a client may ask for.
pub const PAGE_SIZES: std::ops::RangeInclusive<i32> = 1..=1_000;
pub const DEFAULT_PAGE_SIZE: i32 = 100;

/// One dealer's sales of one model on one day: a row of a page.
pub struct Sale(pub sale::Model);

/// `Sale` as the schema declares it, and the reference its one pass answers like.
pub struct SaleFields(pub sale::Model);

/// One dealer's sales of one model on one day.
#[Object(name = "Sale")]
impl SaleFields {
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
        model_of(ctx, &self.0).await
    }

    /// The market.
    async fn country(&self, ctx: &Context<'_>) -> Result<Country> {
        country_of(ctx, &self.0).await
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

one_pass_output!(Sale, twin: SaleFields);

impl OnePass for Sale {
    const TYPE_NAME: &'static str = "Sale";

    async fn field_value<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        field: &'a Positioned<Field>,
    ) -> ServerResult<Value> {
        use async_graphql::InputType;
        let row = &self.0;
        Ok(match field.node.name.node.as_str() {
            "id" => Value::String(row.id.to_string()),
            "soldOn" => Value::String(crate::domain::iso_date(row.sold_on)),
            "units" => Value::from(row.units),
            "unitPrice" => number_or_null(row.unit_price),
            "revenue" => number_or_null(row.revenue),
            "fuelType" => enums::fuel_type(&row.fuel_type).to_value(),
            "transmission" => enums::transmission(&row.transmission).to_value(),
            "color" => row.color.as_deref().map_or(Value::Null, |color| Value::String(color.to_string())),
            "model" => {
                let model = model_of(ctx, row)
                    .await
                    .map_err(|e| ctx.set_error_path(e.into_server_error(field.pos)))?;
                one_pass::resolve_nested(&model, ctx, field).await?
            }
            "country" => {
                let country = country_of(ctx, row)
                    .await
                    .map_err(|e| ctx.set_error_path(e.into_server_error(field.pos)))?;
                one_pass::resolve_nested(&country, ctx, field).await?
            }
            _ => return Err(one_pass::unknown_field::<Self>(field)),
        })
    }
}

async fn model_of(ctx: &Context<'_>, row: &sale::Model) -> Result<CarModel> {
    let model = ctx.data::<Models>()?.load_one(row.model_id).await?;
    model.map(CarModel).ok_or_else(|| ApiError::internal(format!("sale {} has no model", row.id)).into())
}

async fn country_of(ctx: &Context<'_>, row: &sale::Model) -> Result<Country> {
    let country = ctx.data::<Countries>()?.load_one(row.country_code.clone()).await?;
    country.map(Country).ok_or_else(|| ApiError::internal(format!("sale {} has no country", row.id)).into())
}

fn number_or_null(value: Option<f64>) -> Value {
    value.map_or(Value::Null, Value::from)
}

/// A row of a page with its place in the order: the cursor is written only when asked for.
pub struct SaleEdge(pub Sale);

impl SaleEdge {
    fn cursor(&self) -> String {
        SaleCursor::of(&self.0.0).encode()
    }
}

/// `SaleEdge` as the schema declares it (the shape of async-graphql's `Edge`).
pub struct SaleEdgeFields(SaleEdge);

/// An edge in a connection.
#[Object(name = "SaleEdge")]
impl SaleEdgeFields {
    /// The item at the end of the edge
    async fn node(&self) -> &Sale {
        &self.0.0
    }

    /// A cursor for use in pagination
    async fn cursor(&self) -> String {
        self.0.cursor()
    }
}

one_pass_output!(SaleEdge, twin: SaleEdgeFields);

impl OnePass for SaleEdge {
    const TYPE_NAME: &'static str = "SaleEdge";

    async fn field_value<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        field: &'a Positioned<Field>,
    ) -> ServerResult<Value> {
        match field.node.name.node.as_str() {
            "node" => one_pass::resolve_nested(&self.0, ctx, field).await,
            "cursor" => Ok(Value::String(self.cursor())),
            _ => Err(one_pass::unknown_field::<Self>(field)),
        }
    }
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
    async fn edges(&self) -> OnePassList<'_, SaleEdge> {
        OnePassList(self.edges.iter().collect())
    }

    /// A list of nodes.
    async fn nodes(&self) -> OnePassList<'_, Sale> {
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
        // each for any it lacks, however many rows reference them. The rows resolve one after
        // another (`OnePassList`), so everything they load must be in the loaders first.
        let look_ahead = ctx.look_ahead();
        let asked = |field: &str| {
            look_ahead.field("edges").field("node").field(field).exists()
                || look_ahead.field("nodes").field(field).exists()
        };
        if asked("model") {
            let ids: std::collections::BTreeSet<i32> = page.rows.iter().map(|r| r.model_id).collect();
            super::loaders::prime_models(ctx.data::<Models>()?, ids).await?;
        }
        if asked("country") {
            let codes: std::collections::BTreeSet<String> =
                page.rows.iter().map(|r| r.country_code.clone()).collect();
            super::loaders::prime_countries(ctx.data::<Countries>()?, codes).await?;
        }
        let connection = SaleConnection {
            edges: page.rows.into_iter().map(|row| SaleEdge(Sale(row))).collect(),
            has_previous_page: has_previous,
            has_next_page: has_next,
            total_count,
        };
        Ok(Some(connection))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_graphql::{EmptyMutation, EmptySubscription, Request, Schema};
    use chrono::NaiveDate;
    use serde_json::Value as Json;

    use super::*;
    use crate::access::{AccessPolicy, FieldAccess, RequestAccess};
    use crate::auth::{Role, Viewer};
    use crate::store::catalogue::Catalogue;

    use crate::graphql::catalogue::{CarModelFields, CountryFields};

    /// The same rows, edges, models and markets behind both resolvers of each one-pass type.
    struct BothResolvers(Vec<sale::Model>, Arc<Catalogue>);

    #[Object]
    impl BothResolvers {
        async fn sales(&self) -> Vec<Sale> {
            self.0.iter().cloned().map(Sale).collect()
        }

        async fn sales_reference(&self) -> Vec<SaleFields> {
            self.0.iter().cloned().map(SaleFields).collect()
        }

        async fn edges(&self) -> Vec<SaleEdge> {
            self.0.iter().cloned().map(|row| SaleEdge(Sale(row))).collect()
        }

        async fn edges_reference(&self) -> Vec<SaleEdgeFields> {
            self.0.iter().cloned().map(|row| SaleEdgeFields(SaleEdge(Sale(row)))).collect()
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
        let models = super::super::loaders::models(store.clone(), catalogue.clone());
        let countries = super::super::loaders::countries(store, catalogue.clone());
        super::super::loaders::prime_models(&models, rows.iter().map(|r| r.model_id)).await.expect("models");
        super::super::loaders::prime_countries(&countries, rows.iter().map(|r| r.country_code.clone()))
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
