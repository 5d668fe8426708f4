//! The application context: everything a request needs (settings, database, in-memory data,
//! caches, token keys, metrics), built once at start-up and shared. No globals.

use std::sync::{Arc, RwLock};

use sea_orm::DatabaseConnection;

use crate::access::{PolicyError, PolicyStore};
use crate::ask::Lexicon;
use crate::auth::TokenKeys;
use crate::cache::{AskCache, ResponseCache};
use crate::config::ServeSettings;
use crate::cube::{Cube, CubeError};
use crate::data::Snapshot;
use crate::data::region_statuses;
use crate::http::persisted::{PersistedQueries, load_manifest};
use crate::http::rate_limit::RateLimiter;
use crate::metrics::Metrics;
use crate::store::catalogue::Catalogue;
use crate::store::{Store, data_version};

/// Whether newer data has come since a background pass began: then it may stop early.
type SupersededCheck = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Cube(#[from] CubeError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("trusted documents: {0}")]
    TrustedDocuments(String),
    #[error("cannot read the JWT public key {path}: {reason}")]
    PublicKey { path: String, reason: String },
}

pub struct AppContext {
    pub settings: ServeSettings,
    pub store: Store,
    pub tokens: TokenKeys,
    pub policy: Arc<PolicyStore>,
    pub rate_limiter: RateLimiter,
    pub persisted: PersistedQueries,
    pub cache: ResponseCache,
    pub ask_cache: AskCache,
    pub metrics: Metrics,
    /// Each new data version, for live subscriptions.
    pub updates: tokio::sync::broadcast::Sender<i64>,
    snapshot: RwLock<Arc<Snapshot>>,
    refresh_lock: tokio::sync::Mutex<()>,
}

/// The in-memory data every cube version shares, carried from one snapshot to the next.
struct DayGroupsAndRecentRows {
    days: Arc<crate::cube::daily::DailyGroups>,
    recent: Arc<crate::cube::recent_rows::RecentRows>,
}

impl DayGroupsAndRecentRows {
    fn new() -> Self {
        Self {
            days: crate::cube::daily::DailyGroups::new(),
            recent: crate::cube::recent_rows::RecentRows::new(),
        }
    }

    fn of(cube: &Cube) -> Self {
        Self { days: cube.days().clone(), recent: cube.recent().clone() }
    }
}

