//! Who may do what, as Kafka operators know it: principals (`User:alice`), their
//! credentials (SCRAM, never the password; API keys, only their hash), and ACLs that
//! allow or deny an operation on a resource. The coordinator keeps them in its store;
//! every gateway holds a copy ([`SecurityView`]) and decides with [`authorize`], the one
//! place the rules of Kafka's authorizer are written.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The principal of a client that did not authenticate (on a listener that allows it).
pub const ANONYMOUS: &str = "User:ANONYMOUS";
/// The principal an ACL names to match every principal.
pub const ANY_PRINCIPAL: &str = "User:*";
/// The host an ACL names to match every host.
pub const ANY_HOST: &str = "*";
/// The resource name a literal ACL names to match every resource of its type.
pub const ANY_RESOURCE: &str = "*";
/// The one cluster resource's name, as Kafka names it.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// The kinds of resource an ACL protects (Kafka's numbers in [`ResourceType::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
}

/// How an ACL's resource name matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternType {
    /// The name itself, or every name if it is `*`.
    Literal,
    /// Every name that starts with it.
    Prefixed,
}

/// What a principal does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

/// Whether an ACL allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Allow,
    Deny,
}

/// Codes and names as Kafka's protocol and tools spell them.
macro_rules! kafka_enum {
    ($type:ident { $($variant:ident = $code:literal, $name:literal;)+ }) => {
        impl $type {
            /// Kafka's number for it.
            pub fn code(self) -> i8 {
                match self { $($type::$variant => $code,)+ }
            }

            /// The value of Kafka's number, if it names one value.
            pub fn from_code(code: i8) -> Option<Self> {
                match code { $($code => Some($type::$variant),)+ _ => None }
            }

            /// Kafka's name for it (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`).
            pub fn name(self) -> &'static str {
                match self { $($type::$variant => $name,)+ }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $type {
            type Err = String;

            /// Kafka's name, in any case, with `-` or `_`.
            fn from_str(text: &str) -> Result<Self, String> {
                let upper = text.trim().to_ascii_uppercase().replace('-', "_");
                match upper.as_str() {
                    $($name => Ok($type::$variant),)+
                    _ => Err(format!(
                        "unknown {} {text:?}: one of {}",
                        stringify!($type),
                        [$($name),+].join(", ").to_ascii_lowercase()
                    )),
                }
            }
        }
    };
}

kafka_enum!(ResourceType {
    Topic = 2, "TOPIC";
    Group = 3, "GROUP";
    Cluster = 4, "CLUSTER";
    TransactionalId = 5, "TRANSACTIONAL_ID";
});

kafka_enum!(PatternType {
    Literal = 3, "LITERAL";
    Prefixed = 4, "PREFIXED";
});

kafka_enum!(Operation {
    All = 2, "ALL";
    Read = 3, "READ";
    Write = 4, "WRITE";
    Create = 5, "CREATE";
    Delete = 6, "DELETE";
    Alter = 7, "ALTER";
    Describe = 8, "DESCRIBE";
    ClusterAction = 9, "CLUSTER_ACTION";
    DescribeConfigs = 10, "DESCRIBE_CONFIGS";
    AlterConfigs = 11, "ALTER_CONFIGS";
    IdempotentWrite = 12, "IDEMPOTENT_WRITE";
});

kafka_enum!(Permission {
    Deny = 2, "DENY";
    Allow = 3, "ALLOW";
});

/// One ACL: `permission` for `principal` connecting from `host` to do `operation` on
/// the resources of `resource_type` that `resource_name` matches by `pattern_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub principal: String,
    #[serde(default = "any_host")]
    pub host: String,
    pub resource_type: ResourceType,
    pub resource_name: String,
    #[serde(default = "literal")]
    pub pattern_type: PatternType,
    pub operation: Operation,
    #[serde(default = "allow")]
    pub permission: Permission,
}

