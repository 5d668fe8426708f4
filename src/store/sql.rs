//! The sale table's conditions for a filter, built with sea-query (part of sea-orm): one place
//! turns a [`ResolvedFilter`] into SQL, with values bound in the backend's style.

use sea_orm::Value;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, SelectStatement, SimpleExpr};

use crate::domain::ResolvedFilter;

/// A column of the table a query reads.
pub fn column(name: &'static str) -> Expr {
    Expr::col(Alias::new(name))
}

/// `column = value` for one value (rather than a one-element IN, which some planners treat as
/// a list and sort after), `column IN (…)` for more; an empty list matches nothing.
fn one_of(name: &'static str, mut values: Vec<Value>) -> SimpleExpr {
    match values.len() {
        0 => Expr::cust("1 = 0"),
        1 => column(name).eq(values.remove(0)),
        _ => column(name).is_in(values),
    }
}

/// The filter's conditions on the `sale` table (alias-free).
pub fn filter_condition(filter: &ResolvedFilter) -> Condition {
    let mut all = Condition::all();
    if let Some(from) = filter.from {
        all = all.add(column("sold_on").gte(from));
    }
    if let Some(to) = filter.to {
        all = all.add(column("sold_on").lte(to));
    }
    if let Some(countries) = &filter.countries {
        all = all.add(one_of("country_code", countries.iter().map(|c| c.as_str().into()).collect()));
    }
    if let Some(models) = &filter.model_ids {
        all = all.add(one_of("model_id", models.iter().map(|m| (*m).into()).collect()));
    }
    if let Some(fuels) = &filter.fuel_types {
        all = all.add(one_of("fuel_type", fuels.iter().map(|f| f.as_str().into()).collect()));
    }
    if let Some(transmissions) = &filter.transmissions {
        all = all.add(one_of("transmission", transmissions.iter().map(|t| t.as_str().into()).collect()));
    }
    all
}

/// The rollup's sums over a group of sale rows, as `units`, `revenue`, `priced_units` and
/// `row_count` (the order the readers take them in).
pub fn select_group_sums(select: &mut SelectStatement) -> &mut SelectStatement {
    select
        .expr_as(Expr::cust("CAST(SUM(units) AS BIGINT)"), Alias::new("units"))
        .expr_as(Expr::cust("CAST(SUM(COALESCE(revenue, 0)) AS DOUBLE PRECISION)"), Alias::new("revenue"))
        .expr_as(
            Expr::cust("CAST(SUM(CASE WHEN revenue IS NULL THEN 0 ELSE units END) AS BIGINT)"),
            Alias::new("priced_units"),
        )
        .expr_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), Alias::new("row_count"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sea_orm::DbBackend;
    use sea_orm::sea_query::Query;

    use super::*;

    #[test]
    fn filter_conditions_with_backend_placeholders() {
        let filter = ResolvedFilter {
            from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1),
            countries: Some(BTreeSet::from(["DE".to_string(), "FR".to_string()])),
            fuel_types: Some(BTreeSet::from([crate::domain::FuelType::Electric])),
            model_ids: Some(BTreeSet::new()),
            ..Default::default()
        };
        let select = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("sale"))
            .cond_where(filter_condition(&filter))
            .to_owned();
        let statement = DbBackend::Postgres.build(&select);
        assert_eq!(
            statement.sql,
            r#"SELECT $1 FROM "sale" WHERE "sold_on" >= $2 AND "country_code" IN ($3, $4) AND (1 = 0) AND "fuel_type" = $5"#
        );
        assert_eq!(statement.values.map(|v| v.0.len()), Some(5));
        let sqlite = DbBackend::Sqlite.build(&select);
        assert!(sqlite.sql.contains(r#""country_code" IN (?, ?)"#), "{}", sqlite.sql);
    }
}
