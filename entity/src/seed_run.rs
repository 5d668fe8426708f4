use sea_orm::entity::prelude::*;

/// The arguments of the last `seed` and the facts it planted (JSON), for tests and analytics.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "seed_run")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub seed: i64,
    pub rows: i64,
    pub from_date: Date,
    pub until_date: Date,
    pub facts: String,
    pub created_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
