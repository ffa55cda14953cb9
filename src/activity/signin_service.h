// Daily sign-in (签到) for activities of the sign_in template (activity/signin_terms.h).
//
// One sign-in per customer per local day of the activity (its tz_offset_minutes), enforced by
// the store's unique constraint and recorded durably before it is acknowledged, together with
// the streak it reached and the reward it earned. The reward is then granted through
// TemplateRewards with the key "activity:<id>:sign_in:<uid>:<day>", so it is granted at most
// once per day whatever is retried; a grant that fails (e.g. a coupon template out of codes)
// stays pending and is retried when the same request is replayed.
//
// Idempotency: the caller's key names one sign-in of one customer; a retry returns the first
// result (replayed), even on a later day or after the activity ended; the key with another
// request (another make-up day, channel) is AlreadyExists.
//
// Errors: NotFound (activity, customer); FailedPrecondition "activity: ..." (not a sign-in
// activity, not live), "make_up: ..." (not offered, not a missed day of this cycle);
// PermissionDenied "customer: not eligible ..."; AlreadyExists "sign_in: already signed in
// ..."; ResourceExhausted "make_up: none left this cycle"; FailedPrecondition "points: ..."
// for a make-up the customer cannot pay.
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_ACTIVITY_SIGNIN_SERVICE_H_
#define MERCATOR_ACTIVITY_SIGNIN_SERVICE_H_

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "activity/activity_service.h"
#include "activity/signin_terms.h"
#include "activity/template_rewards.h"
#include "common/clock.h"
#include "store/participation_repository.h"

namespace mercator::reward {
class PointsLedger;
}  // namespace mercator::reward

namespace mercator::activity {

class SignInService {
 public:
  // None owned; all must outlive the service (`points` may be nullptr: make-ups that cost
  // points are then Unavailable).
  SignInService(ActivityService* activities, ParticipationRepository* repository,
                TemplateRewards* rewards, reward::PointsLedger* points, const Clock* clock);
  SignInService(const SignInService&) = delete;
  SignInService& operator=(const SignInService&) = delete;

  struct Outcome {
    SignInRecord record;
    bool replayed = false;
  };
  // Signs `external_id` in for today, or with `make_up_day` for that missed day of the
  // current cycle.
  absl::StatusOr<Outcome> SignIn(int64_t activity_id, const std::string& external_id,
                                 const std::string& channel, const std::string& idempotency_key,
                                 std::optional<int64_t> make_up_day);

  // This cycle's calendar for the customer: days signed, the streak, the next reward, the
  // make-ups left.
  absl::StatusOr<boost::json::object> Calendar(int64_t activity_id, const std::string& external_id);

  // Operator figures: sign-ins per day, customers by current streak, make-ups.
  absl::StatusOr<boost::json::object> Stats(int64_t activity_id);

 private:
  struct Context {
    ActivityService::Participant who;
    SignInSettings settings;
  };
  absl::StatusOr<Context> Load(int64_t activity_id, const std::string& external_id);
  // Grants a recorded reward that is still pending; the record is updated on success.
  void Deliver(SignInRecord& record);

  ActivityService* const activities_;
  ParticipationRepository* const repository_;
  TemplateRewards* const rewards_;
  reward::PointsLedger* const points_;
  const Clock* const clock_;
};

// The JSON of a sign-in as the app API answers it.
boost::json::object SignInToJson(const SignInRecord& record);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_SIGNIN_SERVICE_H_
