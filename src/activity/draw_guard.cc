#include "activity/draw_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "common/retry_after.h"
#include "common/status_macros.h"

namespace mercator::activity {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// --- LocalRiskRules --------------------------------------------------------------------

bool LocalRiskRules::Velocity::Admit(const std::string& key, const std::string& customer,
                                     int64_t now_ms) {
  if (rule_.max_customers <= 0 || key.empty()) return true;
  const uint64_t k = digest_(key);
  const uint64_t who = digest_(customer);
  absl::MutexLock lock(&mu_);
  bool fresh;
  Seen& seen = keys_.Touch(k, now_ms, fresh);
  seen.erase(std::remove_if(seen.begin(), seen.end(),
                            [&](const auto& c) { return now_ms - c.second >= rule_.window_ms; }),
             seen.end());
  for (auto& [c, last_ms] : seen) {
    if (c == who) {
      last_ms = now_ms;
      return true;
    }
  }
  if (static_cast<int64_t>(seen.size()) >= rule_.max_customers) return false;
  seen.emplace_back(who, now_ms);
  return true;
}

LocalRiskRules::LocalRiskRules(RiskRepository* repository, const Clock* clock,
                               LocalRiskOptions options)
    : repository_(repository),
      clock_(clock),
      device_velocity_(options.device),
      ip_velocity_(options.ip) {}

absl::Status LocalRiskRules::Load() {
  ASSIGN_OR_RETURN(std::vector<BlockEntry> all, repository_->ListBlocked());
  absl::MutexLock lock(&mu_);
  blocked_.clear();
  for (BlockEntry& e : all) blocked_.emplace(e.kind, std::move(e.value));
  return absl::OkStatus();
}

bool LocalRiskRules::IsBlocked(BlockKind kind, const std::string& value) {
  if (value.empty()) return false;
  absl::MutexLock lock(&mu_);
  return blocked_.contains(std::pair<BlockKind, std::string>(kind, value));
}

RiskDecision LocalRiskRules::Evaluate(const RiskContext& c) {
  if (IsBlocked(BlockKind::kCustomer, c.external_id)) {
    return RiskDecision::Deny("blocked_customer");
  }
  if (IsBlocked(BlockKind::kDevice, c.device_id)) return RiskDecision::Deny("blocked_device");
  if (IsBlocked(BlockKind::kIp, c.ip)) return RiskDecision::Deny("blocked_ip");
  const int64_t now = clock_->NowMs();
  if (!device_velocity_.Admit(c.device_id, c.external_id, now)) {
    return RiskDecision::Deny("device_velocity");
  }
  if (!ip_velocity_.Admit(c.ip, c.external_id, now)) return RiskDecision::Deny("ip_velocity");
  return RiskDecision::Allow();
}

absl::StatusOr<std::vector<BlockEntry>> LocalRiskRules::Blocked() {
  return repository_->ListBlocked();
}

absl::Status LocalRiskRules::Block(BlockEntry entry) {
  if (entry.value.empty() || entry.value.size() > 128) {
    return absl::InvalidArgumentError("value: must be 1 to 128 bytes");
  }
  if (entry.reason.size() > 500) return absl::InvalidArgumentError("reason: at most 500 bytes");
  entry.created_ms = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(repository_->AddBlocked(entry));
  blocked_.emplace(entry.kind, std::move(entry.value));
  return absl::OkStatus();
}

absl::Status LocalRiskRules::Unblock(BlockKind kind, std::string_view value) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(repository_->RemoveBlocked(kind, value));
  blocked_.erase(std::pair<BlockKind, std::string>(kind, std::string(value)));
  return absl::OkStatus();
}

// --- DrawGuard -------------------------------------------------------------------------

DrawGuard::DrawGuard(RiskCheck* risk, const Clock* clock, DrawGuardOptions options)
    : risk_(risk),
      options_(options),
      per_customer_(options.per_customer, clock),
      per_device_(options.per_device, clock),
      per_ip_(options.per_ip, clock) {}

std::string DrawGuard::ClientIp(const DrawCall& call) const {
  if (options_.trust_forwarded_for && !call.forwarded_for.empty()) {
    std::string_view xff = call.forwarded_for;
    const size_t comma = xff.rfind(',');
    std::string_view last = Trim(comma == std::string_view::npos ? xff : xff.substr(comma + 1));
    if (!last.empty() && last.size() <= 64) return std::string(last);
  }
  return call.peer_ip;
}

void DrawGuard::Denied(const DrawCall& call, const std::string& reason) {
  Log(Severity::kWarn, "draw refused by the guard",
      {{"activity", std::to_string(call.activity_id)},
       {"customer", call.external_id},
       {"device", call.device_id},
       {"client.address", ClientIp(call)},
       {"reason", reason}});
  if (observer_) observer_(reason);
}

absl::Status DrawGuard::Admit(const DrawCall& call) {
  // Every bucket the draw uses is charged, even when an earlier one refuses: a flood from one
  // device spread over many customers still drains the device's bucket.
  auth::RateLimiter::Decision customer = per_customer_.Take(call.external_id);
  auth::RateLimiter::Decision device;
  if (!call.device_id.empty()) device = per_device_.Take(call.device_id);
  const std::string ip = ClientIp(call);
  auth::RateLimiter::Decision by_ip;
  if (!ip.empty()) by_ip = per_ip_.Take(ip);
  struct Refusal {
    const auth::RateLimiter::Decision* decision;
    const char* code;
    const char* what;
  };
  for (const Refusal& r : {Refusal{&customer, "rate_customer", "this customer"},
                           Refusal{&device, "rate_device", "this device"},
                           Refusal{&by_ip, "rate_ip", "this address"}}) {
    if (r.decision->allowed) continue;
    Denied(call, r.code);
    return WithRetryAfter(
        absl::ResourceExhaustedError(fmt::format("draw: too many draws from {}, retry in {} s",
                                                 r.what, r.decision->retry_after_seconds)),
        r.decision->retry_after_seconds);
  }
  return absl::OkStatus();
}

absl::Status DrawGuard::CheckRisk(const DrawCall& call) {
  if (risk_ == nullptr) return absl::OkStatus();
  RiskContext c;
  c.activity_id = call.activity_id;
  c.external_id = call.external_id;
  c.channel = call.channel;
  c.device_id = call.device_id;
  c.ip = ClientIp(call);
  RiskDecision d = risk_->Evaluate(c);
  if (d.allowed) return absl::OkStatus();
  if (d.reason.empty()) d.reason = "risk";
  Denied(call, d.reason);
  return absl::PermissionDeniedError(fmt::format("risk: draw refused ({})", d.reason));
}

}  // namespace mercator::activity
