use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "country")]
pub struct Model {
    /// ISO 3166-1 alpha-2, or a user-assigned code (XE …) for a region's unallocated market.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    #[sea_orm(unique)]
    pub name: String,
    pub region: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
