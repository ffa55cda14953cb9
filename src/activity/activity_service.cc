#include "activity/activity_service.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <utility>

#include "absl/synchronization/notification.h"
#include "activity/draw_guard.h"
#include "activity/signin_terms.h"
#include "activity/verification.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "reward/coupons.h"
#include "reward/points_ledger.h"
#include "segment/dsl.h"

namespace mercator::activity {

namespace json = boost::json;

namespace {

absl::StatusOr<int64_t> ParseId(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::InvalidArgumentError("not an activity id");
  }
  return v;
}

absl::StatusOr<ActivityTerms> TermsOf(const ActivityVersion& v) {
  boost::system::error_code ec;
  json::value doc = json::parse(v.terms_json, ec);
  if (ec) {
    return absl::DataLossError(
        fmt::format("activity {} v{}: stored terms are not JSON", v.activity_id, v.version));
  }
  absl::StatusOr<ActivityTerms> t = ParseActivityTerms(doc);
  if (!t.ok()) {
    return absl::DataLossError(fmt::format("activity {} v{}: stored terms no longer valid: {}",
                                           v.activity_id, v.version,
                                           std::string(t.status().message())));
  }
  return t;
}

bool Contains(const std::vector<std::string>& sorted, const std::string& s) {
  return std::binary_search(sorted.begin(), sorted.end(), s);
}

}  // namespace

DrawTerms DrawTermsOf(int64_t activity_id, int32_t version, const ActivityTerms& terms) {
  DrawTerms d;
  d.activity_id = activity_id;
  d.version = version;
  for (const PoolGroup& g : terms.pools) d.pools.push_back(g.pool);
  d.budget_fen = terms.budget_fen;
  d.tz_offset_minutes = terms.tz_offset_minutes;
  return d;
}

ActivityService::ActivityService(ActivityRepository* repository, auth::ApprovalService* approvals,
                                 AudienceService* audiences, CustomerService* customers,
                                 DrawPort* draw, reward::PointsLedger* points, const Clock* clock,
                                 ActivityServiceOptions options)
    : repository_(repository),
      approvals_(approvals),
      audiences_(audiences),
      customers_(customers),
      draw_(draw),
      points_(points),
      clock_(clock),
      options_(options) {
  approvals_->OnDecided("activity", [this](const Approval& a) { OnDecided(a); });
}

std::string ActivityService::StateOf(const ActivityRecord& record, const ActivityVersion& latest,
                                     const ActivityTerms* published_terms, int64_t now_ms) {
  switch (record.phase) {
    case ActivityPhase::kDraft:
      return latest.status == VersionStatus::kSubmitted ? "submitted" : "draft";
    case ActivityPhase::kPaused:
      return "paused";
    case ActivityPhase::kEnded:
      return "ended";
    case ActivityPhase::kPublished:
      break;
  }
  if (published_terms == nullptr) return "scheduled";
  if (now_ms < published_terms->eligibility.start_ms) return "scheduled";
  if (now_ms >= published_terms->eligibility.end_ms) return "ended";
  return "live";
}

absl::Status ActivityService::LoadPublished() {
  ASSIGN_OR_RETURN(std::vector<ActivityRecord> list, repository_->ListPublished());
  for (const ActivityRecord& r : list) RETURN_IF_ERROR(Refresh(r.id));
  return absl::OkStatus();
}

// Re-reads the activity's published version into the cache and the engine (after a publish
// or a phase change).
absl::Status ActivityService::Refresh(int64_t id) {
  ASSIGN_OR_RETURN(std::optional<ActivityRecord> r, repository_->Get(id));
  if (!r || r->published_version == 0) {
    absl::MutexLock lock(&mu_);
    published_.erase(id);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<ActivityVersion> v,
                   repository_->GetVersion(id, r->published_version));
  if (!v) return absl::DataLossError(fmt::format("activity {}: published version missing", id));
  ASSIGN_OR_RETURN(ActivityTerms terms, TermsOf(*v));
  auto p = std::make_shared<Published>();
  p->activity_id = id;
  p->version = v->version;
  p->phase = r->phase;
  p->engine = TemplateRegistry::Default().Find(terms.display.template_name)->engine;
  p->terms = std::move(terms);
  {
    absl::MutexLock lock(&mu_);
    auto it = published_.find(id);
    const bool same_version = it != published_.end() && it->second->version == p->version;
    published_[id] = p;
    if (same_version) return absl::OkStatus();
  }
  if (draw_ != nullptr && p->engine == TemplateEngine::kDraw) {
    RETURN_IF_ERROR(draw_->Load(DrawTermsOf(id, p->version, p->terms)));
  }
  return absl::OkStatus();
}

