-- CHECK constraints without IN lists of three or more values.
--
-- SQLite checks `x IN ('a', 'b', 'c')` by building an ephemeral B-tree of the list, once per
-- statement execution: every INSERT or UPDATE of a row of these tables paid for opening,
-- filling and closing a temporary table (measured: 5.4 us a single-row INSERT against 2.7 us
-- with the same check written as `x = 'a' OR x = 'b' OR x = 'c'`). The campaign send path
-- (a campaign member, an outreach message per customer), draws (fulfilment, points entry),
-- journey steps and channel queues each paid it several times a row. An IN list of two values
-- is compiled as comparisons and stays.
--
-- SQLite cannot change a CHECK constraint in place, so every table with such a constraint is
-- rebuilt, with the tables that reference it (their foreign keys name the table): the rows are
-- kept aside, the tables dropped children first, created again with the same columns, indexes
-- and triggers (the definitions as they stood after migration 0030), the rows put back parents
-- first, and the AUTOINCREMENT high-water marks restored so that no id is ever used twice.
-- store_sqlite_schema_test checks that no table keeps such a list and that a database migrated
-- from 0030 keeps its rows, ids, indexes and foreign keys.
CREATE TABLE rebuild_sequences AS SELECT name, seq FROM sqlite_sequence WHERE name IN ('activities', 'activity_quiz_attempts', 'approvals', 'campaigns', 'coupon_templates', 'coupon_codes', 'fulfilments', 'journey_entries', 'journeys', 'outreach_messages', 'outreach_templates', 'points_entries', 'webhook_attempts', 'workbench_followups', 'workbench_tasks');
CREATE TABLE rebuild_activities AS SELECT * FROM activities;
CREATE TABLE rebuild_activity_quiz_attempts AS SELECT * FROM activity_quiz_attempts;
CREATE TABLE rebuild_activity_sign_ins AS SELECT * FROM activity_sign_ins;
CREATE TABLE rebuild_activity_versions AS SELECT * FROM activity_versions;
CREATE TABLE rebuild_approvals AS SELECT * FROM approvals;
CREATE TABLE rebuild_campaigns AS SELECT * FROM campaigns;
CREATE TABLE rebuild_campaign_members AS SELECT * FROM campaign_members;
CREATE TABLE rebuild_coupon_templates AS SELECT * FROM coupon_templates;
CREATE TABLE rebuild_coupon_codes AS SELECT * FROM coupon_codes;
CREATE TABLE rebuild_draw_fulfilments AS SELECT * FROM draw_fulfilments;
CREATE TABLE rebuild_fulfilments AS SELECT * FROM fulfilments;
CREATE TABLE rebuild_journey_entries AS SELECT * FROM journey_entries;
CREATE TABLE rebuild_journeys AS SELECT * FROM journeys;
CREATE TABLE rebuild_journey_versions AS SELECT * FROM journey_versions;
CREATE TABLE rebuild_outreach_messages AS SELECT * FROM outreach_messages;
CREATE TABLE rebuild_outreach_templates AS SELECT * FROM outreach_templates;
CREATE TABLE rebuild_points_entries AS SELECT * FROM points_entries;
CREATE TABLE rebuild_points_allocations AS SELECT * FROM points_allocations;
CREATE TABLE rebuild_risk_blocklist AS SELECT * FROM risk_blocklist;
CREATE TABLE rebuild_smpp_outbound AS SELECT * FROM smpp_outbound;
CREATE TABLE rebuild_smpp_segments AS SELECT * FROM smpp_segments;
CREATE TABLE rebuild_webhook_attempts AS SELECT * FROM webhook_attempts;
CREATE TABLE rebuild_webhook_outbound AS SELECT * FROM webhook_outbound;
CREATE TABLE rebuild_wechat_outbound AS SELECT * FROM wechat_outbound;
CREATE TABLE rebuild_workbench_followups AS SELECT * FROM workbench_followups;
CREATE TABLE rebuild_workbench_rules AS SELECT * FROM workbench_rules;
CREATE TABLE rebuild_workbench_tasks AS SELECT * FROM workbench_tasks;
DROP TABLE workbench_tasks;
DROP TABLE workbench_rules;
DROP TABLE workbench_followups;
DROP TABLE wechat_outbound;
DROP TABLE webhook_outbound;
DROP TABLE webhook_attempts;
DROP TABLE smpp_segments;
DROP TABLE smpp_outbound;
DROP TABLE risk_blocklist;
DROP TABLE points_allocations;
DROP TABLE points_entries;
DROP TABLE outreach_templates;
DROP TABLE outreach_messages;
DROP TABLE journey_versions;
DROP TABLE journeys;
DROP TABLE journey_entries;
DROP TABLE fulfilments;
DROP TABLE draw_fulfilments;
DROP TABLE coupon_codes;
DROP TABLE coupon_templates;
DROP TABLE campaign_members;
DROP TABLE campaigns;
DROP TABLE approvals;
DROP TABLE activity_versions;
DROP TABLE activity_sign_ins;
DROP TABLE activity_quiz_attempts;
DROP TABLE activities;
CREATE TABLE activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  phase TEXT NOT NULL DEFAULT 'draft'
    CHECK (phase = 'draft' OR phase = 'published' OR phase = 'paused' OR phase = 'ended'),
  published_version INTEGER NOT NULL DEFAULT 0,
  latest_version INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  CHECK (phase = 'draft' OR published_version > 0)
);
CREATE INDEX activities_published ON activities (phase) WHERE published_version > 0;
CREATE TABLE activity_quiz_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  activity_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  day INTEGER NOT NULL,
  score INTEGER NOT NULL,
  passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
  rewarded INTEGER NOT NULL DEFAULT 0 CHECK (rewarded IN (0, 1) AND (rewarded = 0 OR passed = 1)),
  reward_json TEXT NOT NULL DEFAULT '',
  reward_state TEXT NOT NULL DEFAULT 'none' CHECK (reward_state = 'none' OR reward_state = 'pending' OR reward_state = 'granted'),
  reward_note TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  UNIQUE (activity_id, uid, idempotency_key)
);
CREATE INDEX activity_quiz_attempts_by_day ON activity_quiz_attempts (activity_id, uid, day);
CREATE UNIQUE INDEX activity_quiz_attempts_one_reward ON activity_quiz_attempts (activity_id, uid)
  WHERE rewarded = 1;
