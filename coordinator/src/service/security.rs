//! Users, API keys and ACLs: each change checked, applied by the store in one
//! transaction, and the whole view read again under a new version, which gateways poll
//! for ([`SecurityRequest::View`]) and so never ask the store themselves.

use std::sync::Arc;

use silt_core::coordinator::CoordinatorError;
use silt_core::security::{
    SecurityRequest, SecurityResponse, SecurityView, check_principal, check_user_name,
};
use tracing::info;

use super::CoordinatorService;

/// The view the coordinator answers from, loaded at first use.
#[derive(Default)]
pub(super) struct SecurityCache(tokio::sync::Mutex<Option<Arc<SecurityView>>>);

fn invalid(message: String) -> CoordinatorError {
    CoordinatorError::InvalidArgument(message)
}

fn check(change: &SecurityRequest) -> Result<(), CoordinatorError> {
    match change {
        SecurityRequest::PutUser(user) => {
            check_user_name(&user.name).map_err(invalid)?;
            if user.credentials.is_empty() {
                return Err(invalid("a user needs at least one credential".into()));
            }
            if user.credentials.iter().any(|c| c.iterations < 4096) {
                return Err(invalid(
                    "SCRAM credentials need at least 4096 iterations".into(),
                ));
            }
        }
        SecurityRequest::CreateKey(key) => {
            check_principal(&key.principal).map_err(invalid)?;
            if key.id.is_empty() || key.secret_sha256.len() != 64 {
                return Err(invalid(
                    "an API key has an id and a SHA-256 of its secret".into(),
                ));
            }
        }
        SecurityRequest::AddAcls(acls) => {
            for acl in acls {
                acl.validate().map_err(invalid)?;
            }
        }
        SecurityRequest::DeleteUser { .. }
        | SecurityRequest::RevokeKey { .. }
        | SecurityRequest::RemoveAcls(_)
        | SecurityRequest::View { .. } => {}
    }
    Ok(())
}

impl CoordinatorService {
    pub(super) async fn security_impl(
        &self,
        request: SecurityRequest,
    ) -> Result<SecurityResponse, CoordinatorError> {
        let mut cached = self.security.0.lock().await;
        let current = match cached.as_ref() {
            Some(view) => Arc::clone(view),
            None => {
                let mut view = self.store.security_view().await?;
                // Versions of a new leader start past any an earlier one handed out.
                view.version = u64::try_from(self.clock.now_ms()).unwrap_or(0) * 1000;
                let view = Arc::new(view);
                *cached = Some(Arc::clone(&view));
                view
            }
        };
        if let SecurityRequest::View { known_version } = request {
            let changed = known_version != Some(current.version);
            return Ok(SecurityResponse::View(changed.then(|| (*current).clone())));
        }
        check(&request)?;
        let summary = format!("{request:?}");
        let response = self.store.change_security(request).await?;
        let mut view = self.store.security_view().await?;
        view.version = current.version + 1;
        *cached = Some(Arc::new(view));
        // Credentials stay out of logs: only what changed, by kind.
        info!(
            change = summary.split(['(', ' ', '{']).next().unwrap_or(""),
            "security changed"
        );
        Ok(response)
    }
}
