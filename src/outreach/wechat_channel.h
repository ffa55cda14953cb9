// The WeChat official-account ("wechat_oa") and WeCom ("wecom") channels
// (docs/outreach-wechat.md), both behind configurable base URLs.
//
// wechat_oa: template messages (/cgi-bin/message/template/send) or, for a mapping of kind
// "subscribe", subscribe messages (订阅通知, /cgi-bin/message/subscribe/bizsend; the link is its
// "page"; 43101, not subscribed: failed, no retry) to the customer's openid (WechatRepository
// bindings), with the WeChat template id and data field keys configured per Mercator template
// (wechat_templates); the rendered body's lines fill the fields in order and the message's
// tracked link (or the mapping's url) is the H5 link. WeChat forbids ads in
// template messages: Deliver refuses purpose "marketing" (and ValidateTemplate refuses such
// templates for wechat_oa at creation). errcode 0: sent; 40001/42001/40014: the access token is
// refreshed and the send retried once at once; 43004 (not following): failed, no retry;
// 45009/45047 and -1 (rate limits, busy), timeouts and HTTP errors: retried with exponential
// back-off until max_attempts; any other errcode: failed with errmsg.
//
// wecom: customer-contact group-send tasks (/cgi-bin/externalcontact/add_msg_template,
// chat_type single) created for the WeCom userid that has the customer as an external
// contact (the binding's wecom_sender), one task per sender and text; the manager confirms the
// task in WeCom. Mercator polls /cgi-bin/externalcontact/get_groupmsg_send_result every
// poll_interval_ms: status 1 -> sent (receipt "delivered"), 2/3 -> failed (receipt "failed" with
// the reason), still 0 after confirm_window_ms -> failed ("not sent by the manager").
//
// Records (wechat_outbound): wechat_oa pending -> sent | failed; wecom pending -> created ->
// sent | failed. A final failure after acceptance is recorded as a failed receipt
// (outreach_receipts), which the contact history shows.
//
// Access tokens (GET /cgi-bin/token for the account, /cgi-bin/gettoken for WeCom) are cached
// until token_margin_ms before their expires_in.
//
// Thread safety: safe for concurrent use. RunOnce calls are serialized; the background thread
// (Start) and a test driving RunOnce may coexist.
#ifndef MERCATOR_OUTREACH_WECHAT_CHANNEL_H_
#define MERCATOR_OUTREACH_WECHAT_CHANNEL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "http/http_client.h"
#include "outreach/channel.h"
#include "store/webhook_repository.h"
#include "store/wechat_repository.h"

namespace mercator::outreach {

struct WechatOptions {
  // The official account: enabled when oa_base_url is set ("https://api.weixin.qq.com" in
  // production, or an egress proxy's http:// URL).
  std::string oa_base_url;
  std::string oa_appid;
  std::string oa_appsecret;  // from a file or MERCATOR_WECHAT_APPSECRET, never a flag value
  // The token of the account's server configuration (消息推送): pushes to /wechat/oa/push are
  // verified with it (outreach/wechat_push.h); empty: that route is not served. From a file or
  // MERCATOR_WECHAT_TOKEN.
  std::string oa_token;
  // The account's EncodingAESKey (43 characters) for pushes in safe mode (安全模式); empty:
  // plaintext pushes only. From a file or MERCATOR_WECHAT_AESKEY.
  std::string oa_encoding_aes_key;
  // WeCom: enabled when wecom_base_url is set ("https://qyapi.weixin.qq.com").
  std::string wecom_base_url;
  std::string wecom_corpid;
  std::string wecom_corpsecret;  // the customer-contact secret; MERCATOR_WECOM_CORPSECRET
  int64_t timeout_ms = 5000;
  int32_t max_attempts = 6;
  int64_t backoff_base_ms = 1000;
  int64_t backoff_max_ms = 10 * 60 * 1000;
  int64_t token_margin_ms = 5 * 60 * 1000;
  int64_t poll_interval_ms = 5 * 60 * 1000;
  int64_t confirm_window_ms = 3 * 86'400'000LL;
  int32_t batch = 32;  // records per stage of a RunOnce
  // How often the background thread runs a pass when nothing wakes it; 0: no thread (tests
  // drive RunOnce).
  int64_t interval_ms = 1000;

