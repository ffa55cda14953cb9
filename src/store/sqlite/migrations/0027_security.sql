-- Security hardening (issue 3). Times are UTC milliseconds.

-- Nonces of signed requests (auth/request_signing.h), kept until the request's timestamp plus
-- the allowed clock skew, after which the request is refused as stale anyway. Shared by every
-- process on this database, so a request replayed to a second `mercator serve` or after a
-- restart inside the window is refused too. The primary key is the replay check.
CREATE TABLE api_nonces (
  key_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  PRIMARY KEY (key_id, nonce)
) WITHOUT ROWID;
CREATE INDEX api_nonces_by_expiry ON api_nonces (expires_ms);
