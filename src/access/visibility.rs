//! Introspection per role: a protected field or enum value is visible only to roles the policy
//! lets use it, so that GraphiQL and BI tools offer each user what they can actually query.
//! Visibility only shapes introspection; the guard still answers a hidden field with FORBIDDEN.

use async_graphql::Context;

use super::RequestAccess;

fn allowed(ctx: &Context<'_>, owner: &str, member: &str) -> bool {
    ctx.data_opt::<RequestAccess>().is_none_or(|a| a.policy.allows_member(a.viewer.role, owner, member))
}

/// async-graphql's `visible` takes a function of the context alone, so each protectable
/// coordinate gets one; the role × field test fails when a protected coordinate lacks it.
macro_rules! visible_when_allowed {
    ($($name:ident => $owner:literal . $member:literal),* $(,)?) => {
        $(
            pub fn $name(ctx: &Context<'_>) -> bool {
                allowed(ctx, $owner, $member)
            }
        )*
    };
}

visible_when_allowed! {
    car_model_base_price => "CarModel"."basePrice",
    sale_unit_price => "Sale"."unitPrice",
    sale_revenue => "Sale"."revenue",
    sales_aggregate_revenue => "SalesAggregate"."revenue",
    sales_aggregate_average_price => "SalesAggregate"."averagePrice",
    previous_sales_revenue => "PreviousSales"."revenue",
    previous_sales_average_price => "PreviousSales"."averagePrice",
    ranked_model_revenue => "RankedModel"."revenue",
    segment_centroid_average_price => "SegmentCentroid"."averagePrice",
    metric_revenue => "Metric"."REVENUE",
    query_sales => "Query"."sales",
    query_inventory_plan => "Query"."inventoryPlan",
    mutation_import_sales => "Mutation"."importSales",
}
