-- Outreach message ids without AUTOINCREMENT (issue 6: a campaign to 1M customers at sandbox
-- speed). AUTOINCREMENT makes every INSERT statement read and rewrite the table's row of
-- sqlite_sequence; recording a campaign's messages one statement each, that was a quarter of
-- the writer's time (measured: 3.5 -> 2.3 us a message recorded).
--
-- Ids must still never be used twice: gateways, receipts, clicks and tracked links refer to
-- them. No code deletes a message, so the largest id only grows; the store allocates the next
-- id itself (OutreachRepository::RecordMessages) as one more than the largest of the table's
-- ids and the high-water mark kept here from sqlite_sequence, in case rows at the top were
-- ever deleted by hand.
INSERT INTO meta (key, value)
  SELECT 'outreach_messages_id_floor', seq FROM sqlite_sequence WHERE name = 'outreach_messages'
  ON CONFLICT (key) DO UPDATE SET value = excluded.value;

CREATE TABLE rebuild_outreach_messages AS SELECT * FROM outreach_messages;
DROP TABLE outreach_messages;
CREATE TABLE outreach_messages (
  id INTEGER PRIMARY KEY,
  dedupe_key TEXT NOT NULL UNIQUE,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  channel TEXT NOT NULL,
  purpose TEXT NOT NULL,
  template_id INTEGER NOT NULL,
  origin TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status = 'sent' OR status = 'suppressed' OR status = 'failed'),
  reason TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  local_day INTEGER NOT NULL,
  local_week INTEGER NOT NULL
);
CREATE INDEX outreach_messages_caps ON outreach_messages (customer, purpose, status, local_day);
INSERT INTO outreach_messages (id, dedupe_key, uid, customer, channel, purpose, template_id,
    origin, status, reason, body, created_ms, local_day, local_week)
  SELECT id, dedupe_key, uid, customer, channel, purpose, template_id, origin, status, reason,
    body, created_ms, local_day, local_week FROM rebuild_outreach_messages ORDER BY id;
DROP TABLE rebuild_outreach_messages;
