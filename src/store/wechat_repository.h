// Storage of the WeChat official-account and WeCom channels (outreach/wechat_channel.h): tables
// of migration 0022_outreach_wechat.sql. Customers' WeChat addresses (bindings), the
// official-account template behind a Mercator template, and one outbound record per message,
// a state machine keyed by the recorded message's id (outreach_messages holds the customer, the
// rendered body and the template).
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_WECHAT_REPOSITORY_H_
#define MERCATOR_STORE_WECHAT_REPOSITORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct WechatBinding {
  std::string customer;  // external id
  std::string openid;    // under the bank's official account; "" if none
  std::string wecom_external_userid;
  std::string wecom_sender;  // WeCom userid of the staff member who has the customer as contact
  std::string updated_by;
  int64_t updated_ms = 0;
};

struct WechatTemplateRow {
  int64_t template_id = 0;  // the Mercator template
  std::string wechat_template_id;
  std::vector<std::string> fields;  // data keys filled by the body's lines, in order
  std::string url;                  // default H5 link ("" for none)
  // "template": a template message (/cgi-bin/message/template/send); "subscribe": a subscribe
  // message (订阅通知, /cgi-bin/message/subscribe/bizsend) the customer subscribed to.
  std::string kind = "template";
  std::string updated_by;
  int64_t updated_ms = 0;
};

struct WechatOutboundRow {
  int64_t message_id = 0;
  std::string channel;  // "wechat_oa" or "wecom"
  std::string state;    // "pending", "created", "sent", "failed"
  std::string openid;
  std::string external_userid;
  std::string sender;
  int32_t attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string gateway_id;  // WeChat's msgid, or the WeCom task's msgid
  std::string last_error;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  // From the recorded message and its tracked link.
  std::string customer;
  std::string purpose;
  std::string body;
  int64_t template_id = 0;
  std::string link_token;  // the message's tracked link, "" if none
};

class WechatRepository {
 public:
  virtual ~WechatRepository() = default;

  // Replaces the customer's binding.
  virtual absl::Status PutBinding(const WechatBinding& binding) = 0;
  virtual absl::StatusOr<std::optional<WechatBinding>> GetBinding(std::string_view customer) = 0;
  // Customers bound to an official-account openid (normally one).
  virtual absl::StatusOr<std::vector<std::string>> FindByOpenid(std::string_view openid) = 0;

  virtual absl::Status PutTemplate(const WechatTemplateRow& row) = 0;
  virtual absl::StatusOr<std::optional<WechatTemplateRow>> GetTemplate(int64_t template_id) = 0;

  // A pending record (message_id, channel and address of `row`) due now; a second call for the
  // same message changes nothing (idempotent by message id).
  virtual absl::Status Enqueue(const WechatOutboundRow& row, int64_t now_ms) = 0;
  // Enqueues the sent messages of `channel` that have no record of any channel (WeChat,
  // webhook, sandbox outbox), with the customer's current binding: a process that died between
  // recording a message and enqueueing it. Returns how many it enqueued.
  virtual absl::StatusOr<int64_t> Adopt(std::string_view channel, int64_t now_ms) = 0;
  // Records of `channel` in `state` with next_attempt_ms <= now_ms, oldest due first.
  virtual absl::StatusOr<std::vector<WechatOutboundRow>> Due(std::string_view channel,
                                                             std::string_view state, int64_t now_ms,
                                                             int limit) = 0;
  // Moves a record from `from_state` to row.state with row's attempts, next_attempt_ms,
  // gateway_id and last_error; false if it was not in `from_state` (settled meanwhile).
  virtual absl::StatusOr<bool> Transition(const WechatOutboundRow& row, std::string_view from_state,
                                          int64_t now_ms) = 0;
  virtual absl::StatusOr<std::optional<WechatOutboundRow>> Get(int64_t message_id) = 0;
  // The message whose record of `channel` has WeChat's id `gateway_id` (a template message's
  // msgid), if any.
  virtual absl::StatusOr<std::optional<int64_t>> FindByGateway(std::string_view channel,
                                                               std::string_view gateway_id) = 0;
  // Records per (channel, state).
  virtual absl::StatusOr<std::map<std::pair<std::string, std::string>, int64_t>> CountByState() = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_WECHAT_REPOSITORY_H_
