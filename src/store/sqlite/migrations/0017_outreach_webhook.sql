-- The webhook channel (outreach/webhook_channel.h): one outbound record per message handed to
-- the bank's own SMS/push platform, delivered by the dispatcher at least once (the platform
-- dedupes by message id), and delivery receipts of any channel.

-- state: pending (due at next_attempt_ms) -> delivered (the platform answered 2xx) | dead
-- (a 4xx, or max attempts of 5xx/timeouts/connection errors; last_error says why). An
-- operator's retry puts a dead record back to pending with attempts 0.
CREATE TABLE webhook_outbound (
  message_id INTEGER PRIMARY KEY,  -- outreach_messages.id
  channel TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX webhook_outbound_due ON webhook_outbound (state, next_attempt_ms);

-- Every attempt, append-only: outcome delivered, retry or dead, the HTTP status (0: none).
CREATE TABLE webhook_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
  http_status INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, id);

-- Delivery receipts from a channel's platform, the first one per message kept.
CREATE TABLE outreach_receipts (
  message_id INTEGER PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('delivered', 'failed')),
  reason TEXT NOT NULL DEFAULT '',
  occurred_ms INTEGER NOT NULL,
  recorded_by TEXT NOT NULL,
  recorded_ms INTEGER NOT NULL
);
