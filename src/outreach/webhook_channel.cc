#include "outreach/webhook_channel.h"

#include <fmt/format.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <chrono>

#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "outreach/templates.h"

namespace mercator::outreach {
namespace {

constexpr size_t kMinSecretBytes = 16;
// How much of a refusing answer's body is kept as the dead letter's reason.
constexpr size_t kMaxReasonBody = 200;

std::string IsoUtc(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

bool Retryable(int status) { return status >= 500 || status == 408 || status == 429; }

// The start of a body, cut at a UTF-8 character boundary (the reason is shown as JSON).
std::string BodyStart(const std::string& body) {
  if (body.size() <= kMaxReasonBody) return body;
  size_t n = kMaxReasonBody;
  while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
  return body.substr(0, n);
}

}  // namespace

absl::Status ValidateWebhookOptions(const WebhookOptions& o) {
  if (o.channels.empty()) return absl::InvalidArgumentError("webhook.channels: none given");
  for (const std::string& c : o.channels) {
    if (!IsChannel(c)) {
      return absl::InvalidArgumentError(fmt::format(
          "webhook.channels: {} is not one of sms, app_push, in_app, wechat_oa, wecom, email", c));
    }
  }
  absl::StatusOr<http::ParsedUrl> url = http::ParseUrl(o.url);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("webhook.url: {}", std::string(url.status().message())));
  }
  if (o.secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(
        fmt::format("webhook.secret: at least {} bytes", kMinSecretBytes));
  }
  if (o.timeout_ms <= 0) return absl::InvalidArgumentError("webhook.timeout_ms: must be > 0");
  if (o.max_attempts <= 0) return absl::InvalidArgumentError("webhook.max_attempts: must be > 0");
  if (o.backoff_base_ms <= 0 || o.backoff_max_ms < o.backoff_base_ms) {
    return absl::InvalidArgumentError(
        "webhook.backoff_base_ms: must be > 0 and at most webhook.backoff_max_ms");
  }
  if (o.batch <= 0) return absl::InvalidArgumentError("webhook.batch: must be > 0");
  return absl::OkStatus();
}

std::string WebhookSignature(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  const std::string t = std::to_string(unix_seconds);
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(t.data()), t.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>("."), 1);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return "t=" + t + ",v1=" + hex;
}

std::string WebhookBody(const WebhookOutboundRow& row, int64_t sent_ms) {
  return boost::json::serialize(boost::json::object{
      {"message_id", std::to_string(row.message_id)},
      {"channel", row.channel},
      {"customer", row.customer},
      {"text", row.body},
      {"template_id", std::to_string(row.template_id)},
      {"origin", row.origin},
      {"sent_at", IsoUtc(sent_ms)},
  });
}

absl::StatusOr<Delivery> WebhookChannel::Deliver(const OutboundMessage& m) {
  RETURN_IF_ERROR(repo_->Enqueue(m.message_id, m.channel, clock_->NowMs()));
  if (dispatcher_ != nullptr) dispatcher_->Wake();
  Delivery d;
  d.gateway_id = "webhook:" + std::to_string(m.message_id);
  return d;
}

WebhookDispatcher::WebhookDispatcher(WebhookRepository* repo, http::HttpClient* client,
                                     const Clock* clock, WebhookOptions options)
    : repo_(repo), client_(client), clock_(clock), options_(std::move(options)) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

absl::StatusOr<int64_t> WebhookDispatcher::Adopt() {
  return repo_->Adopt(options_.channels, clock_->NowMs());
}

int64_t WebhookDispatcher::BackoffMs(int32_t attempt) const {
  int64_t delay = options_.backoff_base_ms;
  for (int32_t i = 1; i < attempt && delay < options_.backoff_max_ms; ++i) delay *= 2;
  return std::min(delay, options_.backoff_max_ms);
}

absl::StatusOr<WebhookDispatcher::Pass> WebhookDispatcher::RunOnce() {
  absl::MutexLock run(&run_mu_);
  Pass pass;
  ASSIGN_OR_RETURN(std::vector<WebhookOutboundRow> due,
                   repo_->Due(clock_->NowMs(), options_.batch));
  for (const WebhookOutboundRow& row : due) {
    {
      // Shutdown waits for one request at most, not for the whole batch.
      absl::MutexLock lock(&mu_);
      if (stop_) break;
    }
    const int64_t sent_ms = clock_->NowMs();
    http::ClientRequest req;
    req.method = http::Method::kPost;
    req.url = options_.url;
    req.body = WebhookBody(row, sent_ms);
    req.timeout = std::chrono::milliseconds(options_.timeout_ms);
    req.headers["content-type"] = "application/json";
    req.headers["x-mercator-message-id"] = std::to_string(row.message_id);
    req.headers["x-mercator-signature"] =
        WebhookSignature(options_.secret, sent_ms / 1000, req.body);
    absl::StatusOr<http::ClientResponse> resp = client_->Send(req);

    WebhookRepository::Attempt a;
    a.message_id = row.message_id;
    a.attempt = row.attempts + 1;
    a.now_ms = clock_->NowMs();
    bool retryable = false;
    if (resp.ok()) {
      a.http_status = resp->status;
      if (resp->status >= 200 && resp->status < 300) {
        a.outcome = WebhookRepository::Outcome::kDelivered;
      } else {
        retryable = Retryable(resp->status);
        a.error = fmt::format("HTTP {}: {}", resp->status, BodyStart(resp->body));
      }
    } else {
      const absl::StatusCode code = resp.status().code();
      retryable =
          code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kUnavailable;
      a.error = std::string(resp.status().message());
    }
    if (a.outcome != WebhookRepository::Outcome::kDelivered) {
      if (retryable && a.attempt < options_.max_attempts) {
        a.outcome = WebhookRepository::Outcome::kRetry;
        a.next_attempt_ms = a.now_ms + BackoffMs(a.attempt);
      } else {
        a.outcome = WebhookRepository::Outcome::kDead;
        if (retryable) a.error = fmt::format("after {} attempts: {}", a.attempt, a.error);
      }
    }
    ASSIGN_OR_RETURN(bool changed, repo_->RecordAttempt(a));
    if (!changed) continue;  // an operator or another pass settled it meanwhile
    switch (a.outcome) {
      case WebhookRepository::Outcome::kDelivered:
        ++pass.delivered;
        break;
      case WebhookRepository::Outcome::kRetry:
        ++pass.retried;
        break;
      case WebhookRepository::Outcome::kDead:
        ++pass.dead;
        Log(Severity::kWarn, "webhook dead letter",
            {{"message.id", std::to_string(a.message_id)}, {"error", a.error}});
        break;
    }
  }
  Observer observer;
  {
    absl::MutexLock lock(&mu_);
    observer = observer_;
  }
  if (observer) observer(pass);
  return pass;
}

void WebhookDispatcher::SetObserver(Observer observer) {
  absl::MutexLock lock(&mu_);
  observer_ = std::move(observer);
}

void WebhookDispatcher::Start() {
  if (options_.interval_ms <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void WebhookDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void WebhookDispatcher::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void WebhookDispatcher::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(options_.interval_ms));
      if (stop_) return;
      woken_ = false;
    }
    // A full batch may leave more due records: go again at once.
    for (;;) {
      absl::StatusOr<Pass> pass = RunOnce();
      if (!pass.ok()) {
        Log(Severity::kError, "webhook dispatch failed",
            {{"error", std::string(pass.status().message())}});
        break;
      }
      if (pass->delivered + pass->retried + pass->dead < options_.batch) break;
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
  }
}

}  // namespace mercator::outreach
