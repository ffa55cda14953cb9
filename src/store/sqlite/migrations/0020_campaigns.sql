-- Outreach campaigns (campaign/campaign_service.h): a definition frozen once submitted, the
-- lifecycle, and the audience snapshotted at send with each member's group and outcome.
CREATE TABLE campaigns (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  definition_json TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'scheduled', 'running', 'paused',
                                         'completed', 'cancelled')),
  approval_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  start_ms INTEGER NOT NULL DEFAULT 0,     -- not before (UTC ms)
  snapshot_ms INTEGER NOT NULL DEFAULT 0,  -- when the audience was taken (0: not yet)
  finished_ms INTEGER NOT NULL DEFAULT 0
);

-- One row per member of the snapshot. state: 'pending' (treated, not sent yet), 'sent',
-- 'suppressed' (every channel of the plan refused by policy), 'failed' (every channel failed),
-- 'holdout' (the control group: never contacted).
CREATE TABLE campaign_members (
  campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'suppressed', 'failed', 'holdout')),
  channel TEXT NOT NULL DEFAULT '',    -- the channel that sent, or the last one tried
  message_id INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',     -- suppression or failure reason of the last channel tried
  trail TEXT NOT NULL DEFAULT '',      -- every channel tried: "app_push:no_consent sms:sent"
  done_ms INTEGER NOT NULL DEFAULT 0,
  -- When the message sent on a channel with a fallback time is checked for a delivery receipt
  -- (0: no check due); without one by then, the plan's next channel is tried.
  fallback_due_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, uid)
) WITHOUT ROWID;
CREATE INDEX campaign_members_state ON campaign_members (campaign_id, state, uid);
CREATE INDEX campaign_members_fallback ON campaign_members (campaign_id, fallback_due_ms)
  WHERE fallback_due_ms > 0;
