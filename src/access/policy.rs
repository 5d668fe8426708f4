//! The access policy: a casbin model and policy, checked strictly when loaded and turned into a
//! decision table, so that a request asks a hash map rather than the casbin engine.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};

use crate::auth::Role;

/// The built-in model and policy (api.md's table); `SALESGRAPH_POLICY` replaces the policy.
pub const DEFAULT_MODEL: &str = include_str!("../../policy/model.conf");
pub const DEFAULT_POLICY: &str = include_str!("../../policy/policy.csv");

/// The resource whose `read` permission lifts the region scope.
pub const ALL_REGIONS: &str = "all_regions";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the access model or policy does not load: {0}")]
    Casbin(String),
    #[error("the policy is refused: {0}")]
    Incomplete(String),
    #[error("cannot read the policy file {path}: {reason}")]
    Read { path: String, reason: String },
}

/// What a role may do with one protected schema coordinate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// The resource the coordinate belongs to ("money", "sale_rows", …).
    pub resource: String,
    /// Roles allowed to use it.
    pub allowed: BTreeSet<Role>,
}

/// Every decision the policy makes, computed once per load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Type (or enum) → field (or value) → who may use it: looked up per resolved field
    /// without building the coordinate string, hashed (a page's rows ask it hundreds of times,
    /// and ordered maps' string comparisons showed in its profile).
    protected: FxHashMap<String, FxHashMap<String, Protection>>,
    all_regions: BTreeSet<Role>,
}

fn line_error(line: usize, reason: impl Into<String>) -> PolicyError {
    PolicyError::Line { line, reason: reason.into() }
}

