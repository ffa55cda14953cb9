-- The WeChat official account and WeCom channels (outreach/wechat_channel.h,
-- docs/outreach-wechat.md).

-- Where a customer is reached on WeChat: the openid under the bank's official account, and the
-- WeCom external contact (external_userid) with the WeCom userid of the staff member who has
-- the customer as a contact (the sender of group-send tasks). Set by the bank's systems through
-- PUT /v1/customers/{external_id}/wechat; '' means not bound.
CREATE TABLE wechat_bindings (
  customer TEXT PRIMARY KEY,
  openid TEXT NOT NULL DEFAULT '',
  wecom_external_userid TEXT NOT NULL DEFAULT '',
  wecom_sender TEXT NOT NULL DEFAULT '',
  updated_by TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);

-- The official-account template behind a Mercator template: WeChat's template id, the data
-- field keys that the rendered body's lines fill in order, and the default H5 link.
CREATE TABLE wechat_templates (
  template_id INTEGER PRIMARY KEY,  -- outreach_templates.id
  wechat_template_id TEXT NOT NULL,
  fields TEXT NOT NULL,  -- comma-separated keys, e.g. thing1,time2,amount3
  url TEXT NOT NULL DEFAULT '',
  updated_by TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);

-- One outbound record per message of either channel, with the address taken when the message
-- was handed over (a later re-binding does not redirect it).
-- wechat_oa: pending -> sent (errcode 0; gateway_id is WeChat's msgid) | failed.
-- wecom:     pending -> created (a group-send task exists; gateway_id is its msgid; the manager
--            must confirm it in WeCom) -> sent (the manager sent it) | failed (not a contact,
--            already received another group message today, not confirmed in time, refused).
CREATE TABLE wechat_outbound (
  message_id INTEGER PRIMARY KEY,  -- outreach_messages.id
  channel TEXT NOT NULL CHECK (channel IN ('wechat_oa', 'wecom')),
  state TEXT NOT NULL CHECK (state IN ('pending', 'created', 'sent', 'failed')),
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