std::shared_ptr<const Published> ActivityService::FindPublished(int64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = published_.find(id);
  return it == published_.end() ? nullptr : it->second;
}

absl::StatusOr<ActivityTerms> ActivityService::CheckTerms(const json::value& doc) {
  ASSIGN_OR_RETURN(ActivityTerms t, ParseActivityTerms(doc));
  // References to the rest of the system: audiences that exist, rules over known tags.
  auto audience = [this](int64_t id, const std::string& path) -> absl::Status {
    if (!audiences_->Get(id).ok()) {
      return absl::InvalidArgumentError(fmt::format("{}: audience {} not found", path, id));
    }
    return absl::OkStatus();
  };
  auto rule = [this](const std::string& dsl, const std::string& path) -> absl::Status {
    absl::StatusOr<Rule> r = ParseDsl(dsl);
    if (r.ok()) {
      absl::StatusOr<uint64_t> n = audiences_->index().Count(*r);
      if (!n.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("{}: {}", path, std::string(n.status().message())));
      }
    }
    return absl::OkStatus();
  };
  if (coupons_ != nullptr) {
    auto coupon = [this](int64_t template_id, const std::string& path) -> absl::Status {
      absl::StatusOr<CouponTemplate> c = coupons_->GetTemplate(template_id);
      if (absl::IsNotFound(c.status())) {
        return absl::InvalidArgumentError(
            fmt::format("{}: coupon template {} not found", path, template_id));
      }
      RETURN_IF_ERROR(c.status());
      if (c->disabled) {
        return absl::InvalidArgumentError(
            fmt::format("{}: coupon template {} is disabled", path, template_id));
      }
      return absl::OkStatus();
    };
    for (size_t i = 0; i < t.pools.size(); ++i) {
      for (size_t j = 0; j < t.pools[i].pool.prizes.size(); ++j) {
        const Prize& p = t.pools[i].pool.prizes[j];
        if (p.kind != "coupon" && p.kind != "benefit") continue;
        RETURN_IF_ERROR(coupon(std::stoll(p.reward_ref),
                               fmt::format("pools[{}].pool.prizes[{}].reward_ref", i, j)));
      }
    }
    // Template rewards ({"kind": "coupon", "template_id": N}) anywhere in the settings: sign-in
    // streak days, the quiz's pass reward.
    std::function<absl::Status(const json::value&, const std::string&)> walk =
        [&](const json::value& v, const std::string& path) -> absl::Status {
      if (v.is_array()) {
        for (size_t k = 0; k < v.as_array().size(); ++k) {
          RETURN_IF_ERROR(walk(v.as_array()[k], fmt::format("{}[{}]", path, k)));
        }
      } else if (v.is_object()) {
        const json::object& o = v.as_object();
        const json::value* kind = o.if_contains("kind");
        const json::value* id = o.if_contains("template_id");
        if (kind != nullptr && kind->is_string() && kind->as_string() == "coupon" &&
            id != nullptr && id->is_int64()) {
          RETURN_IF_ERROR(coupon(id->as_int64(), path + ".template_id"));
        }
        for (const auto& kv : o) {
          RETURN_IF_ERROR(walk(kv.value(), fmt::format("{}.{}", path, std::string_view(kv.key()))));
        }
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(walk(json::value(t.display.settings), "display.settings"));
  }
  if (t.eligibility.audience_id) {
    RETURN_IF_ERROR(audience(*t.eligibility.audience_id, "eligibility.audience_id"));
  }
  if (t.eligibility.rule) RETURN_IF_ERROR(rule(*t.eligibility.rule, "eligibility.rule"));
  for (size_t i = 0; i < t.pools.size(); ++i) {
    const PoolGroup& g = t.pools[i];
    if (g.kind == PoolGroup::Kind::kAudience) {
      RETURN_IF_ERROR(audience(g.audience_id, fmt::format("pools[{}].group.audience_id", i)));
    } else if (g.kind == PoolGroup::Kind::kRule) {
      RETURN_IF_ERROR(rule(g.rule, fmt::format("pools[{}].group.rule", i)));
    }
  }
  return t;
}

absl::StatusOr<ActivityView> ActivityService::ViewOf(const ActivityRecord& record) {
  ActivityView view;
  view.record = record;
  ASSIGN_OR_RETURN(std::optional<ActivityVersion> latest,
                   repository_->GetVersion(record.id, record.latest_version));
  if (!latest) return absl::DataLossError(fmt::format("activity {}: no versions", record.id));
  view.latest = *std::move(latest);
  std::optional<ActivityTerms> terms;
  if (record.published_version > 0) {
    ASSIGN_OR_RETURN(view.published, repository_->GetVersion(record.id, record.published_version));
    if (view.published) {
      ASSIGN_OR_RETURN(terms, TermsOf(*view.published));
    }
  }
  view.state = StateOf(record, view.latest, terms ? &*terms : nullptr, clock_->NowMs());
  return view;
}

absl::StatusOr<ActivityView> ActivityService::View(int64_t id) {
  ASSIGN_OR_RETURN(std::optional<ActivityRecord> r, repository_->Get(id));
  if (!r) return absl::NotFoundError(fmt::format("activity {} not found", id));
  return ViewOf(*r);
}

absl::StatusOr<ActivityView> ActivityService::Create(const json::value& doc,
                                                     const Principal& actor) {
  ASSIGN_OR_RETURN(ActivityTerms t, CheckTerms(doc));
  ASSIGN_OR_RETURN(ActivityRecord r,
                   repository_->Create(t.name, json::serialize(ActivityTermsToJson(t)),
                                       TermsDigest(t), actor.Actor(), clock_->NowMs()));
  return ViewOf(r);
}

absl::StatusOr<ActivityView> ActivityService::Update(int64_t id, const json::value& doc,
                                                     const Principal& actor) {
  ASSIGN_OR_RETURN(ActivityView view, View(id));
  if (view.record.phase == ActivityPhase::kEnded) {
    return absl::FailedPreconditionError(fmt::format("activity {} has ended", id));
  }
  ASSIGN_OR_RETURN(ActivityTerms t, CheckTerms(doc));
  const std::string text = json::serialize(ActivityTermsToJson(t));
  const std::string digest = TermsDigest(t);
  switch (view.latest.status) {
    case VersionStatus::kDraft:
    case VersionStatus::kRejected:
      RETURN_IF_ERROR(
          repository_->UpdateDraft(id, view.latest.version, t.name, text, digest, clock_->NowMs()));
      break;
    case VersionStatus::kSubmitted:
      return absl::FailedPreconditionError(fmt::format(
          "version {} is awaiting approval and its terms are frozen: withdraw the approval "
          "first",
          view.latest.version));
    case VersionStatus::kApproved:
    case VersionStatus::kSuperseded:
      // Frozen: a change to approved terms is a new version that needs its own approval.
      RETURN_IF_ERROR(repository_
                          ->AddVersion(id, view.latest.version, t.name, text, digest, actor.Actor(),
                                       clock_->NowMs())
                          .status());
      break;
  }
  return View(id);
}

absl::StatusOr<ActivityView> ActivityService::Get(int64_t id) { return View(id); }

absl::StatusOr<std::vector<ActivityView>> ActivityService::List(int64_t after_id, int limit) {
  ASSIGN_OR_RETURN(std::vector<ActivityRecord> records, repository_->List(after_id, limit));
  std::vector<ActivityView> out;
  for (const ActivityRecord& r : records) {
    ASSIGN_OR_RETURN(ActivityView v, ViewOf(r));
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<ActivityVersion>> ActivityService::Versions(int64_t id) {
  RETURN_IF_ERROR(View(id).status());
  return repository_->ListVersions(id);
}

absl::StatusOr<Approval> ActivityService::Submit(int64_t id, const Principal& actor,
                                                 const auth::RequestMeta& meta) {
  ASSIGN_OR_RETURN(ActivityView view, View(id));
  if (view.record.phase == ActivityPhase::kEnded) {
    return absl::FailedPreconditionError(fmt::format("activity {} has ended", id));
  }
  if (view.latest.status != VersionStatus::kDraft &&
      view.latest.status != VersionStatus::kRejected) {
    return absl::FailedPreconditionError(
        fmt::format("version {} is {}: only a draft can be submitted", view.latest.version,
                    VersionStatusName(view.latest.status)));
  }
  // The references may have changed since the draft was saved (an audience deleted).
  boost::system::error_code ec;
  RETURN_IF_ERROR(CheckTerms(json::parse(view.latest.terms_json, ec)).status());
  auth::Submission s;
  s.object_type = "activity";
  s.object_id = std::to_string(id);
  s.summary = fmt::format("activity {} v{}: {}", id, view.latest.version, view.record.name);
  s.digest = view.latest.digest;
  ASSIGN_OR_RETURN(Approval approval, approvals_->Submit(s, actor, meta));
  absl::Status st =
      repository_->SetVersionStatus(id, view.latest.version, view.latest.status,
                                    VersionStatus::kSubmitted, approval.id, "", clock_->NowMs());
  if (!st.ok()) {
    // Someone edited or submitted concurrently: take the submission back.
    (void)approvals_->Withdraw(approval.id, actor, meta);
    return st;
  }
  return approval;
}

void ActivityService::OnDecided(const Approval& a) {
  absl::StatusOr<int64_t> id = ParseId(a.object_id);
  if (!id.ok()) return;
  absl::StatusOr<std::vector<ActivityVersion>> versions = repository_->ListVersions(*id);
  if (!versions.ok()) {
    Log(Severity::kError, "activity approval not applied",
        {{"approval", std::to_string(a.id)}, {"error", std::string(versions.status().message())}});
    return;
  }
  const ActivityVersion* v = nullptr;
  for (const ActivityVersion& x : *versions) {
    if (x.approval_id == a.id) v = &x;
  }
  // The approval names the exact terms submitted: act only if they are still the version's.
  if (v == nullptr || v->status != VersionStatus::kSubmitted || v->digest != a.digest) {
    Log(Severity::kWarn, "activity approval does not match a submitted version",
        {{"approval", std::to_string(a.id)}, {"activity", a.object_id}});
    return;
  }
  absl::Status s;
  const int64_t now = clock_->NowMs();
  switch (a.status) {
    case ApprovalStatus::kApproved:
      s = repository_->Publish(*id, v->version, a.decided_by, now);
      if (s.ok()) s = Refresh(*id);
      break;
    case ApprovalStatus::kRejected:
      s = repository_->SetVersionStatus(*id, v->version, VersionStatus::kSubmitted,
                                        VersionStatus::kRejected, a.id, a.decided_by, now);
      break;
    case ApprovalStatus::kWithdrawn:
      s = repository_->SetVersionStatus(*id, v->version, VersionStatus::kSubmitted,
                                        VersionStatus::kDraft, 0, "", now);
      break;
    case ApprovalStatus::kPending:
      return;
  }
  if (!s.ok()) {
    Log(Severity::kError, "activity approval not applied",
        {{"approval", std::to_string(a.id)}, {"error", std::string(s.message())}});
  }
}

absl::StatusOr<ActivityView> ActivityService::Pause(int64_t id) {
  RETURN_IF_ERROR(repository_->SetPhase(id, {ActivityPhase::kPublished}, ActivityPhase::kPaused,
                                        clock_->NowMs()));
  RETURN_IF_ERROR(Refresh(id));
  return View(id);
}

absl::StatusOr<ActivityView> ActivityService::Resume(int64_t id) {
  RETURN_IF_ERROR(repository_->SetPhase(id, {ActivityPhase::kPaused}, ActivityPhase::kPublished,
                                        clock_->NowMs()));
  RETURN_IF_ERROR(Refresh(id));
  return View(id);
}

absl::StatusOr<ActivityView> ActivityService::End(int64_t id) {
  RETURN_IF_ERROR(repository_->SetPhase(id, {ActivityPhase::kPublished, ActivityPhase::kPaused},
                                        ActivityPhase::kEnded, clock_->NowMs()));
  // Kept in memory so customers are told it has ended (and retries still replay).
  RETURN_IF_ERROR(Refresh(id));
  return View(id);
}

absl::StatusOr<ActivityView> ActivityService::Clone(int64_t id, const Principal& actor) {
  ASSIGN_OR_RETURN(ActivityView view, View(id));
  boost::system::error_code ec;
  json::value doc = json::parse(view.latest.terms_json, ec);
  if (ec || !doc.is_object()) return absl::DataLossError("stored terms are not JSON");
  const std::string name(doc.as_object()["name"].as_string());
  doc.as_object()["name"] = fmt::format("{} (copy)", name).substr(0, 200);
  return Create(doc, actor);
}

absl::Status ActivityService::Delete(int64_t id) { return repository_->Delete(id); }

absl::StatusOr<DrawStats> ActivityService::Stats(int64_t id) {
  RETURN_IF_ERROR(View(id).status());
  if (draw_ == nullptr) return absl::UnavailableError("the draw engine is not configured");
  return draw_->Stats(id);
}

absl::StatusOr<std::string> ActivityService::DrawLogCsv(int64_t id) {
  RETURN_IF_ERROR(View(id).status());
  if (draw_ == nullptr) return absl::UnavailableError("the draw engine is not configured");
  return draw_->DrawLogCsv(id);
}

// --- customer side -----------------------------------------------------------------------

absl::StatusOr<bool> ActivityService::RuleHas(const std::string& dsl, uint32_t uid) {
  const int64_t now = clock_->NowMs();
  std::shared_ptr<const Roaring> members;
  if (options_.membership_cache_ms > 0) {
    absl::MutexLock lock(&cache_mu_);
    auto it = members_.find(dsl);
    if (it != members_.end() && now - it->second.at_ms < options_.membership_cache_ms) {
      members = it->second.members;
    }
  }
  if (members == nullptr) {
    ASSIGN_OR_RETURN(Rule rule, ParseDsl(dsl));
    ASSIGN_OR_RETURN(Roaring r, audiences_->index().Evaluate(rule));
    members = std::make_shared<const Roaring>(std::move(r));
    if (options_.membership_cache_ms > 0) {
      absl::MutexLock lock(&cache_mu_);
      members_[dsl] = CachedMembers{members, now};
    }
  }
  return members->contains(uid);
}

absl::StatusOr<bool> ActivityService::AudienceHas(int64_t audience_id, uint32_t uid) {
  absl::StatusOr<Audience> a = audiences_->Get(audience_id);
  if (absl::IsNotFound(a.status())) return false;  // deleted since approval: nobody matches
  if (!a.ok()) return a.status();
  return RuleHas(a->rule_dsl, uid);
}

absl::Status ActivityService::CheckLive(const Published& p) {
  ActivityRecord r;
  r.phase = p.phase;
  const std::string state = StateOf(r, ActivityVersion{}, &p.terms, clock_->NowMs());
  if (state == "live") return absl::OkStatus();
  if (state == "ended") return absl::FailedPreconditionError("activity: has ended");
  return absl::FailedPreconditionError(fmt::format("activity: not live ({})", state));
}

absl::Status ActivityService::CheckEligible(const Published& p, const CustomerRecord& customer,
                                            const std::string& channel) {
  const Eligibility& e = p.terms.eligibility;
  if (!e.channels.empty() && !Contains(e.channels, channel)) {
    return absl::PermissionDeniedError(
        fmt::format("channel: not eligible: the activity is not offered on {}", channel));
  }
  if (Contains(e.black_list, customer.external_id)) {
    return absl::PermissionDeniedError("customer: not eligible for this activity");
  }
  bool member = Contains(e.white_list, customer.external_id);
  if (!member) {
    member = e.white_list.empty();
    if (e.audience_id) {
      ASSIGN_OR_RETURN(member, AudienceHas(*e.audience_id, customer.uid));
    } else if (e.rule) {
      ASSIGN_OR_RETURN(member, RuleHas(*e.rule, customer.uid));
    }
  }
  if (!member) return absl::PermissionDeniedError("customer: not eligible for this activity");
  // Last, as it is the dearest: the bank's own verdict (cached, with the declared policy when
  // the bank cannot answer). White-listed customers are asked too.
  if (e.verification && verifier_ != nullptr) {
    RETURN_IF_ERROR(
        verifier_->Verify(*e.verification, p.activity_id, customer.external_id, channel));
  }
  return absl::OkStatus();
}

absl::StatusOr<const PoolGroup*> ActivityService::PoolFor(const Published& p, uint32_t uid) {
  for (const PoolGroup& g : p.terms.pools) {
    bool match = false;
    switch (g.kind) {
      case PoolGroup::Kind::kDefault:
        match = true;
        break;
      case PoolGroup::Kind::kAudience: {
        ASSIGN_OR_RETURN(match, AudienceHas(g.audience_id, uid));
        break;
      }
      case PoolGroup::Kind::kRule: {
        ASSIGN_OR_RETURN(match, RuleHas(g.rule, uid));
        break;
      }
    }
    if (match) return &g;
  }
  return absl::PermissionDeniedError("customer: not eligible: no prize pool for this customer");
}

absl::StatusOr<ActivityService::ChanceLimits> ActivityService::LimitsFor(const Published& p,
                                                                         uint32_t uid) {
  const Chances& c = p.terms.chances;
  int32_t extra = 0;
  if (!c.tasks.empty() && extra_chances_ != nullptr) {
    ASSIGN_OR_RETURN(extra,
                     extra_chances_->ExtraChancesOn(
                         p.activity_id, uid, LocalDay(clock_->NowMs(), p.terms.tz_offset_minutes)));
  }
  ChanceLimits l;
  l.free_today = c.free_per_day + extra;
  if (c.points_cost > 0) {
    l.today = c.max_per_day;  // required with points_cost, and at least free_per_day
  } else {
    l.today = c.max_per_day > 0 ? std::min(c.max_per_day, l.free_today) : l.free_today;
  }
  l.free_today = std::min(l.free_today, l.today);
  l.total = c.max_total;
  if (l.today <= 0) return absl::ResourceExhaustedError("chances: no chances left");
  return l;
}

absl::StatusOr<ActivityService::Participant> ActivityService::FindParticipant(
    int64_t id, const std::string& external_id) {
  Participant who;
  who.activity = FindPublished(id);
  if (who.activity == nullptr) {
    return absl::NotFoundError(fmt::format("activity {} not found or not published", id));
  }
  ASSIGN_OR_RETURN(who.customer, customers_->Get(external_id));
  return who;
}

absl::Status ActivityService::CheckCanTakePart(const Published& p, const CustomerRecord& customer,
                                               const std::string* channel) {
  RETURN_IF_ERROR(CheckLive(p));
  // Without a channel (a task reported by a bank system), any channel the activity is offered
  // on will do: the rest of eligibility still applies.
  const std::vector<std::string>& channels = p.terms.eligibility.channels;
  const std::string any = channels.empty() ? std::string("app") : channels.front();
  return CheckEligible(p, customer, channel != nullptr ? *channel : any);
}

std::vector<std::shared_ptr<const Published>> ActivityService::PublishedActivities() {
  std::vector<std::shared_ptr<const Published>> all;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, p] : published_) all.push_back(p);
  return all;
}

absl::StatusOr<CustomerRecord> ActivityService::Lookup(const std::string& external_id) {
  // The uid from the customer service's memory: a draw needs no personal data or tags.
  ASSIGN_OR_RETURN(std::optional<uint32_t> uid, customers_->Resolve(external_id));
  if (!uid) return absl::NotFoundError(fmt::format("customer '{}' not found", external_id));
  CustomerRecord c;
  c.uid = *uid;
  c.external_id = external_id;
  return c;
}

absl::StatusOr<std::vector<ActivityService::Visible>> ActivityService::VisibleTo(
    const std::string& external_id, const std::string& channel) {
  ASSIGN_OR_RETURN(CustomerRecord customer, Lookup(external_id));
  std::vector<std::shared_ptr<const Published>> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, p] : published_) all.push_back(p);
  }
  std::vector<Visible> out;
  for (const auto& p : all) {
    if (!CheckLive(*p).ok()) continue;
    if (!CheckEligible(*p, customer, channel).ok()) continue;
    Visible v;
    v.activity = p;
    v.state = "live";
    v.chances_left = -1;
    if (p->engine == TemplateEngine::kDraw) {
      if (!PoolFor(*p, customer.uid).ok()) continue;
      ASSIGN_OR_RETURN(v.chances_left, ChancesLeft(*p, customer.uid));
    }
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<int32_t> ActivityService::ChancesLeft(const Published& p, uint32_t uid) {
  const Chances& c = p.terms.chances;
  ChanceUsage used;
  if (draw_ != nullptr) {
    ASSIGN_OR_RETURN(used, draw_->UsedChances(p.activity_id, uid));
  }
  absl::StatusOr<ChanceLimits> limits = LimitsFor(p, uid);
  if (!limits.ok() && !absl::IsResourceExhausted(limits.status())) return limits.status();
  const int32_t daily = limits.ok() ? limits->today : 0;
  int32_t left = std::max(0, daily - used.today);
  if (c.max_total > 0) {
    const int32_t total_left = std::max(0, c.max_total - used.total);
    left = left < 0 ? total_left : std::min(left, total_left);
  }
  return left;
}

absl::StatusOr<ActivityService::CustomerView> ActivityService::ViewFor(
    int64_t id, const std::string& external_id, const std::string& channel) {
  CustomerView v;
  v.activity = FindPublished(id);
  if (v.activity == nullptr) {
    return absl::NotFoundError(fmt::format("activity {} not found or not published", id));
  }
  ASSIGN_OR_RETURN(CustomerRecord customer, Lookup(external_id));
  const Published& p = *v.activity;
  v.can_take_part = CheckLive(p);
  if (v.can_take_part.ok()) v.can_take_part = CheckEligible(p, customer, channel);
  if (v.can_take_part.ok() && p.engine == TemplateEngine::kDraw) {
    absl::StatusOr<const PoolGroup*> pool = PoolFor(p, customer.uid);
    if (!pool.ok()) {
      v.can_take_part = pool.status();
    } else {
      v.pool_id = (*pool)->pool.id;
      ASSIGN_OR_RETURN(v.chances_left, ChancesLeft(p, customer.uid));
    }
  }
  return v;
}

absl::StatusOr<ActivityService::PreparedDraw> ActivityService::PrepareDraw(const DrawCall& call) {
  const int64_t id = call.activity_id;
  std::shared_ptr<const Published> p = FindPublished(id);
  if (p == nullptr)
    return absl::NotFoundError(fmt::format("activity {} not found or not published", id));
  if (p->engine != TemplateEngine::kDraw) {
    return absl::FailedPreconditionError(
        fmt::format("activity: a {} activity has no draw", p->terms.display.template_name));
  }
  if (draw_ == nullptr) return absl::UnavailableError("the draw engine is not configured");
  // Rate limits first, retries included: they protect the service, whatever the request.
  if (guard_ != nullptr) RETURN_IF_ERROR(guard_->Admit(call));
  ASSIGN_OR_RETURN(CustomerRecord customer, Lookup(call.external_id));
  PreparedDraw prepared;
  DrawRequest& req = prepared.request;
  req.activity_id = id;
  req.uid = customer.uid;
  req.idempotency_key = call.idempotency_key;
  req.channel = call.channel;
  // A key names one customer's one draw in one activity: reused for anything else, the engine
  // refuses it.
  req.request_digest = Sha256Hex(Cat(id, "|", customer.uid, "|", call.channel, "|", p->version));
  // A retry of a draw that happened returns its outcome, whatever happened since (paused,
  // chances used up): the customer's first request was answered, perhaps lost on the way.
  ASSIGN_OR_RETURN(std::optional<DrawResult> first,
                   draw_->Find(id, customer.uid, call.idempotency_key));
  if (first) {
    req.pool_id = first->pool_id;
    return prepared;
  }
  RETURN_IF_ERROR(CheckLive(*p));
  RETURN_IF_ERROR(CheckEligible(*p, customer, call.channel));
  ASSIGN_OR_RETURN(const PoolGroup* group, PoolFor(*p, customer.uid));
  req.pool_id = group->pool.id;
  // The risk check sees only draws that would otherwise happen (a replay above answers with
  // the first draw), and runs before any chance or point is used.
  if (guard_ != nullptr) RETURN_IF_ERROR(guard_->CheckRisk(call));
  const Chances& c = p->terms.chances;
  // Free (with the day's task chances) and paid chances of the day: LimitsFor.
  ASSIGN_OR_RETURN(const ChanceLimits limits, LimitsFor(*p, customer.uid));
  req.max_draws_today = limits.today;
  req.max_draws_total = limits.total;
  ASSIGN_OR_RETURN(ChanceUsage used, draw_->UsedChances(id, customer.uid));
  if ((req.max_draws_today > 0 && used.today >= req.max_draws_today) ||
      (req.max_draws_total > 0 && used.total >= req.max_draws_total)) {
    return absl::ResourceExhaustedError("chances: no chances left");
  }
  // Beyond the free draws of the day, a draw costs points (when the terms say so).
  prepared.spend_key = Cat("activity:", id, ":draw:", call.idempotency_key);
  if (c.points_cost > 0 && used.today >= limits.free_today) {
    if (points_ == nullptr) return absl::UnavailableError("the points ledger is not configured");
    absl::StatusOr<PointsEntry> e =
        points_->Spend(customer.uid, c.points_cost, fmt::format("activity {} draw", id),
                       prepared.spend_key, "system:activity");
    if (absl::IsFailedPrecondition(e.status())) {
      return absl::FailedPreconditionError(
          fmt::format("points: not enough points for a draw ({} needed)", c.points_cost));
    }
    if (!e.ok()) return e.status();
    prepared.spent_entry_id = e->id;
    prepared.points_spent = c.points_cost;
  }
  return prepared;
}

absl::StatusOr<ActivityService::DrawOutcome> ActivityService::FinishDraw(
    const PreparedDraw& prepared, absl::StatusOr<DrawResult> result) {
  if (!result.ok()) {
    if (prepared.spent_entry_id > 0) {
      absl::StatusOr<PointsEntry> back = points_->Reverse(
          prepared.spent_entry_id, prepared.spend_key + ":refund", "system:activity");
      if (!back.ok()) {
        Log(Severity::kError, "points of a failed draw not refunded",
            {{"activity", std::to_string(prepared.request.activity_id)},
             {"entry", std::to_string(prepared.spent_entry_id)},
             {"error", std::string(back.status().message())}});
      }
    }
    return result.status();
  }
  DrawOutcome out;
  out.result = *std::move(result);
  out.points_spent = prepared.points_spent;
  return out;
}

namespace {

// Whether a draw in these terms may block its thread: a call to the bank's verification hook,
// a points spend (a SQLite write) or task chances (SQLite reads). Audiences and rules (of the
// eligibility or a pool's group) are evaluated on the in-memory index, at most once per
// membership cache period; without that cache every draw evaluates them, which is too long
// for an I/O thread. The rest is memory: rate limits, the risk check, the uid, the engine's
// chances and idempotency keys.
bool DrawMayBlock(const ActivityTerms& t, bool membership_cached) {
  const Eligibility& e = t.eligibility;
  if (e.verification || t.chances.points_cost > 0 || !t.chances.tasks.empty()) return true;
  if (membership_cached) return false;
  return e.audience_id || e.rule ||
         std::any_of(t.pools.begin(), t.pools.end(),
                     [](const PoolGroup& g) { return g.kind != PoolGroup::Kind::kDefault; });
}

}  // namespace

void ActivityService::DrawAsync(const DrawCall& call, DrawDone done) {
  if (call.offload) {
    std::shared_ptr<const Published> p = FindPublished(call.activity_id);
    if (p != nullptr && DrawMayBlock(p->terms, options_.membership_cache_ms > 0)) {
      DrawCall rest = call;
      rest.offload = nullptr;
      call.offload([this, rest = std::move(rest), done = std::move(done)]() mutable {
        DrawAsync(rest, std::move(done));
      });
      return;
    }
  }
  absl::StatusOr<PreparedDraw> prepared = PrepareDraw(call);
  if (!prepared.ok()) {
    done(prepared.status());
    return;
  }
  auto shared = std::make_shared<PreparedDraw>(*std::move(prepared));
  const DrawRequest& request = shared->request;
  draw_->DrawAsync(
      request, [this, shared, done = std::move(done)](absl::StatusOr<DrawResult> result) mutable {
        done(FinishDraw(*shared, std::move(result)));
      });
}

absl::StatusOr<ActivityService::DrawOutcome> ActivityService::Draw(const DrawCall& call) {
  absl::Notification finished;
  absl::StatusOr<DrawOutcome> answer = absl::UnknownError("draw: no answer");
  DrawAsync(call, [&](absl::StatusOr<DrawOutcome> outcome) {
    answer = std::move(outcome);
    finished.Notify();
  });
  finished.WaitForNotification();
  return answer;
}

absl::StatusOr<std::vector<DrawResult>> ActivityService::MyPrizes(int64_t id,
                                                                  const std::string& external_id) {
  if (FindPublished(id) == nullptr && !View(id).ok()) {
    return absl::NotFoundError(fmt::format("activity {} not found", id));
  }
  if (draw_ == nullptr) return absl::UnavailableError("the draw engine is not configured");
  ASSIGN_OR_RETURN(CustomerRecord customer, Lookup(external_id));
  return draw_->MyPrizes(id, customer.uid);
}

absl::StatusOr<json::object> ActivityService::Rules(int64_t id) {
  std::shared_ptr<const Published> p = FindPublished(id);
  if (p == nullptr)
    return absl::NotFoundError(fmt::format("activity {} not found or not published", id));
  const ActivityTerms& t = p->terms;
  std::map<std::string, int64_t> stock;
  if (draw_ != nullptr && p->engine == TemplateEngine::kDraw) {
    absl::StatusOr<std::map<std::string, int64_t>> s = draw_->StockLeft(id);
    if (s.ok()) stock = *std::move(s);
  }
  json::array pools;
  for (const PoolGroup& g : t.pools) {
    int64_t sum = 0;
    for (const Prize& x : g.pool.prizes) sum += x.weight;
    json::array prizes;
    for (const Prize& x : g.pool.prizes) {
      json::object o{{"id", x.id},
                     {"name", x.name},
                     {"kind", x.kind},
                     {"probability", sum > 0 ? static_cast<double>(x.weight) / sum : 0.0},
                     {"total_stock", x.total_stock},
                     {"daily_stock", x.daily_stock},
                     {"per_customer_cap", x.per_customer_cap}};
      if (auto it = stock.find(g.pool.id + "/" + x.id); it != stock.end()) {
        o["stock_left"] = it->second;
      }
      prizes.push_back(std::move(o));
    }
    pools.push_back(json::object{{"id", g.pool.id},
                                 {"name", g.pool.name},
                                 {"guarantee_after", g.pool.guarantee_after},
                                 {"prizes", std::move(prizes)}});
  }
  ActivityRecord r;
  r.phase = p->phase;
  return json::object{{"id", id},
                      {"version", p->version},
                      {"name", t.name},
                      {"description", t.description},
                      {"state", StateOf(r, ActivityVersion{}, &t, clock_->NowMs())},
                      {"template", t.display.template_name},
                      {"title", t.display.title},
                      {"start", FormatTime(t.eligibility.start_ms)},
                      {"end", FormatTime(t.eligibility.end_ms)},
                      {"channels", ActivityTermsToJson(t)["eligibility"].as_object()["channels"]},
                      {"chances", json::object{{"free_per_day", t.chances.free_per_day},
                                               {"points_cost", t.chances.points_cost},
                                               {"max_per_day", t.chances.max_per_day},
                                               {"max_total", t.chances.max_total}}},
                      {"pools", std::move(pools)}};
}

}  // namespace mercator::activity