CREATE INDEX activity_quiz_attempts_pending ON activity_quiz_attempts (reward_state)
  WHERE reward_state = 'pending';
CREATE TABLE activity_sign_ins (
  activity_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  day INTEGER NOT NULL,
  make_up INTEGER NOT NULL DEFAULT 0 CHECK (make_up IN (0, 1)),
  streak INTEGER NOT NULL CHECK (streak >= 1),
  reward_json TEXT NOT NULL DEFAULT '',
  reward_state TEXT NOT NULL DEFAULT 'none' CHECK (reward_state = 'none' OR reward_state = 'pending' OR reward_state = 'granted'),
  reward_note TEXT NOT NULL DEFAULT '',
  points_spent INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (activity_id, uid, day),
  UNIQUE (activity_id, uid, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX activity_sign_ins_by_day ON activity_sign_ins (activity_id, day);
CREATE INDEX activity_sign_ins_pending ON activity_sign_ins (reward_state)
  WHERE reward_state = 'pending';
CREATE TABLE activity_versions (
  activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'draft'
    CHECK (status = 'draft' OR status = 'submitted' OR status = 'approved' OR status = 'rejected' OR status = 'superseded'),
  terms_json TEXT NOT NULL,
  digest TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  approval_id INTEGER NOT NULL DEFAULT 0,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (activity_id, version)
) WITHOUT ROWID;
CREATE TRIGGER activity_versions_frozen
BEFORE UPDATE OF terms_json, digest ON activity_versions
WHEN OLD.status NOT IN ('draft', 'rejected')
BEGIN
  SELECT RAISE(ABORT, 'activity version terms are frozen once submitted');
END;
CREATE TRIGGER activity_versions_no_unapprove
BEFORE UPDATE OF status ON activity_versions
WHEN OLD.status IN ('approved', 'superseded') AND NEW.status NOT IN ('superseded')
BEGIN
  SELECT RAISE(ABORT, 'an approved activity version cannot be un-approved');
END;
CREATE TABLE approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  summary TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status = 'pending' OR status = 'approved' OR status = 'rejected' OR status = 'withdrawn'),
  submitted_by TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER NOT NULL DEFAULT 0,
  comment TEXT NOT NULL DEFAULT '',
  -- Defence in depth for the rule the service enforces: nobody decides their own submission.
  CHECK (status = 'pending' OR status = 'withdrawn' OR decided_by <> submitted_by)
);
CREATE INDEX approvals_by_object ON approvals (object_type, object_id, id);
CREATE INDEX approvals_by_status ON approvals (status, id);
CREATE UNIQUE INDEX approvals_one_pending ON approvals (object_type, object_id, submitted_by)
  WHERE status = 'pending';
