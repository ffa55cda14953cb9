-- The risk black list of the draw guard (activity/draw_guard.h, store/risk_repository.h):
-- customers (external ids), devices (X-Device-Id values) and client IP addresses that may not
-- draw in any activity. Staff manage it through /v1/risk/blocklist; every change is audited.
CREATE TABLE risk_blocklist (
  kind TEXT NOT NULL CHECK (kind IN ('customer', 'device', 'ip')),
  value TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 128),
  reason TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (kind, value)
) WITHOUT ROWID;
