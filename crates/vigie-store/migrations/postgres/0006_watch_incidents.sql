-- Open incidents of the exposure watch, kept so that a runner restarted
-- during an incident resumes it: no second opening, and its resolution
-- always goes out, to the routes its opening reached. Rows live while the
-- incident is open and are deleted when it ends (the notice register,
-- watch_notices, keeps the history). `runner` names the watch process and
-- its perimeter ("national", "region:IDF"): each runner resumes its own.
-- `incident_key` is the key of the notices ("incident-12" for a grouped
-- incident, "target:NAME" for a failure notified on its own). Incident
-- ids come from id_alloc ('watch_incident'): never handed out twice over
-- the life of the database (only a reset, for tests and the demo, starts
-- them again).
INSERT INTO id_alloc (name, next_id) VALUES ('watch_incident', 1);

-- The incident (scope, start, announced, digest bookkeeping) as JSON
-- written by vigie-watch.
CREATE TABLE watch_incidents (
    runner TEXT NOT NULL,
    incident_key TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (runner, incident_key)
);

-- Its members, one row per target (status, establishment, region as JSON).
CREATE TABLE watch_incident_members (
    runner TEXT NOT NULL,
    incident_key TEXT NOT NULL,
    target TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (runner, incident_key, target)
);

-- The notification routes its opening (or a digest) was delivered on.
CREATE TABLE watch_incident_deliveries (
    runner TEXT NOT NULL,
    incident_key TEXT NOT NULL,
    route TEXT NOT NULL,
    delivered_at BIGINT NOT NULL,
    PRIMARY KEY (runner, incident_key, route)
);

-- Citus: watch_incidents, watch_incident_members and
-- watch_incident_deliveries are reference tables, like watch_notices: an
-- incident spans establishments and regions (its members belong to many,
-- or to none), there are few rows (open incidents only) and they are
-- written rarely, so they are replicated rather than distributed by est_id.
