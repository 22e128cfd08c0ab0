//! Authentication and ACLs on the Kafka listener: SaslHandshake and SaslAuthenticate
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) make a connection's principal, and
//! DescribeAcls, CreateAcls and DeleteAcls manage ACLs as Kafka's admin clients do.
//! A connection that has not authenticated (where authentication is required) may send
//! only ApiVersions and the SASL requests; a failed authentication is answered, then
//! the connection is closed.

use std::net::IpAddr;

use bytes::Bytes;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DescribeConfigsResponse, OffsetForLeaderEpochResponse,
};
use kafka_protocol::protocol::StrBytes;
use silt_core::security::{
    AclBinding, AclFilter, CLUSTER_NAME, Operation, PatternFilter, PatternType, Permission,
    ResourceType, SecurityRequest, SecurityResponse,
};

use super::codes::kafka as code;
use super::context::{Context, Scope, str_bytes};
use crate::auth::Caller;
use crate::auth::sasl::{Exchange, MECHANISMS, Step};

/// Kafka's codes of the SASL and ACL errors.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const ILLEGAL_SASL_STATE: i16 = 34;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

/// Filter codes that select any value, and a pattern filter's MATCH.
const ANY: i8 = 1;
const MATCH: i8 = 2;

/// One connection's authentication.
pub(super) struct Session {
    address: Option<IpAddr>,
    /// The principal its client certificate names (mTLS).
    certificate_principal: Option<String>,
    caller: Option<Caller>,
    exchange: Option<Exchange>,
    /// An exchange failed: the connection closes once its answer is written.
    pub failed: bool,
}

impl Session {
    pub fn new(address: Option<IpAddr>, certificate_principal: Option<String>) -> Session {
        Session {
            address,
            certificate_principal,
            caller: None,
            exchange: None,
            failed: false,
        }
    }

    fn host(&self) -> String {
        self.address.map(|ip| ip.to_string()).unwrap_or_default()
    }

    /// Who sends the connection's requests, or `None` while it must still authenticate.
    pub fn caller(&mut self, context: &Context) -> Option<&Caller> {
        if self.caller.is_none() && self.exchange.is_none() {
            let security = &context.state.security;
            let principal = if !security.enabled() {
                Some(silt_core::security::ANONYMOUS.to_owned())
            } else if let Some(principal) = &self.certificate_principal {
                Some(principal.clone())
            } else if security.config().allow_anonymous {
                Some(silt_core::security::ANONYMOUS.to_owned())
            } else {
                None
            };
            self.caller = principal.map(|principal| Caller {
                principal,
                host: self.host(),
            });
        }
        self.caller.as_ref()
    }
}

pub(super) fn sasl_handshake(
    context: &Context,
    session: &mut Session,
    request: SaslHandshakeRequest,
) -> SaslHandshakeResponse {
    let mut response = SaslHandshakeResponse::default();
    response.mechanisms = MECHANISMS.iter().map(|name| str_bytes(name)).collect();
    if session.caller.is_some() && session.exchange.is_none() && context.state.security.enabled() {
        response.error_code = ILLEGAL_SASL_STATE;
        return response;
    }
    match Exchange::start(&context.state.security, request.mechanism.as_str()) {
        Some(exchange) => {
            session.caller = None;
            session.exchange = Some(exchange);
        }
        None => response.error_code = UNSUPPORTED_SASL_MECHANISM,
    }
    response
}

pub(super) async fn sasl_authenticate(
    context: &Context,
    session: &mut Session,
    request: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    let mut response = SaslAuthenticateResponse::default();
    let Some(exchange) = session.exchange.as_mut() else {
        response.error_code = ILLEGAL_SASL_STATE;
        response.error_message = Some(str_bytes("SaslAuthenticate before SaslHandshake"));
        session.failed = true;
        return response;
    };
    let security = &context.state.security;
    // The first message names the user: make sure this gateway has the view.
    security.view().await;
    match exchange.step(&request.auth_bytes) {
        Step::Continue(bytes) => response.auth_bytes = Bytes::from(bytes),
        Step::Done { principal, last } => {
            response.auth_bytes = Bytes::from(last);
            security.failures.succeeded(session.address);
            session.exchange = None;
            session.caller = Some(Caller {
                principal,
                host: session.host(),
            });
        }
        Step::Failed(message) => {
            security.failed(session.address, true, &message).await;
            response.error_code = SASL_AUTHENTICATION_FAILED;
            response.error_message = Some(str_bytes(&message));
            session.exchange = None;
            session.failed = true;
        }
    }
    response
}

fn text(value: &StrBytes) -> String {
    value.as_str().to_owned()
}

