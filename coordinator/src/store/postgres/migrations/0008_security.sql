-- Security: users with their SCRAM credentials (one row per mechanism; salted and
-- iterated keys, never the password), API keys (the secret's SHA-256, never the
-- secret) and ACLs as Kafka defines them.
CREATE TABLE users (
    name TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    salt TEXT NOT NULL,
    iterations BIGINT NOT NULL,
    stored_key TEXT NOT NULL,
    server_key TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (name, mechanism)
);
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    revoked_ms BIGINT
);
CREATE TABLE acls (
    principal TEXT NOT NULL,
    host TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    pattern_type TEXT NOT NULL,
    operation TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (principal, host, resource_type, resource_name, pattern_type, operation, permission)
);
