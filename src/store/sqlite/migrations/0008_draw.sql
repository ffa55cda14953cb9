-- Delivery of draw awards to rewards (the fulfilment outbox). The draws themselves live in the
-- draw engine's own append-only journal (activity/draw_engine.h: fsynced per group commit, in
-- the data directory next to this database, so its syncs do not slow this store). The outbox
-- reads that journal with DrawEngine::ForEachDraw from the last draw it took in (the cursor
-- below) and keeps here one row per won draw until rewards confirm it: delivered once (the
-- rewards' idempotency key is the draw id), retried with back-off, and visible if stuck.
CREATE TABLE draw_fulfilment_cursor (
  journal TEXT PRIMARY KEY,             -- the draw journal's directory name
  last_draw_id INTEGER NOT NULL DEFAULT 0,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE draw_fulfilments (
  draw_id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  prize_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  reward_ref TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error TEXT NOT NULL DEFAULT '',
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
-- What is due or stuck, oldest first.
CREATE INDEX draw_fulfilments_due ON draw_fulfilments (status, next_attempt_ms)
  WHERE status != 'delivered';
CREATE INDEX draw_fulfilments_customer ON draw_fulfilments (activity_id, uid);
