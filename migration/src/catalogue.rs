//! The reference catalogue of data.md: models and countries with their regions.
//!
//! It lives in the migration crate because the migrations install it; the data generator reads
//! the same tables so that there is one source of truth.

/// A car model as the catalogue lists it.
pub struct CatalogueModel {
    pub name: &'static str,
    pub body_type: &'static str,
    /// Fuel types sold, in the catalogue's order.
    pub fuels: &'static [&'static str],
    pub launch_year: i32,
    /// Last year on sale, inclusive; `None` while still on sale.
    pub end_year: Option<i32>,
    /// Base price in USD before the country price index.
    pub base_price: f64,
}

const PD: &[&str] = &["PETROL", "DIESEL"];
const PDH: &[&str] = &["PETROL", "DIESEL", "HYBRID"];
const P: &[&str] = &["PETROL"];
const E: &[&str] = &["ELECTRIC"];
const H: &[&str] = &["HYBRID"];
const PH: &[&str] = &["PETROL", "HYBRID"];

const fn model(
    name: &'static str,
    body_type: &'static str,
    fuels: &'static [&'static str],
    launch_year: i32,
    end_year: Option<i32>,
    base_price: f64,
) -> CatalogueModel {
    CatalogueModel { name, body_type, fuels, launch_year, end_year, base_price }
}

/// Models in data.md order; their position + 1 is their id in a new database.
pub const MODELS: &[CatalogueModel] = &[
    model("1 Series", "HATCHBACK", PD, 2010, None, 32_000.0),
    model("2 Series", "COUPE", PD, 2014, None, 38_000.0),
    model("3 Series", "SEDAN", PDH, 2010, None, 45_000.0),
    model("4 Series", "COUPE", PD, 2013, None, 50_000.0),
    model("5 Series", "SEDAN", PDH, 2010, None, 58_000.0),
    model("7 Series", "SEDAN", PDH, 2010, None, 95_000.0),
    model("8 Series", "COUPE", P, 2018, None, 90_000.0),
    model("X1", "SUV", PDH, 2010, None, 40_000.0),
    model("X2", "SUV", PD, 2018, None, 42_000.0),
    model("X3", "SUV", PDH, 2010, None, 48_000.0),
    model("X4", "SUV", PD, 2014, None, 55_000.0),
    model("X5", "SUV", PDH, 2010, None, 65_000.0),
    model("X6", "SUV", PD, 2010, None, 72_000.0),
    model("X7", "SUV", PD, 2019, None, 82_000.0),
    model("Z4", "ROADSTER", P, 2010, None, 55_000.0),
    model("i3", "HATCHBACK", E, 2013, Some(2022), 45_000.0),
    model("i4", "SEDAN", E, 2021, None, 55_000.0),
    model("i5", "SEDAN", E, 2023, None, 68_000.0),
    model("i7", "SEDAN", E, 2022, None, 110_000.0),
    model("i8", "COUPE", H, 2014, Some(2020), 145_000.0),
    model("iX", "SUV", E, 2021, None, 88_000.0),
    model("iX1", "SUV", E, 2022, None, 50_000.0),
    model("iX3", "SUV", E, 2020, None, 60_000.0),
    model("M3", "SEDAN", P, 2010, None, 78_000.0),
    model("M4", "COUPE", P, 2014, None, 82_000.0),
    model("M5", "SEDAN", PH, 2010, None, 110_000.0),
];

/// (ISO 3166-1 alpha-2 code, English name, region)
pub const COUNTRIES: &[(&str, &str, &str)] = &[
    ("DE", "Germany", "Europe"),
    ("GB", "United Kingdom", "Europe"),
    ("FR", "France", "Europe"),
    ("IT", "Italy", "Europe"),
    ("ES", "Spain", "Europe"),
    ("NL", "Netherlands", "Europe"),
    ("BE", "Belgium", "Europe"),
    ("CH", "Switzerland", "Europe"),
    ("AT", "Austria", "Europe"),
    ("SE", "Sweden", "Europe"),
    ("NO", "Norway", "Europe"),
    ("PL", "Poland", "Europe"),
    ("PT", "Portugal", "Europe"),
    ("DK", "Denmark", "Europe"),
    ("US", "United States", "North America"),
    ("CA", "Canada", "North America"),
    ("MX", "Mexico", "North America"),
    ("CN", "China", "Asia"),
    ("JP", "Japan", "Asia"),
    ("KR", "South Korea", "Asia"),
    ("IN", "India", "Asia"),
    ("TW", "Taiwan", "Asia"),
    ("TH", "Thailand", "Asia"),
    ("AE", "United Arab Emirates", "Middle East"),
    ("SA", "Saudi Arabia", "Middle East"),
    ("BR", "Brazil", "South America"),
    ("AR", "Argentina", "South America"),
    ("ZA", "South Africa", "Africa"),
    ("AU", "Australia", "Oceania"),
    ("NZ", "New Zealand", "Oceania"),
];

/// Each region's unallocated market: ISO 3166 user-assigned codes for data kept by region.
pub const UNALLOCATED_MARKETS: &[(&str, &str)] = &[
    ("XE", "Europe"),
    ("XN", "North America"),
    ("XA", "Asia"),
    ("XM", "Middle East"),
    ("XS", "South America"),
    ("XF", "Africa"),
    ("XO", "Oceania"),
];

/// The unallocated market's (code, name) for a region, if the region is in the catalogue.
pub fn unallocated_market(region: &str) -> Option<(&'static str, String)> {
    UNALLOCATED_MARKETS
        .iter()
        .find(|(_, r)| r.eq_ignore_ascii_case(region.trim()))
        .map(|(code, r)| (*code, format!("{r} (unallocated)")))
}