CREATE TABLE campaigns (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  definition_json TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status = 'draft' OR status = 'submitted' OR status = 'scheduled' OR status = 'running' OR status = 'paused' OR status = 'completed' OR status = 'cancelled'),
  approval_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  start_ms INTEGER NOT NULL DEFAULT 0,     -- not before (UTC ms)
  snapshot_ms INTEGER NOT NULL DEFAULT 0,  -- when the audience was taken (0: not yet)
  finished_ms INTEGER NOT NULL DEFAULT 0
, parent_id INTEGER NOT NULL DEFAULT 0, run_no INTEGER NOT NULL DEFAULT 0, next_run_ms INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX campaigns_runs ON campaigns (parent_id, run_no) WHERE parent_id > 0;
CREATE TABLE campaign_members (
  campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state = 'pending' OR state = 'sent' OR state = 'suppressed' OR state = 'failed' OR state = 'holdout'),
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
CREATE INDEX campaign_members_fallback ON campaign_members (campaign_id, fallback_due_ms)
  WHERE fallback_due_ms > 0;
CREATE INDEX campaign_members_pending ON campaign_members (campaign_id, uid)
  WHERE state = 'pending';
CREATE TABLE coupon_templates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind = 'rate_boost' OR kind = 'cashback' OR kind = 'discount' OR kind = 'benefit'),
  face_value INTEGER NOT NULL CHECK (face_value > 0),
  validity_days INTEGER NOT NULL CHECK (validity_days > 0),
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE coupon_codes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  template_id INTEGER NOT NULL REFERENCES coupon_templates (id),
  code TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'available'
    CHECK (status = 'available' OR status = 'granted' OR status = 'redeemed' OR status = 'expired'),
  uid INTEGER NOT NULL DEFAULT 0,
  granted_ms INTEGER NOT NULL DEFAULT 0,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  grant_key TEXT UNIQUE,
  grant_fingerprint TEXT,
  redeemed_ms INTEGER NOT NULL DEFAULT 0,
  redeemed_by TEXT NOT NULL DEFAULT '',
  redeem_key TEXT UNIQUE,
  redeem_fingerprint TEXT
);
CREATE INDEX coupon_codes_available ON coupon_codes (template_id, id) WHERE status = 'available';
CREATE INDEX coupon_codes_by_uid ON coupon_codes (uid, granted_ms) WHERE uid > 0;
CREATE INDEX coupon_codes_granted_by_expiry ON coupon_codes (expires_ms) WHERE status = 'granted';
CREATE TABLE draw_fulfilments (
  draw_id INTEGER PRIMARY KEY,
  activity_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  prize_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  reward_ref TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status = 'pending' OR status = 'delivered' OR status = 'failed'),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error TEXT NOT NULL DEFAULT '',
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX draw_fulfilments_customer ON draw_fulfilments (activity_id, uid);
CREATE INDEX draw_fulfilments_due ON draw_fulfilments (status, next_attempt_ms)
  WHERE status != 'delivered';
CREATE TABLE fulfilments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  activity_id INTEGER NOT NULL,
  draw_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  pool_id TEXT NOT NULL,
  prize_id TEXT NOT NULL,
  prize_name TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL CHECK (kind = 'points' OR kind = 'coupon' OR kind = 'benefit' OR kind = 'physical' OR kind = 'cash'),
  reward_ref TEXT NOT NULL DEFAULT '',
  cost_fen INTEGER NOT NULL DEFAULT 0,
  won_ms INTEGER NOT NULL,
  -- For points: the expiry of the lot, fixed at intake so every retry asks the ledger the same.
  points_expires_ms INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL
    CHECK (state = 'pending' OR state = 'retrying' OR state = 'delivered' OR state = 'manual' OR state = 'stuck'),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  delivered_ref TEXT NOT NULL DEFAULT '',
  completed_by TEXT NOT NULL DEFAULT '',
  delivered_ms INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  UNIQUE (activity_id, draw_id)
);
CREATE INDEX fulfilments_by_activity ON fulfilments (activity_id, id);
CREATE INDEX fulfilments_by_state ON fulfilments (state, id);
CREATE INDEX fulfilments_due ON fulfilments (next_attempt_ms)
  WHERE state IN ('pending', 'retrying');
