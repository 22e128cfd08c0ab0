//! Which ACL each HTTP route needs: the one table of it. A route not listed needs ALTER
//! on the cluster, so a new route is closed until it is listed here.

use axum::http::Method;
use silt_core::security::{Operation, ResourceType};

use super::AuthConfig;

/// An ACL a route needs on the resource one of its path parameters names (`""`: the
/// cluster).
pub struct Check {
    pub resource_type: ResourceType,
    pub param: &'static str,
    pub operation: Operation,
}

/// What a route needs.
pub enum Rule {
    /// Nothing: answered without credentials.
    Public,
    /// An authenticated caller, and these ACLs; the handler checks those that depend on
    /// the body or filters what it lists.
    Checks(&'static [Check]),
}

const fn check(resource_type: ResourceType, param: &'static str, operation: Operation) -> Check {
    Check {
        resource_type,
        param,
        operation,
    }
}

use Operation::{Alter, Delete, Describe, Read, Write};
use ResourceType::{Cluster, Group, Topic, TransactionalId};

const NONE: &[Check] = &[];
const TOPIC_DESCRIBE: &[Check] = &[check(Topic, "topic", Describe)];
const TOPIC_ALTER: &[Check] = &[check(Topic, "topic", Alter)];
const TOPIC_DELETE: &[Check] = &[check(Topic, "topic", Delete)];
const TOPIC_READ: &[Check] = &[check(Topic, "topic", Read)];
const TOPIC_WRITE: &[Check] = &[check(Topic, "topic", Write)];
const TABLE_DESCRIBE: &[Check] = &[check(Topic, "table", Describe)];
const TABLE_READ: &[Check] = &[check(Topic, "table", Read)];
const GROUP_DESCRIBE: &[Check] = &[check(Group, "group", Describe)];
const GROUP_READ: &[Check] = &[check(Group, "group", Read)];
const TXN_DESCRIBE: &[Check] = &[check(TransactionalId, "id", Describe)];
const TXN_WRITE: &[Check] = &[check(TransactionalId, "id", Write)];
const CLUSTER_DESCRIBE: &[Check] = &[check(Cluster, "", Describe)];
const CLUSTER_ALTER: &[Check] = &[check(Cluster, "", Alter)];

/// The rule of `route` (axum's matched path) for `method`.
pub fn rule(method: &Method, route: &str, config: &AuthConfig) -> Rule {
    let get = method == Method::GET;
    let checks = match (route, method.as_str()) {
        ("/healthz" | "/readyz", _) => return Rule::Public,
        // The console's pages are static; what they show comes from the API. (Before
        // routing the path is the request's own, after it the route's.)
        (path, _) if path == "/ui" || path.starts_with("/ui/") => return Rule::Public,
        ("/v1/console/metrics", _) => CLUSTER_DESCRIBE,
        // Lists only the topics the caller may describe.
        ("/v1/console/topics", _) => NONE,
        ("/openapi.json", _) if config.public_openapi => return Rule::Public,
        ("/metrics", _) if config.public_metrics => return Rule::Public,
        ("/openapi.json", _) => NONE,
        ("/metrics", _) => CLUSTER_DESCRIBE,
        // Listing filters by DESCRIBE; creating needs CREATE on the cluster or the topic.
        ("/v1/topics", _) => NONE,
        ("/v1/topics/{topic}", "GET") => TOPIC_DESCRIBE,
        ("/v1/topics/{topic}", "PATCH") => TOPIC_ALTER,
        ("/v1/topics/{topic}", "DELETE") => TOPIC_DELETE,
        ("/v1/topics/{topic}/compact", _) => TOPIC_ALTER,
        ("/v1/topics/{topic}/tables", _) => TOPIC_READ,
        ("/v1/topics/{topic}/records", "POST") => TOPIC_WRITE,
        ("/v1/topics/{topic}/partitions/{partition}/records", "GET")
        | ("/v1/topics/{topic}/partitions/{partition}/stream", "GET") => TOPIC_READ,
        ("/v1/groups", "GET") => NONE,
        ("/v1/groups/{group}", "GET") => GROUP_DESCRIBE,
        // Joining also needs READ on the topics (the handler); committing and resetting
        // offsets on each topic named.
        ("/v1/groups/{group}/members", "POST")
        | ("/v1/groups/{group}/members/{member}", "DELETE")
        | ("/v1/groups/{group}/members/{member}/heartbeat", "POST")
        | ("/v1/groups/{group}/members/{member}/records", "GET")
        | ("/v1/groups/{group}/offsets", "POST")
        | ("/v1/groups/{group}/offsets/reset", "POST") => GROUP_READ,
        // The topics, group and transactional id are in the body.
        ("/v1/records", "POST") | ("/v1/producers", "POST") => NONE,
        ("/v1/transactions", _) => NONE,
        ("/v1/transactions/{id}", "GET") => TXN_DESCRIBE,
        ("/v1/transactions/{id}/commit", "POST") | ("/v1/transactions/{id}/abort", "POST") => {
            TXN_WRITE
        }
        ("/v1/admin/users" | "/v1/admin/keys" | "/v1/admin/acls", _) if get => CLUSTER_DESCRIBE,
        // A query reads only the topics the caller may read (the handler checks each).
        ("/v1/query", "POST") => NONE,
        // The Iceberg catalog: listing filters by DESCRIBE; loading a table needs READ
        // on its topic; writes are refused by the handlers.
        (
            "/iceberg/v1/config"
            | "/iceberg/v1/namespaces"
            | "/iceberg/v1/namespaces/{namespace}"
            | "/iceberg/v1/namespaces/{namespace}/tables",
            _,
        ) => NONE,
        ("/iceberg/v1/namespaces/{namespace}/tables/{table}", "GET") => TABLE_READ,
        ("/iceberg/v1/namespaces/{namespace}/tables/{table}", "HEAD") => TABLE_DESCRIBE,
        ("/iceberg/v1/namespaces/{namespace}/tables/{table}", _) => NONE,
        _ => CLUSTER_ALTER,
    };
    Rule::Checks(checks)
}
