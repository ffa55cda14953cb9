#include "journey/journey_service.h"

#include <fmt/format.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <charconv>

#include "common/log.h"
#include "common/status_macros.h"
#include "customer/tag.h"
#include "segment/bitmap_index.h"

namespace mercator::journey {

namespace json = boost::json;

std::string DefinitionDigest(const std::string& definition_json) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(definition_json.data()),
                     definition_json.size());
  std::string hex(2 * sizeof h + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), h, sizeof h);
  hex.pop_back();
  return hex;
}

JourneyService::JourneyService(JourneyRepository* repository, auth::ApprovalService* approvals,
                               const SegmentIndex* index, Engine* engine, const Clock* clock)
    : repository_(repository),
      approvals_(approvals),
      index_(index),
      engine_(engine),
      clock_(clock) {
  approvals_->OnDecided("journey", [this](const Approval& a) { OnDecided(a); });
}

absl::Status JourneyService::Check(const json::value& doc) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> c, Compile(0, 0, json::serialize(doc)));
  if (index_ == nullptr) return absl::OkStatus();
  const Definition& d = c->def;
  // Rules must name known tags of the right types: evaluating them says so.
  auto check_rule = [&](const std::string& dsl, const std::string& field) -> absl::Status {
    absl::Status s = index_->Evaluate(c->rules.at(dsl)).status();
    if (!s.ok())
      return absl::InvalidArgumentError(fmt::format("{}: {}", field, std::string(s.message())));
    return absl::OkStatus();
  };
  if (d.trigger.kind == TriggerKind::kAudience) {
    RETURN_IF_ERROR(check_rule(d.trigger.rule, "trigger.rule"));
  }
  if (d.trigger.kind == TriggerKind::kDate) {
    std::optional<TagDef> tag = index_->FindTag(d.trigger.date_tag);
    if (!tag) return absl::InvalidArgumentError("trigger.tag: unknown tag");
    if (tag->type != TagType::kDate) {
      return absl::InvalidArgumentError("trigger.tag: must be a date tag");
    }
  }
  for (size_t i = 0; i < d.steps.size(); ++i) {
    const Step& s = d.steps[i];
    if (s.kind == StepKind::kBranch && !s.rule.empty()) {
      RETURN_IF_ERROR(check_rule(s.rule, fmt::format("steps[{}].rule", i)));
    }
    if (s.kind == StepKind::kAction && s.action == ActionKind::kSetTag) {
      std::optional<TagDef> tag = index_->FindTag(s.tag);
      if (!tag) return absl::InvalidArgumentError(fmt::format("steps[{}].tag: unknown tag", i));
      absl::Status v = ParseTagValue(*tag, s.tag_value).status();
      if (!v.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("steps[{}].value: {}", i, std::string(v.message())));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<JourneyView> JourneyService::View(const JourneyRecord& record) {
  JourneyView v;
  v.record = record;
  ASSIGN_OR_RETURN(std::vector<JourneyVersion> versions, repository_->Versions(record.id));
  for (JourneyVersion& x : versions) {
    if (x.version == record.live_version) v.live = x;
    if (x.version == record.latest_version) v.latest = x;
  }
  return v;
}

absl::StatusOr<JourneyView> JourneyService::Get(int64_t id) {
  ASSIGN_OR_RETURN(std::optional<JourneyRecord> r, repository_->Get(id));
  if (!r) return absl::NotFoundError(fmt::format("journey {} not found", id));
  return View(*r);
}

absl::StatusOr<JourneyView> JourneyService::Create(const json::value& doc, const Principal& actor) {
  RETURN_IF_ERROR(Check(doc));
  const std::string text = json::serialize(doc);
  const std::string name(doc.as_object().at("name").as_string());
  ASSIGN_OR_RETURN(JourneyRecord r, repository_->Create(name, text, DefinitionDigest(text),
                                                        actor.Actor(), clock_->NowMs()));
  return Get(r.id);
}

absl::StatusOr<JourneyPreview> JourneyService::Preview(const json::value& doc,
                                                       int window_days) const {
  if (window_days < 1 || window_days > kMaxPreviewWindowDays) {
    return absl::InvalidArgumentError(
        fmt::format("window_days: must be between 1 and {}", kMaxPreviewWindowDays));
  }
  RETURN_IF_ERROR(Check(doc));
  ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> c, Compile(0, 0, json::serialize(doc)));
  JourneyPreview p;
  p.def = c->def;
  if (index_ == nullptr) return p;
  const Trigger& t = p.def.trigger;
  switch (t.kind) {
    case TriggerKind::kAudience: {
      const Rule& rule = c->rules.at(t.rule);
      ASSIGN_OR_RETURN(p.matching_now, index_->Count(rule));
      p.population = rule;
      break;
    }
    case TriggerKind::kDate: {
      const int64_t today = LocalDay(p.def, clock_->NowMs());
      std::vector<Rule> any;
      for (int64_t day = today; day < today + window_days; ++day) {
        Rule rule = DateTriggerRule(t, day - t.offset_days);
        ASSIGN_OR_RETURN(uint64_t n, index_->Count(rule));
        int64_t y = 0;
        unsigned m = 0, d = 0;
        CivilFromDays(day, &y, &m, &d);
        p.days.emplace_back(fmt::format("{:04}-{:02}-{:02}", y, m, d), n);
        any.push_back(std::move(rule));
      }
      p.population = Rule::Or(std::move(any));
      break;
    }
    case TriggerKind::kEvent: {
      const std::string k7 = fmt::format("evt_{}_7d", t.event_type);
      const std::string k30 = fmt::format("evt_{}_30d", t.event_type);
      if (!index_->FindTag(k7) || !index_->FindTag(k30)) break;
      Rule r7 = Rule::Compare(k7, CompareOp::kGe, Literal::Number("1"));
      Rule r30 = Rule::Compare(k30, CompareOp::kGe, Literal::Number("1"));
      ASSIGN_OR_RETURN(p.last_7d, index_->Count(r7));
      ASSIGN_OR_RETURN(p.last_30d, index_->Count(r30));
      p.population = std::move(r30);
      break;
    }
    case TriggerKind::kLifecycle: {
      if (t.from_stage.empty() || !index_->FindTag("lifecycle")) break;
      Rule rule = Rule::Compare("lifecycle", CompareOp::kEq, Literal::String(t.from_stage));
      absl::StatusOr<uint64_t> n = index_->Count(rule);
      if (!n.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("trigger.from: {}", std::string(n.status().message())));
      }
      p.at_from_stage = *n;
      p.population = std::move(rule);
      break;
    }
  }
  return p;
}

