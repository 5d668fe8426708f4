use sea_orm::entity::prelude::*;

/// Sales summed per month × model × country × fuel × transmission, kept in step with `sale`
/// inside every ingest transaction.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "monthly_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub model_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub country_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub fuel_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub transmission: String,
    pub units: i64,
    /// Sum of the revenue of rows that had a price.
    pub revenue: f64,
    /// Units of the rows that had a price: averagePrice = revenue / priced_units.
    pub priced_units: i64,
    pub row_count: i64,
    /// Rows whose source date was only a month or a year.
    pub coarse_rows: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