CREATE TABLE "journey_entries" (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  journey_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  entry_no INTEGER NOT NULL,
  holdout INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL
    CHECK (state = 'active' OR state = 'converted' OR state = 'completed' OR state = 'exited' OR state = 'stuck'),
  step TEXT NOT NULL DEFAULT '',
  due_ms INTEGER NOT NULL,
  entered_ms INTEGER NOT NULL,
  goal_until_ms INTEGER NOT NULL DEFAULT 0,
  ended_ms INTEGER NOT NULL DEFAULT 0,
  -- Failed attempts of the current step's action since it last succeeded (0: none).
  attempts INTEGER NOT NULL DEFAULT 0,
  -- The reason of the last transient failure ('' when none since the step last succeeded).
  last_error TEXT NOT NULL DEFAULT '',
  UNIQUE (journey_id, uid, entry_no)
);
CREATE INDEX journey_entries_due ON journey_entries (journey_id, due_ms)
  WHERE state = 'active';
CREATE INDEX journey_entries_open ON journey_entries (uid, journey_id)
  WHERE state = 'active';
CREATE INDEX journey_entries_stuck ON journey_entries (journey_id, id)
  WHERE state = 'stuck';
CREATE TABLE journeys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state = 'draft' OR state = 'live' OR state = 'paused' OR state = 'ended'),
  live_version INTEGER NOT NULL DEFAULT 0,
  latest_version INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE journey_versions (
  journey_id INTEGER NOT NULL REFERENCES journeys (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status = 'draft' OR status = 'submitted' OR status = 'approved' OR status = 'rejected' OR status = 'superseded'),
  approval_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (journey_id, version)
);
CREATE TABLE outreach_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE TABLE outreach_templates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  channel TEXT NOT NULL,
  purpose TEXT NOT NULL CHECK (purpose IN ('marketing', 'service')),
  body TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status = 'draft' OR status = 'pending' OR status = 'approved' OR status = 'rejected'),
  digest TEXT NOT NULL,
  approval_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
);
CREATE TABLE points_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uid INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type = 'earn' OR type = 'spend' OR type = 'expire' OR type = 'adjust' OR type = 'reverse'),
  amount INTEGER NOT NULL,
  balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
  expires_ms INTEGER NOT NULL DEFAULT 0,
  remaining INTEGER NOT NULL DEFAULT 0 CHECK (remaining >= 0),
  reason TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT '',
  reverses_id INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL UNIQUE,
  fingerprint TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX points_entries_by_uid ON points_entries (uid, id);
CREATE UNIQUE INDEX points_entries_reversal ON points_entries (reverses_id) WHERE reverses_id > 0;
CREATE INDEX points_lots_by_expiry ON points_entries (expires_ms, id)
  WHERE remaining > 0 AND expires_ms > 0;
CREATE INDEX points_lots_by_uid ON points_entries (uid, expires_ms, id) WHERE remaining > 0;
CREATE TABLE points_allocations (
  debit_id INTEGER NOT NULL REFERENCES points_entries (id),
  lot_id INTEGER NOT NULL REFERENCES points_entries (id),
  amount INTEGER NOT NULL CHECK (amount > 0),
  PRIMARY KEY (debit_id, lot_id)
) WITHOUT ROWID;
CREATE INDEX points_allocations_by_lot ON points_allocations (lot_id);
CREATE TABLE risk_blocklist (
  kind TEXT NOT NULL CHECK (kind = 'customer' OR kind = 'device' OR kind = 'ip'),
  value TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 128),
  reason TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE TABLE smpp_outbound (
  message_id INTEGER PRIMARY KEY,  -- outreach_messages.id
  channel TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state = 'pending' OR state = 'submitted' OR state = 'failed'),
  segments INTEGER NOT NULL DEFAULT 0,  -- known once the message was first submitted
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX smpp_outbound_state ON smpp_outbound (state, message_id);
CREATE TABLE smpp_segments (
  message_id INTEGER NOT NULL,
  segment INTEGER NOT NULL,
  smsc_id TEXT NOT NULL,
  receipt_status TEXT NOT NULL DEFAULT '' CHECK (receipt_status = '' OR receipt_status = 'delivered' OR receipt_status = 'failed'),
  receipt_reason TEXT NOT NULL DEFAULT '',
  accepted_ms INTEGER NOT NULL,
  PRIMARY KEY (message_id, segment)
);
CREATE INDEX smpp_segments_smsc_id ON smpp_segments (smsc_id);
CREATE TABLE webhook_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome = 'delivered' OR outcome = 'retry' OR outcome = 'dead'),
  http_status INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, id);