fn any_host() -> String {
    ANY_HOST.to_owned()
}

fn literal() -> PatternType {
    PatternType::Literal
}

fn allow() -> Permission {
    Permission::Allow
}

impl AclBinding {
    /// Refuses a binding that could never match: a principal not `Type:name`, an empty
    /// resource name, a cluster resource not named `kafka-cluster`.
    pub fn validate(&self) -> Result<(), String> {
        check_principal(&self.principal)?;
        if self.host.is_empty() {
            return Err("an ACL's host is an address or *".into());
        }
        if self.resource_name.is_empty() {
            return Err("an ACL's resource name is empty".into());
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != CLUSTER_NAME {
            return Err(format!("the cluster resource is named {CLUSTER_NAME}"));
        }
        Ok(())
    }

    fn matches_resource(&self, resource_type: ResourceType, name: &str) -> bool {
        self.resource_type == resource_type
            && match self.pattern_type {
                PatternType::Literal => {
                    self.resource_name == name || self.resource_name == ANY_RESOURCE
                }
                PatternType::Prefixed => name.starts_with(&self.resource_name),
            }
    }

    fn matches_caller(&self, principal: &str, host: &str) -> bool {
        (self.principal == principal || self.principal == ANY_PRINCIPAL)
            && (self.host == host || self.host == ANY_HOST)
    }
}

/// A principal is `Type:name` with a non-empty type and name (`User:alice`).
pub fn check_principal(principal: &str) -> Result<(), String> {
    match principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(()),
        _ => Err(format!(
            "principal {principal:?} is not of the form User:name"
        )),
    }
}

/// Which ACLs a listing or a removal selects: each field given must equal the ACL's
/// (a `resource_name` with `pattern_type` `match` selects every ACL that would apply to
/// that name: literal, `*` and prefixes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AclFilter {
    pub principal: Option<String>,
    pub host: Option<String>,
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    pub pattern_type: Option<PatternFilter>,
    pub operation: Option<Operation>,
    pub permission: Option<Permission>,
}

/// A filter's pattern type: one type, or every pattern that matches the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternFilter {
    Literal,
    Prefixed,
    Match,
}

impl AclFilter {
    /// Whether `acl` is selected.
    pub fn selects(&self, acl: &AclBinding) -> bool {
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        if !same(&self.principal, &acl.principal) || !same(&self.host, &acl.host) {
            return false;
        }
        if self
            .resource_type
            .is_some_and(|kind| kind != acl.resource_type)
            || self.operation.is_some_and(|op| op != acl.operation)
            || self.permission.is_some_and(|p| p != acl.permission)
        {
            return false;
        }
        match (self.pattern_type, &self.resource_name) {
            (Some(PatternFilter::Match), Some(name)) => {
                acl.matches_resource(acl.resource_type, name)
            }
            (Some(PatternFilter::Match), None) => true,
            (pattern, name) => {
                let pattern_ok = match pattern {
                    Some(PatternFilter::Literal) => acl.pattern_type == PatternType::Literal,
                    Some(PatternFilter::Prefixed) => acl.pattern_type == PatternType::Prefixed,
                    _ => true,
                };
                pattern_ok && same(name, &acl.resource_name)
            }
        }
    }
}

/// The operations that an ACL for `operation` also allows (Kafka's implied operations:
/// reading, writing, deleting or altering a resource lets one describe it; altering
/// configs lets one describe them).
fn allows(acl_operation: Operation, asked: Operation) -> bool {
    use Operation::*;
    acl_operation == All
        || acl_operation == asked
        || (asked == Describe && matches!(acl_operation, Read | Write | Delete | Alter))
        || (asked == DescribeConfigs && acl_operation == AlterConfigs)
}

