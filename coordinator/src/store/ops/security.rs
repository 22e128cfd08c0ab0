//! Users, API keys and ACLs as the store keeps them: each change one transaction, and
//! the whole [`SecurityView`] read at once for the coordinator to hand to gateways.

use silt_core::security::{
    AclBinding, ApiKey, ScramCredential, ScramMechanism, SecurityRequest, SecurityResponse,
    SecurityView, User,
};

use crate::error::StoreError;
use crate::store::db::{Row, Tx, cells};

const INSERT_CREDENTIAL: &str = "INSERT INTO users
    (name, mechanism, salt, iterations, stored_key, server_key, created_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
const INSERT_KEY: &str = "INSERT INTO api_keys
    (key_id, principal, secret_sha256, description, created_ms, expires_ms, revoked_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
const ACL_COLUMNS: &str =
    "principal, host, resource_type, resource_name, pattern_type, operation, permission";
const ACL_MATCH: &str = "principal = $1 AND host = $2 AND resource_type = $3
    AND resource_name = $4 AND pattern_type = $5 AND operation = $6 AND permission = $7";

fn acl_cells(acl: &AclBinding) -> Vec<crate::store::db::Cell> {
    cells![
        &acl.principal,
        &acl.host,
        acl.resource_type.name(),
        &acl.resource_name,
        acl.pattern_type.name(),
        acl.operation.name(),
        acl.permission.name(),
    ]
}

fn parsed<T: std::str::FromStr<Err = String>>(
    row: &mut Row,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.get(column)?;
    text.parse().map_err(StoreError::Invalid)
}

/// Applies one change (a [`SecurityRequest::View`] is not one: it is refused).
pub async fn apply(
    tx: &mut impl Tx,
    change: SecurityRequest,
) -> Result<SecurityResponse, StoreError> {
    match change {
        SecurityRequest::PutUser(user) => {
            tx.execute("DELETE FROM users WHERE name = $1", cells![&user.name])
                .await?;
            for credential in &user.credentials {
                tx.execute(
                    INSERT_CREDENTIAL,
                    cells![
                        &user.name,
                        credential.mechanism.name(),
                        &credential.salt,
                        i64::from(credential.iterations),
                        &credential.stored_key,
                        &credential.server_key,
                        user.created_ms,
                    ],
                )
                .await?;
            }
            Ok(SecurityResponse::Done)
        }
        SecurityRequest::DeleteUser { name } => {
            let deleted = tx
                .execute("DELETE FROM users WHERE name = $1", cells![&name])
                .await?;
            Ok(SecurityResponse::Existed(deleted > 0))
        }
        SecurityRequest::CreateKey(key) => {
            tx.execute(
                INSERT_KEY,
                cells![
                    &key.id,
                    &key.principal,
                    &key.secret_sha256,
                    &key.description,
                    key.created_ms,
                    key.expires_ms,
                    key.revoked_ms,
                ],
            )
            .await?;
            Ok(SecurityResponse::Done)
        }
        SecurityRequest::RevokeKey { id, now_ms } => {
            let revoked = tx
                .execute(
                    "UPDATE api_keys SET revoked_ms = $2 WHERE key_id = $1 AND revoked_ms IS NULL",
                    cells![&id, now_ms],
                )
                .await?;
            Ok(SecurityResponse::Existed(revoked > 0))
        }
        SecurityRequest::AddAcls(acls) => {
            for acl in &acls {
                let present: i64 = tx
                    .query_one(
                        &format!("SELECT count(*) AS present FROM acls WHERE {ACL_MATCH}"),
                        acl_cells(acl),
                    )
                    .await?
                    .get("present")?;
                if present == 0 {
                    tx.execute(
                        &format!(
                            "INSERT INTO acls ({ACL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                        ),
                        acl_cells(acl),
                    )
                    .await?;
                }
            }
            Ok(SecurityResponse::Done)
        }
        SecurityRequest::RemoveAcls(filter) => {
            let removed: Vec<AclBinding> = acls(tx)
                .await?
                .into_iter()
                .filter(|acl| filter.selects(acl))
                .collect();
            for acl in &removed {
                tx.execute(
                    &format!("DELETE FROM acls WHERE {ACL_MATCH}"),
                    acl_cells(acl),
                )
                .await?;
            }
            Ok(SecurityResponse::Removed(removed))
        }
        SecurityRequest::View { .. } => Err(StoreError::Invalid(
            "a view is read, not applied".to_owned(),
        )),
    }
}

async fn acls(tx: &mut impl Tx) -> Result<Vec<AclBinding>, StoreError> {
    let mut acls = Vec::new();
    let query = format!("SELECT {ACL_COLUMNS} FROM acls ORDER BY {ACL_COLUMNS}");
    for mut row in tx.query(&query, Vec::new()).await? {
        acls.push(AclBinding {
            principal: row.get("principal")?,
            host: row.get("host")?,
            resource_type: parsed(&mut row, "resource_type")?,
            resource_name: row.get("resource_name")?,
            pattern_type: parsed(&mut row, "pattern_type")?,
            operation: parsed(&mut row, "operation")?,
            permission: parsed(&mut row, "permission")?,
        });
    }
    Ok(acls)
}

/// Every user, key and ACL (the view's version is the coordinator's to set).
pub async fn view(tx: &mut impl Tx) -> Result<SecurityView, StoreError> {
    let mut users: Vec<User> = Vec::new();
    for mut row in tx
        .query(
            "SELECT name, mechanism, salt, iterations, stored_key, server_key, created_ms
             FROM users ORDER BY name, mechanism",
            Vec::new(),
        )
        .await?
    {
        let name: String = row.get("name")?;
        let mechanism: String = row.get("mechanism")?;
        let mechanism = ScramMechanism::from_name(&mechanism)
            .ok_or_else(|| StoreError::Invalid(format!("SCRAM mechanism {mechanism:?}")))?;
        let credential = ScramCredential {
            mechanism,
            salt: row.get("salt")?,
            iterations: u32::try_from(row.get::<i64>("iterations")?)
                .map_err(|_| StoreError::Invalid("SCRAM iterations out of range".into()))?,
            stored_key: row.get("stored_key")?,
            server_key: row.get("server_key")?,
        };
        let created_ms = row.get("created_ms")?;
        match users.last_mut() {
            Some(user) if user.name == name => user.credentials.push(credential),
            _ => users.push(User {
                name,
                credentials: vec![credential],
                created_ms,
            }),
        }
    }
    let mut api_keys = Vec::new();
    for mut row in tx
        .query(
            "SELECT key_id, principal, secret_sha256, description, created_ms, expires_ms,
                    revoked_ms
             FROM api_keys ORDER BY key_id",
            Vec::new(),
        )
        .await?
    {
        api_keys.push(ApiKey {
            id: row.get("key_id")?,
            principal: row.get("principal")?,
            secret_sha256: row.get("secret_sha256")?,
            description: row.get("description")?,
            created_ms: row.get("created_ms")?,
            expires_ms: row.get("expires_ms")?,
            revoked_ms: row.get("revoked_ms")?,
        });
    }
    Ok(SecurityView {
        version: 0,
        users,
        api_keys,
        acls: acls(tx).await?,
    })
}
