-- Customers' points (积分): an account per customer and its ledger (reward/points_ledger,
-- store/points_repository.h). Amounts are integer points; times are UTC milliseconds.

-- balance is the sum of `remaining` over the customer's entries, kept here so a debit checks
-- it in O(1); the CHECK is the last line of defence behind the repository's own check.
CREATE TABLE points_accounts (
  uid INTEGER PRIMARY KEY,
  balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
  updated_ms INTEGER NOT NULL
);

-- The ledger, append-only except for `remaining`. type: earn | spend | expire | adjust |
-- reverse. amount is signed (credits positive). Credits that make a lot (earn, positive
-- adjust) carry expires_ms (0: never) and what is left of them in remaining; every other
-- entry has remaining 0. idempotency_key is the caller's (unique over the ledger), fingerprint
-- a canonical form of what was asked, compared when a key is reused.
CREATE TABLE points_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uid INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('earn', 'spend', 'expire', 'adjust', 'reverse')),
  amount INTEGER NOT NULL,
  balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
  expires_ms INTEGER NOT NULL DEFAULT 0,
  remaining INTEGER NOT NULL DEFAULT 0 CHECK (remaining >= 0),
  reason TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT '',
  reverses_id INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL UNIQUE,
  fingerprint TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
-- Statements: a customer's entries newest first.
CREATE INDEX points_entries_by_uid ON points_entries (uid, id);
-- Spends: a customer's open lots, first-expiring first.
CREATE INDEX points_lots_by_uid ON points_entries (uid, expires_ms, id) WHERE remaining > 0;
-- The expiry job: open lots by date.
CREATE INDEX points_lots_by_expiry ON points_entries (expires_ms, id)
  WHERE remaining > 0 AND expires_ms > 0;
-- An entry is reversed at most once.
CREATE UNIQUE INDEX points_entries_reversal ON points_entries (reverses_id) WHERE reverses_id > 0;

-- Which lots each debit (spend, negative adjust, expire, reverse of a credit) consumed and how
-- much of each, so that reversing a spend refills the very lots it took from.
CREATE TABLE points_allocations (
  debit_id INTEGER NOT NULL REFERENCES points_entries (id),
  lot_id INTEGER NOT NULL REFERENCES points_entries (id),
  amount INTEGER NOT NULL CHECK (amount > 0),
  PRIMARY KEY (debit_id, lot_id)
) WITHOUT ROWID;
CREATE INDEX points_allocations_by_lot ON points_allocations (lot_id);
