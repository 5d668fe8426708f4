//! The data as of one version: the snapshot every query of a request reads, below the planners,
//! the resolvers and `ask`, which all take it.

use std::sync::Arc;

use crate::analytics::forecast_memo::ForecastMemo;
use crate::ask::Lexicon;
use crate::cube::Cube;
use crate::store::catalogue::Catalogue;

/// The data as of one version: what every query of a request reads.
pub struct Snapshot {
    pub version: i64,
    /// The day of the latest sale, which bounds "the current period".
    pub last_sale_day: Option<chrono::NaiveDate>,
    pub catalogue: Arc<Catalogue>,
    /// What `ask` can name, built from this catalogue.
    pub lexicon: Arc<Lexicon>,
    pub cube: Arc<Cube>,
    /// Forecasts and backtests of this data version, computed once and reused.
    pub forecast_memo: Arc<ForecastMemo>,
    /// Per region: its sales' span and the data version at which they last changed, so that a
    /// viewer scoped to some regions sees their freshness, not other regions' imports.
    pub regions: Arc<std::collections::BTreeMap<String, RegionStatus>>,
}

/// One region's data as of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionStatus {
    /// The data version of the last ingest that changed this region's sales.
    pub version: i64,
    pub span: crate::cube::RegionSpan,
}

/// Each region's status: unchanged sums keep the version they had in `previous`.
pub fn region_statuses(
    cube: &Cube,
    previous: Option<&Snapshot>,
) -> std::collections::BTreeMap<String, RegionStatus> {
    cube.region_spans()
        .into_iter()
        .map(|(region, span)| {
            let version = previous
                .and_then(|p| p.regions.get(&region))
                .filter(|before| before.span == span)
                .map_or(cube.version, |before| before.version);
            (region, RegionStatus { version, span })
        })
        .collect()
}