absl::StatusOr<JourneyView> JourneyService::Update(int64_t id, const json::value& doc,
                                                   const Principal& actor) {
  ASSIGN_OR_RETURN(JourneyView view, Get(id));
  if (view.record.state == JourneyState::kEnded) {
    return absl::FailedPreconditionError(fmt::format("journey {} has ended", id));
  }
  RETURN_IF_ERROR(Check(doc));
  const std::string text = json::serialize(doc);
  const std::string name(doc.as_object().at("name").as_string());
  switch (view.latest.status) {
    case JourneyVersionStatus::kDraft:
    case JourneyVersionStatus::kRejected:
      RETURN_IF_ERROR(repository_->UpdateDraft(id, view.latest.version, name, text,
                                               DefinitionDigest(text), clock_->NowMs()));
      break;
    case JourneyVersionStatus::kSubmitted:
      return absl::FailedPreconditionError(
          fmt::format("version {} is awaiting approval and frozen: withdraw the approval first",
                      view.latest.version));
    case JourneyVersionStatus::kApproved:
    case JourneyVersionStatus::kSuperseded:
      // A live version changes only through a new, approved version.
      RETURN_IF_ERROR(repository_
                          ->AddVersion(id, view.latest.version, name, text, DefinitionDigest(text),
                                       actor.Actor(), clock_->NowMs())
                          .status());
      break;
  }
  return Get(id);
}

