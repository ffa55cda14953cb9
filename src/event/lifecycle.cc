#include "event/lifecycle.h"

#include <boost/json.hpp>

#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "segment/dsl.h"

namespace mercator::event {
namespace {

namespace json = boost::json;

bool IsStageName(std::string_view s) {
  if (s.empty() || s.size() > 32 || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

absl::StatusOr<Roaring> EvaluateText(const SegmentIndex& index, std::string_view text) {
  ASSIGN_OR_RETURN(Rule rule, ParseDsl(text));
  return index.Evaluate(rule);
}

absl::StatusOr<Roaring> StageMembers(const SegmentIndex& index, std::string_view stage) {
  return EvaluateText(index, fmt::format("{} = \"{}\"", kLifecycleTag, stage));
}

}  // namespace

LifecycleRules DefaultLifecycleRules() {
  LifecycleRules r;
  r.stages = {
      {"potential", "潜在客户", "not exists(open_date)"},
      {"new", "新客户", "open_date >= days_ago(89)"},
      {"active", "活跃客户",
       "last_login >= days_ago(89) or last_txn >= days_ago(89) or last_seen >= days_ago(89)"},
      {"dormant", "睡眠客户",
       "last_login >= days_ago(365) or last_txn >= days_ago(365) or last_seen >= days_ago(365)"},
      {"churned", "流失客户", ""},
  };
  return r;
}

std::vector<TagDef> DefaultLifecycleInputTags() {
  auto date = [](std::string key, std::string zh, std::string en, TagCategory category,
                 std::string description) {
    TagDef d;
    d.key = std::move(key);
    d.name_zh = std::move(zh);
    d.name_en = std::move(en);
    d.category = category;
    d.type = TagType::kDate;
    d.source = TagSource::kImported;
    d.description = std::move(description);
    return d;
  };
  return {date("open_date", "开户日期", "Account opened", TagCategory::kLifecycle,
               "Date the first account was opened; absent for potential customers."),
          date("last_login", "最近登录日期", "Last app login", TagCategory::kBehaviour,
               "Last login to the mobile banking app; absent without the app."),
          date("last_txn", "最近交易日期", "Last transaction", TagCategory::kBehaviour,
               "Last customer-initiated transaction on any channel.")};
}

absl::StatusOr<std::string> ExpandDaysAgo(std::string_view rule, int64_t today) {
  static constexpr std::string_view kMacro = "days_ago(";
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t at = rule.find(kMacro, pos);
    if (at == std::string_view::npos) break;
    out.append(rule.substr(pos, at - pos));
    size_t i = at + kMacro.size();
    while (i < rule.size() && rule[i] == ' ') ++i;
    int64_t n = 0;
    size_t digits = 0;
    while (i < rule.size() && rule[i] >= '0' && rule[i] <= '9' && digits < 6) {
      n = n * 10 + (rule[i] - '0');
      ++i;
      ++digits;
    }
    while (i < rule.size() && rule[i] == ' ') ++i;
    if (digits == 0 || i >= rule.size() || rule[i] != ')' || n > 36500) {
      return absl::InvalidArgumentError(
          fmt::format("column {}: days_ago takes a whole number of days from 0 to 36500", at + 1));
    }
    TagDef date;
    date.type = TagType::kDate;
    out += fmt::format("\"{}\"", FormatTagValue(date, today - n));
    pos = i + 1;
  }
  out.append(rule.substr(pos));
  return out;
}

absl::Status ValidateLifecycleRules(const LifecycleRules& rules) {
  if (rules.stages.empty()) return absl::InvalidArgumentError("stages: needs at least one stage");
  if (rules.stages.size() > 16) return absl::InvalidArgumentError("stages: at most 16 stages");
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < rules.stages.size(); ++i) {
    const LifecycleStage& s = rules.stages[i];
    if (!IsStageName(s.name)) {
      return absl::InvalidArgumentError(fmt::format(
          "stages[{}].name: must be 1 to 32 of a-z, 0-9 and _, starting with a letter", i));
    }
    if (!seen.insert(s.name).second) {
      return absl::InvalidArgumentError(
          fmt::format("stages[{}].name: \"{}\" is repeated", i, s.name));
    }
    if (s.rule.empty()) {
      if (i + 1 != rules.stages.size()) {
        return absl::InvalidArgumentError(
            fmt::format("stages[{}].rule: only the last stage may match everyone", i));
      }
      continue;
    }
    absl::StatusOr<std::string> text = ExpandDaysAgo(s.rule, 20000);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("stages[{}].rule: {}", i, std::string(text.status().message())));
    }
    if (absl::StatusOr<Rule> r = ParseDsl(*text); !r.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("stages[{}].rule: {}", i, std::string(r.status().message())));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LifecycleRules> LifecycleRulesFromJson(const json::value& v) {
  if (!v.is_object()) return absl::InvalidArgumentError("body: must be a JSON object");
  const json::object& o = v.get_object();
  for (const auto& [key, unused] : o) {
    if (key != "stages" && key != "version") {
      return absl::InvalidArgumentError(
          fmt::format("{}: is not a member of lifecycle rules", std::string_view(key)));
    }
  }
  const json::value* stages = o.if_contains("stages");
  if (stages == nullptr || !stages->is_array()) {
    return absl::InvalidArgumentError("stages: is required (an array of stages)");
  }
  LifecycleRules rules;
  const json::array& a = stages->get_array();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_object()) {
      return absl::InvalidArgumentError(fmt::format("stages[{}]: must be an object", i));
    }
    LifecycleStage s;
    for (const auto& [key, value] : a[i].get_object()) {
      const std::string_view k(key);
      std::string* target = k == "name"      ? &s.name
                            : k == "name_zh" ? &s.name_zh
                            : k == "rule"    ? &s.rule
                                             : nullptr;
      if (target == nullptr) {
        return absl::InvalidArgumentError(
            fmt::format("stages[{}].{}: is not a member of a stage", i, k));
      }
      if (!value.is_string()) {
        return absl::InvalidArgumentError(fmt::format("stages[{}].{}: must be a string", i, k));
      }
      *target = std::string(value.get_string());
    }
    rules.stages.push_back(std::move(s));
  }
  RETURN_IF_ERROR(ValidateLifecycleRules(rules));
  return rules;
}

