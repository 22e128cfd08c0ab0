//! A gateway's copy of the coordinator's security view, and the decisions made with it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use silt_core::Coordinator;
use silt_core::coordinator::CoordinatorError;
use silt_core::security::{
    Operation, Permission, ResourceType, ScramCredential, ScramMechanism, SecurityRequest,
    SecurityResponse, SecurityView, authorize,
};
use tracing::{debug, warn};

use super::credentials::{key_matches, parse_key, secret_sha256, verify_password};
use super::failures::Failures;
use super::{AuthConfig, Caller};

/// How often a gateway asks the coordinator whether the view changed.
const REFRESH: Duration = Duration::from_secs(1);
/// How long a verified password is remembered (hashing one costs milliseconds).
const VERIFIED_FOR: Duration = Duration::from_secs(60);
/// Verified passwords remembered at most.
const MAX_VERIFIED: usize = 4096;

/// The view, the settings, and what was verified lately.
pub struct Security {
    config: AuthConfig,
    coordinator: Arc<dyn Coordinator>,
    view: RwLock<Option<Arc<SecurityView>>>,
    /// (user, SHA-256 of a password that verified) → when.
    verified: Mutex<HashMap<(String, String), Instant>>,
    pub failures: Failures,
}

impl Security {
    pub fn new(config: AuthConfig, coordinator: Arc<dyn Coordinator>) -> Arc<Security> {
        Arc::new(Security {
            config,
            coordinator,
            view: RwLock::new(None),
            verified: Mutex::new(HashMap::new()),
            failures: Failures::default(),
        })
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Whether clients authenticate and ACLs apply.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Asks the coordinator for the view if it changed.
    pub async fn refresh(&self) -> Result<(), CoordinatorError> {
        let known_version = self.current().map(|view| view.version);
        let response = self
            .coordinator
            .security(SecurityRequest::View { known_version })
            .await?;
        if let SecurityResponse::View(Some(view)) = response {
            debug!(version = view.version, "security view refreshed");
            if let Ok(mut current) = self.view.write() {
                *current = Some(Arc::new(view));
            }
        }
        Ok(())
    }

    /// Refreshes the view every second until `shutdown` turns true.
    pub fn spawn_refresh(self: &Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        if !self.enabled() {
            return;
        }
        let security = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(REFRESH) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                let Some(security) = security.upgrade() else {
                    return;
                };
                if let Err(error) = security.refresh().await {
                    warn!(%error, "the security view could not be refreshed");
                }
            }
        });
    }

    fn current(&self) -> Option<Arc<SecurityView>> {
        self.view.read().ok().and_then(|view| view.clone())
    }

    /// The view, fetched first if this gateway has none yet; `None` (and so every
    /// decision a refusal) while the coordinator cannot be reached.
    pub async fn view(&self) -> Option<Arc<SecurityView>> {
        if let Some(view) = self.current() {
            return Some(view);
        }
        if let Err(error) = self.refresh().await {
            warn!(%error, "no security view yet: refusing");
        }
        self.current()
    }

    /// Whether `caller` may do `operation` on the resource. Everything is allowed with
    /// authentication off, and to super users.
    pub fn authorize(
        &self,
        caller: &Caller,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if !self.enabled() || self.config.super_users.contains(&caller.principal) {
            return true;
        }
        let Some(view) = self.current() else {
            return false;
        };
        authorize(
            &view.acls,
            &caller.principal,
            &caller.host,
            operation,
            resource_type,
            name,
        )
    }

    /// Kafka's rule for idempotent producers: IDEMPOTENT_WRITE on the cluster, or WRITE
    /// allowed on some topic.
    pub fn may_write_idempotently(&self, caller: &Caller) -> bool {
        if self.authorize(
            caller,
            Operation::IdempotentWrite,
            ResourceType::Cluster,
            silt_core::security::CLUSTER_NAME,
        ) {
            return true;
        }
        let Some(view) = self.current() else {
            return false;
        };
        view.acls.iter().any(|acl| {
            acl.resource_type == ResourceType::Topic
                && acl.permission == Permission::Allow
                && matches!(acl.operation, Operation::Write | Operation::All)
                && (acl.principal == caller.principal
                    || acl.principal == silt_core::security::ANY_PRINCIPAL)
                && self.authorize(
                    caller,
                    Operation::Write,
                    ResourceType::Topic,
                    &acl.resource_name,
                )
        })
    }

    /// The principal of an API key, if it is live.
    pub async fn principal_of_key(&self, key: &str, now_ms: i64) -> Option<String> {
        let (id, secret) = parse_key(key)?;
        let view = self.view().await?;
        let record = view.api_keys.iter().find(|record| record.id == id)?;
        (record.is_live(now_ms) && key_matches(record, secret)).then(|| record.principal.clone())
    }

    /// A user's SCRAM credential for `mechanism`.
    pub async fn credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<ScramCredential> {
        self.view().await?;
        self.credential_now(user, mechanism)
    }

    /// A user's SCRAM credential for `mechanism` in the view this gateway has now.
    pub fn credential_now(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        let view = self.current()?;
        let user = view.users.iter().find(|candidate| candidate.name == user)?;
        user.credential(mechanism).cloned()
    }

    /// The principal of a user whose password this is. Passwords that verified are
    /// remembered (as hashes) for a minute, as long as the user's credential stands.
    pub async fn principal_of_password(&self, user: &str, password: &str) -> Option<String> {
        let credential = self.credential(user, ScramMechanism::Sha256).await?;
        let remembered = (
            format!("{user}\u{0}{}", credential.stored_key),
            secret_sha256(password),
        );
        let fresh = self
            .verified
            .lock()
            .ok()
            .and_then(|verified| verified.get(&remembered).copied())
            .is_some_and(|at| at.elapsed() < VERIFIED_FOR);
        if !fresh {
            let password = password.to_owned();
            let checked = credential.clone();
            let ok = tokio::task::spawn_blocking(move || verify_password(&checked, &password))
                .await
                .unwrap_or(false);
            if !ok {
                return None;
            }
            if let Ok(mut verified) = self.verified.lock() {
                if verified.len() >= MAX_VERIFIED {
                    verified.retain(|_, at| at.elapsed() < VERIFIED_FOR);
                    if verified.len() >= MAX_VERIFIED {
                        verified.clear();
                    }
                }
                verified.insert(remembered, Instant::now());
            }
        }
        Some(format!("User:{user}"))
    }

    /// Records a failed authentication from `address` and waits as long as its record
    /// of failures says.
    pub async fn failed(&self, address: Option<IpAddr>, kafka: bool, reason: &str) {
        let wait = self.failures.failed(address, kafka);
        warn!(
            peer = ?address,
            listener = if kafka { "kafka" } else { "http" },
            reason,
            "authentication failed"
        );
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Prometheus samples: authentications that failed and succeeded.
    pub fn metrics_text(&self) -> String {
        use silt_core::metrics::{describe, labelled};
        use std::sync::atomic::Ordering::Relaxed;
        let mut text = String::new();
        describe(
            &mut text,
            "silt_auth_failures_total",
            "counter",
            "Failed authentications, by listener",
        );
        for (listener, count) in [
            ("http", &self.failures.http),
            ("kafka", &self.failures.kafka),
        ] {
            let labels = format!("listener=\"{listener}\"");
            labelled(
                &mut text,
                "silt_auth_failures_total",
                &labels,
                count.load(Relaxed),
            );
        }
        silt_core::metrics::single(
            &mut text,
            "silt_auth_successes_total",
            "counter",
            "Successful authentications",
            self.failures.successes.load(Relaxed),
        );
        text
    }
}
