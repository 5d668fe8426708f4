//! One filter, four evaluators: for random filters and day ranges, the cube with its day groups
//! in memory, the cube with the edge months read from the rows, the recent rows in memory and SQL
//! over the sale table all give what a plain loop over the raw rows gives — the same sums and the
//! same pages.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use super::common::TestServer;
use salesgraph::domain::{FuelType, ResolvedFilter, Transmission};
use salesgraph::store::sales::{Direction, page};
use salesgraph::summary::{self, Dimension, SummaryRequest};

const CASES: usize = 500;

/// A sale row as the table holds it, read by the test itself.
#[derive(Debug, Clone)]
struct Raw {
    id: i64,
    sold_on: NaiveDate,
    model_id: i32,
    country: String,
    fuel_type: FuelType,
    transmission: Transmission,
    units: i64,
}

async fn raw_rows(server: &TestServer) -> Vec<Raw> {
    server
        .db
        .rows("SELECT id, sold_on, model_id, country_code, fuel_type, transmission, units FROM sale")
        .await
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            Raw {
                id: f[0].parse().expect("id"),
                sold_on: f[1].parse().expect("day"),
                model_id: f[2].parse().expect("model"),
                country: f[3].to_string(),
                fuel_type: f[4].parse().expect("fuel"),
                transmission: f[5].parse().expect("gearbox"),
                units: f[6].parse().expect("units"),
            }
        })
        .collect()
}

fn kept(filter: &ResolvedFilter, row: &Raw) -> bool {
    filter.from.is_none_or(|from| from <= row.sold_on)
        && filter.to.is_none_or(|to| row.sold_on <= to)
        && filter.countries.as_ref().is_none_or(|c| c.contains(&row.country))
        && filter.model_ids.as_ref().is_none_or(|m| m.contains(&row.model_id))
        && filter.fuel_types.as_ref().is_none_or(|f| f.contains(&row.fuel_type))
        && filter.transmissions.as_ref().is_none_or(|t| t.contains(&row.transmission))
}

/// A random subset of `choices`, or no restriction; now and then an empty one (nothing passes).
fn subset<T: Clone + Ord + std::fmt::Debug + 'static>(
    choices: Vec<T>,
) -> impl Strategy<Value = Option<BTreeSet<T>>> {
    let n = choices.len();
    prop_oneof![
        3 => Just(None),
        6 => proptest::sample::subsequence(choices.clone(), 1..=n.min(4)).prop_map(|s| Some(s.into_iter().collect())),
        1 => Just(Some(BTreeSet::new())),
    ]
}

/// Days from 2022-11-01 to 2024-08-31: ranges start and end inside the data, before and after it.
fn day() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2022, 11, 1).expect("day");
    (0i64..670).prop_map(move |offset| first + chrono::Duration::days(offset))
}

fn filters(countries: Vec<String>, models: Vec<i32>) -> impl Strategy<Value = ResolvedFilter> {
    (
        proptest::option::weighted(0.7, day()),
        proptest::option::weighted(0.7, day()),
        subset(countries),
        subset(models),
        subset(FuelType::ALL.to_vec()),
        subset(Transmission::ALL.to_vec()),
    )
        .prop_map(|(a, b, countries, model_ids, fuel_types, transmissions)| {
            let (from, to) = match (a, b) {
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                other => other,
            };
            ResolvedFilter { from, to, countries, model_ids, fuel_types, transmissions }
        })
}

fn units_by_model_and_market(rows: &[summary::AggregateRow]) -> BTreeMap<(i32, String), i64> {
    rows.iter()
        .map(|r| ((r.model_id.expect("model"), r.country.clone().expect("market")), r.units))
        .filter(|(_, units)| *units != 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cube_day_groups_recent_rows_and_sql_agree_with_the_rows_for_random_filters() {
    let db = super::seeded_server_db(3_000).await;
    let without_memory = TestServer::start_with(db.share().await, |s| {
        s.day_groups_mib = 0;
        s.recent_rows_mib = 0;
    })
    .await;
    let server = TestServer::start(db).await;
    server.wait_for_background_pass("salesgraph_day_groups_ready_version").await;
    server.wait_for_background_pass("salesgraph_recent_rows_ready_version").await;
    let raw = raw_rows(&server).await;
    let countries: Vec<String> =
        raw.iter().map(|r| r.country.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let models: Vec<i32> = raw.iter().map(|r| r.model_id).collect::<BTreeSet<_>>().into_iter().collect();

    let mut runner = TestRunner::new(Config { cases: CASES as u32, ..Config::default() });
    let strategy = filters(countries, models);
    let request =
        SummaryRequest { group_by: vec![Dimension::Model, Dimension::Country], ..Default::default() };
    let (with_days, with_rows) = (server.context.snapshot(), without_memory.context.snapshot());
    let mut nonempty = 0;
    for case in 0..CASES {
        let filter = strategy.new_tree(&mut runner).expect("a case").current();
        let mut expected: BTreeMap<(i32, String), i64> = BTreeMap::new();
        let mut newest: Vec<&Raw> = raw.iter().filter(|r| kept(&filter, r)).collect();
        for row in &newest {
            *expected.entry((row.model_id, row.country.clone())).or_default() += row.units;
        }
        nonempty += usize::from(!expected.is_empty());

        for (name, snapshot, store) in [
            ("day groups in memory", &with_days, &server.context.store),
            ("edge months from the rows", &with_rows, &without_memory.context.store),
        ] {
            let rows = summary::summarize(store, &snapshot.cube, &snapshot.catalogue, &filter, &request)
                .await
                .expect("summary");
            assert_eq!(units_by_model_and_market(&rows), expected, "case {case}, {name}: {filter:?}");
        }

        newest.sort_by_key(|r| std::cmp::Reverse((r.sold_on, r.id)));
        let expected_ids: Vec<i64> = newest.iter().take(30).map(|r| r.id).collect();
        let from_table =
            page(&server.context.store, &filter, Direction::Forward, None, 30, None).await.expect("page");
        let table_ids: Vec<i64> = from_table.rows.iter().map(|r| r.id).collect();
        assert_eq!(table_ids, expected_ids, "case {case}, SQL page: {filter:?}");
        let from_memory = with_days
            .cube
            .recent_page(&filter, Direction::Forward, None, 30, None)
            .unwrap_or_else(|| panic!("case {case}: the page was not cut from memory"));
        assert_eq!(from_memory, from_table, "case {case}, page from memory: {filter:?}");
    }
    assert!(nonempty > CASES / 3, "only {nonempty} of {CASES} cases matched any row: the cases test little");
}
