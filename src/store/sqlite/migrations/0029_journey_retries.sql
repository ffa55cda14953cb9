-- Journey step retries (journey/engine.h): an entry whose action failed transiently counts its
-- attempts and keeps the last error; after the engine's maximum number of attempts it is
-- 'stuck' at that step until an operator retries or exits it (/v1/journeys/{id}/stuck).
-- SQLite cannot change a CHECK constraint in place, so journey_entries is rebuilt with the
-- new state (no table references it; its indexes are recreated below).
CREATE TABLE journey_entries_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  journey_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  entry_no INTEGER NOT NULL,
  holdout INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL
    CHECK (state IN ('active', 'converted', 'completed', 'exited', 'stuck')),
  step TEXT NOT NULL DEFAULT '',
  due_ms INTEGER NOT NULL,
  entered_ms INTEGER NOT NULL,
  goal_until_ms INTEGER NOT NULL DEFAULT 0,
  ended_ms INTEGER NOT NULL DEFAULT 0,
  -- Failed attempts of the current step's action since it last succeeded (0: none).
  attempts INTEGER NOT NULL DEFAULT 0,
  -- The reason of the last transient failure ('' when none since the step last succeeded).
  last_error TEXT NOT NULL DEFAULT '',
  UNIQUE (journey_id, uid, entry_no)
);
INSERT INTO journey_entries_new (id, journey_id, version, uid, customer, entry_no, holdout,
    state, step, due_ms, entered_ms, goal_until_ms, ended_ms)
  SELECT id, journey_id, version, uid, customer, entry_no, holdout, state, step, due_ms,
    entered_ms, goal_until_ms, ended_ms
  FROM journey_entries;
-- Keep the AUTOINCREMENT high-water mark, so no entry id is ever used twice.
DELETE FROM sqlite_sequence WHERE name = 'journey_entries_new';
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'journey_entries_new', seq FROM sqlite_sequence WHERE name = 'journey_entries';
DROP TABLE journey_entries;
ALTER TABLE journey_entries_new RENAME TO journey_entries;
-- The scheduler's queue, per journey.
CREATE INDEX journey_entries_due ON journey_entries (journey_id, due_ms)
  WHERE state = 'active';
-- Goal events: a customer's open entries.
CREATE INDEX journey_entries_open ON journey_entries (uid, journey_id)
  WHERE state = 'active';
-- The operators' list of stuck entries, in id order.
CREATE INDEX journey_entries_stuck ON journey_entries (journey_id, id)
  WHERE state = 'stuck';
