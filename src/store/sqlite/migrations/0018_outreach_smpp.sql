-- The SMPP channel (outreach/smpp_channel.h): one outbound record per message handed to an
-- SMSC over SMPP 3.4, and the SMSC's message id of each accepted segment (for receipts).

-- state: pending (not every segment accepted yet) -> submitted (every segment answered by a
-- submit_sm_resp with a message id) | failed (the SMSC refused it for good, or the customer has
-- no mobile number; last_error says why).
CREATE TABLE smpp_outbound (
  message_id INTEGER PRIMARY KEY,  -- outreach_messages.id
  channel TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'submitted', 'failed')),
  segments INTEGER NOT NULL DEFAULT 0,  -- known once the message was first submitted
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX smpp_outbound_state ON smpp_outbound (state, message_id);

-- One row per accepted segment (1-based), written when its submit_sm_resp arrives: a segment
-- with a row is never submitted again (reconnects resubmit only the others). receipt_status is
-- '' until the SMSC's delivery receipt for smsc_id arrives.
CREATE TABLE smpp_segments (
  message_id INTEGER NOT NULL,
  segment INTEGER NOT NULL,
  smsc_id TEXT NOT NULL,
  receipt_status TEXT NOT NULL DEFAULT '' CHECK (receipt_status IN ('', 'delivered', 'failed')),
  receipt_reason TEXT NOT NULL DEFAULT '',
  accepted_ms INTEGER NOT NULL,
  PRIMARY KEY (message_id, segment)
);
CREATE INDEX smpp_segments_smsc_id ON smpp_segments (smsc_id);
