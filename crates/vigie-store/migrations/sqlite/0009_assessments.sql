-- When every machine was last brought up to a date (`vigie assess`, or the
-- server's daily assessment): one row, replaced by each assessment in its
-- own transaction. Pages say how current their figures are from it, and
-- the server assesses at start when it is older than a day. A national
-- reference table under Citus.
CREATE TABLE assessments (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);
