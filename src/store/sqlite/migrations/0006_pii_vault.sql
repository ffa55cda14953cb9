-- Personal data encrypted at rest (store/pii_cipher.h, auth/vault.h).
--
-- name, phone and id_number are stored only as sealed values (AEAD ciphertext with a key id
-- and nonce; the key is never in the database). phone and id_number also get a keyed hash
-- (16 bytes) for exact-match lookup; a hash is worthless without the key.
--
-- The plaintext columns name and phone of 0001 stay in the table but are always NULL: a
-- migration cannot seal existing values because it has no key, so the store seals them when
-- it is first opened with the vault (in batches, then clears them; secure_delete zeroes the
-- freed bytes) and removes the 'pii_plaintext_pending' marker set below. Dropping the columns
-- would rewrite every row a second time for a byte per row; the store's INSERT never names
-- them, and the trigger below refuses an UPDATE that would fill them again. (A BEFORE INSERT
-- trigger was measured at 3 us per row of a bulk import, so inserts rely on the code.)
ALTER TABLE customers ADD COLUMN name_sealed BLOB;
ALTER TABLE customers ADD COLUMN phone_sealed BLOB;
ALTER TABLE customers ADD COLUMN id_number_sealed BLOB;
ALTER TABLE customers ADD COLUMN phone_hash BLOB;
ALTER TABLE customers ADD COLUMN id_number_hash BLOB;

-- Lookup indexes. Hashes are random, and an index keyed by them takes every insert to a random
-- leaf page: a 10,000-row import batch would dirty (and write to the WAL) most of the index,
-- at every commit. Keyed instead by the hash's first byte (256 buckets) and then uid, which
-- grows with every new customer, inserts append at the end of 256 runs; the full hash is in
-- the index, so a lookup reads one bucket (1/256 of the entries, in order) without touching
-- the table for non-matching rows. The query must use the same expression:
--   WHERE substr(phone_hash, 1, 1) = substr(?1, 1, 1) AND phone_hash = ?1
CREATE INDEX customers_by_phone_hash
  ON customers (substr(phone_hash, 1, 1), uid, phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX customers_by_id_number_hash
  ON customers (substr(id_number_hash, 1, 1), uid, id_number_hash)
  WHERE id_number_hash IS NOT NULL;

INSERT INTO meta (key, value)
  SELECT 'pii_plaintext_pending', '1'
  WHERE EXISTS (SELECT 1 FROM customers WHERE name IS NOT NULL OR phone IS NOT NULL);

CREATE TRIGGER customers_no_plaintext_update BEFORE UPDATE OF name, phone ON customers
  WHEN NEW.name IS NOT NULL OR NEW.phone IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'customers: personal data must be sealed (name and phone stay NULL)');
END;
