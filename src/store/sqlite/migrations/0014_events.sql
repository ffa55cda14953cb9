-- The event module's configuration (event/lifecycle.h). Events themselves live in the event
-- log's journal (<data>/events/events.journal); behaviour features and lifecycle stages are
-- derived from it in memory.
--
-- Lifecycle stage rules: each version is the whole ordered list of stages with their rules
-- (JSON), written by an operator and audited; the newest version is in force.
CREATE TABLE lifecycle_rules (
  version INTEGER PRIMARY KEY,
  rules_json TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
