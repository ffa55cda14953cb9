#include "placement/placement_service.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <set>

#include "absl/time/time.h"
#include "auth/request_signing.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "customer/customer_service.h"
#include "outreach/contact_policy.h"
#include "outreach/templates.h"
#include "segment/audience_service.h"
#include "segment/dsl.h"
#include "store/outreach_repository.h"

namespace mercator::placement {

namespace json = boost::json;

namespace {

constexpr size_t kMaxSlotBytes = 64;
constexpr size_t kMaxTitleBytes = 200;
constexpr size_t kMaxBodyBytes = 2000;
constexpr size_t kMaxUrlBytes = 1000;
constexpr int64_t kMaxPriority = 1000;
constexpr int64_t kMaxDailyCap = 100;
constexpr int kMaxLimit = 10;
constexpr size_t kTokenChars = 12;  // base62: 71 bits, as outreach's tracked links

absl::Status Bad(std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", field, reason));
}

absl::StatusOr<std::string> StringMember(const json::object& o, std::string_view key, bool required,
                                         size_t max_bytes) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return Bad(key, "is required");
    return std::string();
  }
  if (!v->is_string()) return Bad(key, "must be a string");
  std::string s(v->as_string());
  if ((required && s.empty()) || s.size() > max_bytes) {
    return Bad(key, fmt::format("must have {} to {} bytes", required ? 1 : 0, max_bytes));
  }
  return s;
}

absl::StatusOr<int64_t> IntMember(const json::object& o, std::string_view key, int64_t min,
                                  int64_t max, int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_int64() && !v->is_uint64()) return Bad(key, "must be an integer");
  const int64_t n = v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
  if (n < min || n > max) return Bad(key, fmt::format("must be between {} and {}", min, max));
  return n;
}

absl::StatusOr<int64_t> TimeMember(const json::object& o, std::string_view key) {
  ASSIGN_OR_RETURN(std::string text, StringMember(o, key, false, 64));
  if (text.empty()) return 0;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return Bad(key, "must be an RFC 3339 time such as 2026-11-24T09:00:00+08:00");
  }
  return absl::ToUnixMillis(t);
}

absl::Status CheckUrl(std::string_view field, std::string_view url) {
  if (!(url.starts_with("https://") || url.starts_with("http://")) ||
      url.find_first_of(" \t\r\n<>\"") != std::string_view::npos) {
    return Bad(field, "must be an http(s) URL without spaces");
  }
  return absl::OkStatus();
}

// Slots are names, never numbers, so GET /v1/placements/{slot} cannot be mistaken for an id.
bool IsSlot(std::string_view slot) {
  if (slot.empty() || slot.size() > kMaxSlotBytes || !(slot[0] >= 'a' && slot[0] <= 'z')) {
    return false;
  }
  return std::all_of(slot.begin(), slot.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string NewToken() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string token(kTokenChars, '0');
  for (char& c : token) c = kAlphabet[randombytes_uniform(62)];
  return token;
}

absl::StatusOr<Definition> DefinitionOf(const PlacementRow& row) {
  boost::system::error_code ec;
  json::value v = json::parse(row.definition_json, ec);
  if (ec) return absl::DataLossError(fmt::format("placement {}: stored definition", row.id));
  return ParseDefinition(v);
}

}  // namespace

