#include "activity/quiz_service.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <utility>

#include "activity/signin_terms.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace mercator::activity {

namespace json = boost::json;

namespace {

json::value RewardOf(const std::string& reward_json) {
  if (reward_json.empty()) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(reward_json, ec);
  return ec ? json::value() : v;
}

}  // namespace

json::object QuizOutcomeToJson(const QuizService::Outcome& o) {
  const QuizAttemptRecord& a = o.attempt;
  return json::object{{"attempt_id", a.id},
                      {"score", a.score},
                      {"max_score", o.max_score},
                      {"pass_score", o.pass_score},
                      {"passed", a.passed},
                      {"rewarded", a.rewarded},
                      {"reward", a.rewarded ? RewardOf(a.reward_json) : json::value()},
                      {"reward_state", RewardStateName(a.reward_state)},
                      {"attempts_left_today", o.attempts_left_today},
                      {"replayed", o.replayed}};
}

QuizService::QuizService(ActivityService* activities, ParticipationRepository* repository,
                         TemplateRewards* rewards, const Clock* clock)
    : activities_(activities), repository_(repository), rewards_(rewards), clock_(clock) {}

absl::StatusOr<QuizService::Context> QuizService::Load(int64_t activity_id,
                                                       const std::string& external_id) {
  Context ctx;
  ASSIGN_OR_RETURN(ctx.who, activities_->FindParticipant(activity_id, external_id));
  const Published& p = *ctx.who.activity;
  if (p.engine != TemplateEngine::kQuiz) {
    return absl::FailedPreconditionError(
        fmt::format("activity: a {} activity has no quiz", p.terms.display.template_name));
  }
  ASSIGN_OR_RETURN(ctx.quiz, ParseQuizSettings(p.terms.display.settings));
  return ctx;
}

void QuizService::Deliver(QuizAttemptRecord& a) {
  if (a.reward_state != RewardState::kPending) return;
  absl::StatusOr<std::string> note = [&]() -> absl::StatusOr<std::string> {
    boost::system::error_code ec;
    json::value doc = json::parse(a.reward_json, ec);
    if (ec) return absl::DataLossError("reward is not JSON");
    ASSIGN_OR_RETURN(RewardSpec spec, ParseRewardSpec(doc, "reward"));
    return rewards_->Grant(spec, a.uid, fmt::format("activity:{}:quiz:{}", a.activity_id, a.uid),
                           fmt::format("activity {} quiz passed", a.activity_id), a.at_ms);
  }();
  if (!note.ok()) {
    Log(Severity::kWarn, "quiz reward not granted yet",
        {{"activity", std::to_string(a.activity_id)},
         {"attempt", std::to_string(a.id)},
         {"error", std::string(note.status().message())}});
    return;
  }
  if (absl::Status s = repository_->SetQuizReward(a.id, RewardState::kGranted, *note); !s.ok()) {
    Log(Severity::kWarn, "quiz reward granted but not marked",
        {{"attempt", std::to_string(a.id)}, {"error", std::string(s.message())}});
    return;
  }
  a.reward_state = RewardState::kGranted;
  a.reward_note = *std::move(note);
}

absl::StatusOr<json::object> QuizService::Questions(int64_t activity_id,
                                                    const std::string& external_id) {
  ASSIGN_OR_RETURN(Context ctx, Load(activity_id, external_id));
  const Published& p = *ctx.who.activity;
  RETURN_IF_ERROR(activities_->CheckCanTakePart(p, ctx.who.customer, nullptr));
  const int64_t today = LocalDay(clock_->NowMs(), p.terms.tz_offset_minutes);
  ASSIGN_OR_RETURN(QuizHistory h,
                   repository_->QuizHistoryOf(activity_id, ctx.who.customer.uid, today));
  return json::object{
      {"activity_id", activity_id},
      {"title", p.terms.display.title},
      {"questions", PublicQuestions(ctx.quiz)},
      {"max_score", MaxScore(ctx.quiz)},
      {"pass_score", ctx.quiz.pass_score},
      {"reward", RewardSpecToJson(ctx.quiz.reward)},
      {"attempts_per_day", ctx.quiz.attempts_per_day},
      {"attempts_left_today", std::max(0, ctx.quiz.attempts_per_day - h.attempts_today)},
      {"passed", h.passed_before}};
}

