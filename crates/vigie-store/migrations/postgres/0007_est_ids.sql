-- Every establishment id, and 0 (machines without one). Posture and trends
-- look up each establishment's latest daily row by joining this table on
-- est_id: under Citus it is distributed and co-located with the daily
-- tables, so each lookup stays on one shard (a subquery over the
-- establishments reference table cannot drive a correlated lookup there).
CREATE TABLE est_ids (
    est_id BIGINT PRIMARY KEY
);
INSERT INTO est_ids (est_id) VALUES (0);
INSERT INTO est_ids (est_id) SELECT id FROM establishments;
