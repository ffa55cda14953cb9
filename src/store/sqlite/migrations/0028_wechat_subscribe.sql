-- WeChat subscribe messages (订阅通知, /cgi-bin/message/subscribe/bizsend) besides template
-- messages: which API a Mercator template's WeChat mapping goes out through.
ALTER TABLE wechat_templates ADD COLUMN kind TEXT NOT NULL DEFAULT 'template'
  CHECK (kind IN ('template', 'subscribe'));
