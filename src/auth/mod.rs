//! Who is asking: JWT bearer tokens turned into a [`Viewer`] (subject, role, regions).

pub mod jwt;

use std::fmt;
use std::str::FromStr;

pub use jwt::{AuthError, TokenKeys};

/// The roles of api.md's default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Admin,
    Executive,
    Manager,
    Analyst,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Executive, Role::Manager, Role::Analyst];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Executive => "executive",
            Role::Manager => "manager",
            Role::Analyst => "analyst",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| format!("unknown role \"{text}\" (expected admin, executive, manager or analyst)"))
    }
}

/// The caller of a request, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Viewer {
    pub subject: String,
    pub role: Role,
    /// Regions the token names (a manager's scope); sorted, without duplicates.
    pub regions: Vec<String>,
}

impl Viewer {
    pub fn new(subject: impl Into<String>, role: Role, mut regions: Vec<String>) -> Self {
        regions.sort();
        regions.dedup();
        Self { subject: subject.into(), role, regions }
    }

    /// What decides which data the viewer may see: the part of a cache key that keeps answers
    /// from crossing between viewers of different scope.
    pub fn scope_key(&self) -> String {
        format!("{}:{}", self.role, self.regions.join(","))
    }
}