/// An ACL from Kafka's codes, or why it is not one.
fn binding(
    resource_type: i8,
    resource_name: &StrBytes,
    pattern_type: i8,
    principal: &StrBytes,
    host: &StrBytes,
    operation: i8,
    permission: i8,
) -> Result<AclBinding, String> {
    let acl = AclBinding {
        principal: text(principal),
        host: text(host),
        resource_type: ResourceType::from_code(resource_type)
            .ok_or(format!("resource type {resource_type}"))?,
        resource_name: text(resource_name),
        pattern_type: PatternType::from_code(pattern_type)
            .ok_or(format!("pattern type {pattern_type}"))?,
        operation: Operation::from_code(operation).ok_or(format!("operation {operation}"))?,
        permission: Permission::from_code(permission).ok_or(format!("permission {permission}"))?,
    };
    acl.validate()?;
    Ok(acl)
}

/// A filter from Kafka's codes (`ANY` selects every value), or why it is not one.
fn filter(
    resource_type: i8,
    resource_name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclFilter, String> {
    fn code<T>(value: i8, parse: fn(i8) -> Option<T>, what: &str) -> Result<Option<T>, String> {
        if value == ANY {
            return Ok(None);
        }
        parse(value).map(Some).ok_or(format!("{what} {value}"))
    }
    Ok(AclFilter {
        principal: principal.map(text),
        host: host.map(text),
        resource_type: code(resource_type, ResourceType::from_code, "resource type")?,
        resource_name: resource_name.map(text),
        pattern_type: match pattern_type {
            ANY => None,
            MATCH => Some(PatternFilter::Match),
            3 => Some(PatternFilter::Literal),
            4 => Some(PatternFilter::Prefixed),
            other => return Err(format!("pattern type {other}")),
        },
        operation: code(operation, Operation::from_code, "operation")?,
        permission: code(permission, Permission::from_code, "permission")?,
    })
}

pub(super) async fn describe_acls(
    context: &Scope<'_>,
    request: DescribeAclsRequest,
    _version: i16,
) -> DescribeAclsResponse {
    let mut response = DescribeAclsResponse::default();
    if !context.allowed_on_cluster(Operation::Describe) {
        response.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
        return response;
    }
    let selected = match filter(
        request.resource_type_filter,
        request.resource_name_filter.as_ref(),
        request.pattern_type_filter,
        request.principal_filter.as_ref(),
        request.host_filter.as_ref(),
        request.operation,
        request.permission_type,
    ) {
        Ok(selected) => selected,
        Err(message) => {
            response.error_code = code::INVALID_REQUEST;
            response.error_message = Some(str_bytes(&message));
            return response;
        }
    };
    let Some(view) = context.state.security.view().await else {
        response.error_code = code::COORDINATOR_NOT_AVAILABLE;
        return response;
    };
    for acl in view.acls.iter().filter(|acl| selected.selects(acl)) {
        let mut description = AclDescription::default();
        description.principal = str_bytes(&acl.principal);
        description.host = str_bytes(&acl.host);
        description.operation = acl.operation.code();
        description.permission_type = acl.permission.code();
        let same = |resource: &&mut DescribeAclsResource| {
            resource.resource_type == acl.resource_type.code()
                && resource.pattern_type == acl.pattern_type.code()
                && resource.resource_name.as_str() == acl.resource_name
        };
        match response.resources.iter_mut().find(same) {
            Some(resource) => resource.acls.push(description),
            None => {
                let mut resource = DescribeAclsResource::default();
                resource.resource_type = acl.resource_type.code();
                resource.resource_name = str_bytes(&acl.resource_name);
                resource.pattern_type = acl.pattern_type.code();
                resource.acls = vec![description];
                response.resources.push(resource);
            }
        }
    }
    response
}

pub(super) async fn create_acls(
    context: &Scope<'_>,
    request: CreateAclsRequest,
    _version: i16,
) -> CreateAclsResponse {
    let mut response = CreateAclsResponse::default();
    let allowed = context.allowed_on_cluster(Operation::Alter);
    let mut valid = Vec::new();
    for creation in &request.creations {
        let mut result = AclCreationResult::default();
        let parsed = binding(
            creation.resource_type,
            &creation.resource_name,
            creation.resource_pattern_type,
            &creation.principal,
            &creation.host,
            creation.operation,
            creation.permission_type,
        );
        match (allowed, parsed) {
            (false, _) => result.error_code = code::CLUSTER_AUTHORIZATION_FAILED,
            (true, Ok(acl)) => valid.push((response.results.len(), acl)),
            (true, Err(message)) => {
                result.error_code = code::INVALID_REQUEST;
                result.error_message = Some(str_bytes(&message));
            }
        }
        response.results.push(result);
    }
    if valid.is_empty() {
        return response;
    }
    let acls = valid.iter().map(|(_, acl)| acl.clone()).collect();
    let stored = context
        .state
        .coordinator
        .security(SecurityRequest::AddAcls(acls))
        .await;
    let _ = context.state.security.refresh().await;
    if let Err(error) = stored {
        for (index, _) in valid {
            response.results[index].error_code = code::UNKNOWN_SERVER_ERROR;
            response.results[index].error_message = Some(str_bytes(&error.to_string()));
        }
    }
    response
}

pub(super) async fn delete_acls(
    context: &Scope<'_>,
    request: DeleteAclsRequest,
    _version: i16,
) -> DeleteAclsResponse {
    let mut response = DeleteAclsResponse::default();
    let allowed = context.allowed_on_cluster(Operation::Alter);
    for requested in &request.filters {
        let mut result = DeleteAclsFilterResult::default();
        let parsed = filter(
            requested.resource_type_filter,
            requested.resource_name_filter.as_ref(),
            requested.pattern_type_filter,
            requested.principal_filter.as_ref(),
            requested.host_filter.as_ref(),
            requested.operation,
            requested.permission_type,
        );
        match (allowed, parsed) {
            (false, _) => result.error_code = code::CLUSTER_AUTHORIZATION_FAILED,
            (true, Err(message)) => {
                result.error_code = code::INVALID_REQUEST;
                result.error_message = Some(str_bytes(&message));
            }
            (true, Ok(selected)) => {
                let removed = context
                    .state
                    .coordinator
                    .security(SecurityRequest::RemoveAcls(selected))
                    .await;
                match removed {
                    Ok(SecurityResponse::Removed(acls)) => {
                        result.matching_acls = acls.iter().map(matching).collect();
                    }
                    Ok(_) => result.error_code = code::UNKNOWN_SERVER_ERROR,
                    Err(error) => {
                        result.error_code = code::UNKNOWN_SERVER_ERROR;
                        result.error_message = Some(str_bytes(&error.to_string()));
                    }
                }
            }
        }
        response.filter_results.push(result);
    }
    let _ = context.state.security.refresh().await;
    response
}

fn matching(acl: &AclBinding) -> DeleteAclsMatchingAcl {
    let mut matched = DeleteAclsMatchingAcl::default();
    matched.resource_type = acl.resource_type.code();
    matched.resource_name = str_bytes(&acl.resource_name);
    matched.pattern_type = acl.pattern_type.code();
    matched.principal = str_bytes(&acl.principal);
    matched.host = str_bytes(&acl.host);
    matched.operation = acl.operation.code();
    matched.permission_type = acl.permission.code();
    matched
}

/// DescribeConfigs answers only what the caller may describe: DESCRIBE_CONFIGS on each
/// topic, or on the cluster for the broker's configs.
pub(super) fn redact_configs(context: &Scope<'_>, response: &mut DescribeConfigsResponse) {
    for result in &mut response.results {
        let (kind, error) = if result.resource_type == 2 {
            (ResourceType::Topic, code::TOPIC_AUTHORIZATION_FAILED)
        } else {
            (ResourceType::Cluster, code::CLUSTER_AUTHORIZATION_FAILED)
        };
        let name = match kind {
            ResourceType::Cluster => CLUSTER_NAME.to_owned(),
            _ => result.resource_name.as_str().to_owned(),
        };
        if !context.allowed(Operation::DescribeConfigs, kind, &name) {
            result.error_code = error;
            result.error_message = Some(str_bytes("not allowed to describe these configs"));
            result.configs.clear();
        }
    }
}

/// OffsetForLeaderEpoch answers only topics the caller may describe.
pub(super) fn redact_epochs(context: &Scope<'_>, response: &mut OffsetForLeaderEpochResponse) {
    for topic in &mut response.topics {
        if !context.allowed(
            Operation::Describe,
            ResourceType::Topic,
            topic.topic.0.as_str(),
        ) {
            for partition in &mut topic.partitions {
                partition.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                partition.leader_epoch = -1;
                partition.end_offset = -1;
            }
        }
    }
}

/// DeleteRecords deletes only from topics the caller may DELETE: the others are taken
/// out of the request and answered TOPIC_AUTHORIZATION_FAILED.
pub(super) fn split_delete_records(
    context: &Scope<'_>,
    request: &mut DeleteRecordsRequest,
) -> Vec<DeleteRecordsTopicResult> {
    let (allowed, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut request.topics)
        .into_iter()
        .partition(|topic| {
            context.allowed(
                Operation::Delete,
                ResourceType::Topic,
                topic.name.0.as_str(),
            )
        });
    request.topics = allowed;
    denied
        .into_iter()
        .map(|topic| {
            let mut answered = DeleteRecordsTopicResult::default();
            answered.partitions = topic
                .partitions
                .iter()
                .map(|wanted| {
                    let mut result = DeleteRecordsPartitionResult::default();
                    result.partition_index = wanted.partition_index;
                    result.low_watermark = -1;
                    result.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                    result
                })
                .collect();
            answered.name = topic.name;
            answered
        })
        .collect()
}
