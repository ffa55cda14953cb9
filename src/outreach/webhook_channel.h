// The webhook channel: the bank's own SMS/push platform over HTTP (docs/outreach-webhook.md).
//
// WebhookChannel::Deliver only enqueues: it writes a durable outbound record keyed by the
// message id right after OutreachService recorded the message (idempotent: a second Deliver of
// the same message changes nothing), wakes the dispatcher and answers "accepted". At start,
// WebhookDispatcher::Adopt enqueues sent messages of the webhook's channels that a crash left
// without a record, so every sent message is delivered at least once.
//
// WebhookDispatcher POSTs each due record as JSON with a timestamped HMAC-SHA256 signature
// header (WebhookSignature) and classifies the answer: 2xx delivered; 5xx, 408, 429, timeouts
// and connection errors are retried with exponential back-off (base * 2^(attempt-1), capped)
// until max_attempts, then dead with the last error; any other answer (4xx, 3xx) is dead at
// once with its status and the start of its body. The receiver dedupes by message id: a
// record whose 2xx was lost (timeout, crash) is sent again.
//
// Thread safety: both classes are safe for concurrent use. RunOnce calls are serialized; the
// background thread (Start) and a test driving RunOnce may coexist.
#ifndef MERCATOR_OUTREACH_WEBHOOK_CHANNEL_H_
#define MERCATOR_OUTREACH_WEBHOOK_CHANNEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "http/http_client.h"
#include "outreach/channel.h"
#include "store/webhook_repository.h"

namespace mercator::outreach {

struct WebhookOptions {
  // The channels delivered through the webhook ("sms", "app_push", ...); empty: none (every
  // channel stays on the sandbox).
  std::vector<std::string> channels;
  std::string url;     // http(s)://host[:port]/path
  std::string secret;  // the HMAC key shared with the platform, at least 16 bytes
  int64_t timeout_ms = 5000;
  int32_t max_attempts = 8;
  int64_t backoff_base_ms = 1000;
  int64_t backoff_max_ms = 10 * 60 * 1000;
  int32_t batch = 32;  // records per RunOnce
  // How often the background thread looks for due records when nothing wakes it; 0: no thread
  // (tests drive RunOnce).
  int64_t interval_ms = 1000;
};

// InvalidArgument naming the option ("webhook.url: ...") for an unusable configuration:
// unknown channel, a URL that is not http://, a secret shorter than 16 bytes, non-positive
// timeout, attempts or back-off.
absl::Status ValidateWebhookOptions(const WebhookOptions& options);

// The signature header's value for `body` sent at `unix_seconds`:
// "t=<unix_seconds>,v1=<hex HMAC-SHA256(secret, "<unix_seconds>.<body>")>".
std::string WebhookSignature(std::string_view secret, int64_t unix_seconds, std::string_view body);

// The JSON body of one message (docs/outreach-webhook.md).
std::string WebhookBody(const WebhookOutboundRow& row, int64_t sent_ms);

class WebhookDispatcher;

class WebhookChannel final : public Channel {
 public:
  // `dispatcher` may be null (nothing to wake); none of the pointers is owned.
  WebhookChannel(WebhookRepository* repo, WebhookDispatcher* dispatcher, const Clock* clock)
      : repo_(repo), dispatcher_(dispatcher), clock_(clock) {}
  absl::StatusOr<Delivery> Deliver(const OutboundMessage& message) override;

 private:
  WebhookRepository* const repo_;
  WebhookDispatcher* const dispatcher_;
  const Clock* const clock_;
};

class WebhookDispatcher {
 public:
  // What one RunOnce did (for metrics).
  struct Pass {
    int delivered = 0;
    int retried = 0;
    int dead = 0;
  };
  using Observer = std::function<void(const Pass& pass)>;

  // None of the pointers is owned; `options` must be valid (ValidateWebhookOptions).
  WebhookDispatcher(WebhookRepository* repo, http::HttpClient* client, const Clock* clock,
                    WebhookOptions options);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Enqueues messages a crash left without an outbound record; returns how many.
  absl::StatusOr<int64_t> Adopt();
  // Sends the due records (up to options.batch), one at a time.
  absl::StatusOr<Pass> RunOnce();
  // Called at the end of every RunOnce (with run_mu_ held: it must not call RunOnce).
  void SetObserver(Observer observer);
  // The background thread: a pass when woken or every interval_ms (if > 0). Stop joins it.
  void Start();
  void Stop();
  void Wake();

  const WebhookOptions& options() const { return options_; }

 private:
  void Loop();
  int64_t BackoffMs(int32_t attempt) const;

  WebhookRepository* const repo_;
  http::HttpClient* const client_;
  const Clock* const clock_;
  const WebhookOptions options_;
  // Lock order: run_mu_, then mu_ (Wake and Stop take mu_ alone).
  absl::Mutex run_mu_;  // serializes RunOnce
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Observer observer_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_WEBHOOK_CHANNEL_H_
