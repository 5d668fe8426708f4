//! Sales whose source dated them only by quarter or by year, summed like the monthly rollup and
//! kept apart by that precision: they land on their period's first day, so the monthly rollup
//! counts them in a month they may not have been sold in. Analytics subtract them wherever an
//! answer is finer than their period (see `summary::coarse_dates`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CoarseDatedRollup {
    Table,
    Month,
    ModelId,
    CountryCode,
    FuelType,
    Transmission,
    DatePrecision,
    Units,
    Revenue,
    PricedUnits,
    RowCount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CoarseDatedRollup::Table)
                    .col(ColumnDef::new(CoarseDatedRollup::Month).date().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::ModelId).integer().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::CountryCode).string_len(2).not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::FuelType).string().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::Transmission).string().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::DatePrecision).string().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::Units).big_integer().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::Revenue).double().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::PricedUnits).big_integer().not_null())
                    .col(ColumnDef::new(CoarseDatedRollup::RowCount).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(CoarseDatedRollup::Month)
                            .col(CoarseDatedRollup::ModelId)
                            .col(CoarseDatedRollup::CountryCode)
                            .col(CoarseDatedRollup::FuelType)
                            .col(CoarseDatedRollup::Transmission)
                            .col(CoarseDatedRollup::DatePrecision),
                    )
                    .to_owned(),
            )
            .await?;
        // Rows imported by year before this table existed: a year's rows land on 1 January,
        // which is their month already.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO coarse_dated_rollup (month, model_id, country_code, fuel_type, transmission, \
                 date_precision, units, revenue, priced_units, row_count) \
                 SELECT sold_on, model_id, country_code, fuel_type, transmission, date_precision, \
                 SUM(units), SUM(COALESCE(revenue, 0)), \
                 SUM(CASE WHEN revenue IS NULL THEN 0 ELSE units END), COUNT(*) \
                 FROM sale WHERE date_precision IN ('QUARTER', 'YEAR') \
                 GROUP BY sold_on, model_id, country_code, fuel_type, transmission, date_precision",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CoarseDatedRollup::Table).to_owned()).await
    }
}