absl::StatusOr<std::vector<JourneyView>> JourneyService::List(int64_t after_id, int limit) {
  ASSIGN_OR_RETURN(std::vector<JourneyRecord> records, repository_->List(after_id, limit));
  std::vector<JourneyView> out;
  for (const JourneyRecord& r : records) {
    ASSIGN_OR_RETURN(JourneyView v, View(r));
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<JourneyVersion>> JourneyService::Versions(int64_t id) {
  RETURN_IF_ERROR(Get(id).status());
  return repository_->Versions(id);
}

absl::Status JourneyService::Delete(int64_t id) { return repository_->Delete(id); }

absl::StatusOr<Approval> JourneyService::Submit(int64_t id, const Principal& actor,
                                                const auth::RequestMeta& meta) {
  ASSIGN_OR_RETURN(JourneyView view, Get(id));
  if (view.record.state == JourneyState::kEnded) {
    return absl::FailedPreconditionError(fmt::format("journey {} has ended", id));
  }
  if (view.latest.status != JourneyVersionStatus::kDraft &&
      view.latest.status != JourneyVersionStatus::kRejected) {
    return absl::FailedPreconditionError(
        fmt::format("version {} is {}: only a draft can be submitted", view.latest.version,
                    JourneyVersionStatusName(view.latest.status)));
  }
  // Tags may have changed since the draft was saved.
  boost::system::error_code ec;
  RETURN_IF_ERROR(Check(json::parse(view.latest.definition_json, ec)));
  auth::Submission s;
  s.object_type = "journey";
  s.object_id = std::to_string(id);
  s.summary = fmt::format("journey {} v{}: {}", id, view.latest.version, view.record.name);
  s.digest = view.latest.digest;
  ASSIGN_OR_RETURN(Approval approval, approvals_->Submit(s, actor, meta));
  absl::Status st = repository_->SetVersionStatus(id, view.latest.version, view.latest.status,
                                                  JourneyVersionStatus::kSubmitted, approval.id, "",
                                                  clock_->NowMs());
  if (!st.ok()) {
    (void)approvals_->Withdraw(approval.id, actor, meta);
    return st;
  }
  return approval;
}

void JourneyService::OnDecided(const Approval& a) {
  int64_t id = 0;
  auto [p, ec] = std::from_chars(a.object_id.data(), a.object_id.data() + a.object_id.size(), id);
  if (ec != std::errc() || id <= 0) return;
  absl::StatusOr<std::vector<JourneyVersion>> versions = repository_->Versions(id);
  if (!versions.ok()) {
    Log(Severity::kError, "journey approval not applied",
        {{"approval", std::to_string(a.id)}, {"error", std::string(versions.status().message())}});
    return;
  }
  const JourneyVersion* v = nullptr;
  for (const JourneyVersion& x : *versions) {
    if (x.approval_id == a.id) v = &x;
  }
  // The approval names the exact definition submitted: act only if it is still the version's.
  if (v == nullptr || v->status != JourneyVersionStatus::kSubmitted || v->digest != a.digest) {
    Log(Severity::kWarn, "journey approval does not match a submitted version",
        {{"approval", std::to_string(a.id)}, {"journey", a.object_id}});
    return;
  }
  absl::Status s;
  const int64_t now = clock_->NowMs();
  switch (a.status) {
    case ApprovalStatus::kApproved:
      s = repository_->Publish(id, v->version, a.decided_by, now);
      if (s.ok()) ReloadEngine();
      break;
    case ApprovalStatus::kRejected:
      s = repository_->SetVersionStatus(id, v->version, JourneyVersionStatus::kSubmitted,
                                        JourneyVersionStatus::kRejected, a.id, a.decided_by, now);
      break;
    case ApprovalStatus::kWithdrawn:
      s = repository_->SetVersionStatus(id, v->version, JourneyVersionStatus::kSubmitted,
                                        JourneyVersionStatus::kDraft, 0, "", now);
      break;
    case ApprovalStatus::kPending:
      return;
  }
  if (!s.ok()) {
    Log(Severity::kError, "journey approval not applied",
        {{"approval", std::to_string(a.id)}, {"error", std::string(s.message())}});
  }
}

void JourneyService::ReloadEngine() {
  if (engine_ == nullptr) return;
  absl::Status s = engine_->Reload();
  if (!s.ok()) {
    Log(Severity::kError, "journey engine reload failed", {{"error", std::string(s.message())}});
  }
}

absl::StatusOr<JourneyView> JourneyService::Pause(int64_t id) {
  static constexpr JourneyState kFrom[] = {JourneyState::kLive};
  RETURN_IF_ERROR(repository_->SetState(id, kFrom, JourneyState::kPaused, clock_->NowMs()));
  ReloadEngine();
  return Get(id);
}

absl::StatusOr<JourneyView> JourneyService::Resume(int64_t id) {
  static constexpr JourneyState kFrom[] = {JourneyState::kPaused};
  RETURN_IF_ERROR(repository_->SetState(id, kFrom, JourneyState::kLive, clock_->NowMs()));
  ReloadEngine();
  return Get(id);
}

absl::StatusOr<JourneyView> JourneyService::End(int64_t id) {
  static constexpr JourneyState kFrom[] = {JourneyState::kLive, JourneyState::kPaused,
                                           JourneyState::kDraft};
  RETURN_IF_ERROR(repository_->SetState(id, kFrom, JourneyState::kEnded, clock_->NowMs()));
  ReloadEngine();
  RETURN_IF_ERROR(repository_->ExitAll(id, clock_->NowMs()).status());
  return Get(id);
}

absl::StatusOr<JourneyStats> JourneyService::Stats(int64_t id) {
  RETURN_IF_ERROR(Get(id).status());
  return repository_->Stats(id);
}

absl::StatusOr<std::vector<JourneyEntry>> JourneyService::Entries(int64_t id, uint32_t uid) {
  RETURN_IF_ERROR(Get(id).status());
  return repository_->CustomerEntries(id, uid);
}

absl::StatusOr<std::vector<JourneyEntry>> JourneyService::Stuck(int64_t id, int64_t after_id,
                                                                int limit) {
  RETURN_IF_ERROR(Get(id).status());
  return repository_->Stuck(id, after_id, limit);
}

absl::StatusOr<std::vector<int64_t>> JourneyService::ResolveStuck(
    int64_t id, std::span<const int64_t> entry_ids, StuckAction action) {
  RETURN_IF_ERROR(Get(id).status());
  return repository_->ResolveStuck(id, entry_ids, action, clock_->NowMs());
}

}  // namespace mercator::journey
