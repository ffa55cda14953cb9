-- The fulfilment outbox (reward/fulfilment.h, store/fulfilment_repository.h): one row per
-- award recorded by the draw engine, delivered to the points ledger or the coupon inventory
-- exactly once (idempotency keys "award:<activity>:<draw>"), or completed by an operator.
-- Times are UTC milliseconds.

-- state: pending (to deliver), retrying (a delivery failed; next try at next_attempt_ms),
-- delivered, manual (physical and cash prizes: an operator completes them with a reference),
-- stuck (gave up after the configured attempts, or a failure retrying cannot fix; an operator
-- retries or completes it). delivered_ref: "points_entry:<id>", "coupon_code:<id>", or the
-- operator's reference (courier number, transfer id) with completed_by.
CREATE TABLE fulfilments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  activity_id INTEGER NOT NULL,
  draw_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  pool_id TEXT NOT NULL,
  prize_id TEXT NOT NULL,
  prize_name TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL CHECK (kind IN ('points', 'coupon', 'benefit', 'physical', 'cash')),
  reward_ref TEXT NOT NULL DEFAULT '',
  cost_fen INTEGER NOT NULL DEFAULT 0,
  won_ms INTEGER NOT NULL,
  -- For points: the expiry of the lot, fixed at intake so every retry asks the ledger the same.
  points_expires_ms INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL
    CHECK (state IN ('pending', 'retrying', 'delivered', 'manual', 'stuck')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  delivered_ref TEXT NOT NULL DEFAULT '',
  completed_by TEXT NOT NULL DEFAULT '',
  delivered_ms INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  UNIQUE (activity_id, draw_id)
);
-- The worker's queue.
CREATE INDEX fulfilments_due ON fulfilments (next_attempt_ms)
  WHERE state IN ('pending', 'retrying');
-- Operators' lists by state, and counts of what is not delivered (the gauge).
CREATE INDEX fulfilments_by_state ON fulfilments (state, id);
CREATE INDEX fulfilments_by_activity ON fulfilments (activity_id, id);

-- Per activity: the last draw id taken in from the draw journal. Advanced in the same
-- transaction as the rows of the draws up to it are inserted.
CREATE TABLE fulfilment_cursors (
  activity_id INTEGER PRIMARY KEY,
  last_draw_id INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
