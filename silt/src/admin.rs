//! `silt users`, `silt keys` and `silt acls`: principals and ACLs through a gateway's
//! admin API (`/v1/admin/...`), as the administrator (--user and --password, or
//! --api-key).

use std::io::BufRead;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Creates a user, or sets its password (read from standard input, one line).
    Create {
        /// The user's name (its principal is `User:<name>`).
        name: String,
    },
    /// Lists users and their SCRAM mechanisms.
    List,
    /// Deletes a user.
    Delete {
        /// The user's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Creates an API key and prints it: it is shown this once.
    Create {
        /// Whose key it is, e.g. `User:checkout`.
        #[arg(long)]
        principal: String,
        /// What the key is for, shown when keys are listed.
        #[arg(long, default_value = "")]
        description: String,
        /// The key stops working this long after now.
        #[arg(long)]
        expires_in_ms: Option<i64>,
    },
    /// Lists keys (never their secrets).
    List,
    /// Revokes a key by its id.
    Revoke {
        /// The key's id, as `silt keys list` shows it.
        id: String,
    },
}

/// Which ACLs: each field given narrows the selection.
#[derive(Debug, Clone, Args)]
pub struct AclFields {
    /// `User:name`, or `User:*` for everyone.
    #[arg(long)]
    principal: Option<String>,
    /// topic, group, cluster or transactional_id.
    #[arg(long)]
    resource_type: Option<String>,
    /// The resource's name (`kafka-cluster` for the cluster; `*` for every one).
    #[arg(long)]
    resource_name: Option<String>,
    /// literal or prefixed (listing and removing also take `match`).
    #[arg(long)]
    pattern_type: Option<String>,
    /// read, write, create, delete, alter, describe, describe_configs, alter_configs,
    /// idempotent_write or all.
    #[arg(long)]
    operation: Option<String>,
    /// allow or deny.
    #[arg(long)]
    permission: Option<String>,
    /// The client address the ACL applies to (default: any).
    #[arg(long)]
    host: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AclsCommand {
    /// Adds an ACL (principal, resource type and name, and operation are required).
    Add(AclFields),
    /// Lists the ACLs the fields select (all without any).
    List(AclFields),
    /// Removes the ACLs the fields select (at least one field).
    Remove(AclFields),
}

impl AclFields {
    fn pairs(&self) -> Vec<(&'static str, &String)> {
        [
            ("principal", &self.principal),
            ("resource_type", &self.resource_type),
            ("resource_name", &self.resource_name),
            ("pattern_type", &self.pattern_type),
            ("operation", &self.operation),
            ("permission", &self.permission),
            ("host", &self.host),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|value| (name, value)))
        .collect()
    }

    /// The query string of a filter, lower-cased as the API spells its values.
    fn query(&self) -> String {
        let pairs: Vec<String> = self
            .pairs()
            .into_iter()
            .map(|(name, value)| {
                let value = if matches!(name, "principal" | "resource_name" | "host") {
                    value.clone()
                } else {
                    value.to_ascii_lowercase().replace('-', "_")
                };
                format!(
                    "{name}={}",
                    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
                )
            })
            .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }

    fn binding(&self) -> Value {
        let mut binding = serde_json::Map::new();
        for (name, value) in self.pairs() {
            let value = if matches!(name, "principal" | "resource_name" | "host") {
                value.clone()
            } else {
                value.to_ascii_lowercase().replace('-', "_")
            };
            binding.insert(name.to_owned(), Value::String(value));
        }
        Value::Object(binding)
    }
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub async fn users(client: &Client, command: UsersCommand) -> Result<(), CliError> {
    match command {
        UsersCommand::Create { name } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|error| CliError::Config(format!("reading the password: {error}")))?;
            let password = password.trim_end_matches(['\n', '\r']);
            let body = json!({"name": name, "password": password});
            print(
                &client
                    .call(reqwest::Method::POST, "/v1/admin/users", Some(body))
                    .await?,
            );
        }
        UsersCommand::List => print(
            &client
                .call(reqwest::Method::GET, "/v1/admin/users", None)
                .await?,
        ),
        UsersCommand::Delete { name } => {
            let path = format!("/v1/admin/users/{name}");
            client.call(reqwest::Method::DELETE, &path, None).await?;
        }
    }
    Ok(())
}

pub async fn keys(client: &Client, command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::Create {
            principal,
            description,
            expires_in_ms,
        } => {
            let body = json!({
                "principal": principal,
                "description": description,
                "expires_in_ms": expires_in_ms,
            });
            print(
                &client
                    .call(reqwest::Method::POST, "/v1/admin/keys", Some(body))
                    .await?,
            );
        }
        KeysCommand::List => print(
            &client
                .call(reqwest::Method::GET, "/v1/admin/keys", None)
                .await?,
        ),
        KeysCommand::Revoke { id } => {
            let path = format!("/v1/admin/keys/{id}");
            client.call(reqwest::Method::DELETE, &path, None).await?;
        }
    }
    Ok(())
}

pub async fn acls(client: &Client, command: AclsCommand) -> Result<(), CliError> {
    match command {
        AclsCommand::Add(fields) => {
            let body = fields.binding();
            print(
                &client
                    .call(reqwest::Method::POST, "/v1/admin/acls", Some(body))
                    .await?,
            );
        }
        AclsCommand::List(fields) => {
            let path = format!("/v1/admin/acls{}", fields.query());
            print(&client.call(reqwest::Method::GET, &path, None).await?);
        }
        AclsCommand::Remove(fields) => {
            let path = format!("/v1/admin/acls{}", fields.query());
            print(&client.call(reqwest::Method::DELETE, &path, None).await?);
        }
    }
    Ok(())
}