absl::StatusOr<LifecycleRules> LoadLifecycleRules(LifecycleRepository& repository) {
  ASSIGN_OR_RETURN(std::optional<LifecycleRulesRecord> saved, repository.Latest());
  if (!saved) return DefaultLifecycleRules();
  boost::system::error_code ec;
  json::value v = json::parse(saved->rules_json, ec);
  absl::StatusOr<LifecycleRules> rules =
      ec ? absl::StatusOr<LifecycleRules>(absl::InvalidArgumentError("not JSON"))
         : LifecycleRulesFromJson(v);
  if (!rules.ok()) {
    return absl::DataLossError(fmt::format("lifecycle_rules version {}: {}", saved->version,
                                           std::string(rules.status().message())));
  }
  rules->version = saved->version;
  return rules;
}

json::object LifecycleRulesToJson(const LifecycleRules& rules) {
  json::array stages;
  for (const LifecycleStage& s : rules.stages) {
    stages.push_back(json::object{{"name", s.name}, {"name_zh", s.name_zh}, {"rule", s.rule}});
  }
  return json::object{{"version", rules.version}, {"stages", std::move(stages)}};
}

TagDef LifecycleTagDef(const LifecycleRules& rules) {
  TagDef d;
  d.key = std::string(kLifecycleTag);
  d.name_zh = "生命周期";
  d.name_en = "Lifecycle stage";
  d.category = TagCategory::kLifecycle;
  d.type = TagType::kEnum;
  d.source = TagSource::kRuleComputed;
  std::string legend = "Computed from the lifecycle rules (GET /v1/lifecycle/rules):";
  for (const LifecycleStage& s : rules.stages) {
    d.values.push_back(s.name);
    legend += fmt::format(" {}={};", s.name, s.name_zh);
  }
  d.description = legend;
  return d;
}

