use sea_orm_migration::prelude::*;

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
enum Sale {
    Table,
    Id,
    SoldOn,
    ModelId,
    CountryCode,
    Units,
    UnitPrice,
    Revenue,
    FuelType,
    Transmission,
    Color,
    DatePrecision,
}

#[derive(DeriveIden)]
enum MonthlyRollup {
    Table,
    Month,
    ModelId,
    CountryCode,
    FuelType,
    Transmission,
    Units,
    Revenue,
    PricedUnits,
    RowCount,
    CoarseRows,
}

#[derive(DeriveIden)]
enum Inventory {
    Table,
    ModelId,
    CountryCode,
    OnHand,
    AsOf,
}

#[derive(DeriveIden)]
enum DataVersion {
    Table,
    Id,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SeedRun {
    Table,
    Id,
    Seed,
    Rows,
    FromDate,
    UntilDate,
    Facts,
    CreatedAt,
}

fn fk_model(from: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(CarModel::Table, CarModel::Id).to_owned()
}

fn fk_country(from: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(Country::Table, Country::Code).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CarModel::Table)
                    .col(ColumnDef::new(CarModel::Id).integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(CarModel::Name).string().not_null().unique_key())
                    .col(ColumnDef::new(CarModel::BodyType).string().not_null())
                    .col(ColumnDef::new(CarModel::BasePrice).double().null())
                    .col(ColumnDef::new(CarModel::Fuels).string().null())
                    .col(ColumnDef::new(CarModel::LaunchYear).integer().null())
                    .col(ColumnDef::new(CarModel::EndYear).integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Country::Table)
                    .col(ColumnDef::new(Country::Code).string_len(2).not_null().primary_key())
                    .col(ColumnDef::new(Country::Name).string().not_null().unique_key())
                    .col(ColumnDef::new(Country::Region).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sale::Table)
                    .col(ColumnDef::new(Sale::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Sale::SoldOn).date().not_null())
                    .col(ColumnDef::new(Sale::ModelId).integer().not_null())
                    .col(ColumnDef::new(Sale::CountryCode).string_len(2).not_null())
                    .col(ColumnDef::new(Sale::Units).integer().not_null())
                    .col(ColumnDef::new(Sale::UnitPrice).double().null())
                    .col(ColumnDef::new(Sale::Revenue).double().null())
                    .col(ColumnDef::new(Sale::FuelType).string().not_null())
                    .col(ColumnDef::new(Sale::Transmission).string().not_null())
                    .col(ColumnDef::new(Sale::Color).string().null())
                    .col(ColumnDef::new(Sale::DatePrecision).string().not_null().default("DAY"))
                    .check(Expr::col(Sale::Units).gte(1))
                    .foreign_key(&mut fk_model((Sale::Table, Sale::ModelId)))
                    .foreign_key(&mut fk_country((Sale::Table, Sale::CountryCode)))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in crate::FIRST_SALE_INDEXES {
            let mut index = Index::create();
            index.name(*name).table(Sale::Table);
            for column in *columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MonthlyRollup::Table)
                    .col(ColumnDef::new(MonthlyRollup::Month).date().not_null())
                    .col(ColumnDef::new(MonthlyRollup::ModelId).integer().not_null())
                    .col(ColumnDef::new(MonthlyRollup::CountryCode).string_len(2).not_null())
                    .col(ColumnDef::new(MonthlyRollup::FuelType).string().not_null())
                    .col(ColumnDef::new(MonthlyRollup::Transmission).string().not_null())
                    .col(ColumnDef::new(MonthlyRollup::Units).big_integer().not_null())
                    .col(ColumnDef::new(MonthlyRollup::Revenue).double().not_null())
                    .col(ColumnDef::new(MonthlyRollup::PricedUnits).big_integer().not_null())
                    .col(ColumnDef::new(MonthlyRollup::RowCount).big_integer().not_null())
                    .col(ColumnDef::new(MonthlyRollup::CoarseRows).big_integer().not_null().default(0))
                    .primary_key(
                        Index::create()
                            .col(MonthlyRollup::Month)
                            .col(MonthlyRollup::ModelId)
                            .col(MonthlyRollup::CountryCode)
                            .col(MonthlyRollup::FuelType)
                            .col(MonthlyRollup::Transmission),
                    )
                    .foreign_key(&mut fk_model((MonthlyRollup::Table, MonthlyRollup::ModelId)))
                    .foreign_key(&mut fk_country((MonthlyRollup::Table, MonthlyRollup::CountryCode)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Inventory::Table)
                    .col(ColumnDef::new(Inventory::ModelId).integer().not_null())
                    .col(ColumnDef::new(Inventory::CountryCode).string_len(2).not_null())
                    .col(ColumnDef::new(Inventory::OnHand).integer().not_null())
                    .col(ColumnDef::new(Inventory::AsOf).date().not_null())
                    .primary_key(Index::create().col(Inventory::ModelId).col(Inventory::CountryCode))
                    .foreign_key(&mut fk_model((Inventory::Table, Inventory::ModelId)))
                    .foreign_key(&mut fk_country((Inventory::Table, Inventory::CountryCode)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DataVersion::Table)
                    .col(ColumnDef::new(DataVersion::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(DataVersion::Version).big_integer().not_null())
                    .col(ColumnDef::new(DataVersion::UpdatedAt).timestamp().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SeedRun::Table)
                    .col(ColumnDef::new(SeedRun::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(SeedRun::Seed).big_integer().not_null())
                    .col(ColumnDef::new(SeedRun::Rows).big_integer().not_null())
                    .col(ColumnDef::new(SeedRun::FromDate).date().not_null())
                    .col(ColumnDef::new(SeedRun::UntilDate).date().not_null())
                    .col(ColumnDef::new(SeedRun::Facts).text().not_null())
                    .col(ColumnDef::new(SeedRun::CreatedAt).timestamp().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SeedRun::Table.into_iden(),
            DataVersion::Table.into_iden(),
            Inventory::Table.into_iden(),
            MonthlyRollup::Table.into_iden(),
            Sale::Table.into_iden(),
            Country::Table.into_iden(),
            CarModel::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