absl::StatusOr<QuizService::Outcome> QuizService::Submit(int64_t activity_id,
                                                         const std::string& external_id,
                                                         const std::string& channel,
                                                         const std::string& idempotency_key,
                                                         const json::value& answers_json) {
  ASSIGN_OR_RETURN(Context ctx, Load(activity_id, external_id));
  const Published& p = *ctx.who.activity;
  const uint32_t uid = ctx.who.customer.uid;
  ASSIGN_OR_RETURN(std::vector<std::vector<int32_t>> answers,
                   ParseQuizAnswers(ctx.quiz, answers_json));
  json::array canonical;
  for (const auto& chosen : answers) {
    json::array a;
    for (int32_t i : chosen) a.emplace_back(i);
    canonical.emplace_back(std::move(a));
  }
  const std::string digest = Sha256Hex(
      fmt::format("quiz|{}|{}|{}|{}", activity_id, uid, channel, json::serialize(canonical)));
  const int64_t now = clock_->NowMs();
  const int64_t today = LocalDay(now, p.terms.tz_offset_minutes);
  Outcome out;
  out.max_score = MaxScore(ctx.quiz);
  out.pass_score = ctx.quiz.pass_score;

  // A retry answers with the first result, whatever happened since.
  ASSIGN_OR_RETURN(std::optional<QuizAttemptRecord> first,
                   repository_->FindQuizAttempt(activity_id, uid, idempotency_key));
  if (!first) RETURN_IF_ERROR(activities_->CheckCanTakePart(p, ctx.who.customer, &channel));
  const int32_t score = ScoreQuiz(ctx.quiz, answers);
  const QuizSettings& quiz = ctx.quiz;
  ASSIGN_OR_RETURN(QuizWriteResult written,
                   repository_->RecordQuizAttempt(
                       activity_id, uid, idempotency_key, digest, today,
                       [&](const QuizHistory& h) -> absl::StatusOr<QuizAttemptRecord> {
                         if (h.attempts_today >= quiz.attempts_per_day) {
                           return absl::ResourceExhaustedError(fmt::format(
                               "quiz: no attempts left today ({} a day)", quiz.attempts_per_day));
                         }
                         QuizAttemptRecord r;
                         r.score = score;
                         r.passed = score >= quiz.pass_score;
                         r.rewarded = r.passed && !h.passed_before;
                         if (r.rewarded) {
                           r.reward_json = json::serialize(RewardSpecToJson(quiz.reward));
                           r.reward_state = RewardState::kPending;
                         }
                         r.at_ms = now;
                         return r;
                       }));
  out.attempt = std::move(written.attempt);
  out.replayed = written.replayed;
  Deliver(out.attempt);
  ASSIGN_OR_RETURN(QuizHistory after, repository_->QuizHistoryOf(activity_id, uid, today));
  out.attempts_left_today = std::max(0, quiz.attempts_per_day - after.attempts_today);
  return out;
}

absl::StatusOr<json::object> QuizService::Stats(int64_t activity_id) {
  ASSIGN_OR_RETURN(QuizStats s, repository_->QuizStatsOf(activity_id));
  return json::object{
      {"attempts", s.attempts},
      {"passed_attempts", s.passed_attempts},
      {"pass_rate", s.attempts > 0 ? static_cast<double>(s.passed_attempts) / s.attempts : 0.0},
      {"customers", s.customers},
      {"customers_passed", s.customers_passed}};
}

}  // namespace mercator::activity
