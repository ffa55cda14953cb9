#include "activity/signin_service.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "common/digest.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "reward/points_ledger.h"

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

json::object SignInToJson(const SignInRecord& r) {
  return json::object{{"date", DayDate(r.day)},
                      {"make_up", r.make_up},
                      {"streak", r.streak},
                      {"reward", RewardOf(r.reward_json)},
                      {"reward_state", RewardStateName(r.reward_state)},
                      {"points_spent", r.points_spent}};
}

SignInService::SignInService(ActivityService* activities, ParticipationRepository* repository,
                             TemplateRewards* rewards, reward::PointsLedger* points,
                             const Clock* clock)
    : activities_(activities),
      repository_(repository),
      rewards_(rewards),
      points_(points),
      clock_(clock) {}

absl::StatusOr<SignInService::Context> SignInService::Load(int64_t activity_id,
                                                           const std::string& external_id) {
  Context ctx;
  ASSIGN_OR_RETURN(ctx.who, activities_->FindParticipant(activity_id, external_id));
  const Published& p = *ctx.who.activity;
  if (p.engine != TemplateEngine::kSignIn) {
    return absl::FailedPreconditionError(
        fmt::format("activity: a {} activity has no sign-in", p.terms.display.template_name));
  }
  // Validated when the terms were accepted; parsed again because the registry keeps settings
  // as JSON (a few microseconds).
  ASSIGN_OR_RETURN(ctx.settings, ParseSignInSettings(p.terms.display.settings));
  return ctx;
}

void SignInService::Deliver(SignInRecord& r) {
  if (r.reward_state != RewardState::kPending) return;
  boost::system::error_code ec;
  json::value doc = json::parse(r.reward_json, ec);
  absl::StatusOr<RewardSpec> spec =
      ec ? absl::DataLossError("reward is not JSON") : ParseRewardSpec(doc, "reward");
  absl::StatusOr<std::string> note =
      spec.ok()
          ? rewards_->Grant(
                *spec, r.uid, fmt::format("activity:{}:sign_in:{}:{}", r.activity_id, r.uid, r.day),
                fmt::format("activity {} sign-in {}", r.activity_id, DayDate(r.day)), r.at_ms)
          : spec.status();
  if (!note.ok()) {
    // The sign-in stands; the reward stays pending and is retried on the next replay.
    Log(Severity::kWarn, "sign-in reward not granted yet",
        {{"activity", std::to_string(r.activity_id)},
         {"day", DayDate(r.day)},
         {"error", std::string(note.status().message())}});
    return;
  }
  if (absl::Status s =
          repository_->SetSignInReward(r.activity_id, r.uid, r.day, RewardState::kGranted, *note);
      !s.ok()) {
    // Granted (idempotently): a later replay grants again with the same key, a no-op.
    Log(Severity::kWarn, "sign-in reward granted but not marked",
        {{"activity", std::to_string(r.activity_id)}, {"error", std::string(s.message())}});
    return;
  }
  r.reward_state = RewardState::kGranted;
  r.reward_note = *std::move(note);
}

