-- Nonces of signed requests accepted by a server that alone serves this database
-- (auth/request_signing.h, nonce_store_shared false: `mercator serve` on its data directory).
-- Appended in the order they were accepted, without the primary key of api_nonces: that key
-- is the replay check between processes sharing a database, and a random nonce makes each
-- insert touch another page of it (measured at 25k signed requests/s: one 4 KiB WAL page
-- written per nonce). Here inserts fill the last pages only. The server reads the unexpired
-- ones at start (LoadNonces), so a replay after a restart is refused; it purges the oldest
-- expired rows as it appends.
CREATE TABLE api_nonce_log (
  expires_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  nonce TEXT NOT NULL
);