void LifecycleEngine::SetKnown(uint32_t uid, const std::string& stage) {
  for (auto& [name, members] : known_) members.remove(uid);
  if (!stage.empty()) known_[stage].add(uid);
}

void LifecycleEngine::Forget(uint32_t uid) {
  for (auto& [name, members] : known_) members.remove(uid);
}

absl::StatusOr<std::vector<LifecycleTransition>> LifecycleEngine::Run(const LifecycleRules& rules,
                                                                      int64_t today) {
  std::optional<TagDef> tag = index_->FindTag(kLifecycleTag);
  if (!tag) return absl::FailedPreconditionError("lifecycle: the tag is not defined");
  const Roaring live = index_->Live();

  // The stage of each live customer: the first rule that matches.
  std::vector<std::pair<std::string, Roaring>> next;
  Roaring remaining = live;
  for (const LifecycleStage& s : rules.stages) {
    Roaring members;
    if (s.rule.empty()) {
      members = remaining;
    } else {
      ASSIGN_OR_RETURN(std::string text, ExpandDaysAgo(s.rule, today));
      ASSIGN_OR_RETURN(members, EvaluateText(*index_, text));
      members &= remaining;
    }
    remaining -= members;
    next.emplace_back(s.name, std::move(members));
  }

  // What the index holds now, per value of the tag.
  std::vector<std::pair<std::string, Roaring>> current;
  for (const std::string& value : tag->values) {
    ASSIGN_OR_RETURN(Roaring members, StageMembers(*index_, value));
    current.emplace_back(value, std::move(members));
  }
  if (!seeded_) {
    Roaring recorded;
    for (const auto& [name, members] : known_) recorded |= members;
    for (const auto& [value, members] : current) known_[value] |= members - recorded;
    seeded_ = true;
  }

  std::vector<LifecycleTransition> transitions;
  auto known_stage = [&](uint32_t uid) -> std::string {
    for (const auto& [name, members] : known_) {
      if (members.contains(uid)) return name;
    }
    return "";
  };
  for (const auto& [name, members] : next) {
    auto it = known_.find(name);
    const Roaring entered = it == known_.end() ? members : members - it->second;
    for (uint32_t uid : entered) transitions.push_back({uid, known_stage(uid), name});
  }
  Roaring had_stage;
  for (const auto& [name, members] : known_) had_stage |= members;
  for (uint32_t uid : (had_stage & remaining)) transitions.push_back({uid, known_stage(uid), ""});

  // Bring the index in line: set changed stages, clear customers in no stage.
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  for (const auto& [name, members] : next) {
    Roaring stale = members;
    for (const auto& [value, held] : current) {
      if (value == name) stale -= held;
    }
    for (uint32_t uid : stale) {
      TagChanges c;
      c.emplace(std::string(kLifecycleTag), TagValue(name));
      batch.emplace_back(uid, std::move(c));
    }
  }
  Roaring any_value;
  for (const auto& [value, held] : current) any_value |= held;
  for (uint32_t uid : (any_value & remaining)) {
    TagChanges c;
    c.emplace(std::string(kLifecycleTag), std::nullopt);
    batch.emplace_back(uid, std::move(c));
  }
  if (!batch.empty()) RETURN_IF_ERROR(index_->ApplyBatch(batch));

  known_.clear();
  for (auto& [name, members] : next) known_.emplace(name, std::move(members));
  return transitions;
}

std::map<std::string, uint64_t> LifecycleEngine::Counts() const {
  std::map<std::string, uint64_t> out;
  for (const auto& [name, members] : known_) out[name] = members.cardinality();
  return out;
}

}  // namespace mercator::event