CREATE TABLE webhook_outbound (
  message_id INTEGER PRIMARY KEY,  -- outreach_messages.id
  channel TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state = 'pending' OR state = 'delivered' OR state = 'dead'),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX webhook_outbound_due ON webhook_outbound (state, next_attempt_ms);
CREATE TABLE wechat_outbound (
  message_id INTEGER PRIMARY KEY,  -- outreach_messages.id
  channel TEXT NOT NULL CHECK (channel IN ('wechat_oa', 'wecom')),
  state TEXT NOT NULL CHECK (state = 'pending' OR state = 'created' OR state = 'sent' OR state = 'failed'),
  openid TEXT NOT NULL DEFAULT '',
  external_userid TEXT NOT NULL DEFAULT '',
  sender TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  gateway_id TEXT NOT NULL DEFAULT '',
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX wechat_outbound_due ON wechat_outbound (channel, state, next_attempt_ms);
CREATE INDEX wechat_outbound_task ON wechat_outbound (gateway_id);
CREATE TABLE workbench_followups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  manager_id TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel = 'call' OR channel = 'visit' OR channel = 'wechat' OR channel = 'wecom'),
  outcome TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  next_step TEXT NOT NULL DEFAULT '',
  task_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX workbench_followups_customer ON workbench_followups (customer, id);
CREATE INDEX workbench_followups_manager ON workbench_followups (manager_id, created_ms);
CREATE INDEX workbench_followups_manager_id ON workbench_followups (manager_id, id);
CREATE TABLE workbench_rules (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  dsl TEXT NOT NULL,
  priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 3),
  due_days INTEGER NOT NULL DEFAULT 3,
  due_tag TEXT NOT NULL DEFAULT '',
  period TEXT NOT NULL CHECK (period = 'day' OR period = 'week' OR period = 'month' OR period = 'year'),
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  updated_by TEXT NOT NULL DEFAULT 'system:migration',
  updated_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE workbench_tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key TEXT NOT NULL UNIQUE,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  manager_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 3),
  due_ms INTEGER NOT NULL,
  origin TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status = 'open' OR status = 'done' OR status = 'cancelled'),
  outcome TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  closed_ms INTEGER NOT NULL DEFAULT 0,
  closed_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workbench_tasks_customer ON workbench_tasks (customer, id);
