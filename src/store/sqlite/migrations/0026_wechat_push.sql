-- WeChat pushes (outreach/wechat_push.h): an unsubscribe names the customer by openid.
CREATE INDEX wechat_bindings_openid ON wechat_bindings (openid) WHERE openid != '';
