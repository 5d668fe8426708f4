use sea_orm_migration::prelude::*;

use crate::catalogue::{COUNTRIES, MODELS};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CarModel {
    Table,
    Id,
    Name,
    BodyType,
    BasePrice,
    Fuels,
    LaunchYear,
    EndYear,
}

#[derive(DeriveIden)]
enum Country {
    Table,
    Code,
    Name,
    Region,
}

#[derive(DeriveIden)]
enum DataVersion {
    Table,
    Id,
    Version,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut models = Query::insert();
        models.into_table(CarModel::Table).columns([
            CarModel::Id,
            CarModel::Name,
            CarModel::BodyType,
            CarModel::BasePrice,
            CarModel::Fuels,
            CarModel::LaunchYear,
            CarModel::EndYear,
        ]);
        for (index, m) in MODELS.iter().enumerate() {
            models.values_panic([
                (index as i32 + 1).into(),
                m.name.into(),
                m.body_type.into(),
                m.base_price.into(),
                m.fuels.join(",").into(),
                m.launch_year.into(),
                m.end_year.into(),
            ]);
        }
        manager.exec_stmt(models).await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            // Explicit ids leave the serial sequence behind; imports add models after these.
            manager
                .get_connection()
                .execute_unprepared(
                    "SELECT setval(pg_get_serial_sequence('car_model', 'id'), (SELECT MAX(id) FROM car_model))",
                )
                .await?;
        }

        let mut countries = Query::insert();
        countries.into_table(Country::Table).columns([Country::Code, Country::Name, Country::Region]);
        for (code, name, region) in COUNTRIES {
            countries.values_panic([(*code).into(), (*name).into(), (*region).into()]);
        }
        manager.exec_stmt(countries).await?;

        manager
            .exec_stmt(
                Query::insert()
                    .into_table(DataVersion::Table)
                    .columns([DataVersion::Id, DataVersion::Version, DataVersion::UpdatedAt])
                    .values_panic([1.into(), 1i64.into(), Expr::current_timestamp()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.exec_stmt(Query::delete().from_table(DataVersion::Table).to_owned()).await?;
        manager.exec_stmt(Query::delete().from_table(Country::Table).to_owned()).await?;
        manager.exec_stmt(Query::delete().from_table(CarModel::Table).to_owned()).await?;
        Ok(())
    }
}
