#include "activity/verification.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <utility>

#include "common/log.h"

namespace mercator::activity {

namespace json = boost::json;

namespace {

absl::Status NotEligible(std::string_view reason) {
  return absl::PermissionDeniedError(fmt::format("customer: not eligible: {}", reason));
}

}  // namespace

HttpEligibilityVerifier::HttpEligibilityVerifier(http::HttpClient* client, const Clock* clock,
                                                 HttpVerifierOptions options)
    : client_(client), clock_(clock), options_(options) {}

absl::StatusOr<HttpEligibilityVerifier::Answer> HttpEligibilityVerifier::Ask(
    const VerificationHook& hook, int64_t activity_id, const std::string& external_id,
    const std::string& channel) {
  http::ClientRequest req;
  req.method = http::Method::kPost;
  req.url = hook.url;
  req.timeout = std::chrono::milliseconds(hook.timeout_ms);
  req.headers["content-type"] = "application/json";
  req.headers["accept"] = "application/json";
  req.body = json::serialize(
      json::object{{"activity_id", activity_id}, {"customer", external_id}, {"channel", channel}});
  absl::StatusOr<http::ClientResponse> resp = client_->Send(req);
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return absl::UnavailableError(fmt::format("verification: the bank answered {}", resp->status));
  }
  boost::system::error_code ec;
  json::value doc = json::parse(resp->body, ec);
  const json::object* o = ec ? nullptr : doc.if_object();
  const json::value* eligible = o != nullptr ? o->if_contains("eligible") : nullptr;
  if (eligible == nullptr || !eligible->is_bool()) {
    return absl::UnavailableError("verification: the bank's answer has no boolean \"eligible\"");
  }
  Answer a;
  a.eligible = eligible->as_bool();
  if (const json::value* r = o->if_contains("reason"); r != nullptr && r->is_string()) {
    a.reason = std::string(r->as_string()).substr(0, 200);
  }
  a.expires_ms = clock_->NowMs() + int64_t{hook.cache_seconds} * 1000;
  return a;
}

absl::Status HttpEligibilityVerifier::Verify(const VerificationHook& hook, int64_t activity_id,
                                             const std::string& external_id,
                                             const std::string& channel) {
  auto key = std::make_tuple(hook.url, activity_id, external_id);
  std::optional<Answer> answer;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.expires_ms > clock_->NowMs()) {
        answer = it->second;
      } else {
        cache_.erase(it);
      }
    }
  }
  if (!answer) {
    absl::StatusOr<Answer> asked = Ask(hook, activity_id, external_id, channel);
    if (!asked.ok()) {
      const bool open = hook.on_failure == VerificationHook::OnFailure::kFailOpen;
      Log(Severity::kWarn, "eligibility verification failed",
          {{"activity", std::to_string(activity_id)},
           {"policy", open ? "fail_open" : "fail_closed"},
           {"error", std::string(asked.status().message())}});
      if (open) return absl::OkStatus();
      return NotEligible("verification unavailable");
    }
    answer = *asked;
    if (hook.cache_seconds > 0) {
      absl::MutexLock lock(&mu_);
      if (cache_.size() >= options_.max_cached) {
        const int64_t now = clock_->NowMs();
        std::erase_if(cache_, [&](const auto& kv) { return kv.second.expires_ms <= now; });
        if (cache_.size() >= options_.max_cached) cache_.clear();
      }
      cache_[key] = *answer;
    }
  }
  if (answer->eligible) return absl::OkStatus();
  return NotEligible(answer->reason.empty() ? "refused by the bank's verification"
                                            : answer->reason);
}

}  // namespace mercator::activity
