-- vigie schema, SQLite dialect. Times are unix seconds, days are days since 1970-01-01.
-- est_id 0 means "unassigned" (no establishment attributed yet).
CREATE TABLE regions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE establishments (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    region_code TEXT NOT NULL,
    parent TEXT,
    hostname_patterns TEXT NOT NULL,
    subnets TEXT NOT NULL
);
CREATE INDEX establishments_region ON establishments (region_code);

CREATE TABLE id_alloc (
    name TEXT PRIMARY KEY,
    next_id INTEGER NOT NULL
);
INSERT INTO id_alloc (name, next_id) VALUES ('host', 1), ('software', 1), ('evidence', 1);

CREATE TABLE hosts (
    est_id INTEGER NOT NULL,
    id INTEGER NOT NULL,
    hostname TEXT,
    attribution TEXT,
    os_family TEXT,
    os_name TEXT,
    os_version TEXT,
    os_build INTEGER,
    os_ubr INTEGER,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (est_id, id)
);
CREATE INDEX hosts_id ON hosts (id);
CREATE INDEX hosts_hostname ON hosts (LOWER(hostname));

CREATE TABLE host_keys (
    key TEXT PRIMARY KEY,
    est_id INTEGER NOT NULL,
    host_id INTEGER NOT NULL
);
CREATE INDEX host_keys_host ON host_keys (host_id);

CREATE TABLE host_sources (
    est_id INTEGER NOT NULL,
    host_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    observed_at INTEGER NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (est_id, host_id, source)
);
CREATE INDEX host_sources_host ON host_sources (host_id);

CREATE TABLE software (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    publisher TEXT NOT NULL,
    UNIQUE (name, version, publisher)
);

CREATE TABLE findings (
    est_id INTEGER NOT NULL,
    host_id INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    closed_at INTEGER,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    evidence_id INTEGER NOT NULL,
    PRIMARY KEY (est_id, host_id, rule_id, opened_at)
);
CREATE INDEX findings_open ON findings (host_id) WHERE closed_at IS NULL;

-- Evidence bodies (JSON), stored once and shared by every finding that
-- carries the same evidence.
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);

CREATE TABLE daily_hosts (
    est_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    hosts INTEGER NOT NULL,
    PRIMARY KEY (est_id, day)
);

-- hosts: confirmed findings; review: findings that need an analyst's review
CREATE TABLE daily_findings (
    est_id INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    hosts INTEGER NOT NULL,
    review INTEGER NOT NULL,
    PRIMARY KEY (est_id, rule_id, day)
);

CREATE TABLE ingested_files (
    content_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    ingested_at INTEGER NOT NULL,
    observations INTEGER NOT NULL,
    hosts INTEGER NOT NULL,
    unassigned INTEGER NOT NULL
);

CREATE TABLE kb_updates (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    loaded_at INTEGER NOT NULL,
    origin TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (name)
);