absl::StatusOr<SignInService::Outcome> SignInService::SignIn(int64_t activity_id,
                                                             const std::string& external_id,
                                                             const std::string& channel,
                                                             const std::string& idempotency_key,
                                                             std::optional<int64_t> make_up_day) {
  ASSIGN_OR_RETURN(Context ctx, Load(activity_id, external_id));
  const Published& p = *ctx.who.activity;
  const uint32_t uid = ctx.who.customer.uid;
  const std::string digest =
      Sha256Hex(fmt::format("sign_in|{}|{}|{}|{}", activity_id, uid, channel,
                            make_up_day ? DayDate(*make_up_day) : std::string("today")));
  // A retry answers with the first result, whatever happened since.
  ASSIGN_OR_RETURN(std::optional<SignInRecord> first,
                   repository_->FindSignIn(activity_id, uid, idempotency_key));
  if (first) {
    if (first->request_digest != digest) {
      return absl::AlreadyExistsError(
          "idempotency_key: already used for a different request (send a new key)");
    }
    Deliver(*first);
    return Outcome{*std::move(first), true};
  }
  RETURN_IF_ERROR(activities_->CheckCanTakePart(p, ctx.who.customer, &channel));

  const int64_t now = clock_->NowMs();
  const int32_t tz = p.terms.tz_offset_minutes;
  const int64_t today = LocalDay(now, tz);
  const int64_t start_day = LocalDay(p.terms.eligibility.start_ms, tz);
  const SignInCycle cycle = CycleOf(start_day, ctx.settings.cycle_days, today);
  const SignInSettings& settings = ctx.settings;
  const int64_t day = make_up_day.value_or(today);

  // A make-up: a missed earlier day of this cycle, paid before it is recorded (and refunded
  // if it is not).
  std::optional<PointsEntry> spent;
  const std::string spend_key = fmt::format("activity:{}:make_up:{}", activity_id, idempotency_key);
  if (make_up_day) {
    if (settings.make_ups_per_cycle == 0) {
      return absl::FailedPreconditionError("make_up: this activity does not offer make-ups");
    }
    if (day >= today || day < cycle.first_day || day < start_day) {
      return absl::FailedPreconditionError(
          fmt::format("make_up: only a missed day of this cycle before today ({} to {})",
                      DayDate(std::max(cycle.first_day, start_day)), DayDate(today - 1)));
    }
    // Checked again in the transaction; this spares a spend and refund in the usual refusal.
    ASSIGN_OR_RETURN(std::vector<SignInRecord> earlier,
                     repository_->SignIns(activity_id, uid, cycle.first_day, cycle.last_day));
    const auto make_ups = std::count_if(earlier.begin(), earlier.end(),
                                        [](const SignInRecord& r) { return r.make_up; });
    if (make_ups >= settings.make_ups_per_cycle) {
      return absl::ResourceExhaustedError("make_up: none left this cycle");
    }
    if (settings.make_up_points_cost > 0) {
      if (points_ == nullptr) return absl::UnavailableError("the points ledger is not configured");
      absl::StatusOr<PointsEntry> e =
          points_->Spend(uid, settings.make_up_points_cost,
                         fmt::format("activity {} make-up {}", activity_id, DayDate(day)),
                         spend_key, "system:activity");
      if (absl::IsFailedPrecondition(e.status())) {
        return absl::FailedPreconditionError(fmt::format(
            "points: not enough points for a make-up ({} needed)", settings.make_up_points_cost));
      }
      if (!e.ok()) return e.status();
      spent = *e;
    }
  }

  auto decide = [&](const std::vector<SignInRecord>& earlier) -> absl::StatusOr<SignInRecord> {
    std::vector<int64_t> days;
    int32_t make_ups = 0;
    for (const SignInRecord& r : earlier) {
      if (r.day == day) {
        return absl::AlreadyExistsError(
            make_up_day ? fmt::format("sign_in: already signed in on {}", DayDate(day))
                        : std::string("sign_in: already signed in today"));
      }
      days.push_back(r.day);
      make_ups += r.make_up ? 1 : 0;
    }
    if (make_up_day && make_ups >= settings.make_ups_per_cycle) {
      return absl::ResourceExhaustedError("make_up: none left this cycle");
    }
    SignInRecord r;
    r.day = day;
    r.make_up = make_up_day.has_value();
    r.streak = StreakOn(settings, days, cycle, day);
    r.at_ms = now;
    r.points_spent = spent ? settings.make_up_points_cost : 0;
    if (!r.make_up) {
      if (const StreakReward* reward = RewardForStreak(settings, r.streak)) {
        r.reward_json = json::serialize(RewardSpecToJson(reward->reward));
        r.reward_state = RewardState::kPending;
      }
    }
    return r;
  };
  absl::StatusOr<SignInWriteResult> written = repository_->SignIn(
      activity_id, uid, idempotency_key, digest, cycle.first_day, cycle.last_day, decide);
  if (spent && (!written.ok() || written->replayed)) {
    absl::StatusOr<PointsEntry> back =
        points_->Reverse(spent->id, spend_key + ":refund", "system:activity");
    if (!back.ok()) {
      Log(Severity::kError, "points of a refused make-up not refunded",
          {{"activity", std::to_string(activity_id)},
           {"entry", std::to_string(spent->id)},
           {"error", std::string(back.status().message())}});
    }
  }
  RETURN_IF_ERROR(written.status());
  Outcome out{std::move(written->record), written->replayed};
  Deliver(out.record);
  return out;
}

