//! The live policy: loaded at start-up (a policy that does not load stops the start), then
//! reloaded when its file changes or on SIGHUP. A reload that fails keeps the policy in force
//! and logs why, so a typo in production never opens or closes access by accident.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::policy::{AccessPolicy, DEFAULT_POLICY, PolicyError};

pub struct PolicyStore {
    /// The policy file; `None`: the built-in policy, which never changes.
    path: Option<PathBuf>,
    current: RwLock<Arc<AccessPolicy>>,
    /// The text the current policy came from, to notice a change without trusting mtimes.
    loaded_text: Mutex<String>,
}

async fn read(path: &std::path::Path) -> Result<String, PolicyError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|e| PolicyError::Read { path: path.display().to_string(), reason: e.to_string() })
}

impl PolicyStore {
    pub async fn load(path: Option<PathBuf>) -> Result<Self, PolicyError> {
        let text = match &path {
            Some(path) => read(path).await?,
            None => DEFAULT_POLICY.to_string(),
        };
        let policy = AccessPolicy::load(&text).await?;
        Ok(Self { path, current: RwLock::new(Arc::new(policy)), loaded_text: Mutex::new(text) })
    }

    pub fn current(&self) -> Arc<AccessPolicy> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the file again if its text changed; says whether the policy in force changed.
    pub async fn reload(&self) -> Result<bool, PolicyError> {
        let Some(path) = &self.path else { return Ok(false) };
        let text = read(path).await?;
        let unchanged = self.loaded_text.lock().map(|loaded| *loaded == text).unwrap_or(false);
        if unchanged {
            return Ok(false);
        }
        let result = AccessPolicy::load(&text).await;
        // Remember the text either way: a bad file is reported once, not every second.
        if let Ok(mut loaded) = self.loaded_text.lock() {
            *loaded = text;
        }
        let policy = result?;
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::new(policy),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(policy),
        }
        Ok(true)
    }

    async fn reload_and_log(&self, why: &str) -> bool {
        match self.reload().await {
            Ok(true) => {
                tracing::info!(path = ?self.path, why, "access policy reloaded");
                true
            }
            Ok(false) => false,
            Err(error) => {
                tracing::error!(%error, why, "access policy NOT reloaded: the previous policy stays in force");
                false
            }
        }
    }

    /// Follows the policy file (polled every `interval`) and SIGHUP until the task is dropped.
    /// Returns whenever the policy in force changed, so that the caller can drop cached answers.
    pub async fn follow(self: Arc<Self>, interval: Duration, on_change: impl Fn() + Send + 'static) {
        if self.path.is_none() {
            return;
        }
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .inspect_err(
                |error| tracing::warn!(%error, "cannot listen for SIGHUP: the policy file is still polled"),
            )
            .ok();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let why = tokio::select! {
                _ = ticker.tick() => "the file changed",
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
            };
            #[cfg(not(unix))]
            let why = {
                ticker.tick().await;
                "the file changed"
            };
            if self.reload_and_log(why).await {
                on_change();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[tokio::test]
    async fn a_changed_file_is_picked_up_and_a_broken_one_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("policy.csv");
        // Every built-in role is granted something, as a policy must.
        let others =
            "g2, Query.sales, rows\np, admin, rows, read\np, executive, rows, read\np, manager, rows, read\n";
        std::fs::write(&path, format!("g2, Sale.revenue, money\np, analyst, money, read\n{others}"))
            .expect("write");
        let store = PolicyStore::load(Some(path.clone())).await.expect("loads");
        assert!(store.current().allows(Role::Analyst, "Sale.revenue"));
        assert_eq!(store.reload().await, Ok(false), "same text, nothing to do");

        std::fs::write(&path, format!("g2, Sale.revenue, money\np, analyst, rows, read\n{others}"))
            .expect("write");
        assert_eq!(store.reload().await, Ok(true));
        assert!(!store.current().allows(Role::Analyst, "Sale.revenue"));

        std::fs::write(&path, "p, analyst, money, read, extra\n").expect("write");
        assert!(store.reload().await.is_err(), "a broken policy is refused");
        assert!(!store.current().allows(Role::Analyst, "Sale.revenue"), "the previous policy stays");
        std::fs::write(&path, "").expect("empty the file");
        assert!(store.reload().await.is_err(), "an empty policy is refused");
        assert!(store.current().allows(Role::Analyst, "Query.sales"), "the previous policy stays");
    }

    #[tokio::test]
    async fn a_missing_or_broken_file_stops_the_start() {
        let missing = PolicyStore::load(Some(PathBuf::from("/nonexistent/policy.csv"))).await;
        assert!(matches!(missing, Err(PolicyError::Read { .. })));
    }
}
