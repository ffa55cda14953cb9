// The draw guard: rate limits per customer, device and client IP, and a pluggable risk check,
// applied to every draw before chances or points are touched.
//
// Rate limits are token buckets (auth/rate_limiter.h), one family per key kind. A draw over a
// limit is ResourceExhausted "draw: too many draws ..." carrying a Retry-After
// (common/retry_after.h), which the API sends as 429 with a Retry-After header. Draws without a
// device id skip the device limit.
//
// The client IP is the TCP peer, unless the guard is configured to trust the proxy in front of
// the server: then the right-most address of X-Forwarded-For (the one that proxy appended) is
// the client. Note that app back-ends calling the draw API server to server are the peer
// themselves: per-IP limits and IP velocity only see customers' addresses through a trusted
// proxy or gateway that forwards them.
//
// The risk check (RiskCheck) decides allow / deny with a reason code. The default,
// LocalRiskRules, refuses black-listed customers, devices and IPs (a list staff manage, kept
// in storage and mirrored in memory) and applies velocity rules: one device (or IP) used by
// more than N distinct customers within a window is refused for further customers. A denial is
// PermissionDenied "risk: draw refused (<reason>)", counted through the observer (a Prometheus
// counter by reason in the App) and logged.
//
// Thread safety: every class here is safe for concurrent use.
#ifndef MERCATOR_ACTIVITY_DRAW_GUARD_H_
#define MERCATOR_ACTIVITY_DRAW_GUARD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "activity/draw_call.h"
#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/two_generations.h"
#include "store/risk_repository.h"

namespace mercator::activity {

// What the risk check sees of a draw.
struct RiskContext {
  int64_t activity_id = 0;
  std::string external_id;
  std::string channel;
  std::string device_id;  // empty: not given
  std::string ip;         // the resolved client address
};

struct RiskDecision {
  bool allowed = true;
  // A stable code when denied ("blocked_customer", "blocked_device", "blocked_ip",
  // "device_velocity", "ip_velocity", or an implementation's own), used as the metric label.
  std::string reason;

  static RiskDecision Allow() { return {}; }
  static RiskDecision Deny(std::string reason) { return RiskDecision{false, std::move(reason)}; }
};

// A pluggable risk decision (a vendor's risk engine may replace the local rules).
class RiskCheck {
 public:
  virtual ~RiskCheck() = default;
  // Called for draws that passed the rate limits and eligibility, before chances are used.
  // Must be fast: it runs on the request path.
  virtual RiskDecision Evaluate(const RiskContext& context) = 0;
};

struct VelocityRule {
  // More than this many distinct customers on one key within the window: further customers
  // are refused (those already seen keep drawing). 0: the rule is off.
  int32_t max_customers = 0;
  int64_t window_ms = 24LL * 3600 * 1000;
  // Keys are kept in two generations of one window each: a key unseen for a window counts
  // nobody and is dropped with its generation, with no sweep. A generation that reaches this
  // many keys ends early, so memory stays bounded (about 60 bytes a key, two generations at
  // most); the rule then remembers at least the last max_keys keys rather than a whole window.
  size_t max_keys = 100000;
};

struct LocalRiskOptions {
  VelocityRule device{5, 24LL * 3600 * 1000, 100000};
  // Off by default: without a trusted proxy every draw comes from the app back-end's address.
  VelocityRule ip{0, 3600LL * 1000, 100000};
};

// The default risk check: the black list and the velocity rules.
class LocalRiskRules final : public RiskCheck {
 public:
  // `repository` and `clock` are not owned and must outlive the rules.
  LocalRiskRules(RiskRepository* repository, const Clock* clock, LocalRiskOptions options = {});
  LocalRiskRules(const LocalRiskRules&) = delete;
  LocalRiskRules& operator=(const LocalRiskRules&) = delete;

  // Reads the black list from storage (start-up).
  absl::Status Load();

  RiskDecision Evaluate(const RiskContext& context) override;

  // The black list, for staff. Block: InvalidArgument for an empty or over-long value
  // (1..128 bytes) or reason (at most 500), AlreadyExists if listed. Unblock: NotFound.
  absl::StatusOr<std::vector<BlockEntry>> Blocked();
  absl::Status Block(BlockEntry entry);
  absl::Status Unblock(BlockKind kind, std::string_view value);

 private:
  // Customers seen per key (device or IP) with the last time each was seen.
  class Velocity {
   public:
    explicit Velocity(VelocityRule rule) : rule_(rule), keys_(rule.window_ms, rule.max_keys) {}
    // Records `customer` on `key` at `now_ms` unless that makes too many: false then.
    bool Admit(const std::string& key, const std::string& customer, int64_t now_ms);

   private:
    const VelocityRule rule_;
    const KeyedDigest64 digest_;  // keys and customers are kept as their digests
    absl::Mutex mu_;
    // Per key: (customer, last seen) pairs, at most max_customers live ones.
    using Seen = absl::InlinedVector<std::pair<uint64_t, int64_t>, 2>;
    TwoGenerations<Seen> keys_ ABSL_GUARDED_BY(mu_);
  };

  bool IsBlocked(BlockKind kind, const std::string& value) ABSL_LOCKS_EXCLUDED(mu_);

  RiskRepository* const repository_;
  const Clock* const clock_;
  // Lock order: mu_ and each Velocity's mu_ are leaves, never held together. Writes to the
  // repository happen under mu_ so memory and storage change in the same order.
  absl::Mutex mu_;
  std::set<std::pair<BlockKind, std::string>, std::less<>> blocked_ ABSL_GUARDED_BY(mu_);
  Velocity device_velocity_;
  Velocity ip_velocity_;
};

struct DrawGuardOptions {
  // Draws per second (refill) and burst, per key.
  auth::RateLimiter::Options per_customer = {5.0, 10.0, 100000};
  auth::RateLimiter::Options per_device = {5.0, 10.0, 100000};
  auth::RateLimiter::Options per_ip = {100.0, 200.0, 100000};
  // Take the client address from X-Forwarded-For (right-most entry): only when a proxy the
  // operator controls sits in front of the server and overwrites the header.
  bool trust_forwarded_for = false;
};

class DrawGuard {
 public:
  // `risk` may be nullptr (no risk check); `risk` and `clock` are not owned and must outlive
  // the guard.
  DrawGuard(RiskCheck* risk, const Clock* clock, DrawGuardOptions options = {});
  DrawGuard(const DrawGuard&) = delete;
  DrawGuard& operator=(const DrawGuard&) = delete;

  // The client address of a call (see the header comment).
  std::string ClientIp(const DrawCall& call) const;

  // Takes a token from the customer's, the device's and the IP's buckets (all three, so a
  // flood is counted on every key it uses). ResourceExhausted with Retry-After if any is empty.
  absl::Status Admit(const DrawCall& call);

  // Runs the risk check: PermissionDenied "risk: draw refused (<reason>)" when denied.
  absl::Status CheckRisk(const DrawCall& call);

  // Called with the reason of every denial ("rate_customer", "rate_device", "rate_ip" for
  // rate limits, the risk check's code otherwise). Set before serving; must be thread-safe.
  void SetDenialObserver(std::function<void(const std::string& reason)> observer) {
    observer_ = std::move(observer);
  }

 private:
  void Denied(const DrawCall& call, const std::string& reason);

  RiskCheck* const risk_;
  const DrawGuardOptions options_;
  auth::RateLimiter per_customer_;
  auth::RateLimiter per_device_;
  auth::RateLimiter per_ip_;
  std::function<void(const std::string&)> observer_;
};

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_DRAW_GUARD_H_
