-- Accounts and perimeters (issue #4): users, API tokens, sessions and the
-- audit log. Times are unix seconds. Roles are stored as their names
-- (national-admin, national-analyst, regional-analyst,
-- establishment-officer, ingest) with the region or establishment code the
-- role is bound to; the web layer turns them into grants.
--
-- These are national reference tables, not distributed by establishment:
-- an account is looked up by name, token hash or session hash before its
-- perimeter is known, and the audit log is read nationally.
INSERT INTO id_alloc (name, next_id) VALUES ('user', 1), ('api_token', 1), ('audit', 1);

CREATE TABLE users (
    id BIGINT NOT NULL,
    username TEXT NOT NULL UNIQUE,
    -- argon2id PHC string
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    region_code TEXT,
    establishment_code TEXT,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    last_login_at BIGINT,
    PRIMARY KEY (id)
);

-- Only the SHA-256 of a token is kept; its first characters (prefix) are
-- kept in clear so people can tell their tokens apart.
CREATE TABLE api_tokens (
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    region_code TEXT,
    establishment_code TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    PRIMARY KEY (id)
);
CREATE INDEX api_tokens_prefix ON api_tokens (prefix);

-- Browser sessions, keyed by the SHA-256 of the cookie value.
CREATE TABLE sessions (
    id_hash TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (id_hash)
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Logins, ingests, exports and administrative actions; detail is JSON.
CREATE TABLE audit_log (
    id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ip TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- Citus: users, api_tokens, sessions and audit_log are reference tables.
