-- Outreach base (outreach/) and the customer-manager workbench (workbench/).
-- Times are UTC milliseconds; local days and weeks are in Asia/Shanghai (UTC+8, no DST).

-- Message templates per channel. status: draft -> pending (submitted for approval) ->
-- approved | rejected; any edit makes it a draft again. digest names the exact content that
-- an approval covers.
CREATE TABLE outreach_templates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  channel TEXT NOT NULL,
  purpose TEXT NOT NULL CHECK (purpose IN ('marketing', 'service')),
  body TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('draft', 'pending', 'approved', 'rejected')),
  digest TEXT NOT NULL,
  approval_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
);

-- The current consent per customer x channel x purpose, with its evidence.
CREATE TABLE contact_consents (
  customer TEXT NOT NULL,
  channel TEXT NOT NULL,
  purpose TEXT NOT NULL,
  granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
  source TEXT NOT NULL,
  text_version TEXT NOT NULL,
  evidence_ms INTEGER NOT NULL,
  recorded_by TEXT NOT NULL,
  recorded_ms INTEGER NOT NULL,
  PRIMARY KEY (customer, channel, purpose)
) WITHOUT ROWID;

-- Every consent change, append-only (the evidence trail).
CREATE TABLE contact_consent_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  customer TEXT NOT NULL,
  channel TEXT NOT NULL,
  purpose TEXT NOT NULL,
  granted INTEGER NOT NULL,
  source TEXT NOT NULL,
  text_version TEXT NOT NULL,
  evidence_ms INTEGER NOT NULL,
  recorded_by TEXT NOT NULL,
  recorded_ms INTEGER NOT NULL
);
CREATE INDEX contact_consent_history_customer ON contact_consent_history (customer, id);

-- Opt-outs from marketing: one channel, or '*' for every channel.
CREATE TABLE contact_optouts (
  customer TEXT NOT NULL,
  channel TEXT NOT NULL,
  source TEXT NOT NULL,
  recorded_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (customer, channel)
) WITHOUT ROWID;

-- The contact policy's settings (one row).
CREATE TABLE contact_policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  day_cap INTEGER NOT NULL,
  week_cap INTEGER NOT NULL,
  quiet_start_minute INTEGER NOT NULL,
  quiet_end_minute INTEGER NOT NULL,
  updated_by TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);

-- Every Send: sent, suppressed (with its reason) or failed. The dedupe key makes a retry return
-- the first result. Caps count rows with status 'sent' and purpose 'marketing'.
CREATE TABLE outreach_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key TEXT NOT NULL UNIQUE,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  channel TEXT NOT NULL,
  purpose TEXT NOT NULL,
  template_id INTEGER NOT NULL,
  origin TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('sent', 'suppressed', 'failed')),
  reason TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  local_day INTEGER NOT NULL,
  local_week INTEGER NOT NULL
);
CREATE INDEX outreach_messages_customer ON outreach_messages (customer, id);
CREATE INDEX outreach_messages_caps ON outreach_messages (customer, purpose, status, local_day);

-- The sandbox channel's outbox: what a real gateway would have received.
CREATE TABLE sandbox_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id INTEGER NOT NULL,
  channel TEXT NOT NULL,
  customer TEXT NOT NULL,
  body TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX sandbox_outbox_customer ON sandbox_outbox (customer, id);

-- Staff users who are customer managers: the manager id customers are assigned to by the
-- imported `manager` tag ("M00001").
CREATE TABLE workbench_manager_links (
  user_id INTEGER PRIMARY KEY REFERENCES staff_users (id) ON DELETE CASCADE,
  manager_id TEXT NOT NULL
);

-- A manager's task inbox. dedupe_key makes creation idempotent.
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
  status TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
  outcome TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  closed_ms INTEGER NOT NULL DEFAULT 0,
  closed_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workbench_tasks_manager ON workbench_tasks (manager_id, status, id);
CREATE INDEX workbench_tasks_customer ON workbench_tasks (customer, id);

-- Follow-up records of managers with their customers.
CREATE TABLE workbench_followups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uid INTEGER NOT NULL,
  customer TEXT NOT NULL,
  manager_id TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('call', 'visit', 'wechat', 'wecom')),
  outcome TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  next_step TEXT NOT NULL DEFAULT '',
  task_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX workbench_followups_manager ON workbench_followups (manager_id, created_ms);
CREATE INDEX workbench_followups_customer ON workbench_followups (customer, id);

-- Task generation rules: a segment DSL rule ({{today}}, {{today+N}}, {{month}} replaced at
-- run time) and what task to create for each member, once per period.
CREATE TABLE workbench_rules (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  dsl TEXT NOT NULL,
  priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 3),
  due_days INTEGER NOT NULL DEFAULT 3,
  due_tag TEXT NOT NULL DEFAULT '',
  period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month', 'year')),
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  updated_by TEXT NOT NULL DEFAULT 'system:migration',
  updated_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO workbench_rules (id, kind, title, reason, dsl, priority, due_days, due_tag, period,
                             enabled)
VALUES
  ('dormant_high_aum', 'dormant_high_aum', '高净值睡眠客户，请联系激活',
   'lifecycle = dormant and AUM >= 500,000 yuan',
   'lifecycle = "dormant" and aum >= 500000', 1, 7, '', 'month', 1),
  ('birthday', 'birthday', '本月生日客户，请送上祝福', 'birthday this month',
   'birth_month = {{month}}', 3, 7, '', 'year', 1),
  ('deposit_maturing', 'deposit_maturing', '定期存款即将到期，请联系续存',
   'time deposit matures within 7 days',
   'deposit_maturity between "{{today}}" and "{{today+7}}"', 1, 0, 'deposit_maturity', 'year',
   1);
