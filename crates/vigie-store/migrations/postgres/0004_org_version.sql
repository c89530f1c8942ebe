-- A counter bumped by every change of the organisation directory (import,
-- reset). Each process caches the establishments directory and reloads it
-- only when this counter moved, so an import made by another process (the
-- CLI beside a running server) is seen at the next query. A national
-- reference table, like regions and establishments.
CREATE TABLE org_version (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO org_version (id, version) VALUES (1, 1);
