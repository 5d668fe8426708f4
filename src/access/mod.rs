//! Who may see what: the casbin policy (`policy`), enforced for every resolved field in one
//! place (`guard`), reflected in introspection (`visibility`), applied to the data as a region
//! scope (`scope_for`), and reloaded without a restart (`reload`).

pub mod guard;
pub mod policy;
pub mod reload;
pub mod visibility;

use std::sync::Arc;

use crate::auth::Viewer;
use crate::domain::Scope;
pub use guard::FieldAccess;
pub use policy::{AccessPolicy, PolicyError, Protection};
pub use reload::PolicyStore;

/// The viewer and the policy as of the start of a request: every check of the request uses
/// the same policy even if it is reloaded meanwhile.
#[derive(Clone)]
pub struct RequestAccess {
    pub viewer: Viewer,
    pub policy: Arc<AccessPolicy>,
}

impl RequestAccess {
    pub fn new(viewer: Viewer, policy: Arc<AccessPolicy>) -> Self {
        Self { viewer, policy }
    }

    /// The data this viewer may see.
    pub fn scope(&self) -> Scope {
        scope_for(&self.viewer, &self.policy)
    }

    /// Whether this viewer may see money: prices and revenue wherever the schema has them. Text
    /// and rankings derived from money (reasons, segment labels) are made without it otherwise.
    pub fn sees_money(&self) -> bool {
        MONEY_COORDINATES.iter().all(|coordinate| self.policy.allows(self.viewer.role, coordinate))
    }

    /// What decides the answer to a query besides the query: role, and the regions when the
    /// role is scoped. Part of every cache key.
    pub fn scope_key(&self) -> String {
        self.viewer.scope_key()
    }
}

/// The schema's money: a viewer denied any of them sees no figure derived from money.
const MONEY_COORDINATES: [&str; 5] = [
    "SalesAggregate.revenue",
    "SalesAggregate.averagePrice",
    "Metric.REVENUE",
    "CarModel.basePrice",
    "Sale.unitPrice",
];

pub fn scope_for(viewer: &Viewer, policy: &AccessPolicy) -> Scope {
    if policy.sees_all_regions(viewer.role) {
        Scope::Everything
    } else {
        Scope::Regions(viewer.regions.clone())
    }
}
