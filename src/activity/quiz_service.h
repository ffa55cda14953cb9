// Quizzes for activities of the quiz template (activity/quiz_terms.h).
//
// The customer fetches the questions without their answers, submits one answer per question
// and gets the total score and pass or fail; the correct answers never leave the server. An
// attempt is recorded durably before it is acknowledged; attempts_per_day counts per local day
// of the activity. The first passing attempt carries the reward (a partial unique index in
// the store makes it the only one) granted through TemplateRewards with the key
// "activity:<id>:quiz:<uid>"; later passes earn nothing.
//
// Idempotency: the caller's key names one attempt; a retry returns the first result
// (replayed); the key with other answers is AlreadyExists.
//
// Errors: NotFound (activity, customer); FailedPrecondition "activity: ..." (not a quiz, not
// live); PermissionDenied "customer: not eligible ..."; InvalidArgument "answers...: ...";
// ResourceExhausted "quiz: no attempts left today".
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_ACTIVITY_QUIZ_SERVICE_H_
#define MERCATOR_ACTIVITY_QUIZ_SERVICE_H_

#include <boost/json.hpp>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "activity/activity_service.h"
#include "activity/quiz_terms.h"
#include "activity/template_rewards.h"
#include "common/clock.h"
#include "store/participation_repository.h"

namespace mercator::activity {

class QuizService {
 public:
  // None owned; all must outlive the service.
  QuizService(ActivityService* activities, ParticipationRepository* repository,
              TemplateRewards* rewards, const Clock* clock);
  QuizService(const QuizService&) = delete;
  QuizService& operator=(const QuizService&) = delete;

  // The questions without answers, the pass score, the reward, attempts left today and
  // whether the customer has passed.
  absl::StatusOr<boost::json::object> Questions(int64_t activity_id,
                                                const std::string& external_id);

  struct Outcome {
    QuizAttemptRecord attempt;
    bool replayed = false;
    int32_t max_score = 0;
    int32_t pass_score = 0;
    int32_t attempts_left_today = 0;
  };
  absl::StatusOr<Outcome> Submit(int64_t activity_id, const std::string& external_id,
                                 const std::string& channel, const std::string& idempotency_key,
                                 const boost::json::value& answers);

  // Operator figures: attempts, passes, pass rate, customers.
  absl::StatusOr<boost::json::object> Stats(int64_t activity_id);

 private:
  struct Context {
    ActivityService::Participant who;
    QuizSettings quiz;
  };
  absl::StatusOr<Context> Load(int64_t activity_id, const std::string& external_id);
  void Deliver(QuizAttemptRecord& attempt);

  ActivityService* const activities_;
  ParticipationRepository* const repository_;
  TemplateRewards* const rewards_;
  const Clock* const clock_;
};

// The JSON of an attempt's result as the app API answers it (no answers, no per-question
// marks).
boost::json::object QuizOutcomeToJson(const QuizService::Outcome& outcome);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_QUIZ_SERVICE_H_
