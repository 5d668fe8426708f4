use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sale")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sold_on: Date,
    pub model_id: i32,
    pub country_code: String,
    pub units: i32,
    /// USD; `None` when the source did not say.
    pub unit_price: Option<f64>,
    pub revenue: Option<f64>,
    pub fuel_type: String,
    pub transmission: String,
    pub color: Option<String>,
    /// DAY, MONTH or YEAR: how precise the source's date was.
    pub date_precision: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
