-- Coupon and benefit templates and their inventory of unique codes (reward/coupons,
-- store/coupon_repository.h). Times are UTC milliseconds.

-- kind: rate_boost (face_value in hundredths of a percent: 10 = +0.10%), cashback and
-- discount (fen), benefit (cost in fen). A granted code expires validity_days after its grant.
CREATE TABLE coupon_templates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('rate_boost', 'cashback', 'discount', 'benefit')),
  face_value INTEGER NOT NULL CHECK (face_value > 0),
  validity_days INTEGER NOT NULL CHECK (validity_days > 0),
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);

-- One row per code, unique over all templates. status: available -> granted -> redeemed, or
-- granted -> expired. grant_key / redeem_key are the callers' idempotency keys, with the
-- fingerprints of what they asked.
CREATE TABLE coupon_codes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  template_id INTEGER NOT NULL REFERENCES coupon_templates (id),
  code TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'available'
    CHECK (status IN ('available', 'granted', 'redeemed', 'expired')),
  uid INTEGER NOT NULL DEFAULT 0,
  granted_ms INTEGER NOT NULL DEFAULT 0,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  grant_key TEXT UNIQUE,
  grant_fingerprint TEXT,
  redeemed_ms INTEGER NOT NULL DEFAULT 0,
  redeemed_by TEXT NOT NULL DEFAULT '',
  redeem_key TEXT UNIQUE,
  redeem_fingerprint TEXT
);
-- Grants take a template's first available code.
CREATE INDEX coupon_codes_available ON coupon_codes (template_id, id) WHERE status = 'available';
-- A customer's coupons.
CREATE INDEX coupon_codes_by_uid ON coupon_codes (uid, granted_ms) WHERE uid > 0;
-- The expiry job.
CREATE INDEX coupon_codes_granted_by_expiry ON coupon_codes (expires_ms) WHERE status = 'granted';
