-- Initial schema. Times are UTC milliseconds; booleans are 0/1.

-- One row per customer ever seen; rows are never deleted, so uids are never reused.
-- uid is the dense internal id of the segment engine's bitmaps: the store assigns
-- max(uid) + 1 inside the writing transaction, so uids stay gap-free even when a batch rolls
-- back. name and phone are personal data, kept in their own columns so that encrypting them
-- (a later change) stays local to these columns. tags is one JSON object:
-- {"key": true | "value" | ["a", "b"] | 123, ...}.
-- seq is the store-wide change sequence of the row's last change (ScanChangedSince).
CREATE TABLE customers (
  uid INTEGER PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  name TEXT,
  phone TEXT,
  tags TEXT NOT NULL DEFAULT '{}',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  erased INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1))
);
CREATE UNIQUE INDEX customers_by_seq ON customers (seq);

-- Counters kept in step with the tables they count, to avoid full scans.
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('customers_live', 0);

-- The tag catalog. category/type/source hold wire names ("basic", "multi_enum", ...);
-- value_list is a JSON array of strings.
CREATE TABLE tag_catalog (
  key TEXT PRIMARY KEY,
  name_zh TEXT NOT NULL,
  name_en TEXT NOT NULL,
  category TEXT NOT NULL,
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  scale INTEGER NOT NULL,
  value_list TEXT NOT NULL DEFAULT '[]',
  description TEXT NOT NULL DEFAULT ''
);

-- Saved audiences. AUTOINCREMENT: ids of deleted audiences are never handed out again, so
-- audit records that name an id stay unambiguous.
CREATE TABLE audiences (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  rule_dsl TEXT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  latest_version INTEGER NOT NULL DEFAULT 0
);

-- Snapshot versions of an audience; members is a portable serialized CRoaring bitmap.
-- A rowid table (not WITHOUT ROWID) because the member blobs can be large.
CREATE TABLE audience_snapshots (
  audience_id INTEGER NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  rule_dsl TEXT NOT NULL,
  member_count INTEGER NOT NULL,
  members BLOB NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  UNIQUE (audience_id, version)
);

-- Small key/value settings of the installation.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;
