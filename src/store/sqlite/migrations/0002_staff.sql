-- Staff accounts and their sign-in sessions (auth/staff_service). Times are UTC milliseconds.

-- username is stored lower-case and is unique regardless of case. password_hash is libsodium's
-- crypto_pwhash_str output (argon2id with its parameters and salt). roles is a comma-separated,
-- sorted list of role names ("approver,operator"). AUTOINCREMENT: ids of removed users are
-- never reused.
CREATE TABLE staff_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL COLLATE NOCASE UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  roles TEXT NOT NULL DEFAULT '',
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until_ms INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  password_changed_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT ''
);

-- One row per sign-in. Only the SHA-256 of the cookie's token is stored, so a copy of the
-- database does not let anyone take over a session.
CREATE TABLE staff_sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token_sha256 TEXT NOT NULL UNIQUE,
  csrf_token TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX staff_sessions_by_user ON staff_sessions (user_id);
