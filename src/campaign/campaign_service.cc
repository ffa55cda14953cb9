#include "campaign/campaign_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <future>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/time/time.h"
#include "auth/request_signing.h"
#include "campaign/recurrence.h"
#include "common/log.h"
#include "common/roaring_bytes.h"
#include "common/status_macros.h"
#include "event/catalog.h"
#include "event/event.h"
#include "outreach/contact_policy.h"
#include "outreach/outreach.h"
#include "outreach/templates.h"
#include "segment/audience_service.h"
#include "segment/dsl.h"
#include "store/campaign_snapshot.h"
#include "store/repository.h"

namespace mercator::campaign {

namespace json = boost::json;

namespace {

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxChannels = 4;
constexpr int64_t kMaxThrottle = 1'000'000;
constexpr int32_t kMaxHoldoutPercent = 50;
constexpr int32_t kMaxGoalDays = 90;
constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kMaxCachedAudiences = 64;  // AudienceOf's cache

absl::Status Bad(std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", field, reason));
}
absl::Status Bad(std::string_view field, const absl::Status& status) {
  return Bad(field, std::string_view(std::string(status.message())));
}

CampaignRepository::Transition Change(std::string from, std::string to, int64_t now_ms,
                                      int64_t finished_ms = 0) {
  CampaignRepository::Transition t;
  t.from = std::move(from);
  t.to = std::move(to);
  t.now_ms = now_ms;
  t.finished_ms = finished_ms;
  return t;
}

absl::StatusOr<int64_t> IntMember(const json::object& o, std::string_view key,
                                  std::string_view field, int64_t min, int64_t max,
                                  int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_int64() && !v->is_uint64()) return Bad(field, "must be an integer");
  const int64_t n = v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
  if (n < min || n > max) return Bad(field, fmt::format("must be between {} and {}", min, max));
  return n;
}

absl::StatusOr<std::string> StringMember(const json::object& o, std::string_view key,
                                         std::string_view field, bool required) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return Bad(field, "is required");
    return std::string();
  }
  if (!v->is_string()) return Bad(field, "must be a string");
  return std::string(v->as_string());
}

uint64_t Mix(uint64_t x) {  // SplitMix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Reasons that say this channel cannot reach the customer, so the next one may.
bool FallsBack(const outreach::SendResult& r) {
  if (r.outcome == outreach::SendResult::Outcome::kFailed) return true;
  return r.reason == "no_consent" || r.reason == "opted_out";
}

}  // namespace

absl::StatusOr<Definition> ParseDefinition(const json::value& doc) {
  if (!doc.is_object()) return Bad("body", "must be a JSON object");
  const json::object& o = doc.as_object();
  static const std::set<std::string, std::less<>> kKnown = {"name",
                                                            "purpose",
                                                            "audience",
                                                            "channels",
                                                            "variables",
                                                            "link",
                                                            "start_at",
                                                            "send_window",
                                                            "throttle_per_second",
                                                            "holdout_percent",
                                                            "goal",
                                                            "recurrence"};
  for (const auto& kv : o) {
    if (!kKnown.contains(std::string_view(kv.key()))) return Bad(kv.key(), "unknown member");
  }
  Definition d;
  ASSIGN_OR_RETURN(d.name, StringMember(o, "name", "name", true));
  if (d.name.empty() || d.name.size() > kMaxNameBytes) {
    return Bad("name", fmt::format("must have 1 to {} bytes", kMaxNameBytes));
  }
  ASSIGN_OR_RETURN(std::string purpose, StringMember(o, "purpose", "purpose", false));
  if (!purpose.empty()) d.purpose = purpose;
  if (absl::Status s = outreach::CheckPurpose(d.purpose); !s.ok()) {
    return Bad("purpose", "must be marketing or service");
  }

  const json::value* aud = o.if_contains("audience");
  if (aud == nullptr || !aud->is_object()) return Bad("audience", "is required (an object)");
  const json::object& a = aud->as_object();
  const bool has_id = a.contains("audience_id"), has_rule = a.contains("rule");
  if (has_id == has_rule) return Bad("audience", "give exactly one of audience_id and rule");
  if (has_id) {
    ASSIGN_OR_RETURN(d.audience_id,
                     IntMember(a, "audience_id", "audience.audience_id", 1, INT64_MAX, 0));
  } else {
    ASSIGN_OR_RETURN(d.rule, StringMember(a, "rule", "audience.rule", true));
    DslError err;
    absl::StatusOr<Rule> rule = ParseDsl(d.rule, &err);
    if (!rule.ok()) return Bad("audience.rule", rule.status());
  }

  const json::value* ch = o.if_contains("channels");
  if (ch == nullptr || !ch->is_array() || ch->as_array().empty()) {
    return Bad("channels", "is required: a non-empty array of channel steps");
  }
  if (ch->as_array().size() > kMaxChannels) {
    return Bad("channels", fmt::format("at most {} channel steps", kMaxChannels));
  }
  for (size_t i = 0; i < ch->as_array().size(); ++i) {
    const std::string field = fmt::format("channels[{}]", i);
    const json::value& v = ch->as_array()[i];
    if (!v.is_object()) return Bad(field, "must be an object");
    ChannelStep step;
    ASSIGN_OR_RETURN(step.channel,
                     StringMember(v.as_object(), "channel", field + ".channel", true));
    if (!outreach::IsChannel(step.channel)) {
      return Bad(field + ".channel",
                 "must be one of sms, app_push, in_app, wechat_oa, wecom, email");
    }
    for (const ChannelStep& prev : d.channels) {
      if (prev.channel == step.channel) return Bad(field + ".channel", "appears twice in the plan");
    }
    ASSIGN_OR_RETURN(step.template_id, IntMember(v.as_object(), "template_id",
                                                 field + ".template_id", 1, INT64_MAX, 0));
    if (step.template_id == 0) return Bad(field + ".template_id", "is required");
    ASSIGN_OR_RETURN(step.cost_fen,
                     IntMember(v.as_object(), "cost_fen", field + ".cost_fen", 0, 100'000, 0));
    ASSIGN_OR_RETURN(step.fallback_after_minutes,
                     IntMember(v.as_object(), "fallback_after_minutes",
                               field + ".fallback_after_minutes", 0, 7 * 24 * 60, 0));
    if (step.fallback_after_minutes > 0 && i + 1 == ch->as_array().size()) {
      return Bad(field + ".fallback_after_minutes", "the last channel has none to fall back to");
    }
    ASSIGN_OR_RETURN(step.throttle_per_second,
                     IntMember(v.as_object(), "throttle_per_second", field + ".throttle_per_second",
                               0, kMaxThrottle, 0));
    d.channels.push_back(std::move(step));
  }

  if (const json::value* vars = o.if_contains("variables"); vars != nullptr && !vars->is_null()) {
    if (!vars->is_object()) return Bad("variables", "must be an object of strings");
    for (const auto& kv : vars->as_object()) {
      if (!kv.value().is_string()) {
        return Bad(fmt::format("variables.{}", std::string_view(kv.key())), "must be a string");
      }
      d.variables[std::string(kv.key())] = std::string(kv.value().as_string());
    }
  }

  ASSIGN_OR_RETURN(d.link, StringMember(o, "link", "link", false));
  if (!d.link.empty() && !(d.link.starts_with("https://") || d.link.starts_with("http://"))) {
    return Bad("link", "must be an http(s) URL");
  }
  ASSIGN_OR_RETURN(std::string start_at, StringMember(o, "start_at", "start_at", false));
  if (!start_at.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, start_at, &t, &err)) {
      return Bad("start_at", "must be an RFC 3339 time such as 2026-11-24T09:00:00+08:00");
    }
    d.start_ms = absl::ToUnixMillis(t);
  }

  if (const json::value* w = o.if_contains("send_window"); w != nullptr && !w->is_null()) {
    if (!w->is_object())
      return Bad("send_window", "must be {\"start\": \"HH:MM\", \"end\": \"HH:MM\"}");
    ASSIGN_OR_RETURN(std::string start,
                     StringMember(w->as_object(), "start", "send_window.start", true));
    ASSIGN_OR_RETURN(std::string end, StringMember(w->as_object(), "end", "send_window.end", true));
    std::optional<int32_t> s = ParseClock(start, false), e = ParseClock(end, true);
    if (!s) return Bad("send_window.start", "must be HH:MM (00:00 to 23:59)");
    if (!e) return Bad("send_window.end", "must be HH:MM (00:01 to 24:00)");
    if (*e <= *s) return Bad("send_window.end", "must be after send_window.start");
    d.window_start_minute = *s;
    d.window_end_minute = *e;
  }
  ASSIGN_OR_RETURN(d.throttle_per_second, IntMember(o, "throttle_per_second", "throttle_per_second",
                                                    1, kMaxThrottle, 100));
  ASSIGN_OR_RETURN(int64_t holdout,
                   IntMember(o, "holdout_percent", "holdout_percent", 0, kMaxHoldoutPercent, 0));
  d.holdout_percent = static_cast<int32_t>(holdout);

  if (const json::value* g = o.if_contains("goal"); g != nullptr && !g->is_null()) {
    if (!g->is_object()) return Bad("goal", "must be {\"event\": TYPE, \"within_days\": N}");
    ASSIGN_OR_RETURN(d.goal_event, StringMember(g->as_object(), "event", "goal.event", true));
    const event::EventType* type = event::Catalog::Builtin().Find(d.goal_event);
    if (type == nullptr || type->internal) return Bad("goal.event", "is not a client event type");
    ASSIGN_OR_RETURN(int64_t days, IntMember(g->as_object(), "within_days", "goal.within_days", 1,
                                             kMaxGoalDays, 7));
    d.goal_within_days = static_cast<int32_t>(days);
  }
  if (const json::value* r = o.if_contains("recurrence"); r != nullptr && !r->is_null()) {
    ASSIGN_OR_RETURN(d.recurrence, ParseRecurrence(*r, "recurrence"));
  }
  return d;
}

