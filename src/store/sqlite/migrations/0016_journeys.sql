-- Journeys (journey/journey_service.h, journey/engine.h, store/journey_repository.h):
-- definitions with versions under maker-checker, and per customer the durable state of each
-- entry into a journey. Times are UTC milliseconds.

-- state: draft (never approved), live, paused, ended. live_version: the approved version new
-- customers enter (0 before the first approval); latest_version: the newest (edited) one.
CREATE TABLE journeys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'live', 'paused', 'ended')),
  live_version INTEGER NOT NULL DEFAULT 0,
  latest_version INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);

-- A version's definition is frozen once submitted; digest is the SHA-256 (hex) of it, named by
-- the approval.
CREATE TABLE journey_versions (
  journey_id INTEGER NOT NULL REFERENCES journeys (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'superseded')),
  approval_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (journey_id, version)
);

-- One row per entry of a customer into a journey. entry_no counts a customer's entries into
-- the journey (re-entry). step is the current step ('' once the steps are done and only the
-- goal window is open); due_ms is when the scheduler acts on it next. Actions carry the
-- idempotency key journey:<journey>:<version>:<customer>:<entry_no>:<step>.
CREATE TABLE journey_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  journey_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  entry_no INTEGER NOT NULL,
  holdout INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('active', 'converted', 'completed', 'exited')),
  step TEXT NOT NULL DEFAULT '',
  due_ms INTEGER NOT NULL,
  entered_ms INTEGER NOT NULL,
  goal_until_ms INTEGER NOT NULL DEFAULT 0,
  ended_ms INTEGER NOT NULL DEFAULT 0,
  UNIQUE (journey_id, uid, entry_no)
);
-- The scheduler's queue, per journey.
CREATE INDEX journey_entries_due ON journey_entries (journey_id, due_ms)
  WHERE state = 'active';
-- Goal events: a customer's open entries.
CREATE INDEX journey_entries_open ON journey_entries (uid, journey_id)
  WHERE state = 'active';

-- Outcomes of action steps, once per (entry, step).
CREATE TABLE journey_actions (
  entry_id INTEGER NOT NULL,
  journey_id INTEGER NOT NULL,
  step TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (entry_id, step)
) WITHOUT ROWID;
CREATE INDEX journey_actions_by_journey ON journey_actions (journey_id, step, outcome);

-- The engine's cursors, written in the same transaction as the entries they caused:
-- 'events' (last event log sequence applied), 'audience:<id>' (the members bitmap seen last),
-- 'date:<id>' (the last local day evaluated).
CREATE TABLE journey_cursors (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
