// Storage of what customers do in activities besides drawing: daily sign-ins (签到), quiz
// attempts and task completions that earn extra draw chances (activity/signin_service.h,
// quiz_service.h, tasks_service.h hold the rules; tables of migration 0012_activity_tasks).
//
// Every write is one transaction that is durable (fsynced) when the call returns, so a caller
// acknowledges only what survives a crash. Writes that depend on what the customer did before
// (the streak, attempts today) take a `decide` callback that runs inside the write
// transaction with the customer's earlier records, so two concurrent requests cannot both act
// on the same history. `decide` must not call back into the repository.
//
// Idempotency: a sign-in and a quiz attempt carry the caller's key and a digest of the
// request. The same key again returns the first record (replayed = true) without calling
// `decide`; the same key with another digest is AlreadyExists "idempotency_key: ...".
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_PARTICIPATION_REPOSITORY_H_
#define MERCATOR_STORE_PARTICIPATION_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mercator {

// A reward recorded with a sign-in or quiz attempt: none, recorded but not yet handed to the
// points ledger or coupon service, or handed over.
enum class RewardState { kNone, kPending, kGranted };
std::string_view RewardStateName(RewardState state);

struct SignInRecord {
  int64_t activity_id = 0;
  uint32_t uid = 0;
  int64_t day = 0;  // local day number
  bool make_up = false;
  int32_t streak = 1;       // the streak this sign-in reached
  std::string reward_json;  // the reward earned, canonical JSON; empty: none
  RewardState reward_state = RewardState::kNone;
  std::string reward_note;   // what delivered it (points entry, coupon code id) or why not yet
  int64_t points_spent = 0;  // a make-up's cost
  std::string idempotency_key;
  std::string request_digest;
  int64_t at_ms = 0;
};

struct SignInWriteResult {
  SignInRecord record;
  bool replayed = false;
};

struct QuizAttemptRecord {
  int64_t id = 0;
  int64_t activity_id = 0;
  uint32_t uid = 0;
  int64_t day = 0;
  int32_t score = 0;
  bool passed = false;
  bool rewarded = false;  // the customer's first pass, which carries the reward
  std::string reward_json;
  RewardState reward_state = RewardState::kNone;
  std::string reward_note;
  std::string idempotency_key;
  std::string request_digest;
  int64_t at_ms = 0;
};

struct QuizHistory {
  int32_t attempts_today = 0;
  bool passed_before = false;  // a rewarded pass exists
};

struct QuizWriteResult {
  QuizAttemptRecord attempt;
  bool replayed = false;
};

struct TaskCompletionRecord {
  int64_t activity_id = 0;
  uint32_t uid = 0;
  std::string task_id;
  int64_t period = 0;  // the local day for daily tasks, 0 for once-only tasks
  std::string event_id;
  int32_t extra_chances = 0;
  int64_t credit_day = 0;  // the local day whose chances it raises
  int64_t occurred_ms = 0;
  int64_t at_ms = 0;
};

struct TaskWriteResult {
  enum class Outcome {
    kCredited,          // new: the chances were added
    kReplayed,          // the same event was reported before: the first completion
    kAlreadyCompleted,  // another event completed the task in this period: nothing added
  } outcome = Outcome::kCredited;
  TaskCompletionRecord record;  // the stored completion (the earlier one unless kCredited)
};

struct SignInStats {
  std::map<int64_t, int64_t> per_day;          // local day -> sign-ins (make-ups included)
  std::map<int32_t, int64_t> current_streaks;  // streak of each customer's latest day -> customers
  int64_t customers = 0;
  int64_t make_ups = 0;
};

struct QuizStats {
  int64_t attempts = 0;
  int64_t passed_attempts = 0;
  int64_t customers = 0;
  int64_t customers_passed = 0;
};

struct TaskStats {
  std::string task_id;
  int64_t completions = 0;
  int64_t customers = 0;
  int64_t chances_credited = 0;
};

class ParticipationRepository {
 public:
  virtual ~ParticipationRepository() = default;

  // --- sign-ins ---
  // `decide` gets the customer's sign-ins with day in [from_day, to_day] (ascending) and
  // returns the record to insert (its activity, uid, key and digest are set from the
  // arguments). A record for a day already signed is AlreadyExists "sign_in: ...".
  using SignInDecision =
      std::function<absl::StatusOr<SignInRecord>(const std::vector<SignInRecord>& earlier)>;
  virtual absl::StatusOr<SignInWriteResult> SignIn(int64_t activity_id, uint32_t uid,
                                                   std::string_view idempotency_key,
                                                   std::string_view request_digest,
                                                   int64_t from_day, int64_t to_day,
                                                   const SignInDecision& decide) = 0;
  virtual absl::StatusOr<std::optional<SignInRecord>> FindSignIn(
      int64_t activity_id, uint32_t uid, std::string_view idempotency_key) = 0;
  // Ascending by day.
  virtual absl::StatusOr<std::vector<SignInRecord>> SignIns(int64_t activity_id, uint32_t uid,
                                                            int64_t from_day, int64_t to_day) = 0;
  virtual absl::Status SetSignInReward(int64_t activity_id, uint32_t uid, int64_t day,
                                       RewardState state, std::string_view note) = 0;
  virtual absl::StatusOr<SignInStats> SignInStatsOf(int64_t activity_id) = 0;

  // --- quiz attempts ---
  // `decide` gets the customer's attempts on `day` and whether a rewarded pass exists, and
  // returns the attempt to insert (id assigned here).
  using QuizDecision = std::function<absl::StatusOr<QuizAttemptRecord>(const QuizHistory& history)>;
  virtual absl::StatusOr<QuizWriteResult> RecordQuizAttempt(int64_t activity_id, uint32_t uid,
                                                            std::string_view idempotency_key,
                                                            std::string_view request_digest,
                                                            int64_t day,
                                                            const QuizDecision& decide) = 0;
  virtual absl::StatusOr<std::optional<QuizAttemptRecord>> FindQuizAttempt(
      int64_t activity_id, uint32_t uid, std::string_view idempotency_key) = 0;
  virtual absl::StatusOr<QuizHistory> QuizHistoryOf(int64_t activity_id, uint32_t uid,
                                                    int64_t day) = 0;
  virtual absl::Status SetQuizReward(int64_t attempt_id, RewardState state,
                                     std::string_view note) = 0;
  virtual absl::StatusOr<QuizStats> QuizStatsOf(int64_t activity_id) = 0;

  // --- tasks ---
  // Records the completion unless the same (task, event) was recorded (kReplayed) or the task
  // was completed in `record.period` by another event (kAlreadyCompleted).
  virtual absl::StatusOr<TaskWriteResult> CompleteTask(const TaskCompletionRecord& record) = 0;
  // The extra chances credited to `credit_day`.
  virtual absl::StatusOr<int32_t> ExtraChances(int64_t activity_id, uint32_t uid,
                                               int64_t credit_day) = 0;
  virtual absl::StatusOr<std::vector<TaskStats>> TaskStatsOf(int64_t activity_id) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_PARTICIPATION_REPOSITORY_H_