  bool oa_enabled() const { return !oa_base_url.empty(); }
  bool wecom_enabled() const { return !wecom_base_url.empty(); }
};

// InvalidArgument naming the option ("wechat.oa_base_url: ...") for an unusable configuration.
absl::Status ValidateWechatOptions(const WechatOptions& options);

// An access token cached until `margin_ms` before it expires. Get fetches one when there is
// none; Invalidate drops `token` if it is still the cached one (a 40001 answer).
class AccessToken {
 public:
  // `url` is the whole token URL with its query. None of the pointers is owned.
  AccessToken(http::HttpClient* client, const Clock* clock, std::string url, int64_t margin_ms,
              int64_t timeout_ms)
      : client_(client),
        clock_(clock),
        url_(std::move(url)),
        margin_ms_(margin_ms),
        timeout_ms_(timeout_ms) {}
  // Unavailable with the reason when no token can be had (HTTP error, errcode).
  absl::StatusOr<std::string> Get();
  void Invalidate(std::string_view token);
  int64_t fetches() const;

 private:
  http::HttpClient* const client_;
  const Clock* const clock_;
  const std::string url_;
  const int64_t margin_ms_;
  const int64_t timeout_ms_;
  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  int64_t valid_until_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

class WechatChannel final : public Channel {
 public:
  struct Pass {
    int sent = 0;     // wechat_oa sent, wecom sent by the manager
    int created = 0;  // wecom messages now in a task
    int retried = 0;  // wechat_oa or task creation to be retried
    int failed = 0;
    int waiting = 0;  // wecom tasks polled and still not sent
  };

  // `receipts` records failures and WeCom sends; none of the pointers is owned; `options` must
  // be valid (ValidateWechatOptions).
  WechatChannel(WechatRepository* repo, WebhookRepository* receipts, http::HttpClient* client,
                const Clock* clock, WechatOptions options);
  ~WechatChannel() override;
  WechatChannel(const WechatChannel&) = delete;
  WechatChannel& operator=(const WechatChannel&) = delete;

  // Refuses (accepted false, with the reason) a wechat_oa marketing message, a template without
  // a WeChat template, a customer without an openid (wecom: without an external contact and
  // sender); otherwise writes the pending record and wakes the thread.
  absl::StatusOr<Delivery> Deliver(const OutboundMessage& message) override;

  // Enqueues messages of the enabled channels that a crash left without an outbound record
  // (with the customer's binding now); returns how many.
  absl::StatusOr<int64_t> Adopt();

  // The public base of tracked links: a message with one links to <base>/t/<token>.
  void SetLinkBase(std::string base);

  absl::StatusOr<Pass> RunOnce();
  // Called at the end of every RunOnce (with run_mu_ held: it must not call RunOnce).
  void SetObserver(std::function<void(const Pass& pass)> observer);
  void Start();
  void Stop();
  void Wake();

  AccessToken* oa_token() { return oa_token_.get(); }
  AccessToken* wecom_token() { return wecom_token_.get(); }
  const WechatOptions& options() const { return options_; }

 private:
  struct Answer;  // wechat_channel.cc
  Answer Call(AccessToken& token, const std::string& url_without_token, const std::string& body);
  absl::Status SendOa(Pass& pass);
  absl::Status CreateWecomTasks(Pass& pass);
  absl::Status PollWecomTasks(Pass& pass);
  absl::Status Settle(WechatOutboundRow row, std::string_view from, Pass& pass);
  int64_t BackoffMs(int32_t attempt) const;
  void Loop();

  WechatRepository* const repo_;
  WebhookRepository* const receipts_;
  http::HttpClient* const client_;
  const Clock* const clock_;
  const WechatOptions options_;
  std::unique_ptr<AccessToken> oa_token_;
  std::unique_ptr<AccessToken> wecom_token_;
  // Lock order: run_mu_, then mu_ (Wake and Stop take mu_ alone).
  absl::Mutex run_mu_;
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::string link_base_ ABSL_GUARDED_BY(mu_);
  std::function<void(const Pass& pass)> observer_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_WECHAT_CHANNEL_H_
