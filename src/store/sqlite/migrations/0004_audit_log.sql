-- The audit log: append-only and hash-chained (auth/audit_log.h computes the hashes).
-- seq is assigned by the appender as the last seq + 1 inside the write transaction, so the
-- chain has no gaps; AUTOINCREMENT makes SQLite remember the highest seq ever assigned in
-- sqlite_sequence, which lets Verify notice entries deleted from the end of the log.
-- detail_sha256, prev_hash and hash are lower-case hex SHA-256 digests; the first entry's
-- prev_hash is 64 zeros.
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  detail TEXT NOT NULL,
  detail_sha256 TEXT NOT NULL,
  request_id TEXT NOT NULL,
  ip TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_log_by_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
CREATE INDEX audit_log_by_object ON audit_log (object_type, object_id, seq);
CREATE INDEX audit_log_by_time ON audit_log (time_ms);

-- Append-only inside the application: no code path updates or deletes entries. The triggers
-- stop accidents and casual edits through the sqlite3 shell; someone who drops them (or edits
-- the file directly) is caught by the hash chain.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
