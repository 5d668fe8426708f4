//! How long the summary kernel takes over a cube the size of 10 million sale rows' rollup
//! (180 months × every model × every market × two fuels × two gearboxes), without HTTP or a
//! database: the in-process cost of a cold dashboard aggregation, from the level of the cube a
//! summary reads and, for comparison, from the rows as loaded.
//! `cargo bench --bench summary`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use salesgraph::cube::LevelDimensions;
use salesgraph::cube::daily::{DayGroup, MonthDays};
use salesgraph::cube::{Cube, Dictionary, RollupGroup, Sums, month_index};
use salesgraph::domain::{FuelType, ResolvedFilter, Transmission};
use salesgraph::store::catalogue::Catalogue;
use salesgraph::summary::{Dimension, Granularity, Grouper, SummaryRequest, kept_apart};

const FIRST_MONTH: i32 = 2010 * 12;
const MONTHS: i32 = 180;

/// A deterministic pseudo-random count from a group's coordinates.
fn units(seed: u64) -> i64 {
    let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    (mixed % 400) as i64 + 1
}

fn synthetic_cube(catalogue: &Catalogue) -> Cube {
    let dictionary = Dictionary::new(
        catalogue.countries.iter().map(|c| (c.code.as_str(), c.region.as_str())),
        catalogue.models.iter().map(|m| (m.id, m.body_type.as_str())),
    );
    let mut groups = Vec::new();
    for month in FIRST_MONTH..FIRST_MONTH + MONTHS {
        for model in &catalogue.models {
            for (c, country) in catalogue.countries.iter().enumerate() {
                for fuel in [FuelType::Petrol, FuelType::Electric] {
                    for transmission in [Transmission::Automatic, Transmission::Manual] {
                        let seed = (month as u64) << 32 | (model.id as u64) << 16 | (c as u64) << 4;
                        let units =
                            units(seed | u64::from(fuel.code()) << 2 | u64::from(transmission.code()));
                        groups.push(RollupGroup {
                            month,
                            model_id: model.id,
                            country: country.code.clone(),
                            fuel_type: fuel,
                            transmission,
                            sums: Sums {
                                units,
                                revenue: units as f64 * 52_000.0,
                                priced_units: units,
                                rows: units / 2 + 1,
                            },
                            coarse_rows: 0,
                        });
                    }
                }
            }
        }
    }
    Cube::from_groups(1, dictionary, groups).expect("a cube of sorted groups")
}

/// One month of day groups: every model in every market on every day.
fn synthetic_days(catalogue: &Catalogue) -> MonthDays {
    let mut groups = Vec::new();
    for day in 1..=31u32 {
        for model in &catalogue.models {
            for country in &catalogue.countries {
                let units = units(u64::from(day) << 32 | model.id as u64) % 7 + 1;
                groups.push(DayGroup {
                    day,
                    model_id: model.id,
                    country_code: country.code.clone(),
                    fuel_type: FuelType::Petrol,
                    transmission: Transmission::Automatic,
                    sums: Sums { units, revenue: units as f64 * 52_000.0, priced_units: units, rows: 1 },
                });
            }
        }
    }
    MonthDays::from_groups(groups).expect("day groups sorted by day")
}

/// One summary to time: whole months `months`, plus two partial edge months when `edges`.
struct Case<'a> {
    name: &'a str,
    filter: &'a ResolvedFilter,
    dims: Vec<Dimension>,
    months: (i32, i32),
    limit: Option<usize>,
    edges: bool,
}

fn summaries(c: &mut Criterion) {
    let catalogue = Catalogue::builtin();
    let cube = synthetic_cube(&catalogue);
    let days = synthetic_days(&catalogue);
    let last_year = FIRST_MONTH + MONTHS - 12;
    println!(
        "cube: {} groups, {} MiB; one month of day groups: {} groups",
        cube.len(),
        cube.estimated_bytes() >> 20,
        days.len()
    );
    let germany = ResolvedFilter { countries: Some(["DE".to_string()].into()), ..Default::default() };
    let everything = ResolvedFilter::default();
    let cases = [
        Case {
            name: "top_models_one_country_one_quarter",
            filter: &germany,
            dims: vec![Dimension::Model],
            months: (last_year, last_year + 2),
            limit: Some(5),
            edges: false,
        },
        Case {
            name: "by_country_one_year",
            filter: &everything,
            dims: vec![Dimension::Country],
            months: (last_year, last_year + 11),
            limit: None,
            edges: false,
        },
        Case {
            name: "by_country_day_range",
            filter: &everything,
            dims: vec![Dimension::Country],
            months: (last_year, last_year + 10),
            limit: None,
            edges: true,
        },
        Case {
            name: "by_model_and_month_all_time",
            filter: &everything,
            dims: vec![Dimension::Model, Dimension::Period],
            months: (i32::MIN, i32::MAX),
            limit: None,
            edges: false,
        },
    ];
    for case in cases {
        let Case { name, filter, dims, months: (first, last), limit, edges } = case;
        let request = SummaryRequest { group_by: dims.clone(), limit, ..Default::default() };
        // `summary/…` reads the level a summary reads; `summary_base/…` the rows as loaded.
        for (prefix, kept) in [("summary", kept_apart(filter, &dims)), ("summary_base", LevelDimensions::ALL)]
        {
            let level = cube.level(kept);
            let facts = level.facts();
            c.bench_function(&format!("{prefix}/{name}"), |b| {
                b.iter(|| {
                    let mut grouper =
                        Grouper::new(cube.dictionary(), &catalogue, filter, &dims, Granularity::Month);
                    grouper.add_cube_rows(&facts, level.month_rows(first, last));
                    if edges {
                        // Two partial edge months, as a range from the 17th to the 9th has.
                        grouper.add_days(first - 1, &days, 17, 31);
                        grouper.add_days(last + 1, &days, 1, 9);
                    }
                    black_box(grouper.finish(&dims, &request))
                })
            });
        }
    }
    let month = month_index(chrono::NaiveDate::from_ymd_opt(2024, 12, 1).expect("date"));
    c.bench_function("page_window/one_country", |b| {
        b.iter(|| black_box(cube.page_window(&germany, month, 101)))
    });
}

criterion_group!(benches, summaries);
criterion_main!(benches);
