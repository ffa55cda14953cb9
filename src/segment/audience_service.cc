#include "segment/audience_service.h"

#include <fmt/format.h>

#include <chrono>
#include <unordered_set>

#include "common/roaring_bytes.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "segment/dsl.h"

namespace mercator {

namespace {

absl::Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > 200) {
    return absl::InvalidArgumentError("name: must be 1 to 200 bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<Rule> ParseStoredRule(const std::string& dsl) {
  absl::StatusOr<Rule> rule = ParseDsl(dsl);
  if (!rule.ok()) {
    return absl::DataLossError(
        fmt::format("stored rule does not parse: {}", rule.status().message()));
  }
  return rule;
}

}  // namespace

AudienceService::AudienceService(SegmentIndex* index, CustomerRepository* customers,
                                 AudienceRepository* audiences, const Clock* clock)
    : index_(index), customers_(customers), audiences_(audiences), clock_(clock) {}

absl::StatusOr<AudienceService::CountResult> AudienceService::Count(const Rule& rule) const {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(uint64_t count, index_->Count(rule));
  CountResult result;
  result.count = count;
  result.took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  result.live = index_->LiveCount();
  return result;
}

absl::StatusOr<std::vector<SegmentIndex::Bucket>> AudienceService::Breakdown(
    const Rule& rule, std::string_view tag, const std::vector<int64_t>& boundaries) const {
  ASSIGN_OR_RETURN(Roaring members, index_->Evaluate(rule));
  return index_->Breakdown(members, tag, boundaries);
}

absl::StatusOr<std::vector<std::string>> AudienceService::Sample(const Rule& rule, size_t limit,
                                                                 Random& random) const {
  ASSIGN_OR_RETURN(Roaring members, index_->Evaluate(rule));
  const uint64_t n = members.cardinality();
  std::vector<uint32_t> uids;
  if (n <= limit) {
    uids.resize(n);
    members.toUint32Array(uids.data());
  } else {
    // Floyd's algorithm: `limit` distinct ranks, each subset equally likely.
    std::vector<uint64_t> ranks;
    std::unordered_set<uint64_t> chosen;
    for (uint64_t j = n - limit; j < n; ++j) {
      uint64_t t = random.Uniform(j + 1);
      if (!chosen.insert(t).second) {
        chosen.insert(j);
        t = j;
      }
      ranks.push_back(t);
    }
    for (uint64_t r : ranks) {
      uint32_t uid = 0;
      members.select(static_cast<uint32_t>(r), &uid);
      uids.push_back(uid);
    }
  }
  return customers_->ExternalIds(uids);
}

AudienceService::ChunkWriter AudienceService::ExportCsv(Roaring members) const {
  struct State {
    Roaring members;
    std::vector<uint32_t> page;
    uint64_t next_rank = 0;
    bool header_sent = false;
  };
  auto state = std::make_shared<State>();
  state->members = std::move(members);
  CustomerRepository* customers = customers_;
  return [state, customers](std::string& chunk) -> bool {
    constexpr uint32_t kPage = 10000;
    chunk.clear();
    if (!state->header_sent) {
      state->header_sent = true;
      chunk = "external_id\n";
      return true;
    }
    const uint64_t total = state->members.cardinality();
    if (state->next_rank >= total) return false;
    const uint64_t count = std::min<uint64_t>(kPage, total - state->next_rank);
    state->page.resize(count);
    // rangeUint32Array copies `count` members starting at rank `offset`.
    state->members.rangeUint32Array(state->page.data(), state->next_rank, count);
    state->next_rank += count;
    absl::StatusOr<std::vector<std::string>> ids = customers->ExternalIds(state->page);
    if (!ids.ok()) {
      // The status line is already sent; the only honest signal left is a truncated body.
      return false;
    }
    for (const std::string& id : *ids) {
      if (id.empty()) continue;
      chunk.append(id);
      chunk.push_back('\n');
    }
    return true;
  };
}

absl::StatusOr<Audience> AudienceService::Create(std::string name, std::string description,
                                                 const Rule& rule, std::string actor) {
  RETURN_IF_ERROR(CheckName(name));
  RETURN_IF_ERROR(index_->Evaluate(rule).status());
  Audience a;
  a.name = std::move(name);
  a.description = std::move(description);
  a.rule_dsl = ToDsl(rule);
  a.created_by = std::move(actor);
  a.created_ms = a.updated_ms = clock_->NowMs();
  ASSIGN_OR_RETURN(a.id, audiences_->Create(a));
  return a;
}

absl::StatusOr<Audience> AudienceService::Update(int64_t id, std::optional<std::string> name,
                                                 std::optional<std::string> description,
                                                 std::optional<Rule> rule) {
  ASSIGN_OR_RETURN(Audience a, Get(id));
  if (name) {
    RETURN_IF_ERROR(CheckName(*name));
    a.name = std::move(*name);
  }
  if (description) a.description = std::move(*description);
  if (rule) {
    RETURN_IF_ERROR(index_->Evaluate(*rule).status());
    a.rule_dsl = ToDsl(*rule);
  }
  a.updated_ms = clock_->NowMs();
  RETURN_IF_ERROR(audiences_->Update(a));
  return a;
}

absl::StatusOr<Audience> AudienceService::Get(int64_t id) const {
  ASSIGN_OR_RETURN(std::optional<Audience> a, audiences_->Get(id));
  if (!a) return absl::NotFoundError(fmt::format("audience {} not found", id));
  return *std::move(a);
}

absl::StatusOr<std::vector<Audience>> AudienceService::List(int64_t after_id, int limit) const {
  return audiences_->List(after_id, limit);
}

absl::Status AudienceService::Delete(int64_t id) {
  RETURN_IF_ERROR(Get(id).status());
  return audiences_->Delete(id);
}

absl::StatusOr<AudienceSnapshot> AudienceService::TakeSnapshot(int64_t id, std::string actor) {
  ASSIGN_OR_RETURN(Audience a, Get(id));
  ASSIGN_OR_RETURN(Rule rule, ParseStoredRule(a.rule_dsl));
  ASSIGN_OR_RETURN(Roaring members, index_->Evaluate(rule));
  members.runOptimize();
  AudienceSnapshot s;
  s.audience_id = id;
  s.rule_dsl = a.rule_dsl;
  s.count = members.cardinality();
  s.members = PortableBytes(members);
  s.created_by = std::move(actor);
  s.created_ms = clock_->NowMs();
  ASSIGN_OR_RETURN(s.version, audiences_->AddSnapshot(s));
  s.members.clear();
  return s;
}

absl::StatusOr<std::vector<AudienceSnapshot>> AudienceService::ListSnapshots(int64_t id) const {
  RETURN_IF_ERROR(Get(id).status());
  return audiences_->ListSnapshots(id);
}

absl::StatusOr<Roaring> AudienceService::SnapshotMembers(int64_t id, int32_t version) const {
  ASSIGN_OR_RETURN(std::optional<AudienceSnapshot> s, audiences_->GetSnapshot(id, version));
  if (!s) return absl::NotFoundError(fmt::format("audience {} has no version {}", id, version));
  return FromPortableBytes(s->members, fmt::format("snapshot {} v{}", id, version));
}

}  // namespace mercator
