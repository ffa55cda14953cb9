// The eligibility verification hook: before admitting a customer, an activity may ask a bank
// system (VerificationHook in activity.h) with an HTTP POST of
//   {"activity_id": 7, "customer": "<external id>", "channel": "app"}
// expecting 200 with {"eligible": true|false, "reason": "..."}. Answers are cached per
// (hook URL, activity, customer) for the hook's cache_seconds. A timeout, a transport error, a
// non-200 status or an unreadable body is a failure, and the hook's declared policy decides:
// fail_open admits (and logs), fail_closed refuses with "verification unavailable". Failures
// are not cached, so the next request asks again.
//
// Thread safety: safe for concurrent use. Calls to the bank are made on the caller's thread
// without holding a lock.
#ifndef MERCATOR_ACTIVITY_VERIFICATION_H_
#define MERCATOR_ACTIVITY_VERIFICATION_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "activity/activity.h"
#include "common/clock.h"
#include "http/http_client.h"

namespace mercator::activity {

class EligibilityVerifier {
 public:
  virtual ~EligibilityVerifier() = default;
  // OK to admit; PermissionDenied "customer: not eligible: <reason>" to refuse.
  virtual absl::Status Verify(const VerificationHook& hook, int64_t activity_id,
                              const std::string& external_id, const std::string& channel) = 0;
};

struct HttpVerifierOptions {
  size_t max_cached = 100000;  // entries; expired ones are dropped first when full
};

class HttpEligibilityVerifier final : public EligibilityVerifier {
 public:
  // `client` and `clock` are not owned and must outlive the verifier.
  HttpEligibilityVerifier(http::HttpClient* client, const Clock* clock,
                          HttpVerifierOptions options = {});
  HttpEligibilityVerifier(const HttpEligibilityVerifier&) = delete;
  HttpEligibilityVerifier& operator=(const HttpEligibilityVerifier&) = delete;

  absl::Status Verify(const VerificationHook& hook, int64_t activity_id,
                      const std::string& external_id, const std::string& channel) override;

 private:
  struct Answer {
    bool eligible = false;
    std::string reason;
    int64_t expires_ms = 0;
  };
  // The bank's answer, or the failure (not an answer).
  absl::StatusOr<Answer> Ask(const VerificationHook& hook, int64_t activity_id,
                             const std::string& external_id, const std::string& channel);

  http::HttpClient* const client_;
  const Clock* const clock_;
  const HttpVerifierOptions options_;
  absl::Mutex mu_;  // a leaf: never held while calling out
  std::map<std::tuple<std::string, int64_t, std::string>, Answer> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_VERIFICATION_H_