fn is_coordinate(text: &str) -> bool {
    let mut parts = text.split('.');
    let (Some(owner), Some(member), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let identifier = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    identifier(owner) && identifier(member)
}

/// Casbin skips lines it does not understand; a deployer's typo must not silently open or
/// close access, so every line is checked here first and the first bad one is named.
fn check_lines(policy: &str) -> Result<(), PolicyError> {
    for (index, raw) in policy.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if fields.iter().any(|f| f.is_empty()) {
            return Err(line_error(line, format!("empty field in \"{text}\"")));
        }
        let role =
            |name: &str| name.parse::<Role>().map_err(|e| line_error(line, format!("{e} in \"{text}\"")));
        match fields.as_slice() {
            ["p", subject, object, action] => {
                role(subject)?;
                if is_coordinate(object) {
                    return Err(line_error(
                        line,
                        format!(
                            "\"{object}\" is a schema coordinate: put it in a resource with a g2 line and grant the resource"
                        ),
                    ));
                }
                if !matches!(*action, "read" | "write") {
                    return Err(line_error(line, format!("action \"{action}\" is neither read nor write")));
                }
            }
            ["g", member, parent] => {
                role(member)?;
                role(parent)?;
            }
            ["g2", coordinate, resource] => {
                if !is_coordinate(coordinate) {
                    return Err(line_error(
                        line,
                        format!("\"{coordinate}\" is not a schema coordinate such as Sale.revenue"),
                    ));
                }
                if is_coordinate(resource) {
                    return Err(line_error(line, format!("resource \"{resource}\" looks like a coordinate")));
                }
            }
            _ => {
                return Err(line_error(
                    line,
                    format!(
                        "\"{text}\" is not `p, role, resource, read|write`, `g, role, role` or `g2, Type.field, resource`"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Mutation fields are written; everything else is read.
pub fn action_for(coordinate: &str) -> &'static str {
    if coordinate.starts_with("Mutation.") { "write" } else { "read" }
}

impl AccessPolicy {
    /// Loads a policy (CSV lines) against the built-in model.
    pub async fn load(policy: &str) -> Result<Self, PolicyError> {
        check_lines(policy)?;
        let model =
            DefaultModel::from_str(DEFAULT_MODEL).await.map_err(|e| PolicyError::Casbin(e.to_string()))?;
        let enforcer = Enforcer::new(model, StringAdapter::new(policy))
            .await
            .map_err(|e| PolicyError::Casbin(e.to_string()))?;
        let enforce = |role: Role, object: &str, action: &str| {
            enforcer.enforce((role.as_str(), object, action)).map_err(|e| PolicyError::Casbin(e.to_string()))
        };
        let mut protected = FxHashMap::default();
        for (index, raw) in policy.lines().enumerate() {
            let fields: Vec<&str> = raw.trim().split(',').map(str::trim).collect();
            if let ["g2", coordinate, resource] = fields.as_slice() {
                let (owner, member) = coordinate.split_once('.').unwrap_or_default();
                let members: &mut FxHashMap<String, Protection> =
                    protected.entry(owner.to_string()).or_default();
                if let Some(Protection { resource: earlier, .. }) = members.get(member)
                    && earlier != resource
                {
                    return Err(line_error(
                        index + 1,
                        format!("{coordinate} is already in resource \"{earlier}\""),
                    ));
                }
                let mut allowed = BTreeSet::new();
                for role in Role::ALL {
                    if enforce(role, coordinate, action_for(coordinate))? {
                        allowed.insert(role);
                    }
                }
                members.insert(member.to_string(), Protection { resource: resource.to_string(), allowed });
            }
        }
        let mut all_regions = BTreeSet::new();
        for role in Role::ALL {
            if enforce(role, ALL_REGIONS, "read")? {
                all_regions.insert(role);
            }
        }
        let policy = Self { protected, all_regions };
        policy.check_grants()?;
        Ok(policy)
    }

    /// An empty or truncated file (a deploy that wrote nothing, an editor's half-saved copy)
    /// would otherwise load as "nothing is protected": a policy must protect something and
    /// grant each built-in role something, or it is refused like a malformed one.
    fn check_grants(&self) -> Result<(), PolicyError> {
        if self.protected.is_empty() {
            return Err(PolicyError::Incomplete(
                "it protects nothing (no g2 line): every field would be open to every role".to_string(),
            ));
        }
        for role in Role::ALL {
            let granted = self.all_regions.contains(&role)
                || self
                    .protected
                    .values()
                    .flat_map(|members| members.values())
                    .any(|p| p.allowed.contains(&role));
            if !granted {
                return Err(PolicyError::Incomplete(format!(
                    "it grants nothing to the {} role (no p line reaches it)",
                    role.as_str()
                )));
            }
        }
        Ok(())
    }

    pub async fn default_policy() -> Result<Self, PolicyError> {
        Self::load(DEFAULT_POLICY).await
    }

    /// May `role` use the schema coordinate? Coordinates the policy does not name are open.
    pub fn allows(&self, role: Role, coordinate: &str) -> bool {
        let (owner, member) = coordinate.split_once('.').unwrap_or((coordinate, ""));
        self.allows_member(role, owner, member)
    }

    /// May `role` use `owner.member` (a type's field or an enum's value)?
    pub fn allows_member(&self, role: Role, owner: &str, member: &str) -> bool {
        self.protection_of(owner, member).is_none_or(|p| p.allowed.contains(&role))
    }

    pub fn protection_of(&self, owner: &str, member: &str) -> Option<&Protection> {
        self.protected.get(owner)?.get(member)
    }

    pub fn protection(&self, coordinate: &str) -> Option<&Protection> {
        let (owner, member) = coordinate.split_once('.')?;
        self.protection_of(owner, member)
    }

    /// True when some member of the type or enum is protected.
    pub fn protects_any_of(&self, owner: &str) -> bool {
        self.protected.contains_key(owner)
    }

    /// Every protected coordinate, sorted.
    pub fn protected(&self) -> Vec<(String, &Protection)> {
        let mut coordinates: Vec<(String, &Protection)> = self
            .protected
            .iter()
            .flat_map(|(owner, members)| members.iter().map(move |(m, p)| (format!("{owner}.{m}"), p)))
            .collect();
        coordinates.sort_by(|a, b| a.0.cmp(&b.0));
        coordinates
    }

    /// Every protected coordinate the role may not use, sorted.
    pub fn denied_to(&self, role: Role) -> Vec<String> {
        self.protected().into_iter().filter(|(_, p)| !p.allowed.contains(&role)).map(|(c, _)| c).collect()
    }

    /// True when the role sees every region; otherwise only the regions its token names.
    pub fn sees_all_regions(&self, role: Role) -> bool {
        self.all_regions.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(future)
    }

    #[test]
    fn the_default_policy_is_api_md_table() {
        let policy = block_on(AccessPolicy::default_policy()).expect("default policy loads");
        use Role::*;
        for role in [Admin, Executive, Manager] {
            assert!(policy.allows(role, "Sale.revenue"), "{role} sees money");
            assert!(policy.allows(role, "Metric.REVENUE"), "{role} ranks by revenue");
            assert!(policy.allows(role, "Query.inventoryPlan"), "{role} plans stock");
        }
        assert!(!policy.allows(Analyst, "Sale.revenue"));
        assert!(!policy.allows(Analyst, "CarModel.basePrice"));
        assert!(!policy.allows(Analyst, "Metric.REVENUE"));
        assert!(!policy.allows(Analyst, "Query.inventoryPlan"));
        assert!(policy.allows(Analyst, "Query.sales"));
        assert!(!policy.allows(Executive, "Query.sales"));
        assert!(policy.allows(Manager, "Query.sales"));
        assert!(policy.allows(Admin, "Query.sales"));
        assert!(policy.allows(Admin, "Mutation.importSales"));
        for role in [Executive, Manager, Analyst] {
            assert!(!policy.allows(role, "Mutation.importSales"), "{role} may not import");
        }
        assert!(policy.allows(Analyst, "Sale.units"), "unprotected fields are open");
        assert!(!policy.sees_all_regions(Manager));
        for role in [Admin, Executive, Analyst] {
            assert!(policy.sees_all_regions(role));
        }
        assert_eq!(policy.protection("Sale.revenue").map(|p| p.resource.as_str()), Some("money"));
    }

    #[test]
    fn a_bad_line_is_named() {
        let cases = [
            ("p, janitor, money, read", "unknown role"),
            ("p, admin, money, delete", "neither read nor write"),
            ("p, admin, Sale.revenue, read", "schema coordinate"),
            ("g2, revenue, money", "not a schema coordinate"),
            ("q, admin, money", "is not `p"),
            ("p, admin, , read", "empty field"),
        ];
        for (line, expected) in cases {
            let text = format!("# comment\n\n{line}\n");
            let error = block_on(AccessPolicy::load(&text)).expect_err(line);
            let message = error.to_string();
            assert!(message.starts_with("policy line 3:"), "{message}");
            assert!(message.contains(expected), "{line}: {message}");
        }
    }

    #[test]
    fn a_policy_that_protects_or_grants_nothing_is_refused() {
        for (text, expected) in [
            ("", "protects nothing"),
            ("# only comments\n", "protects nothing"),
            ("p, executive, money, read\n", "protects nothing"),
            (
                "g2, Sale.revenue, money\np, admin, money, read\np, executive, money, read\np, manager, money, read\n",
                "analyst",
            ),
        ] {
            let error = block_on(AccessPolicy::load(text)).expect_err(text);
            assert!(error.to_string().contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn inheritance_and_one_resource_per_coordinate() {
        let policy = block_on(AccessPolicy::load(
            "g2, Sale.revenue, money\ng2, Query.sales, rows\np, executive, money, read\ng, admin, executive\n\
             p, manager, rows, read\np, analyst, rows, read\n",
        ))
        .expect("loads");
        assert!(policy.allows(Role::Admin, "Sale.revenue"));
        assert!(!policy.allows(Role::Manager, "Sale.revenue"));
        assert!(!policy.sees_all_regions(Role::Admin), "nothing grants all_regions here");
        let error = block_on(AccessPolicy::load("g2, Sale.revenue, money\ng2, Sale.revenue, rows\n"))
            .expect_err("two resources");
        assert!(error.to_string().contains("already in resource \"money\""), "{error}");
    }
}
