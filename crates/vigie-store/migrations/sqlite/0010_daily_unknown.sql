-- Machines whose finding of a rule could not be decided (status `unknown`:
-- no update inventory, no software list, a build newer than the knowledge
-- base), counted apart from confirmed (`hosts`) and needs-review
-- (`review`): unknown is never compliant, and never confirmed either.
-- Days refreshed before this migration carry 0 (their findings predate the
-- status).
ALTER TABLE daily_findings ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0;