async fn load_snapshot(
    db: &DatabaseConnection,
    carried: DayGroupsAndRecentRows,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, AppError> {
    let cube = Cube::load(db).await?.with_days(carried.days).with_recent(carried.recent);
    let regions = Arc::new(region_statuses(&cube, previous));
    let catalogue = Catalogue::load(db).await?;
    let last_sale_day = crate::store::sales::last_sale_day(db).await?;
    Ok(Snapshot {
        version: cube.version,
        last_sale_day,
        lexicon: Arc::new(Lexicon::new(&catalogue)),
        catalogue: Arc::new(catalogue),
        cube: Arc::new(cube),
        forecast_memo: Arc::default(),
        regions,
    })
}

/// HS256 with the configured secret and/or RS256 with the configured public key; with neither,
/// dev mode's ephemeral secret.
async fn token_keys(settings: &ServeSettings) -> Result<TokenKeys, AppError> {
    let secret = settings.jwt_secret();
    let public_key =
        match &settings.jwt_public_key {
            Some(path) => Some(tokio::fs::read(path).await.map_err(|e| AppError::PublicKey {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?),
            None => None,
        };
    let keys = match (secret, public_key) {
        (Some(secret), Some(pem)) => TokenKeys::hs256(secret.as_bytes()).with_public_key(&pem)?,
        (Some(secret), None) => TokenKeys::hs256(secret.as_bytes()),
        (None, Some(pem)) => TokenKeys::rs256(&pem)?,
        (None, None) => TokenKeys::ephemeral()?,
    };
    Ok(keys.with_claims(settings.jwt_issuer.clone(), settings.jwt_audience.clone()))
}

impl AppContext {
    pub async fn new(
        settings: ServeSettings,
        db: DatabaseConnection,
        read_replica: Option<DatabaseConnection>,
    ) -> Result<Arc<Self>, AppError> {
        let tokens = token_keys(&settings).await?;
        let policy = Arc::new(PolicyStore::load(settings.policy.clone()).await?);
        let trusted = settings
            .trusted_documents
            .as_deref()
            .map(load_manifest)
            .transpose()
            .map_err(AppError::TrustedDocuments)?;
        let metrics = Metrics::new();
        let mut store = Store::new(db, metrics.db_queries.clone());
        if let Some(read) = read_replica {
            store = store.with_read_replica(read);
        }
        let snapshot = load_snapshot(&store.db, DayGroupsAndRecentRows::new(), None).await?;
        metrics.data_version.set(snapshot.version);
        Ok(Arc::new(Self {
            cache: ResponseCache::new(settings.cache),
            ask_cache: AskCache::new(settings.cache),
            rate_limiter: RateLimiter::per_second(settings.rate_limit),
            updates: tokio::sync::broadcast::channel(64).0,
            persisted: PersistedQueries::new(trusted),
            policy,
            settings,
            store,
            tokens,
            metrics,
            snapshot: RwLock::new(Arc::new(snapshot)),
            refresh_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// Drops every cached answer (the data or the policy changed).
    pub fn invalidate_caches(&self) {
        self.cache.invalidate_all();
        self.ask_cache.invalidate_all();
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads the in-memory data and drops cached answers when the data version moved (an
    /// ingest here or in another process). Says whether it reloaded.
    pub async fn refresh(&self) -> Result<bool, AppError> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let current = data_version::current(&self.store.db).await?;
        if current == self.snapshot().version {
            return Ok(false);
        }
        let previous = self.snapshot();
        let snapshot =
            load_snapshot(&self.store.db, DayGroupsAndRecentRows::of(&previous.cube), Some(&previous))
                .await?;
        let version = snapshot.version;
        match self.snapshot.write() {
            Ok(mut guard) => *guard = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
        self.invalidate_caches();
        self.metrics.data_version.set(version);
        // Nobody listening is fine.
        let _ = self.updates.send(version);
        tracing::info!(version, "data changed: reloaded the cube and cleared the cache");
        self.warm_forecasts();
        self.sync_held_months();
        Ok(true)
    }

    /// The background passes that have not yet finished once (day groups, recent rows,
    /// forecasts, those switched on): until they have, requests they serve are slower.
    pub fn warming_up(&self) -> Vec<&'static str> {
        let settings = &self.settings;
        let metrics = &self.metrics;
        [
            (settings.day_groups_mib > 0, &metrics.day_groups_ready, "day groups"),
            (settings.recent_rows_mib > 0, &metrics.recent_rows_ready, "recent rows"),
            (settings.warm_forecasts, &metrics.backtests_ready, "forecasts"),
        ]
        .into_iter()
        .filter(|(on, ready, _)| *on && ready.get() == 0)
        .map(|(_, _, pass)| pass)
        .collect()
    }

    /// In the background, brings what is held in memory beside the cube in step with the current
    /// cube, giving up when newer data arrives meanwhile (the sync for that version takes over):
    /// first the recent sale rows (months an ingest touched are reloaded, the rest checked), then
    /// the day groups, summed from those rows where they are held and read from the database
    /// only for older months, so that no month's rows are read twice.
    pub fn sync_held_months(&self) {
        let recent_budget = self.settings.recent_rows_mib.saturating_mul(1024 * 1024);
        let recent = self.month_sync(
            ("recent sale rows", "pages read the database"),
            (self.metrics.recent_rows_ready.clone(), self.metrics.recent_rows_bytes.clone()),
            move |store, snapshot, superseded| async move {
                let cube = &snapshot.cube;
                cube.recent()
                    .sync(&store.db, snapshot.version, &cube.month_totals(), recent_budget, || superseded())
                    .await
            },
        );
        let days_budget = self.settings.day_groups_mib.saturating_mul(1024 * 1024);
        let days = self.month_sync(
            ("day groups", "day ranges read the database"),
            (self.metrics.day_groups_ready.clone(), self.metrics.day_groups_bytes.clone()),
            move |store, snapshot, superseded| async move {
                let cube = &snapshot.cube;
                let held_rows =
                    |month, totals| cube.recent().current(month, totals).map(|rows| rows.day_groups());
                cube.days()
                    .sync(&store.db, &cube.month_totals(), days_budget, held_rows, || superseded())
                    .await
            },
        );
        tokio::spawn(async move {
            recent.await;
            days.await;
        });
    }

    /// What `sync` for the current snapshot does, to be run on a task: `what` it brings in step
    /// and what requests do without it, for the log; `gauges` record the data version it
    /// finished for and the bytes it holds. `sync` is told whether newer data has come meanwhile.
    fn month_sync<E, Run, Synced>(
        &self,
        (what, without): (&'static str, &'static str),
        (ready, bytes): (prometheus_client::metrics::gauge::Gauge, prometheus_client::metrics::gauge::Gauge),
        sync: Run,
    ) -> impl std::future::Future<Output = ()> + Send + 'static
    where
        E: std::fmt::Display,
        Run: FnOnce(crate::store::Store, Arc<Snapshot>, SupersededCheck) -> Synced,
        Synced: std::future::Future<Output = Result<crate::cube::daily::SyncReport, E>> + Send + 'static,
    {
        let store = self.store.clone();
        let snapshot = self.snapshot();
        let newer = self.updates.subscribe();
        let superseded: SupersededCheck = Arc::new(move || !newer.is_empty());
        let version = snapshot.version;
        let synced = sync(store, snapshot, superseded.clone());
        async move {
            let started = std::time::Instant::now();
            match synced.await {
                Ok(report) => {
                    bytes.set(report.bytes_held as i64);
                    if !superseded() {
                        ready.set(version);
                    }
                    tracing::info!(
                        version,
                        loaded = report.months_loaded,
                        held = report.months_held,
                        left_to_database = report.months_skipped,
                        mib = report.bytes_held / (1024 * 1024),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "{what} in step"
                    );
                }
                Err(error) => tracing::warn!(%error, "loading {what} failed; {without}"),
            }
        }
    }

    /// In the background, computes the current snapshot's usual forecast backtests (when
    /// `SALESGRAPH_WARM_FORECASTS` is on), giving up when newer data arrives meanwhile.
    pub fn warm_forecasts(&self) {
        if !self.settings.warm_forecasts {
            return;
        }
        let store = self.store.clone();
        let snapshot = self.snapshot();
        let newer = self.updates.subscribe();
        // The gauge is the one record of which data version is ready: /metrics exports it.
        let ready = self.metrics.backtests_ready.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let warmed =
                crate::planning::warm_up::warm_forecasts(&store, &snapshot, || !newer.is_empty()).await;
            if newer.is_empty() {
                ready.set(snapshot.version);
            }
            tracing::info!(
                version = snapshot.version,
                backtests = warmed,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "forecast backtests computed ahead"
            );
        });
    }
}