bool InHoldout(int64_t campaign_id, uint32_t uid, int32_t holdout_percent) {
  if (holdout_percent <= 0) return false;
  const uint64_t h = Mix(Mix(static_cast<uint64_t>(campaign_id)) ^ uid);
  return static_cast<int32_t>(h % 10'000) < holdout_percent * 100;
}

namespace {

// Whether a campaign is a recurring one's series (not one of its runs).
bool IsSeries(const CampaignRow& row) {
  if (row.parent_id != 0) return false;
  boost::system::error_code ec;
  absl::StatusOr<Definition> d = ParseDefinition(json::parse(row.definition_json, ec));
  return d.ok() && d->recurrence.has_value();
}

}  // namespace

CampaignService::CampaignService(CampaignRepository* repo, auth::ApprovalService* approvals,
                                 AudienceService* audiences, CustomerRepository* customers,
                                 outreach::TemplateService* templates, outreach::Outreach* outreach,
                                 outreach::ContactPolicy* policy, const event::EventLog* events,
                                 const Clock* clock, CampaignServiceOptions options)
    : repo_(repo),
      approvals_(approvals),
      audiences_(audiences),
      customers_(customers),
      templates_(templates),
      outreach_(outreach),
      policy_(policy),
      events_(events),
      clock_(clock),
      options_(options) {
  approvals_->OnDecided("campaign", [this](const Approval& a) { OnDecided(a); });
}

CampaignService::~CampaignService() { Stop(); }

absl::StatusOr<CampaignRow> CampaignService::Create(const json::value& definition,
                                                    const Principal& actor) {
  ASSIGN_OR_RETURN(Definition d, ParseDefinition(definition));
  CampaignRow row;
  row.name = d.name;
  row.definition_json = json::serialize(definition);
  row.digest = auth::Sha256Hex(row.definition_json);
  row.status = "draft";
  row.created_by = actor.Actor();
  row.created_ms = row.updated_ms = clock_->NowMs();
  row.start_ms = d.start_ms;
  return repo_->Create(row);
}

absl::StatusOr<CampaignRow> CampaignService::Update(int64_t id, const json::value& definition) {
  ASSIGN_OR_RETURN(CampaignRow row, repo_->Get(id));
  ASSIGN_OR_RETURN(Definition d, ParseDefinition(definition));
  row.name = d.name;
  row.definition_json = json::serialize(definition);
  row.digest = auth::Sha256Hex(row.definition_json);
  row.updated_ms = clock_->NowMs();
  row.start_ms = d.start_ms;
  ASSIGN_OR_RETURN(bool updated, repo_->UpdateDraft(row));
  if (!updated) {
    return absl::FailedPreconditionError(
        fmt::format("campaign {} is {}: only a draft can be edited", id, row.status));
  }
  return repo_->Get(id);
}

absl::StatusOr<CampaignRow> CampaignService::Get(int64_t id) { return repo_->Get(id); }

absl::StatusOr<std::vector<CampaignRow>> CampaignService::List(int64_t after_id, int limit,
                                                               std::string_view status,
                                                               int64_t parent) {
  return repo_->List(after_id, limit, status, parent);
}

absl::Status CampaignService::Delete(int64_t id) {
  RETURN_IF_ERROR(repo_->Get(id).status());
  return repo_->DeleteDraft(id);
}

absl::Status CampaignService::CheckReady(const Definition& d) {
  for (size_t i = 0; i < d.channels.size(); ++i) {
    const ChannelStep& step = d.channels[i];
    const std::string field = fmt::format("channels[{}].template_id", i);
    absl::StatusOr<TemplateRow> t = templates_->Approved(step.template_id);
    if (!t.ok()) return Bad(field, t.status());
    if (t->channel != step.channel) {
      return Bad(field,
                 fmt::format("template {} is for {}, not {}", t->id, t->channel, step.channel));
    }
    if (t->purpose != d.purpose) {
      return Bad(field, fmt::format("template {} is for {}, not {}", t->id, t->purpose, d.purpose));
    }
  }
  if (d.audience_id > 0) {
    if (absl::Status s = audiences_->Get(d.audience_id).status(); !s.ok()) {
      return Bad("audience.audience_id", s);
    }
  } else {
    ASSIGN_OR_RETURN(Rule rule, ParseDsl(d.rule));
    if (absl::Status s = audiences_->index().Evaluate(rule).status(); !s.ok()) {
      return Bad("audience.rule", s);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Approval> CampaignService::Submit(int64_t id, const Principal& actor,
                                                 const auth::RequestMeta& meta) {
  ASSIGN_OR_RETURN(CampaignRow row, repo_->Get(id));
  if (row.status != "draft") {
    return absl::FailedPreconditionError(
        fmt::format("campaign {} is {}: only a draft can be submitted", id, row.status));
  }
  boost::system::error_code ec;
  ASSIGN_OR_RETURN(Definition d, ParseDefinition(json::parse(row.definition_json, ec)));
  RETURN_IF_ERROR(CheckReady(d));
  auth::Submission s;
  s.object_type = "campaign";
  s.object_id = std::to_string(id);
  s.summary = fmt::format("campaign {}: {}", id, row.name);
  s.digest = row.digest;
  return auth::SubmitAndMark(*approvals_, s, actor, meta, [&](int64_t approval_id) {
    CampaignRepository::Transition t = Change("draft", "submitted", clock_->NowMs());
    t.digest = row.digest;
    t.approval_id = approval_id;
    return repo_->Move(id, t);
  });
}

void CampaignService::OnDecided(const Approval& a) {
  const bool applied = auth::ApplyDecision(a, [&](int64_t id) {
    CampaignRepository::Transition t =
        Change("submitted", a.status == ApprovalStatus::kApproved ? "scheduled" : "draft",
               clock_->NowMs());
    t.digest = a.digest;  // an approval covers the submitted definition only
    return repo_->Move(id, t);
  });
  if (applied) wake_.notify_all();
}

absl::StatusOr<CampaignRow> CampaignService::Pause(int64_t id) {
  ASSIGN_OR_RETURN(CampaignRow row, repo_->Get(id));
  if (row.status != "running" && row.status != "scheduled") {
    return absl::FailedPreconditionError(fmt::format(
        "campaign {} is {}: only a scheduled or running one can be paused", id, row.status));
  }
  CampaignRepository::Transition t = Change(row.status, "paused", clock_->NowMs());
  ASSIGN_OR_RETURN(bool moved, repo_->Move(id, t));
  if (!moved) return absl::FailedPreconditionError(fmt::format("campaign {} changed", id));
  if (IsSeries(row)) {
    // Pausing a recurring campaign pauses the run that is sending, too.
    ASSIGN_OR_RETURN(std::vector<CampaignRow> active, ActiveRuns(id));
    for (const CampaignRow& run : active) {
      if (run.status == "paused") continue;
      RETURN_IF_ERROR(repo_->Move(run.id, Change(run.status, "paused", clock_->NowMs())).status());
    }
  }
  return repo_->Get(id);
}

absl::StatusOr<CampaignRow> CampaignService::Resume(int64_t id) {
  ASSIGN_OR_RETURN(CampaignRow row, repo_->Get(id));
  if (row.status != "paused") {
    return absl::FailedPreconditionError(
        fmt::format("campaign {} is {}: only a paused one can be resumed", id, row.status));
  }
  // Back to where it was: running once the audience was taken (a series: once it has a run),
  // scheduled before.
  bool started = row.snapshot_ms > 0;
  const bool series = IsSeries(row);
  if (series) {
    ASSIGN_OR_RETURN(std::vector<CampaignRow> runs, repo_->List(0, 1, "", id));
    started = !runs.empty();
  }
  CampaignRepository::Transition t =
      Change("paused", started ? "running" : "scheduled", clock_->NowMs());
  if (series) {
    // The series plans its next run afresh (runs missed while paused are skipped) and its
    // paused runs go on.
    if (row.next_run_ms > 0) RETURN_IF_ERROR(repo_->SetNextRun(id, 0));
    ASSIGN_OR_RETURN(bool moved, repo_->Move(id, t));
    if (!moved) return absl::FailedPreconditionError(fmt::format("campaign {} changed", id));
    ASSIGN_OR_RETURN(std::vector<CampaignRow> active, ActiveRuns(id));
    for (const CampaignRow& run : active) {
      if (run.status != "paused") continue;
      RETURN_IF_ERROR(
          repo_
              ->Move(run.id, Change("paused", run.snapshot_ms > 0 ? "running" : "scheduled",
                                    clock_->NowMs()))
              .status());
    }
    wake_.notify_all();
    return repo_->Get(id);
  }
  ASSIGN_OR_RETURN(bool moved, repo_->Move(id, t));
  if (!moved) return absl::FailedPreconditionError(fmt::format("campaign {} changed", id));
  wake_.notify_all();
  return repo_->Get(id);
}

absl::StatusOr<CampaignRow> CampaignService::Cancel(int64_t id) {
  ASSIGN_OR_RETURN(CampaignRow row, repo_->Get(id));
  if (row.status == "completed" || row.status == "cancelled") {
    return absl::FailedPreconditionError(fmt::format("campaign {} is {}", id, row.status));
  }
  if (row.status == "submitted" && row.approval_id > 0) {
    return absl::FailedPreconditionError(fmt::format(
        "campaign {} is awaiting approval {}: withdraw the approval first", id, row.approval_id));
  }
  const int64_t now = clock_->NowMs();
  CampaignRepository::Transition t = Change(row.status, "cancelled", now, now);
  ASSIGN_OR_RETURN(bool moved, repo_->Move(id, t));
  if (!moved) return absl::FailedPreconditionError(fmt::format("campaign {} changed", id));
  if (IsSeries(row)) {
    // Cancelling a recurring campaign stops its unfinished run and plans no other.
    ASSIGN_OR_RETURN(std::vector<CampaignRow> active, ActiveRuns(id));
    for (const CampaignRow& run : active) {
      RETURN_IF_ERROR(repo_->Move(run.id, Change(run.status, "cancelled", now, now)).status());
    }
  }
  return repo_->Get(id);
}

bool CampaignService::InWindow(const Definition& d, int64_t now) {
  const int32_t tz = policy_->tz_offset_minutes();
  const int32_t minute = outreach::LocalMinuteOfDay(now, tz);
  if (minute < d.window_start_minute || minute >= d.window_end_minute) return false;
  if (d.purpose != "marketing") return true;
  absl::StatusOr<PolicySettings> settings = policy_->Settings();
  if (!settings.ok()) return false;
  return !outreach::InQuietHours(minute, settings->quiet_start_minute, settings->quiet_end_minute);
}

// A stored snapshot, read: the treated members, the control group and both.
struct CampaignService::Audience {
  Roaring treated, holdout, all;
};

absl::Status CampaignService::Snapshot(const CampaignRow& row, const Definition& d) {
  Roaring members;
  if (d.audience_id > 0) {
    // A saved audience: its new version is the record of who was targeted.
    ASSIGN_OR_RETURN(AudienceSnapshot snap,
                     audiences_->TakeSnapshot(d.audience_id, fmt::format("campaign:{}", row.id)));
    ASSIGN_OR_RETURN(members, audiences_->SnapshotMembers(d.audience_id, snap.version));
  } else {
    ASSIGN_OR_RETURN(Rule rule, ParseDsl(d.rule));
    ASSIGN_OR_RETURN(members, audiences_->index().Evaluate(rule));
  }
  // The runs of a recurring campaign share one control group: its series' id.
  const int64_t group_key = row.parent_id > 0 ? row.parent_id : row.id;
  Roaring holdout;
  if (d.holdout_percent > 0) {
    std::vector<uint32_t> held;
    for (uint32_t uid : members) {
      if (InHoldout(group_key, uid, d.holdout_percent)) held.push_back(uid);
    }
    holdout.addMany(held.size(), held.data());
  }
  Roaring treated = members - holdout;
  const CampaignSnapshot snapshot = MakeCampaignSnapshot(std::move(treated), std::move(holdout));
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(bool stored, repo_->StoreSnapshot(row.id, snapshot, now));
  if (stored) {
    Log(Severity::kInfo, "campaign audience taken",
        {{"campaign", std::to_string(row.id)},
         {"members", std::to_string(members.cardinality())},
         {"holdout", std::to_string(snapshot.holdout_count)}});
  }
  CampaignRepository::Transition t = Change("scheduled", "running", now);
  return repo_->Move(row.id, t).status();
}

absl::StatusOr<std::shared_ptr<const CampaignService::Audience>> CampaignService::AudienceOf(
    int64_t id) {
  {
    std::lock_guard lock(audience_mu_);
    if (auto it = audiences_of_.find(id); it != audiences_of_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::optional<CampaignSnapshot> stored, repo_->GetSnapshot(id));
  if (!stored) return nullptr;
  auto a = std::make_shared<Audience>();
  ASSIGN_OR_RETURN(a->treated,
                   FromPortableBytes(stored->treated, fmt::format("campaign {}'s snapshot", id)));
  ASSIGN_OR_RETURN(a->holdout,
                   FromPortableBytes(stored->holdout, fmt::format("campaign {}'s snapshot", id)));
  a->all = a->treated | a->holdout;
  std::lock_guard lock(audience_mu_);
  // Bounded: a server that reports on years of campaigns keeps only the recent reads (the
  // running campaigns' are read again at their next slice or page).
  if (audiences_of_.size() >= kMaxCachedAudiences) audiences_of_.clear();
  return audiences_of_.try_emplace(id, std::move(a)).first->second;
}

absl::StatusOr<Roaring*> CampaignService::PendingOf(int64_t id) {
  if (auto it = pending_.find(id); it != pending_.end()) return it->second.get();
  ASSIGN_OR_RETURN(std::shared_ptr<const Audience> a, AudienceOf(id));
  auto pending = std::make_unique<Roaring>();
  if (a != nullptr) *pending = a->treated;
  ASSIGN_OR_RETURN(std::vector<uint32_t> done, repo_->DoneMembers(id));
  for (uint32_t uid : done) pending->remove(uid);
  return pending_.emplace(id, std::move(pending)).first->second.get();
}

absl::StatusOr<std::vector<CampaignMember>> CampaignService::MemberPage(int64_t id,
                                                                        uint32_t after_uid,
                                                                        int limit) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Audience> a, AudienceOf(id));
  if (a == nullptr || limit <= 0) return std::vector<CampaignMember>{};
  std::vector<uint32_t> uids;
  uids.reserve(static_cast<size_t>(std::min<int64_t>(limit, a->all.cardinality())));
  Roaring::const_iterator it = a->all.begin();
  it.equalorlarger(after_uid + 1);
  for (; it != a->all.end() && uids.size() < static_cast<size_t>(limit); ++it) {
    if (*it > after_uid) uids.push_back(*it);
  }
  // Every row is a snapshot member, so the first `limit` rows cover these uids.
  ASSIGN_OR_RETURN(std::vector<CampaignMember> rows, repo_->Members(id, after_uid, limit));
  std::vector<CampaignMember> out;
  out.reserve(uids.size());
  size_t r = 0;
  for (uint32_t uid : uids) {
    while (r < rows.size() && rows[r].uid < uid) ++r;
    if (r < rows.size() && rows[r].uid == uid) {
      out.push_back(std::move(rows[r]));
      continue;
    }
    CampaignMember& m = out.emplace_back();
    m.uid = uid;
    m.state = a->holdout.contains(uid) ? "holdout" : "pending";
  }
  // The external ids: members without a row, and rows recorded by uid alone.
  std::vector<uint32_t> unnamed;
  for (const CampaignMember& m : out) {
    if (m.customer.empty()) unnamed.push_back(m.uid);
  }
  ASSIGN_OR_RETURN(std::vector<std::string> ids, customers_->ExternalIds(unnamed));
  size_t k = 0;
  for (CampaignMember& m : out) {
    if (m.customer.empty()) m.customer = std::move(ids[k++]);
  }
  return out;
}

outreach::Message CampaignService::MessageTo(const CampaignRow& row, const Definition& d,
                                             const ChannelStep& plan, const CampaignMember& m) {
  outreach::Message msg;
  msg.uid = m.uid;
  msg.customer = m.customer;
  msg.channel = plan.channel;
  msg.purpose = d.purpose;
  msg.template_id = std::to_string(plan.template_id);
  msg.variables = d.variables;
  msg.link_url = d.link;
  msg.origin = fmt::format("campaign:{}", row.id);
  msg.dedupe_key = fmt::format("campaign:{}:{}:{}", row.id, m.uid, plan.channel);
  // A member inside the quiet hours of their own time zone waits (stays pending or due) for a
  // later slice.
  msg.defer_quiet_hours = true;
  return msg;
}

absl::StatusOr<CampaignService::PreparedPage> CampaignService::PreparePage(
    const CampaignRow& row, const Definition& d, std::vector<uint32_t> uids) {
  PreparedPage page;
  // Members are uids: the outreach service finds each customer by uid and records the
  // external id with the message (the member's row leaves it empty; MemberPage fills it in).
  page.members.resize(uids.size());
  for (size_t i = 0; i < uids.size(); ++i) {
    page.members[i].uid = uids[i];
    page.members[i].state = "pending";
  }
  if (page.members.empty() || d.channels.empty()) return page;
  std::vector<outreach::Message> batch;
  batch.reserve(page.members.size());
  for (const CampaignMember& m : page.members) batch.push_back(MessageTo(row, d, d.channels[0], m));
  ASSIGN_OR_RETURN(page.first_step, outreach_->PrepareBatch(std::move(batch)));
  return page;
}

absl::StatusOr<bool> CampaignService::TryChannels(
    const CampaignRow& row, const Definition& d, std::span<CampaignMember> members,
    std::span<const size_t> first, std::vector<int64_t>& channel_budget, int64_t now,
    std::unique_ptr<outreach::PreparedBatch> prepared) {
  // Each member's next step of the plan; every round sends one batch per step in use.
  std::vector<size_t> step(first.begin(), first.end());
  std::vector<size_t> active;
  for (size_t i = 0; i < members.size(); ++i) {
    members[i].fallback_due_ms = 0;
    if (step[i] < d.channels.size()) {
      active.push_back(i);
    } else {
      members[i].done_ms = now;
    }
  }
  while (!active.empty()) {
    std::map<size_t, std::vector<size_t>> by_step;
    for (size_t i : active) by_step[step[i]].push_back(i);
    active.clear();
    for (auto& [k, group] : by_step) {
      const ChannelStep& plan = d.channels[k];
      // Over the channel's throttle: wait for a later slice.
      const size_t allowed =
          static_cast<size_t>(std::clamp<int64_t>(channel_budget[k], 0, INT64_MAX));
      if (group.size() > allowed) {
        for (size_t j = allowed; j < group.size(); ++j) members[group[j]].done_ms = 0;
        group.resize(allowed);
      }
      if (group.empty()) continue;
      channel_budget[k] -= static_cast<int64_t>(group.size());
      // The prepared first step is every member's message, in order: usable only as a whole.
      std::unique_ptr<outreach::PreparedBatch> ready;
      if (prepared != nullptr && k == 0 && group.size() == members.size()) {
        ready = std::move(prepared);
      } else {
        std::vector<outreach::Message> batch;
        batch.reserve(group.size());
        for (size_t i : group) batch.push_back(MessageTo(row, d, plan, members[i]));
        ASSIGN_OR_RETURN(ready, outreach_->PrepareBatch(std::move(batch)));
      }
      prepared.reset();
      ASSIGN_OR_RETURN(std::vector<absl::StatusOr<outreach::SendResult>> results,
                       outreach_->SendPrepared(std::move(ready)));
      for (size_t j = 0; j < group.size(); ++j) {
        const absl::StatusOr<outreach::SendResult>& r = results[j];
        CampaignMember& m = members[group[j]];
        if (!r.ok() && absl::IsNotFound(r.status())) {
          // Erased since the snapshot: nobody to contact.
          m.channel = plan.channel;
          m.state = "failed";
          m.reason = "customer erased";
          m.done_ms = now;
          continue;
        }
        if (!r.ok()) {
          if (!absl::IsInvalidArgument(r.status())) return r.status();
          // The plan no longer works (a template withdrawn, a channel unconfigured): stop the
          // campaign for the operator instead of burning through the audience. Nothing of this
          // batch is recorded as done: on resume the dedupe keys return what was sent.
          (void)repo_->Move(row.id, Change("running", "paused", now));
          Log(Severity::kError, "campaign paused: a message was refused",
              {{"campaign", std::to_string(row.id)}, {"error", std::string(r.status().message())}});
          return false;
        }
        if (r->outcome == outreach::SendResult::Outcome::kDeferred) {
          m.done_ms = 0;  // not handled yet
          continue;
        }
        const bool sent = r->outcome == outreach::SendResult::Outcome::kSent;
        m.channel = plan.channel;
        m.state = sent                                                       ? "sent"
                  : r->outcome == outreach::SendResult::Outcome::kSuppressed ? "suppressed"
                                                                             : "failed";
        m.reason = r->reason;
        if (!m.trail.empty()) m.trail += ' ';
        m.trail += fmt::format("{}:{}", plan.channel, sent ? "sent" : r->reason);
        m.message_id = 0;
        std::from_chars(r->message_id.data(), r->message_id.data() + r->message_id.size(),
                        m.message_id);
        if (sent && plan.fallback_after_minutes > 0 && k + 1 < d.channels.size()) {
          m.fallback_due_ms = now + plan.fallback_after_minutes * 60'000;
        }
        if (sent || !FallsBack(*r) || k + 1 >= d.channels.size()) {
          m.done_ms = now;
        } else {
          step[group[j]] = k + 1;
          active.push_back(group[j]);
        }
      }
    }
  }
  return true;
}

absl::StatusOr<int64_t> CampaignService::RunFallbacks(const CampaignRow& row, const Definition& d,
                                                      int64_t now, int64_t budget,
                                                      std::vector<int64_t>& channel_budget) {
  const int limit = static_cast<int>(std::min<int64_t>(budget, options_.batch));
  ASSIGN_OR_RETURN(std::vector<CampaignMember> due, repo_->DueFallbacks(row.id, now, limit));
  std::vector<size_t> first(due.size(), d.channels.size());
  for (size_t i = 0; i < due.size(); ++i) {
    CampaignMember& m = due[i];
    size_t at = 0;
    while (at < d.channels.size() && d.channels[at].channel != m.channel) ++at;
    if (at >= d.channels.size()) continue;  // never expected: the plan is frozen
    const int64_t minutes = d.channels[at].fallback_after_minutes;
    // The message no longer counts as a contact (caps); the next channel may reach them.
    RETURN_IF_ERROR(repo_->ExpireMessage(m.message_id,
                                         fmt::format("not delivered within {} minutes", minutes)));
    m.trail += fmt::format(" {}:undelivered", m.channel);
    first[i] = at + 1;
  }
  ASSIGN_OR_RETURN(bool ok, TryChannels(row, d, due, first, channel_budget, now));
  if (!ok) return 0;
  std::erase_if(due, [](const CampaignMember& m) { return m.done_ms == 0; });  // waiting
  RETURN_IF_ERROR(repo_->RecordFallbacks(row.id, due));
  return static_cast<int64_t>(due.size());
}

absl::StatusOr<int64_t> CampaignService::SendSlice(const CampaignRow& row, const Definition& d,
                                                   int64_t now) {
  if (!InWindow(d, now)) {
    last_slice_[row.id] = now;  // no burst when the window opens
    return 0;
  }
  // Token bucket refilled by the time since the last slice, holding at most one second.
  auto [it, first] = last_slice_.try_emplace(row.id, now - 1000);
  const int64_t elapsed = std::clamp<int64_t>(now - it->second, 0, 1000);
  int64_t budget = d.throttle_per_second * elapsed / 1000;
  if (budget <= 0) return 0;
  it->second = now;
  // Each channel's own throttle: a bucket that keeps fractions of a message between slices (a
  // slice of 200 ms at 3/s earns 0.6) and holds at most one second.
  std::vector<double>& tokens = channel_tokens_[row.id];
  tokens.resize(d.channels.size(), 0);
  std::vector<int64_t> channel_budget(d.channels.size(), INT64_MAX);
  for (size_t k = 0; k < d.channels.size(); ++k) {
    const auto rate = static_cast<double>(d.channels[k].throttle_per_second);
    if (rate <= 0) continue;
    tokens[k] = std::min(rate, tokens[k] + rate * static_cast<double>(elapsed) / 1000);
    channel_budget[k] = static_cast<int64_t>(tokens[k]);
  }
  // What the slice spent comes out of the buckets however it ends.
  const std::vector<int64_t> granted = channel_budget;
  absl::Cleanup spend = [&] {
    for (size_t k = 0; k < d.channels.size(); ++k) {
      if (d.channels[k].throttle_per_second > 0) {
        tokens[k] -= static_cast<double>(granted[k] - channel_budget[k]);
      }
    }
  };
  // Members whose message was not delivered in time go first: they were due earlier.
  ASSIGN_OR_RETURN(int64_t handled, RunFallbacks(row, d, now, budget, channel_budget));
  budget -= handled;
  // Members go in passes over the pending ones by uid; a slice continues where the last one
  // stopped, so members waiting for their own quiet hours to end do not hold up the others.
  uint32_t& after = cursor_[row.id];
  // Reading past what the first channel may still send this slice would only defer members.
  auto limit_of = [&](int64_t members, int64_t first_channel) {
    return static_cast<int>(std::clamp<int64_t>(
        std::min<int64_t>({members, options_.batch, first_channel}), 0, INT32_MAX));
  };
  // Two pages are in flight: while one is recorded and handed to the channels here, the next is
  // read, rendered and checked against consent and quiet hours on another thread (the caps are
  // counted when a message is recorded, so they hold). A page read ahead that this slice does
  // not send stays pending for the next.
  ASSIGN_OR_RETURN(Roaring * pending, PendingOf(row.id));
  // The next `limit` pending members after `from` (the pass's cursor). A page never overlaps
  // the one before it, which is why the next can be taken before this one's outcomes are in.
  auto take = [pending](uint32_t from, int limit) {
    std::vector<uint32_t> uids;
    Roaring::const_iterator it = pending->begin();
    it.equalorlarger(from + 1);
    for (; it != pending->end() && uids.size() < static_cast<size_t>(limit); ++it) {
      if (*it > from) uids.push_back(*it);
    }
    return uids;
  };
  std::future<absl::StatusOr<PreparedPage>> ahead;
  while (budget > 0 && channel_budget.front() > 0) {
    const int limit = limit_of(budget, channel_budget.front());
    PreparedPage prepared;
    if (ahead.valid()) {
      ASSIGN_OR_RETURN(prepared, ahead.get());
      if (prepared.members.size() > static_cast<size_t>(limit)) {
        prepared.members.resize(static_cast<size_t>(limit));
        prepared.first_step.reset();  // no longer the page it was prepared for
      }
    } else {
      ASSIGN_OR_RETURN(prepared, PreparePage(row, d, take(after, limit)));
    }
    std::vector<CampaignMember>& page = prepared.members;
    if (page.empty()) {
      if (after != 0) {  // the end of a pass: the next one starts at the front
        after = 0;
        continue;
      }
      // Done when nobody is pending (members waiting for their quiet hours to end are) and no
      // fallback is awaited.
      ASSIGN_OR_RETURN(int64_t awaiting, repo_->AwaitingFallbacks(row.id));
      if (handled == 0 && awaiting == 0) {
        RETURN_IF_ERROR(repo_->Move(row.id, Change("running", "completed", now, now)).status());
        last_slice_.erase(row.id);
        cursor_.erase(row.id);
        pending_.erase(row.id);
        std::move(spend).Cancel();
        channel_tokens_.erase(row.id);
        Log(Severity::kInfo, "campaign completed", {{"campaign", std::to_string(row.id)}});
      }
      break;
    }
    after = page.back().uid;
    // The next page, if this slice may send more after this one (every member of this page
    // goes through the first channel's budget).
    const auto n = static_cast<int64_t>(page.size());
    if (const int next = limit_of(budget - n, channel_budget.front() - n); next > 0) {
      ahead = std::async(std::launch::async, [this, &row, &d, uids = take(after, next)] {
        return PreparePage(row, d, uids);
      });
    }
    const std::vector<size_t> first(page.size(), 0);
    ASSIGN_OR_RETURN(bool ok, TryChannels(row, d, page, first, channel_budget, now,
                                          std::move(prepared.first_step)));
    if (!ok) return handled;
    budget -= static_cast<int64_t>(page.size());
    std::erase_if(page, [](const CampaignMember& m) { return m.done_ms == 0; });  // waiting
    RETURN_IF_ERROR(repo_->RecordOutcomes(row.id, page));
    for (const CampaignMember& m : page) pending->remove(m.uid);
    handled += static_cast<int64_t>(page.size());
  }
  return handled;
}

absl::StatusOr<std::vector<CampaignRow>> CampaignService::Runs(int64_t series_id) {
  std::vector<CampaignRow> out;
  int64_t after = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<CampaignRow> page, repo_->List(after, 200, "", series_id));
    if (page.empty()) break;
    after = page.back().id;
    for (CampaignRow& r : page) out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<CampaignRow>> CampaignService::ActiveRuns(int64_t series_id) {
  ASSIGN_OR_RETURN(std::vector<CampaignRow> runs, Runs(series_id));
  std::erase_if(runs, [](const CampaignRow& r) {
    return r.status != "scheduled" && r.status != "running" && r.status != "paused";
  });
  return runs;
}

absl::Status CampaignService::RunSeries(const CampaignRow& row, const Definition& d, int64_t now) {
  const Recurrence& rec = *d.recurrence;
  const int32_t tz = policy_->tz_offset_minutes();
  if (row.next_run_ms == 0) {
    // Approved (or resumed): the first run at or after start_at and now; runs missed while
    // paused are skipped.
    std::optional<int64_t> first = NextOccurrence(rec, std::max(row.start_ms, now) - 1, tz);
    return repo_->SetNextRun(row.id, first.value_or(-1));
  }
  ASSIGN_OR_RETURN(std::vector<CampaignRow> active, ActiveRuns(row.id));
  if (row.next_run_ms < 0) {
    if (!active.empty()) return absl::OkStatus();
    CampaignRepository::Transition t = Change(row.status, "completed", now, now);
    return repo_->Move(row.id, t).status();
  }
  // A run still sending (or paused by an operator) holds the next one back: two runs of one
  // series never compete for the same customers.
  if (row.next_run_ms > now || !active.empty()) return absl::OkStatus();
  // Runs missed while the server was down (or held back) are not sent in a burst: only the
  // latest due one runs.
  int64_t at = row.next_run_ms;
  for (std::optional<int64_t> n = NextOccurrence(rec, at, tz); n && *n <= now;
       n = NextOccurrence(rec, at, tz)) {
    at = *n;
  }
  int32_t run_no = 1;
  ASSIGN_OR_RETURN(std::vector<CampaignRow> runs, Runs(row.id));
  for (const CampaignRow& r : runs) run_no = std::max(run_no, r.run_no + 1);
  std::optional<int64_t> following = NextOccurrence(rec, at, tz);
  if (rec.max_runs > 0 && run_no >= rec.max_runs) following.reset();
  CampaignRow run;
  run.parent_id = row.id;
  run.run_no = run_no;
  run.name = fmt::format("{} #{}", row.name, run_no);
  run.definition_json = row.definition_json;
  run.digest = row.digest;
  run.status = "scheduled";  // approved with its series
  run.approval_id = row.approval_id;
  run.created_by = row.created_by;
  run.created_ms = run.updated_ms = now;
  run.start_ms = at;
  ASSIGN_OR_RETURN(std::optional<CampaignRow> created,
                   repo_->CreateRun(run, following.value_or(-1)));
  if (created) {
    Log(Severity::kInfo, "campaign run created",
        {{"campaign", std::to_string(row.id)},
         {"run", std::to_string(created->id)},
         {"run_no", std::to_string(run_no)}});
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CampaignService::RunOnce() {
  std::lock_guard lock(run_mu_);
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(std::vector<CampaignRow> rows, repo_->ListByStatus({"scheduled", "running"}));
  int64_t handled = 0;
  for (const CampaignRow& row : rows) {
    boost::system::error_code ec;
    absl::StatusOr<Definition> d = ParseDefinition(json::parse(row.definition_json, ec));
    if (!d.ok()) continue;  // stored definitions were validated; never expected
    absl::Status st;
    if (row.parent_id == 0 && d->recurrence) {
      st = RunSeries(row, *d, now);
    } else if (row.status == "scheduled") {
      if (row.start_ms > now) continue;
      st = Snapshot(row, *d);
    } else {
      absl::StatusOr<int64_t> n = SendSlice(row, *d, now);
      if (n.ok()) handled += *n;
      st = n.status();
    }
    if (!st.ok()) {
      Log(Severity::kError, "campaign step failed",
          {{"campaign", std::to_string(row.id)}, {"error", std::string(st.message())}});
    }
  }
  // A campaign paused or cancelled meanwhile reads its pending members again if it resumes.
  std::erase_if(pending_, [&rows](const auto& entry) {
    return std::none_of(rows.begin(), rows.end(), [&](const CampaignRow& r) {
      return r.id == entry.first && r.status == "running";
    });
  });
  return handled;
}

absl::StatusOr<std::vector<CampaignMember>> CampaignService::Members(int64_t id, uint32_t after_uid,
                                                                     int limit) {
  RETURN_IF_ERROR(repo_->Get(id).status());
  return MemberPage(id, after_uid, limit);
}

absl::StatusOr<Report> CampaignService::GetReport(int64_t id) {
  Report rep;
  ASSIGN_OR_RETURN(rep.campaign, repo_->Get(id));
  boost::system::error_code ec;
  ASSIGN_OR_RETURN(Definition d, ParseDefinition(json::parse(rep.campaign.definition_json, ec)));
  std::map<std::string, ChannelReport> channels;
  for (const ChannelStep& step : d.channels) channels[step.channel].channel = step.channel;
  if (rep.campaign.parent_id == 0 && d.recurrence) {
    // A series: the sums of its runs' reports, and each run's own figures.
    auto cost = [&channels] {
      int64_t fen = 0;
      for (const auto& [name, c] : channels) fen += c.cost_fen;
      return fen;
    };
    ASSIGN_OR_RETURN(std::vector<CampaignRow> runs, Runs(id));
    for (const CampaignRow& run : runs) {
      const RunSummary before{.campaign = {},
                              .audience = rep.audience,
                              .sent = rep.sent,
                              .delivered = rep.delivered,
                              .cost_fen = cost(),
                              .treated_converted = rep.treated_converted};
      RETURN_IF_ERROR(Accumulate(run, d, rep, channels));
      rep.runs.push_back(
          RunSummary{.campaign = run,
                     .audience = rep.audience - before.audience,
                     .sent = rep.sent - before.sent,
                     .delivered = rep.delivered - before.delivered,
                     .cost_fen = cost() - before.cost_fen,
                     .treated_converted = rep.treated_converted - before.treated_converted});
    }
  } else {
    RETURN_IF_ERROR(Accumulate(rep.campaign, d, rep, channels));
  }
  for (auto& [name, c] : channels) {
    rep.cost_fen += c.cost_fen;
    if (c.cost_fen > 0) {
      c.roi =
          static_cast<double>(c.conversion_value - c.cost_fen) / static_cast<double>(c.cost_fen);
    }
    rep.channels.push_back(c);
  }
  if (rep.measured) {
    const double nt = static_cast<double>(rep.treated), nh = static_cast<double>(rep.holdout);
    rep.treated_rate = nt > 0 ? rep.treated_converted / nt : 0;
    rep.holdout_rate = nh > 0 ? rep.holdout_converted / nh : 0;
    rep.uplift = rep.treated_rate - rep.holdout_rate;
    double se = 0;
    if (nt > 0) se += rep.treated_rate * (1 - rep.treated_rate) / nt;
    if (nh > 0) se += rep.holdout_rate * (1 - rep.holdout_rate) / nh;
    se = std::sqrt(se);
    rep.uplift_low = rep.uplift - 1.96 * se;
    rep.uplift_high = rep.uplift + 1.96 * se;
  }
  return rep;
}

absl::Status CampaignService::Accumulate(const CampaignRow& row, const Definition& d, Report& rep,
                                         std::map<std::string, ChannelReport>& channels) {
  const int64_t id = row.id;
  ASSIGN_OR_RETURN(std::vector<CampaignTally> tally, repo_->Tally(id));
  std::map<std::string, int64_t> cost_of;
  for (const ChannelStep& step : d.channels) cost_of[step.channel] = step.cost_fen;
  for (const CampaignTally& t : tally) {
    rep.audience += t.count;
    if (t.state == "holdout") {
      rep.holdout += t.count;
      continue;
    }
    rep.treated += t.count;
    if (t.state == "pending") rep.pending += t.count;
    if (t.state == "sent") {
      rep.sent += t.count;
      rep.delivered += t.delivered;
      rep.clicked += t.clicked;
      ChannelReport& c = channels[t.channel];
      c.channel = t.channel;
      c.sent += t.count;
      c.delivered += t.delivered;
      c.clicked += t.clicked;
      c.cost_fen += t.count * cost_of[t.channel];
    }
    if (t.state == "failed") rep.failed += t.count;
    if (t.state == "suppressed") {
      rep.suppressed += t.count;
      rep.suppressed_by_reason[t.reason] += t.count;
    }
  }

  // Fallbacks and conversions need the members themselves.
  const bool measure = !d.goal_event.empty() && events_ != nullptr && row.snapshot_ms > 0;
  rep.measured = rep.measured || measure;
  std::map<std::string, ChannelReport*> by_channel;
  for (auto& [name, c] : channels) by_channel[name] = &c;
  uint32_t after = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<CampaignMember> page, MemberPage(id, after, 2000));
    if (page.empty()) break;
    after = page.back().uid;
    for (const CampaignMember& m : page) {
      if (m.state == "sent" && !d.channels.empty() && m.channel != d.channels.front().channel) {
        rep.fallbacks[fmt::format("{}->{}", d.channels.front().channel, m.channel)]++;
      }
      if (!measure || m.state == "pending") continue;
      const bool touched = m.state == "sent";
      const int64_t from = touched ? m.done_ms : row.snapshot_ms;
      const int64_t until = from + d.goal_within_days * kDayMs;
      // The first goal event in [from, until): events come newest first.
      std::optional<int64_t> value;
      int64_t converted_ms = 0;
      const event::EventType* type = event::Catalog::Builtin().Find(d.goal_event);
      (void)events_->CustomerEvents(m.uid, d.goal_event, 0, 1000, [&](const event::Event& e) {
        if (e.occurred_ms < from) return false;
        if (e.occurred_ms < until) {
          int64_t v = 0;
          if (type != nullptr && !type->amount_field.empty()) {
            auto p = e.properties.find(type->amount_field);
            if (p != e.properties.end() && std::holds_alternative<int64_t>(p->second)) {
              v = std::get<int64_t>(p->second);
            }
          }
          value = v;  // keeps the earliest as the walk goes back in time
          converted_ms = e.occurred_ms;
        }
        return true;
      });
      if (!value) continue;
      if (m.state == "holdout") {
        rep.holdout_converted++;
      } else {
        rep.treated_converted++;
        rep.conversion_value += *value;
        if (touched) {
          // Last touch: a later message from elsewhere (another campaign, a journey, a
          // manager) before the conversion takes the credit from this campaign's channel.
          ASSIGN_OR_RETURN(std::string later,
                           repo_->LaterTouch(m.customer, fmt::format("campaign:{}", id), m.done_ms,
                                             converted_ms));
          if (!later.empty()) {
            rep.attributed_elsewhere++;
            continue;
          }
          if (auto c = by_channel.find(m.channel); c != by_channel.end()) {
            c->second->converted++;
            c->second->conversion_value += *value;
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

void CampaignService::Start() {
  if (options_.interval_ms <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(thread_mu_);
    while (!stopping_) {
      lock.unlock();
      absl::StatusOr<int64_t> n = RunOnce();
      if (!n.ok()) {
        Log(Severity::kError, "campaign runner", {{"error", std::string(n.status().message())}});
      }
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                     [this] { return stopping_; });
    }
  });
}

void CampaignService::Stop() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace mercator::campaign
