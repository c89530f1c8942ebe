-- Secrets of this installation, each generated at random once and shared
-- by every process on the database (the command line, the server): the
-- first value stored under a name is the one everybody uses. "host-ids"
-- keys the opaque machine ids the API, the pages and the listings show
-- (vigie_auth::HostIds). A national reference table.
CREATE TABLE installation_secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
