use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use super::plants::{self, PlantedFacts};
use crate::domain::{DatePrecision, FuelType, Transmission};
use crate::store::catalogue::Catalogue;
use crate::store::ingest::{NewSale, month_start, multi_row_insert};

/// Arguments of `salesgraph seed`; equal options give byte-identical data.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedOptions {
    pub rows: u64,
    pub seed: u64,
    pub from: NaiveDate,
    pub until: NaiveDate,
    /// Off: every market's months are equal (a control series for seasonality tests).
    pub seasonal: bool,
}

/// Worldwide units a year (data.md: about 2 million).
const UNITS_PER_YEAR: f64 = 2_000_000.0;
const COLOURS: &[&str] = &["Black", "White", "Grey", "Blue", "Red", "Silver"];

struct ModelInfo {
    id: i32,
    name: String,
    fuels: Vec<FuelType>,
    launch_year: i32,
    end_year: Option<i32>,
    base_price: f64,
    electric: bool,
}

struct CountryInfo {
    code: String,
    region: String,
    profile: [f64; 12],
    /// Units in an average month before trends and seasons.
    monthly_units: f64,
    /// Per model (same order as `models`): weight within the market before trends.
    model_weights: Vec<f64>,
}

/// The generator: expected units per cell (month × country × model), then rows drawn from them.
pub struct Generator {
    options: SeedOptions,
    models: Vec<ModelInfo>,
    countries: Vec<CountryInfo>,
    /// Sale rows per unit, so that the data set has about `options.rows` rows.
    rows_per_unit: f64,
}

fn favourite_boost(country: &str, model: &str, month: NaiveDate) -> f64 {
    plants::FAVOURITES
        .iter()
        .find(|(c, models, from)| *c == country && models.contains(&model) && month.year() >= *from)
        .map_or(1.0, |_| plants::FAVOURITE_BOOST)
}

impl Generator {
    pub fn new(catalogue: &Catalogue, options: SeedOptions) -> Self {
        // Only the catalogue of data.md is generated; models that imports added get no sales.
        let models: Vec<ModelInfo> = migration::catalogue::MODELS
            .iter()
            .filter_map(|m| {
                let id = catalogue.model_by_name(m.name)?.id;
                Some(ModelInfo {
                    id,
                    name: m.name.to_string(),
                    fuels: m.fuels.iter().filter_map(|f| f.parse().ok()).collect(),
                    launch_year: m.launch_year,
                    end_year: m.end_year,
                    base_price: m.base_price,
                    electric: m.fuels == ["ELECTRIC"],
                })
            })
            .collect();
        let baseline: f64 = models.iter().map(|m| plants::popularity(&m.name)).sum();
        let countries = migration::catalogue::COUNTRIES
            .iter()
            .filter(|(code, _, _)| catalogue.country(code).is_some())
            .map(|(code, _, region)| CountryInfo {
                code: code.to_string(),
                region: region.to_string(),
                profile: plants::seasonal_profile(code, region, options.seasonal),
                monthly_units: UNITS_PER_YEAR / 12.0 * plants::market_share(code),
                model_weights: models.iter().map(|m| plants::popularity(&m.name) / baseline).collect(),
            })
            .collect();
        let mut generator = Self { options, models, countries, rows_per_unit: 1.0 };
        let total_units: f64 = generator
            .months()
            .map(|month| {
                (0..generator.countries.len())
                    .map(|c| generator.expected_units(month, c).iter().sum::<f64>())
                    .sum::<f64>()
            })
            .sum();
        generator.rows_per_unit =
            if total_units > 0.0 { (generator.options.rows as f64 / total_units).min(1.0) } else { 1.0 };
        generator
    }

    pub fn expected_rows(&self) -> u64 {
        self.options.rows
    }

    /// First days of every month from `from` to `until`.
    pub fn months(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let last = month_start(self.options.until);
        std::iter::successors(Some(month_start(self.options.from)), move |m| {
            m.checked_add_months(Months::new(1)).filter(|next| *next <= last)
        })
    }

