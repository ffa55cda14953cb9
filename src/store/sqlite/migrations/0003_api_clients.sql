-- API clients: app and channel back-ends that sign their requests with HMAC-SHA256
-- (auth/request_signing.h). Times are UTC milliseconds.

-- key_id is the public half of the credential ("ck_" + 16 hex). scopes is a comma-separated,
-- sorted list of scope names ("draw,events"). AUTOINCREMENT: ids are the listing cursor and
-- are never reused.
CREATE TABLE api_clients (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL DEFAULT '',
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);

-- The secrets, sealed with the PII vault (XChaCha20-Poly1305 under a key kept outside the
-- database, context "api_clients.secret"): the server needs them in clear to verify
-- signatures, so they cannot be hashed, and a copy of this file must not reveal them.
-- expires_ms is NULL for the current secret; after a rotation the previous secret keeps
-- working until its expires_ms. At most two rows per client.
CREATE TABLE api_client_secrets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  client_id INTEGER NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
  sealed_secret BLOB NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER
);
CREATE INDEX api_client_secrets_by_client ON api_client_secrets (client_id);
