-- Open findings by rule and establishment: counting the machines with an
-- open finding of one rule (the `total` of a filtered machine list) reads
-- this index instead of probing the findings of every machine in the
-- perimeter. A machine has at most one open finding per rule.
CREATE INDEX findings_open_rule ON findings (rule_id, est_id) WHERE closed_at IS NULL;