    /// Expected units of each model (in `models` order) in one market and month.
    fn expected_units(&self, month: NaiveDate, country_index: usize) -> Vec<f64> {
        let country = &self.countries[country_index];
        let volume =
            country.monthly_units * country.profile[month.month0() as usize] * plants::market_dip(month);
        let until = self.options.until;
        let mut units: Vec<f64> = self
            .models
            .iter()
            .zip(&country.model_weights)
            .map(|(model, weight)| {
                let mut factor = plants::trend(&model.name, model.launch_year, model.end_year, month)
                    * favourite_boost(&country.code, &model.name, month);
                if plants::MARKETING_DECLINES.contains(&(model.name.as_str(), country.code.as_str())) {
                    let two_years_before = until.checked_sub_months(Months::new(24)).unwrap_or(until);
                    if month > two_years_before {
                        let t = plants::years_between(two_years_before, month) / 2.0;
                        factor *= 1.0 - (1.0 - plants::MARKETING_DECLINE_TO) * t.min(1.0);
                    }
                }
                volume * weight * factor
            })
            .collect();
        if country.code == "NO" {
            let electric: f64 =
                self.models.iter().zip(&units).filter(|(m, _)| m.electric).map(|(_, u)| u).sum();
            let other: f64 =
                self.models.iter().zip(&units).filter(|(m, _)| !m.electric).map(|(_, u)| u).sum();
            let share = plants::norway_electric_share(month);
            if electric > 0.0 && other > 0.0 {
                let scale = (electric * (1.0 - share) / (share * other)).min(1.0);
                for (model, u) in self.models.iter().zip(units.iter_mut()) {
                    if !model.electric {
                        *u *= scale;
                    }
                }
            }
        }
        units
    }

    /// A random generator for one month, so that months can be generated independently and
    /// identically whatever the order.
    fn month_rng(&self, month: NaiveDate) -> ChaCha8Rng {
        let stream = (month.year() as u64) * 12 + u64::from(month.month0());
        ChaCha8Rng::seed_from_u64(self.options.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream)
    }