absl::StatusOr<Definition> ParseDefinition(const json::value& doc) {
  if (!doc.is_object()) return Bad("body", "must be a JSON object");
  const json::object& o = doc.as_object();
  static const std::set<std::string, std::less<>> kKnown = {
      "slot",     "title",    "body",   "image_url", "link_url", "audience",
      "priority", "start_at", "end_at", "daily_cap", "purpose"};
  for (const auto& kv : o) {
    if (!kKnown.contains(std::string_view(kv.key()))) return Bad(kv.key(), "unknown member");
  }
  Definition d;
  ASSIGN_OR_RETURN(d.slot, StringMember(o, "slot", true, kMaxSlotBytes));
  if (!IsSlot(d.slot)) {
    return Bad("slot", "must start with a-z and hold only a-z, 0-9, _ and - (at most 64)");
  }
  ASSIGN_OR_RETURN(d.title, StringMember(o, "title", true, kMaxTitleBytes));
  ASSIGN_OR_RETURN(d.body, StringMember(o, "body", false, kMaxBodyBytes));
  ASSIGN_OR_RETURN(d.image_url, StringMember(o, "image_url", false, kMaxUrlBytes));
  if (!d.image_url.empty()) RETURN_IF_ERROR(CheckUrl("image_url", d.image_url));
  ASSIGN_OR_RETURN(d.link_url, StringMember(o, "link_url", true, kMaxUrlBytes));
  RETURN_IF_ERROR(CheckUrl("link_url", d.link_url));

  if (const json::value* aud = o.if_contains("audience"); aud != nullptr && !aud->is_null()) {
    if (!aud->is_object()) return Bad("audience", "must be {\"audience_id\": n} or {\"rule\": s}");
    const json::object& a = aud->as_object();
    const bool has_id = a.contains("audience_id"), has_rule = a.contains("rule");
    if (has_id == has_rule || a.size() != 1) {
      return Bad("audience", "give exactly one of audience_id and rule");
    }
    if (has_id) {
      const json::value& v = a.at("audience_id");
      if (!v.is_int64() || v.as_int64() <= 0) {
        return Bad("audience.audience_id", "must be a positive integer");
      }
      d.audience_id = v.as_int64();
    } else {
      const json::value& v = a.at("rule");
      if (!v.is_string() || v.as_string().empty()) {
        return Bad("audience.rule", "must be a rule in the DSL");
      }
      d.rule = std::string(v.as_string());
      absl::StatusOr<Rule> rule = ParseDsl(d.rule);
      if (!rule.ok()) return Bad("audience.rule", std::string(rule.status().message()));
    }
  }
  ASSIGN_OR_RETURN(d.priority, IntMember(o, "priority", 0, kMaxPriority, 0));
  ASSIGN_OR_RETURN(d.start_ms, TimeMember(o, "start_at"));
  ASSIGN_OR_RETURN(d.end_ms, TimeMember(o, "end_at"));
  if (d.end_ms > 0 && d.end_ms <= d.start_ms) return Bad("end_at", "must be after start_at");
  ASSIGN_OR_RETURN(d.daily_cap, IntMember(o, "daily_cap", 0, kMaxDailyCap, 0));
  ASSIGN_OR_RETURN(std::string purpose, StringMember(o, "purpose", false, 20));
  if (!purpose.empty()) d.purpose = purpose;
  if (!outreach::CheckPurpose(d.purpose).ok())
    return Bad("purpose", "must be marketing or service");
  return d;
}

PlacementService::PlacementService(PlacementRepository* repo, auth::ApprovalService* approvals,
                                   AudienceService* audiences, CustomerService* customers,
                                   outreach::ContactPolicy* policy,
                                   OutreachRepository* outreach_repo, const Clock* clock,
                                   PlacementServiceOptions options)
    : repo_(repo),
      approvals_(approvals),
      audiences_(audiences),
      customers_(customers),
      policy_(policy),
      outreach_repo_(outreach_repo),
      clock_(clock),
      options_(options) {
  approvals_->OnDecided("placement", [this](const Approval& a) { OnDecided(a); });
}

absl::StatusOr<PlacementRow> PlacementService::Create(const json::value& definition,
                                                      const Principal& actor) {
  ASSIGN_OR_RETURN(Definition d, ParseDefinition(definition));
  PlacementRow row;
  row.slot = d.slot;
  row.name = d.title;
  row.priority = d.priority;
  row.definition_json = json::serialize(definition);
  row.digest = auth::Sha256Hex(row.definition_json);
  row.status = "draft";
  row.created_by = actor.Actor();
  row.created_ms = row.updated_ms = clock_->NowMs();
  return repo_->Create(row);
}

absl::StatusOr<PlacementRow> PlacementService::Update(int64_t id, const json::value& definition) {
  ASSIGN_OR_RETURN(PlacementRow row, repo_->Get(id));
  ASSIGN_OR_RETURN(Definition d, ParseDefinition(definition));
  row.slot = d.slot;
  row.name = d.title;
  row.priority = d.priority;
  row.definition_json = json::serialize(definition);
  row.digest = auth::Sha256Hex(row.definition_json);
  row.updated_ms = clock_->NowMs();
  ASSIGN_OR_RETURN(bool updated, repo_->UpdateDraft(row));
  if (!updated) {
    return absl::FailedPreconditionError(
        fmt::format("placement {} is {}: only a draft can be edited", id, row.status));
  }
  return repo_->Get(id);
}

absl::StatusOr<PlacementRow> PlacementService::Get(int64_t id) { return repo_->Get(id); }