CREATE INDEX workbench_tasks_manager ON workbench_tasks (manager_id, status, id);
INSERT INTO activities (id, name, phase, published_version, latest_version, created_by, created_ms, updated_ms) SELECT id, name, phase, published_version, latest_version, created_by, created_ms, updated_ms FROM rebuild_activities;
DROP TABLE rebuild_activities;
INSERT INTO activity_quiz_attempts (id, activity_id, uid, day, score, passed, rewarded, reward_json, reward_state, reward_note, idempotency_key, request_digest, at_ms) SELECT id, activity_id, uid, day, score, passed, rewarded, reward_json, reward_state, reward_note, idempotency_key, request_digest, at_ms FROM rebuild_activity_quiz_attempts;
DROP TABLE rebuild_activity_quiz_attempts;
INSERT INTO activity_sign_ins (activity_id, uid, day, make_up, streak, reward_json, reward_state, reward_note, points_spent, idempotency_key, request_digest, at_ms) SELECT activity_id, uid, day, make_up, streak, reward_json, reward_state, reward_note, points_spent, idempotency_key, request_digest, at_ms FROM rebuild_activity_sign_ins;
DROP TABLE rebuild_activity_sign_ins;
INSERT INTO activity_versions (activity_id, version, status, terms_json, digest, created_by, created_ms, updated_ms, approval_id, decided_by, decided_ms) SELECT activity_id, version, status, terms_json, digest, created_by, created_ms, updated_ms, approval_id, decided_by, decided_ms FROM rebuild_activity_versions;
DROP TABLE rebuild_activity_versions;
INSERT INTO approvals (id, object_type, object_id, summary, digest, status, submitted_by, submitted_ms, decided_by, decided_ms, comment) SELECT id, object_type, object_id, summary, digest, status, submitted_by, submitted_ms, decided_by, decided_ms, comment FROM rebuild_approvals;
DROP TABLE rebuild_approvals;
INSERT INTO campaigns (id, name, definition_json, digest, status, approval_id, created_by, created_ms, updated_ms, start_ms, snapshot_ms, finished_ms, parent_id, run_no, next_run_ms) SELECT id, name, definition_json, digest, status, approval_id, created_by, created_ms, updated_ms, start_ms, snapshot_ms, finished_ms, parent_id, run_no, next_run_ms FROM rebuild_campaigns;
DROP TABLE rebuild_campaigns;
INSERT INTO campaign_members (campaign_id, uid, customer, state, channel, message_id, reason, trail, done_ms, fallback_due_ms) SELECT campaign_id, uid, customer, state, channel, message_id, reason, trail, done_ms, fallback_due_ms FROM rebuild_campaign_members;
DROP TABLE rebuild_campaign_members;
INSERT INTO coupon_templates (id, name, kind, face_value, validity_days, disabled, created_by, created_ms, updated_ms) SELECT id, name, kind, face_value, validity_days, disabled, created_by, created_ms, updated_ms FROM rebuild_coupon_templates;
DROP TABLE rebuild_coupon_templates;
INSERT INTO coupon_codes (id, template_id, code, status, uid, granted_ms, expires_ms, grant_key, grant_fingerprint, redeemed_ms, redeemed_by, redeem_key, redeem_fingerprint) SELECT id, template_id, code, status, uid, granted_ms, expires_ms, grant_key, grant_fingerprint, redeemed_ms, redeemed_by, redeem_key, redeem_fingerprint FROM rebuild_coupon_codes;
DROP TABLE rebuild_coupon_codes;
INSERT INTO draw_fulfilments (draw_id, activity_id, uid, prize_id, kind, reward_ref, status, attempts, last_error, next_attempt_ms, created_ms, updated_ms) SELECT draw_id, activity_id, uid, prize_id, kind, reward_ref, status, attempts, last_error, next_attempt_ms, created_ms, updated_ms FROM rebuild_draw_fulfilments;
DROP TABLE rebuild_draw_fulfilments;
INSERT INTO fulfilments (id, activity_id, draw_id, uid, pool_id, prize_id, prize_name, kind, reward_ref, cost_fen, won_ms, points_expires_ms, state, attempts, last_error, next_attempt_ms, delivered_ref, completed_by, delivered_ms, created_ms, updated_ms) SELECT id, activity_id, draw_id, uid, pool_id, prize_id, prize_name, kind, reward_ref, cost_fen, won_ms, points_expires_ms, state, attempts, last_error, next_attempt_ms, delivered_ref, completed_by, delivered_ms, created_ms, updated_ms FROM rebuild_fulfilments;
DROP TABLE rebuild_fulfilments;
INSERT INTO journey_entries (id, journey_id, version, uid, customer, entry_no, holdout, state, step, due_ms, entered_ms, goal_until_ms, ended_ms, attempts, last_error) SELECT id, journey_id, version, uid, customer, entry_no, holdout, state, step, due_ms, entered_ms, goal_until_ms, ended_ms, attempts, last_error FROM rebuild_journey_entries;
DROP TABLE rebuild_journey_entries;
INSERT INTO journeys (id, name, state, live_version, latest_version, created_by, created_ms, updated_ms) SELECT id, name, state, live_version, latest_version, created_by, created_ms, updated_ms FROM rebuild_journeys;
DROP TABLE rebuild_journeys;
INSERT INTO journey_versions (journey_id, version, definition, digest, status, approval_id, created_by, created_ms, decided_by, decided_ms) SELECT journey_id, version, definition, digest, status, approval_id, created_by, created_ms, decided_by, decided_ms FROM rebuild_journey_versions;
DROP TABLE rebuild_journey_versions;
INSERT INTO outreach_messages (id, dedupe_key, uid, customer, channel, purpose, template_id, origin, status, reason, body, created_ms, local_day, local_week) SELECT id, dedupe_key, uid, customer, channel, purpose, template_id, origin, status, reason, body, created_ms, local_day, local_week FROM rebuild_outreach_messages;
DROP TABLE rebuild_outreach_messages;
INSERT INTO outreach_templates (id, name, channel, purpose, body, status, digest, approval_id, created_by, created_ms, updated_ms, deleted) SELECT id, name, channel, purpose, body, status, digest, approval_id, created_by, created_ms, updated_ms, deleted FROM rebuild_outreach_templates;
DROP TABLE rebuild_outreach_templates;
INSERT INTO points_entries (id, uid, type, amount, balance_after, expires_ms, remaining, reason, actor, reverses_id, idempotency_key, fingerprint, created_ms) SELECT id, uid, type, amount, balance_after, expires_ms, remaining, reason, actor, reverses_id, idempotency_key, fingerprint, created_ms FROM rebuild_points_entries;
DROP TABLE rebuild_points_entries;
INSERT INTO points_allocations (debit_id, lot_id, amount) SELECT debit_id, lot_id, amount FROM rebuild_points_allocations;
DROP TABLE rebuild_points_allocations;
INSERT INTO risk_blocklist (kind, value, reason, created_by, created_ms) SELECT kind, value, reason, created_by, created_ms FROM rebuild_risk_blocklist;
DROP TABLE rebuild_risk_blocklist;
INSERT INTO smpp_outbound (message_id, channel, state, segments, last_error, created_ms, updated_ms) SELECT message_id, channel, state, segments, last_error, created_ms, updated_ms FROM rebuild_smpp_outbound;
DROP TABLE rebuild_smpp_outbound;
INSERT INTO smpp_segments (message_id, segment, smsc_id, receipt_status, receipt_reason, accepted_ms) SELECT message_id, segment, smsc_id, receipt_status, receipt_reason, accepted_ms FROM rebuild_smpp_segments;
DROP TABLE rebuild_smpp_segments;
INSERT INTO webhook_attempts (id, message_id, attempt, outcome, http_status, error, created_ms) SELECT id, message_id, attempt, outcome, http_status, error, created_ms FROM rebuild_webhook_attempts;
DROP TABLE rebuild_webhook_attempts;
INSERT INTO webhook_outbound (message_id, channel, state, attempts, next_attempt_ms, last_error, created_ms, updated_ms) SELECT message_id, channel, state, attempts, next_attempt_ms, last_error, created_ms, updated_ms FROM rebuild_webhook_outbound;
DROP TABLE rebuild_webhook_outbound;
INSERT INTO wechat_outbound (message_id, channel, state, openid, external_userid, sender, attempts, next_attempt_ms, gateway_id, last_error, created_ms, updated_ms) SELECT message_id, channel, state, openid, external_userid, sender, attempts, next_attempt_ms, gateway_id, last_error, created_ms, updated_ms FROM rebuild_wechat_outbound;
DROP TABLE rebuild_wechat_outbound;
INSERT INTO workbench_followups (id, uid, customer, manager_id, channel, outcome, note, next_step, task_id, created_by, created_ms) SELECT id, uid, customer, manager_id, channel, outcome, note, next_step, task_id, created_by, created_ms FROM rebuild_workbench_followups;
DROP TABLE rebuild_workbench_followups;
INSERT INTO workbench_rules (id, kind, title, reason, dsl, priority, due_days, due_tag, period, enabled, updated_by, updated_ms) SELECT id, kind, title, reason, dsl, priority, due_days, due_tag, period, enabled, updated_by, updated_ms FROM rebuild_workbench_rules;
DROP TABLE rebuild_workbench_rules;
INSERT INTO workbench_tasks (id, dedupe_key, uid, customer, manager_id, kind, title, reason, priority, due_ms, origin, status, outcome, created_ms, closed_ms, closed_by) SELECT id, dedupe_key, uid, customer, manager_id, kind, title, reason, priority, due_ms, origin, status, outcome, created_ms, closed_ms, closed_by FROM rebuild_workbench_tasks;
DROP TABLE rebuild_workbench_tasks;
DELETE FROM sqlite_sequence WHERE name IN (SELECT name FROM rebuild_sequences);
INSERT INTO sqlite_sequence (name, seq) SELECT name, seq FROM rebuild_sequences;
DROP TABLE rebuild_sequences;