/// Kafka's authorizer: a matching DENY for the operation (or ALL) wins; else a matching
/// ALLOW for it, for ALL or for an operation that implies it allows; else denied.
pub fn authorize(
    acls: &[AclBinding],
    principal: &str,
    host: &str,
    operation: Operation,
    resource_type: ResourceType,
    name: &str,
) -> bool {
    let mut allowed = false;
    for acl in acls {
        if !acl.matches_resource(resource_type, name) || !acl.matches_caller(principal, host) {
            continue;
        }
        match acl.permission {
            Permission::Deny
                if matches!(acl.operation, Operation::All) || acl.operation == operation =>
            {
                return false;
            }
            Permission::Deny => {}
            Permission::Allow => allowed |= allows(acl.operation, operation),
        }
    }
    allowed
}

/// The SCRAM mechanisms Silt keeps credentials for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScramMechanism {
    #[serde(rename = "SCRAM-SHA-256")]
    Sha256,
    #[serde(rename = "SCRAM-SHA-512")]
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The SASL mechanism's name.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism a SASL name names.
    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL
            .into_iter()
            .find(|mechanism| mechanism.name().eq_ignore_ascii_case(name))
    }
}

/// A user's SCRAM credential for one mechanism (RFC 5802): what the server needs to
/// check a proof, and never enough to recover the password. Bytes are base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub mechanism: ScramMechanism,
    pub salt: String,
    pub iterations: u32,
    pub stored_key: String,
    pub server_key: String,
}

/// A user who authenticates with a password (SASL PLAIN or SCRAM, HTTP Basic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub credentials: Vec<ScramCredential>,
    pub created_ms: i64,
}

impl User {
    /// The user's principal.
    pub fn principal(&self) -> String {
        format!("User:{}", self.name)
    }

    /// The credential for `mechanism`, if the user has one.
    pub fn credential(&self, mechanism: ScramMechanism) -> Option<&ScramCredential> {
        self.credentials
            .iter()
            .find(|credential| credential.mechanism == mechanism)
    }
}

/// A user name: 1 to 128 characters, none a control character, `:` or `,` (SCRAM and
/// principals use those as separators).
pub fn check_user_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > 128 {
        return Err("a user name has 1 to 128 characters".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, ':' | ',' | '='))
    {
        return Err(format!("a user name may not contain {bad:?}"));
    }
    Ok(())
}

/// An API key as the store keeps it: the secret's SHA-256 (hex), never the secret. The
/// key a client sends is `silt_<id>_<secret>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub principal: String,
    pub secret_sha256: String,
    #[serde(default)]
    pub description: String,
    pub created_ms: i64,
    #[serde(default)]
    pub expires_ms: Option<i64>,
    #[serde(default)]
    pub revoked_ms: Option<i64>,
}

impl ApiKey {
    /// Whether the key authenticates at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|expiry| now_ms < expiry)
    }
}

/// Everything the gateways decide with, as one versioned value: a gateway asks for it
/// again when the version moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityView {
    pub version: u64,
    pub users: Vec<User>,
    pub api_keys: Vec<ApiKey>,
    pub acls: Vec<AclBinding>,
}

/// A change to principals, credentials or ACLs, or a question about them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityRequest {
    /// Creates the user, or replaces its credentials.
    PutUser(User),
    /// Deletes a user; answers whether it existed.
    DeleteUser { name: String },
    /// Stores a new API key (its id must be new).
    CreateKey(ApiKey),
    /// Revokes a key; answers whether a live key was revoked.
    RevokeKey { id: String, now_ms: i64 },
    /// Adds ACLs (those already present change nothing).
    AddAcls(Vec<AclBinding>),
    /// Removes the ACLs a filter selects; answers them.
    RemoveAcls(AclFilter),
    /// The whole view, unless its version is still `known_version`.
    View { known_version: Option<u64> },
}

/// The answer to a [`SecurityRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityResponse {
    Done,
    Existed(bool),
    Removed(Vec<AclBinding>),
    View(Option<SecurityView>),
}

#[cfg(test)]
mod tests;