absl::StatusOr<std::vector<PlacementRow>> PlacementService::List(int64_t after_id, int limit,
                                                                 std::string_view status,
                                                                 std::string_view slot) {
  return repo_->List(after_id, limit, status, slot);
}

absl::Status PlacementService::CheckAudience(const Definition& d) {
  if (d.audience_id > 0) {
    if (absl::Status s = audiences_->Get(d.audience_id).status(); !s.ok()) {
      return Bad("audience.audience_id", std::string(s.message()));
    }
  } else if (!d.rule.empty()) {
    ASSIGN_OR_RETURN(Rule rule, ParseDsl(d.rule));
    if (absl::Status s = audiences_->index().Evaluate(rule).status(); !s.ok()) {
      return Bad("audience.rule", std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Approval> PlacementService::Submit(int64_t id, const Principal& actor,
                                                  const auth::RequestMeta& meta) {
  ASSIGN_OR_RETURN(PlacementRow row, repo_->Get(id));
  if (row.status != "draft") {
    return absl::FailedPreconditionError(
        fmt::format("placement {} is {}: only a draft can be submitted", id, row.status));
  }
  ASSIGN_OR_RETURN(Definition d, DefinitionOf(row));
  RETURN_IF_ERROR(CheckAudience(d));
  auth::Submission s;
  s.object_type = "placement";
  s.object_id = std::to_string(id);
  s.summary = fmt::format("placement {} ({}): {}", id, row.slot, row.name);
  s.digest = row.digest;
  return auth::SubmitAndMark(*approvals_, s, actor, meta, [&](int64_t approval_id) {
    PlacementRepository::Transition t;
    t.from = "draft";
    t.to = "submitted";
    t.digest = row.digest;
    t.approval_id = approval_id;
    t.now_ms = clock_->NowMs();
    return repo_->Move(id, t);
  });
}

void PlacementService::OnDecided(const Approval& a) {
  auth::ApplyDecision(a, [&](int64_t id) {
    PlacementRepository::Transition t;
    t.from = "submitted";
    t.to = a.status == ApprovalStatus::kApproved ? "live" : "draft";
    t.digest = a.digest;  // an approval covers the submitted definition only
    t.now_ms = clock_->NowMs();
    return repo_->Move(id, t);
  });
}

absl::StatusOr<PlacementRow> PlacementService::Change(int64_t id,
                                                      const std::vector<std::string>& from,
                                                      const std::string& to, const char* verb) {
  ASSIGN_OR_RETURN(PlacementRow row, repo_->Get(id));
  if (std::find(from.begin(), from.end(), row.status) == from.end()) {
    return absl::FailedPreconditionError(
        fmt::format("placement {} is {}: it cannot be {}", id, row.status, verb));
  }
  PlacementRepository::Transition t;
  t.from = row.status;
  t.to = to;
  t.now_ms = clock_->NowMs();
  ASSIGN_OR_RETURN(bool moved, repo_->Move(id, t));
  if (!moved) return absl::FailedPreconditionError(fmt::format("placement {} changed", id));
  return repo_->Get(id);
}

absl::StatusOr<PlacementRow> PlacementService::Pause(int64_t id) {
  return Change(id, {"live"}, "paused", "paused (only a live one can)");
}

absl::StatusOr<PlacementRow> PlacementService::Resume(int64_t id) {
  return Change(id, {"paused"}, "live", "resumed (only a paused one can)");
}

absl::StatusOr<PlacementRow> PlacementService::End(int64_t id) {
  // A submitted placement is withdrawn through its approval first, so the approval and the
  // placement never disagree.
  return Change(id, {"draft", "live", "paused"}, "ended",
                "ended (a submitted one is withdrawn through its approval first)");
}

absl::StatusOr<std::shared_ptr<const Roaring>> PlacementService::Members(const PlacementRow& row,
                                                                         const Definition& d,
                                                                         int64_t now) {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(row.id);
    if (it != cache_.end() && it->second.digest == row.digest && now < it->second.until_ms) {
      return it->second.members;
    }
  }
  std::string dsl = d.rule;
  if (d.audience_id > 0) {
    ASSIGN_OR_RETURN(Audience audience, audiences_->Get(d.audience_id));
    dsl = audience.rule_dsl;
  }
  ASSIGN_OR_RETURN(Rule rule, ParseDsl(dsl));
  ASSIGN_OR_RETURN(Roaring members, audiences_->index().Evaluate(rule));
  auto shared = std::make_shared<const Roaring>(std::move(members));
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_[row.id] = CachedMembers{row.digest, now + options_.cache_ms, shared};
  return shared;
}

absl::StatusOr<std::vector<Card>> PlacementService::Serve(std::string_view slot,
                                                          std::string_view customer, int limit,
                                                          Mode mode) {
  if (!IsSlot(slot)) {
    return Bad("slot", "must start with a-z and hold only a-z, 0-9, _ and - (at most 64)");
  }
  if (limit < 1 || limit > kMaxLimit) {
    return Bad("limit", fmt::format("must be between 1 and {}", kMaxLimit));
  }
  if (customer.empty()) return Bad("customer", "is required (the customer's external id)");
  ASSIGN_OR_RETURN(std::optional<uint32_t> uid, customers_->Resolve(customer));
  if (!uid) return absl::NotFoundError(fmt::format("customer {} not found", customer));

  const int64_t now = clock_->NowMs();
  const int64_t day = outreach::LocalDay(now, policy_->tz_offset_minutes());
  ASSIGN_OR_RETURN(std::vector<PlacementRow> live, repo_->ListLive(slot));
  std::optional<std::string> marketing_block;  // the policy's verdict, asked once
  std::vector<Card> cards;
  for (const PlacementRow& row : live) {
    if (cards.size() >= static_cast<size_t>(limit)) break;
    ASSIGN_OR_RETURN(Definition d, DefinitionOf(row));
    if (now < d.start_ms || (d.end_ms > 0 && now >= d.end_ms)) continue;
    if (d.audience_id > 0 || !d.rule.empty()) {
      ASSIGN_OR_RETURN(std::shared_ptr<const Roaring> members, Members(row, d, now));
      if (!members->contains(*uid)) continue;
    }
    if (d.purpose == "marketing") {
      if (!marketing_block) {
        ASSIGN_OR_RETURN(PolicySettings settings, policy_->Settings());
        ASSIGN_OR_RETURN(std::string reason,
                         policy_->Check(customer, "in_app", "marketing", now, settings));
        // Check tests the do-not-disturb list and opt-outs before consent and quiet hours,
        // which concern messages pushed to the customer, not a card in the open app.
        marketing_block = (reason == "do_not_disturb" || reason == "opted_out") ? reason : "";
      }
      if (!marketing_block->empty()) continue;
    }
    Card card{.placement_id = row.id,
              .slot = row.slot,
              .title = d.title,
              .body = d.body,
              .image_url = d.image_url,
              .link_url = d.link_url,
              .purpose = d.purpose,
              .token = ""};
    if (mode == Mode::kRecord) {
      PlacementImpression imp{.token = NewToken(),
                              .placement_id = row.id,
                              .customer = std::string(customer),
                              .local_day = day,
                              .shown_ms = now};
      ASSIGN_OR_RETURN(bool recorded, repo_->RecordImpression(imp, d.daily_cap));
      if (!recorded) continue;  // capped today: the next placement takes the place
      LinkRow link;
      link.token = imp.token;
      link.message_id = 0;  // not a message: the origin names the placement
      link.customer = imp.customer;
      link.url = d.link_url;
      link.origin = fmt::format("placement:{}", row.id);
      link.created_ms = now;
      RETURN_IF_ERROR(outreach_repo_->PutLink(link));
      card.token = imp.token;
    } else if (d.daily_cap > 0) {
      ASSIGN_OR_RETURN(int64_t seen, repo_->CountImpressions(row.id, customer, day));
      if (seen >= d.daily_cap) continue;
    }
    cards.push_back(std::move(card));
  }
  return cards;
}

absl::StatusOr<Stats> PlacementService::GetStats(int64_t id) {
  Stats out;
  ASSIGN_OR_RETURN(out.placement, repo_->Get(id));
  ASSIGN_OR_RETURN(PlacementStatsRow s, repo_->Stats(id, policy_->tz_offset_minutes()));
  out.impressions = s.impressions;
  out.customers = s.customers;
  out.clicks = s.clicks;
  for (const PlacementDayStats& d : s.days) {
    out.days.push_back(DayStats{.local_day = d.local_day,
                                .impressions = d.impressions,
                                .customers = d.customers,
                                .clicks = d.clicks});
  }
  return out;
}

}  // namespace mercator::placement
