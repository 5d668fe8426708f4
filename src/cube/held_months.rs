//! Per-month data loaded from the sale rows and held in memory beside the cube (day groups, the
//! newest months' rows), shared by every cube version. A month is used only while it adds up to
//! what the cube holds for it; a background sync after each data version reloads the months
//! that no longer do, newest first, within a memory budget.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, RwLock};

/// What the cube holds for one month: a month held in memory is current while it sums to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonthTotals {
    pub rows: i64,
    pub units: i64,
}

/// What a month held in memory says of itself.
pub trait HeldMonth: Send + Sync {
    /// Rows and units, compared with the cube's for the month.
    fn totals(&self) -> MonthTotals;
    /// Heap bytes held, counted against the budget.
    fn bytes(&self) -> usize;

    /// The fewest bytes a month with these totals can take once loaded: a month that cannot fit
    /// the budget is not read at all (0 when nothing is known before loading).
    fn least_bytes(_totals: MonthTotals) -> usize
    where
        Self: Sized,
    {
        0
    }
}

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub months_loaded: usize,
    pub months_held: usize,
    pub bytes_held: usize,
    /// Months left to the database: over the budget, or unusable.
    pub months_skipped: usize,
}

/// The months loaded so far, by month index.
#[derive(Debug)]
pub struct HeldMonths<T> {
    months: RwLock<BTreeMap<i32, Arc<T>>>,
    /// One sync at a time.
    syncing: tokio::sync::Mutex<()>,
}

impl<T> Default for HeldMonths<T> {
    fn default() -> Self {
        Self { months: RwLock::default(), syncing: tokio::sync::Mutex::default() }
    }
}

impl<T: HeldMonth> HeldMonths<T> {
    /// The month, when it matches the cube's `totals` for it.
    pub fn current(&self, month: i32, totals: MonthTotals) -> Option<Arc<T>> {
        self.read().get(&month).filter(|held| held.totals() == totals).cloned()
    }

    /// The oldest month held, if any.
    pub fn oldest_month(&self) -> Option<i32> {
        self.read().keys().next().copied()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<i32, Arc<T>>> {
        match self.months.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<i32, Arc<T>>> {
        match self.months.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Brings the held months in line with `months` (each month's index and the cube's totals
    /// for it), newest first, within `budget_bytes`. A held month whose totals match is kept when
    /// `still_current` agrees; any other is `load`ed (`Ok(None)`: unusable, left to the
    /// database). Months beyond the budget or gone from the cube are dropped. Stops early,
    /// keeping what it loaded, when `superseded` says a newer cube has come.
    ///
    /// The checks are plain closures returning futures rather than async closures: those made
    /// the sync's future not provably `Send` (a higher-ranked borrow), and it runs on a task.
    pub async fn sync<E, Checked, Loaded>(
        &self,
        months: &[(i32, MonthTotals)],
        budget_bytes: usize,
        superseded: impl Fn() -> bool,
        mut still_current: impl FnMut(i32, Arc<T>) -> Checked,
        mut load: impl FnMut(i32) -> Loaded,
    ) -> Result<SyncReport, E>
    where
        Checked: Future<Output = Result<bool, E>>,
        Loaded: Future<Output = Result<Option<T>, E>>,
    {
        let _one_at_a_time = self.syncing.lock().await;
        let mut report = SyncReport::default();
        let mut keep = BTreeSet::new();
        for (month, totals) in months.iter().rev() {
            if superseded() || budget_bytes == 0 {
                break;
            }
            // A month's rows are converted on this worker: let waiting requests run between months.
            tokio::task::yield_now().await;
            let (held, loaded) = match self.current(*month, *totals) {
                Some(held) if still_current(*month, held.clone()).await? => (held, false),
                _ if report.bytes_held + T::least_bytes(*totals) > budget_bytes => break,
                _ => match load(*month).await? {
                    Some(loaded) => (Arc::new(loaded), true),
                    None => continue,
                },
            };
            if report.bytes_held + held.bytes() > budget_bytes {
                break;
            }
            report.months_loaded += usize::from(loaded);
            report.bytes_held += held.bytes();
            report.months_held += 1;
            keep.insert(*month);
            self.write().insert(*month, held);
        }
        if !superseded() {
            self.write().retain(|month, _| keep.contains(month));
        }
        report.months_skipped = months.len() - report.months_held;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Month {
        totals: MonthTotals,
        bytes: usize,
    }

    impl HeldMonth for Month {
        fn totals(&self) -> MonthTotals {
            self.totals
        }

        fn bytes(&self) -> usize {
            self.bytes
        }
    }

    fn totals(rows: i64) -> MonthTotals {
        MonthTotals { rows, units: rows * 2 }
    }

    async fn sync(
        held: &HeldMonths<Month>,
        months: &[(i32, MonthTotals)],
        budget: usize,
        current: bool,
        loads: &mut Vec<i32>,
    ) -> SyncReport {
        let loaded =
            |month: i32| Month { totals: months.iter().find(|m| m.0 == month).unwrap().1, bytes: 10 };
        held.sync(
            months,
            budget,
            || false,
            |_, _| async move { Ok::<_, ()>(current) },
            |month| {
                loads.push(month);
                let month = loaded(month);
                async move { Ok(Some(month)) }
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn newest_months_first_within_the_budget_and_only_what_changed_is_reloaded() {
        let held = HeldMonths::<Month>::default();
        let mut loads = Vec::new();
        let months = [(1, totals(5)), (2, totals(6)), (3, totals(7))];
        let report = sync(&held, &months, 25, true, &mut loads).await;
        // A month's size is known once it is loaded: the first one over the budget is read, then dropped.
        assert_eq!(loads, vec![3, 2, 1], "newest first, until the budget");
        assert_eq!(
            report,
            SyncReport { months_loaded: 2, months_held: 2, bytes_held: 20, months_skipped: 1 }
        );
        assert_eq!(held.oldest_month(), Some(2));
        assert!(held.current(1, totals(5)).is_none());

        // Month 3 gained rows: only it is loaded again.
        loads.clear();
        let months = [(1, totals(5)), (2, totals(6)), (3, totals(8))];
        assert!(held.current(3, totals(8)).is_none(), "a month that no longer matches is not used");
        sync(&held, &months, 25, true, &mut loads).await;
        assert_eq!(loads, vec![3, 1]);
        assert!(held.current(3, totals(8)).is_some());

        // A held month its check finds stale is loaded again too; no budget drops everything.
        loads.clear();
        sync(&held, &months, 25, false, &mut loads).await;
        assert_eq!(loads, vec![3, 2, 1]);
        let report = sync(&held, &months, 0, true, &mut loads).await;
        assert_eq!(report.months_skipped, 3);
        assert_eq!(held.oldest_month(), None);
    }
}
