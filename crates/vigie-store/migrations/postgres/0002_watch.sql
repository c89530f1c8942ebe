-- Exposure watch (issue #3). Times are unix seconds; days since 1970-01-01.
-- est_id 0 means a target attached to no establishment (the ministry's own
-- services, for example): only the national scope sees it.
INSERT INTO id_alloc (name, next_id) VALUES ('watch_target', 1);

-- Target names are unique across the sector; this lookup is the only place
-- the name is unique, so the distributed table needs no global constraint.
CREATE TABLE watch_target_names (
    name TEXT PRIMARY KEY,
    est_id BIGINT NOT NULL,
    target_id BIGINT NOT NULL
);

CREATE TABLE watch_targets (
    est_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    removed_at BIGINT,
    PRIMARY KEY (est_id, id)
);

-- The state machine and detection memory of each target (declared status,
-- streaks, last DNS answer, certificate identity, content baseline).
CREATE TABLE watch_state (
    est_id BIGINT NOT NULL,
    target_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    since BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (est_id, target_id)
);

-- Raw probe results, kept a configurable number of days.
CREATE TABLE watch_samples (
    est_id BIGINT NOT NULL,
    target_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    observed TEXT NOT NULL,
    http_status BIGINT,
    dns_us BIGINT,
    connect_us BIGINT,
    tls_us BIGINT,
    first_byte_us BIGINT,
    total_us BIGINT NOT NULL,
    error TEXT,
    PRIMARY KEY (est_id, target_id, at)
);
CREATE INDEX watch_samples_at ON watch_samples (at);

-- Declared state changes (kept for years).
CREATE TABLE watch_events (
    est_id BIGINT NOT NULL,
    target_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (est_id, target_id, at, seq)
);
CREATE INDEX watch_events_at ON watch_events (at);

-- Probes per target and day (kept for years): up = answered correctly,
-- degraded = answered with a warning, the rest failed.
CREATE TABLE watch_daily (
    est_id BIGINT NOT NULL,
    target_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    probes BIGINT NOT NULL,
    up BIGINT NOT NULL,
    degraded BIGINT NOT NULL,
    PRIMARY KEY (est_id, target_id, day)
);

-- Notices sent by the correlator (grouped incidents, lone failures), with
-- their deliveries: the national register of what people were told.
CREATE TABLE watch_notices (
    id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    incident_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    deliveries TEXT NOT NULL,
    PRIMARY KEY (id)
);
INSERT INTO id_alloc (name, next_id) VALUES ('watch_notice', 1);

-- Citus: watch_targets, watch_state, watch_samples, watch_events and
-- watch_daily are distributed by est_id; watch_target_names and
-- watch_notices are reference tables.