absl::StatusOr<json::object> SignInService::Calendar(int64_t activity_id,
                                                     const std::string& external_id) {
  ASSIGN_OR_RETURN(Context ctx, Load(activity_id, external_id));
  const Published& p = *ctx.who.activity;
  const SignInSettings& settings = ctx.settings;
  const int32_t tz = p.terms.tz_offset_minutes;
  const int64_t today = LocalDay(clock_->NowMs(), tz);
  const int64_t start_day = LocalDay(p.terms.eligibility.start_ms, tz);
  const SignInCycle cycle = CycleOf(start_day, settings.cycle_days, today);
  ASSIGN_OR_RETURN(
      std::vector<SignInRecord> records,
      repository_->SignIns(activity_id, ctx.who.customer.uid, cycle.first_day, cycle.last_day));
  std::vector<int64_t> signed_days;
  int32_t make_ups = 0;
  const SignInRecord* today_record = nullptr;
  for (const SignInRecord& r : records) {
    signed_days.push_back(r.day);
    make_ups += r.make_up ? 1 : 0;
    if (r.day == today) today_record = &r;
  }
  // The streak as it stands: today's if signed, else the one a sign-in today would continue.
  const int32_t streak = today_record != nullptr
                             ? today_record->streak
                             : StreakOn(settings, signed_days, cycle, today) - 1;

  // The next reward: from the next sign-in on, signing every day.
  json::value next = nullptr;
  const int64_t next_day = today_record != nullptr ? today + 1 : today;
  const SignInCycle next_cycle = CycleOf(start_day, settings.cycle_days, next_day);
  std::vector<int64_t> with_today = signed_days;
  const int32_t next_streak =
      next_cycle.index == cycle.index ? StreakOn(settings, with_today, cycle, next_day) : 1;
  for (const StreakReward& r : settings.streak_rewards) {
    if (r.day < next_streak) continue;
    const int64_t on = next_day + (r.day - next_streak);
    if (on > next_cycle.last_day || on >= LocalDay(p.terms.eligibility.end_ms - 1, tz) + 1) break;
    next = json::object{
        {"streak_day", r.day}, {"date", DayDate(on)}, {"reward", RewardSpecToJson(r.reward)}};
    break;
  }

  json::array days;
  for (int64_t d = cycle.first_day; d <= cycle.last_day; ++d) {
    json::object o{{"date", DayDate(d)}, {"today", d == today}, {"signed", false}};
    for (const SignInRecord& r : records) {
      if (r.day != d) continue;
      o["signed"] = true;
      o["make_up"] = r.make_up;
      o["streak"] = r.streak;
      o["reward"] = RewardOf(r.reward_json);
      o["reward_state"] = RewardStateName(r.reward_state);
    }
    days.push_back(std::move(o));
  }
  json::array rewards;
  for (const StreakReward& r : settings.streak_rewards) {
    rewards.push_back(json::object{{"day", r.day}, {"reward", RewardSpecToJson(r.reward)}});
  }
  return json::object{
      {"activity_id", activity_id},
      {"cycle", json::object{{"index", cycle.index},
                             {"first_date", DayDate(cycle.first_day)},
                             {"last_date", DayDate(cycle.last_day)},
                             {"days", settings.cycle_days}}},
      {"today", DayDate(today)},
      {"signed_today", today_record != nullptr},
      {"streak", streak},
      {"missed_day", settings.missed_day == SignInSettings::MissedDay::kResetsStreak
                         ? "resets_streak"
                         : "keeps_count"},
      {"next_reward", std::move(next)},
      {"make_ups_left", settings.make_ups_per_cycle > 0
                            ? json::value(std::max(0, settings.make_ups_per_cycle - make_ups))
                            : json::value(0)},
      {"make_up_points_cost", settings.make_up_points_cost},
      {"streak_rewards", std::move(rewards)},
      {"days", std::move(days)}};
}

absl::StatusOr<json::object> SignInService::Stats(int64_t activity_id) {
  ASSIGN_OR_RETURN(SignInStats s, repository_->SignInStatsOf(activity_id));
  json::array per_day;
  int64_t total = 0;
  for (const auto& [day, n] : s.per_day) {
    per_day.push_back(json::object{{"date", DayDate(day)}, {"sign_ins", n}});
    total += n;
  }
  json::array streaks;
  for (const auto& [streak, n] : s.current_streaks) {
    streaks.push_back(json::object{{"streak", streak}, {"customers", n}});
  }
  return json::object{{"sign_ins", total},
                      {"customers", s.customers},
                      {"make_ups", s.make_ups},
                      {"per_day", std::move(per_day)},
                      {"streaks", std::move(streaks)}};
}

}  // namespace mercator::activity