    /// The starting fractions of systematic sampling, one per market × model: each cell emits a
    /// row whenever its accumulated expected rows pass a whole number, so small markets keep
    /// their share of rows month after month instead of appearing at random.
    pub fn new_carry(&self) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.options.seed ^ 0xCA11_0F5E);
        (0..self.countries.len() * self.models.len()).map(|_| rng.random::<f64>()).collect()
    }

    /// Appends one month's sale rows to `out`; `carry` comes from [`Generator::new_carry`] and
    /// is handed from month to month in order.
    pub fn generate_month(&self, month: NaiveDate, carry: &mut [f64], out: &mut Vec<NewSale>) {
        let mut rng = self.month_rng(month);
        let first_day = month.max(self.options.from);
        let last_day = month
            .checked_add_months(Months::new(1))
            .and_then(|next| next.pred_opt())
            .unwrap_or(month)
            .min(self.options.until);
        let days = (last_day - first_day).num_days() + 1;
        // A partial last month sells in proportion to its days.
        let month_days = f64::from(days_in_month(month));
        let day_share = days as f64 / month_days;
        let years_since_2010 = plants::years_between(plants::date(2010, 1), month);
        for (c, country) in self.countries.iter().enumerate() {
            let expected = self.expected_units(month, c);
            for (k, (model, &units)) in self.models.iter().zip(&expected).enumerate() {
                if units <= 0.0 {
                    continue;
                }
                let noisy = units * day_share * (gaussian(&mut rng) * 0.06).exp();
                let expected_rows = noisy * self.rows_per_unit;
                let acc = &mut carry[c * self.models.len() + k];
                *acc += expected_rows;
                let rows = acc.floor();
                *acc -= rows;
                let rows = rows as u64;
                // A cell with less than a row a month carries its units in the rows it emits.
                let total_units = if expected_rows >= 1.0 {
                    noisy.round() as u64
                } else {
                    (rows as f64 / self.rows_per_unit).round() as u64
                };
                if rows == 0 || total_units == 0 {
                    continue;
                }
                let rows = rows.min(total_units);
                let price = model.base_price
                    * plants::price_index(&country.code)
                    * (1.0 + plants::INFLATION).powf(years_since_2010);
                for units in split_units(&mut rng, total_units, rows) {
                    let sold_on = first_day + chrono::Duration::days(rng.random_range(0..days));
                    let unit_price = (price * (1.0 + gaussian(&mut rng) * 0.02) * 100.0).round() / 100.0;
                    out.push(NewSale {
                        sold_on,
                        model_id: model.id,
                        country_code: country.code.clone(),
                        units: units as i32,
                        unit_price: Some(unit_price),
                        fuel_type: pick_fuel(&mut rng, &model.fuels, &country.region, month),
                        transmission: pick_transmission(&mut rng, model.electric, &country.region),
                        color: Some(COLOURS[rng.random_range(0..COLOURS.len())].to_string()),
                        date_precision: DatePrecision::Day,
                    });
                }
            }
        }
    }

    /// On-hand stock per model and market as of the last month: a normal cover, except for the
    /// planted short and long positions.
    pub fn inventory(&self) -> Vec<(i32, String, i32, NaiveDate)> {
        let last_month = month_start(self.options.until);
        let mut rng = ChaCha8Rng::seed_from_u64(self.options.seed ^ 0x1157_0C4B);
        let mut stock = Vec::new();
        for (c, country) in self.countries.iter().enumerate() {
            let demand = self.expected_units(last_month, c);
            for (model, monthly) in self.models.iter().zip(demand) {
                if monthly <= 0.0 {
                    continue;
                }
                let pair = (model.name.as_str(), country.code.as_str());
                let cover = if plants::STOCK_SHORT.contains(&pair) {
                    plants::COVER_SHORT_MONTHS
                } else if plants::STOCK_LONG.contains(&pair) {
                    plants::COVER_LONG_MONTHS
                } else {
                    let (low, high) = plants::COVER_NORMAL_MONTHS;
                    rng.random_range(low..high)
                };
                // Demand without seasonality: a stock level covers an average month.
                let average = monthly / country.profile[last_month.month0() as usize];
                stock.push((model.id, country.code.clone(), (average * cover).round() as i32, last_month));
            }
        }
        stock
    }

    pub fn facts(&self) -> PlantedFacts {
        PlantedFacts {
            seasonal: self.options.seasonal,
            seasonality: self.countries.iter().map(|c| (c.code.clone(), c.profile)).collect(),
            electric_growth: self
                .models
                .iter()
                .filter_map(|m| plants::electric_growth(&m.name).map(|g| (m.name.clone(), g)))
                .collect::<BTreeMap<_, _>>(),
            declines: vec![("7 Series".into(), -0.03), ("1 Series".into(), -0.05), ("X7".into(), 0.10)],
            favourites: plants::FAVOURITES
                .iter()
                .map(|(c, m, y)| (c.to_string(), m.iter().map(|s| s.to_string()).collect(), *y))
                .collect(),
            marketing_declines: pairs(plants::MARKETING_DECLINES),
            stock_short: pairs(plants::STOCK_SHORT),
            stock_long: pairs(plants::STOCK_LONG),
            cover_months: (
                plants::COVER_SHORT_MONTHS,
                plants::COVER_LONG_MONTHS,
                plants::COVER_NORMAL_MONTHS,
            ),
            market_share: self
                .countries
                .iter()
                .map(|c| (c.code.clone(), plants::market_share(&c.code)))
                .collect(),
            price_index: self
                .countries
                .iter()
                .map(|c| (c.code.clone(), plants::price_index(&c.code)))
                .collect(),
            inflation: plants::INFLATION,
        }
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn days_in_month(month: NaiveDate) -> u32 {
    month.checked_add_months(Months::new(1)).map_or(30, |next| (next - month_start(month)).num_days() as u32)
}

/// A standard normal draw (Box-Muller), from our own stream so results never depend on a
/// distribution crate's algorithm changing.
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Splits `total` units over `rows` rows, each at least 1, unevenly as real dealers sell.
fn split_units(rng: &mut ChaCha8Rng, total: u64, rows: u64) -> Vec<u64> {
    let spare = total - rows;
    let weights: Vec<f64> = (0..rows).map(|_| 0.5 + rng.random::<f64>()).collect();
    let sum: f64 = weights.iter().sum();
    let mut parts: Vec<u64> = weights.iter().map(|w| 1 + (spare as f64 * w / sum).floor() as u64).collect();
    let mut left = total - parts.iter().sum::<u64>();
    let mut i = 0;
    let n = parts.len();
    while left > 0 {
        parts[i % n] += 1;
        left -= 1;
        i += 1;
    }
    parts
}

fn pick_fuel(rng: &mut ChaCha8Rng, fuels: &[FuelType], region: &str, month: NaiveDate) -> FuelType {
    let diesel_weight = if region == "Europe" { if month.year() < 2018 { 0.5 } else { 0.3 } } else { 0.15 };
    let weights: Vec<f64> = fuels
        .iter()
        .map(|f| match f {
            FuelType::Petrol => 0.55,
            FuelType::Diesel => diesel_weight,
            FuelType::Hybrid => 0.15,
            _ => 1.0,
        })
        .collect();
    let mut draw = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (fuel, weight) in fuels.iter().zip(&weights) {
        if draw < *weight {
            return *fuel;
        }
        draw -= weight;
    }
    fuels.last().copied().unwrap_or(FuelType::Unknown)
}

fn pick_transmission(rng: &mut ChaCha8Rng, electric: bool, region: &str) -> Transmission {
    let manual_share = match (electric, region) {
        (true, _) => 0.0,
        (false, "Europe") => 0.25,
        _ => 0.05,
    };
    if rng.random::<f64>() < manual_share { Transmission::Manual } else { Transmission::Automatic }
}

pub async fn store_inventory<C: ConnectionTrait>(
    txn: &C,
    stock: &[(i32, String, i32, NaiveDate)],
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for chunk in stock.chunks(1_000) {
        let sql = multi_row_insert(
            backend,
            "inventory",
            &["model_id", "country_code", "on_hand", "as_of"],
            chunk.len(),
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 4);
        for (model_id, country, on_hand, as_of) in chunk {
            values.extend([(*model_id).into(), country.as_str().into(), (*on_hand).into(), (*as_of).into()]);
        }
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    Ok(())
}

pub async fn store_facts<C: ConnectionTrait>(
    txn: &C,
    options: &SeedOptions,
    facts: &PlantedFacts,
    now: NaiveDateTime,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let json = serde_json::to_string(facts).map_err(|e| DbErr::Custom(format!("planted facts: {e}")))?;
    let sql = multi_row_insert(
        backend,
        "seed_run",
        &["id", "seed", "rows", "from_date", "until_date", "facts", "created_at"],
        1,
    );
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            1i32.into(),
            (options.seed as i64).into(),
            (options.rows as i64).into(),
            options.from.into(),
            options.until.into(),
            json.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_units_keeps_the_total_and_every_row_positive() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (total, rows) in [(10, 10), (100, 7), (5, 1), (1_000, 999)] {
            let parts = split_units(&mut rng, total, rows);
            assert_eq!(parts.len() as u64, rows);
            assert_eq!(parts.iter().sum::<u64>(), total);
            assert!(parts.iter().all(|&p| p >= 1));
        }
    }

    #[test]
    fn seasonal_profiles_average_one() {
        for (code, region) in
            [("GB", "Europe"), ("US", "North America"), ("CN", "Asia"), ("AE", "Middle East")]
        {
            let profile = plants::seasonal_profile(code, region, true);
            let mean = profile.iter().sum::<f64>() / 12.0;
            assert!((mean - 1.0).abs() < 1e-9, "{code}: {mean}");
        }
        let gb = plants::seasonal_profile("GB", "Europe", true);
        assert!(gb[2] > 1.8 && gb[8] > 1.8 && gb[1] < 0.6 && gb[7] < 0.6);
    }

    #[test]
    fn trends_follow_the_plan() {
        let d = plants::date;
        assert_eq!(plants::trend("i3", 2013, Some(2022), d(2023, 1)), 0.0);
        assert_eq!(plants::trend("i4", 2021, None, d(2020, 6)), 0.0);
        assert!(
            plants::trend("iX", 2021, None, d(2024, 1)) > 1.5 * plants::trend("iX", 2021, None, d(2022, 1))
        );
        assert!(plants::trend("7 Series", 2010, None, d(2020, 1)) < 0.75);
    }
}
