#include "activity/activity.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "absl/time/time.h"
#include "activity/quiz_terms.h"
#include "activity/signin_terms.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "segment/dsl.h"

namespace mercator::activity {

namespace json = boost::json;

bool IsChannel(std::string_view channel) {
  return std::find(std::begin(kChannels), std::end(kChannels), channel) != std::end(kChannels);
}

std::string_view TemplateEngineName(TemplateEngine engine) {
  switch (engine) {
    case TemplateEngine::kDraw:
      return "draw";
    case TemplateEngine::kSignIn:
      return "sign_in";
    case TemplateEngine::kQuiz:
      return "quiz";
  }
  return "draw";
}

absl::StatusOr<int64_t> ParseTime(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
    return absl::InvalidArgumentError("not an RFC 3339 time such as 2026-12-01T00:00:00+08:00");
  }
  return absl::ToUnixMillis(t);
}

std::string FormatTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

namespace {

absl::Status Bad(std::string_view path, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", path, reason));
}

std::string Path(std::string_view parent, std::string_view member) {
  return parent.empty() ? std::string(member) : fmt::format("{}.{}", parent, member);
}
std::string Index(std::string_view parent, size_t i) { return fmt::format("{}[{}]", parent, i); }

// Refuses members outside `allowed`, so a typo ("free_per_dya") is not silently ignored.
absl::Status OnlyMembers(const json::object& o, std::string_view path,
                         std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : o) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(key)) == allowed.end()) {
      // Named as sent when it is a plain name, else quoted ("" or one with spaces or colons),
      // so the message always starts with a field path.
      const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
      });
      return Bad(Path(path, plain ? std::string(key) : json::serialize(json::string(key))),
                 "unknown member");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<const json::object*> Object(const json::value& v, std::string_view path) {
  if (!v.is_object()) return Bad(path, "must be an object");
  return &v.as_object();
}

absl::StatusOr<const json::object*> OptionalObject(const json::object& o, std::string_view key,
                                                   std::string_view path) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  return Object(*v, Path(path, key));
}

absl::StatusOr<std::string> String(const json::object& o, std::string_view key,
                                   std::string_view path, bool required, size_t max_bytes,
                                   std::string_view fallback = "") {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return Bad(Path(path, key), "is required");
    return std::string(fallback);
  }
  if (!v->is_string()) return Bad(Path(path, key), "must be a string");
  std::string s(v->as_string());
  if (required && s.empty()) return Bad(Path(path, key), "must not be empty");
  if (s.size() > max_bytes) {
    return Bad(Path(path, key), fmt::format("must be at most {} bytes", max_bytes));
  }
  return s;
}

absl::StatusOr<int64_t> Int(const json::object& o, std::string_view key, std::string_view path,
                            std::optional<int64_t> fallback, int64_t lo, int64_t hi) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (!fallback) return Bad(Path(path, key), "is required");
    return *fallback;
  }
  int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v->as_uint64());
  } else {
    return Bad(Path(path, key), "must be an integer");
  }
  if (n < lo || n > hi) {
    return Bad(Path(path, key), fmt::format("must be between {} and {}", lo, hi));
  }
  return n;
}

absl::StatusOr<std::vector<std::string>> StringList(const json::object& o, std::string_view key,
                                                    std::string_view path, size_t max_entries,
                                                    size_t max_bytes) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return out;
  const std::string p = Path(path, key);
  if (!v->is_array()) return Bad(p, "must be an array of strings");
  const json::array& a = v->as_array();
  if (a.size() > max_entries) return Bad(p, fmt::format("at most {} entries", max_entries));
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string() || a[i].as_string().empty()) {
      return Bad(Index(p, i), "must be a non-empty string");
    }
    if (a[i].as_string().size() > max_bytes) {
      return Bad(Index(p, i), fmt::format("must be at most {} bytes", max_bytes));
    }
    out.emplace_back(a[i].as_string());
  }
  return out;
}

void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// A DSL rule, returned in canonical form; syntax errors name the position.
absl::StatusOr<std::string> RuleText(const json::object& o, std::string_view key,
                                     std::string_view path) {
  ASSIGN_OR_RETURN(std::string text, String(o, key, path, true, 8192));
  DslError error;
  absl::StatusOr<Rule> rule = ParseDsl(text, &error);
  if (!rule.ok()) return Bad(Path(path, key), std::string(rule.status().message()));
  return ToDsl(*rule);
}

absl::StatusOr<Eligibility> ParseEligibility(const json::object& o, std::string_view path) {
  RETURN_IF_ERROR(OnlyMembers(o, path,
                              {"audience_id", "rule", "white_list", "black_list", "channels",
                               "start", "end", "verification"}));
  Eligibility e;
  if (o.contains("audience_id") && o.contains("rule")) {
    return Bad(Path(path, "rule"), "give either audience_id or rule, not both");
  }
  if (const json::value* v = o.if_contains("audience_id"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(int64_t id, Int(o, "audience_id", path, std::nullopt, 1, INT64_MAX));
    e.audience_id = id;
  }
  if (const json::value* v = o.if_contains("rule"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(std::string rule, RuleText(o, "rule", path));
    e.rule = std::move(rule);
  }
  ASSIGN_OR_RETURN(e.white_list, StringList(o, "white_list", path, kMaxListEntries, 64));
  ASSIGN_OR_RETURN(e.black_list, StringList(o, "black_list", path, kMaxListEntries, 64));
  SortUnique(e.white_list);
  SortUnique(e.black_list);
  ASSIGN_OR_RETURN(e.channels, StringList(o, "channels", path, std::size(kChannels) * 2, 32));
  for (size_t i = 0; i < e.channels.size(); ++i) {
    if (!IsChannel(e.channels[i])) {
      return Bad(Index(Path(path, "channels"), i),
                 "must be one of app, h5, wechat_oa, wecom, branch");
    }
  }
  SortUnique(e.channels);
  ASSIGN_OR_RETURN(std::string start, String(o, "start", path, true, 64));
  ASSIGN_OR_RETURN(std::string end, String(o, "end", path, true, 64));
  absl::StatusOr<int64_t> start_ms = ParseTime(start);
  if (!start_ms.ok()) return Bad(Path(path, "start"), std::string(start_ms.status().message()));
  absl::StatusOr<int64_t> end_ms = ParseTime(end);
  if (!end_ms.ok()) return Bad(Path(path, "end"), std::string(end_ms.status().message()));
  if (*end_ms <= *start_ms) return Bad(Path(path, "end"), "must be after start");
  e.start_ms = *start_ms;
  e.end_ms = *end_ms;
  ASSIGN_OR_RETURN(const json::object* hook, OptionalObject(o, "verification", path));
  if (hook != nullptr) {
    const std::string hp = Path(path, "verification");
    RETURN_IF_ERROR(OnlyMembers(*hook, hp, {"url", "timeout_ms", "cache_seconds", "on_failure"}));
    VerificationHook h;
    ASSIGN_OR_RETURN(h.url, String(*hook, "url", hp, true, 2048));
    // Plain http only to this machine (a local gateway, or a test's fake bank system).
    const bool loopback_http =
        h.url.starts_with("http://127.0.0.1:") || h.url.starts_with("http://127.0.0.1/") ||
        h.url.starts_with("http://localhost:") || h.url.starts_with("http://localhost/") ||
        h.url.starts_with("http://[::1]");
    if ((!h.url.starts_with("https://") || h.url.size() <= 8) && !loopback_http) {
      return Bad(Path(hp, "url"), "must be an https:// URL");
    }
    ASSIGN_OR_RETURN(int64_t timeout, Int(*hook, "timeout_ms", hp, 500, 10, 10000));
    ASSIGN_OR_RETURN(int64_t cache, Int(*hook, "cache_seconds", hp, 300, 0, 86400));
    h.timeout_ms = static_cast<int32_t>(timeout);
    h.cache_seconds = static_cast<int32_t>(cache);
    ASSIGN_OR_RETURN(std::string policy, String(*hook, "on_failure", hp, true, 32));
    if (policy == "fail_open") {
      h.on_failure = VerificationHook::OnFailure::kFailOpen;
    } else if (policy == "fail_closed") {
      h.on_failure = VerificationHook::OnFailure::kFailClosed;
    } else {
      return Bad(Path(hp, "on_failure"), "must be fail_open or fail_closed");
    }
    e.verification = std::move(h);
  }
  return e;
}

absl::StatusOr<Chances> ParseChances(const json::object& o, std::string_view path) {
  RETURN_IF_ERROR(
      OnlyMembers(o, path, {"free_per_day", "points_cost", "max_per_day", "max_total", "tasks"}));
  Chances c;
  ASSIGN_OR_RETURN(int64_t free, Int(o, "free_per_day", path, 1, 0, 1000));
  ASSIGN_OR_RETURN(c.points_cost, Int(o, "points_cost", path, 0, 0, 1'000'000'000));
  ASSIGN_OR_RETURN(int64_t per_day, Int(o, "max_per_day", path, 0, 0, 100000));
  ASSIGN_OR_RETURN(int64_t total, Int(o, "max_total", path, 0, 0, 10'000'000));
  c.free_per_day = static_cast<int32_t>(free);
  c.max_per_day = static_cast<int32_t>(per_day);
  c.max_total = static_cast<int32_t>(total);
  if (c.points_cost > 0 && c.max_per_day == 0) {
    return Bad(Path(path, "max_per_day"), "is required when draws cost points");
  }
  if (c.max_per_day > 0 && c.max_per_day < c.free_per_day) {
    return Bad(Path(path, "max_per_day"), "must not be below free_per_day");
  }
  if (const json::value* v = o.if_contains("tasks"); v && !v->is_null()) {
    const std::string tp = Path(path, "tasks");
    if (!v->is_array()) return Bad(tp, "must be an array");
    if (v->as_array().size() > kMaxTasks) return Bad(tp, fmt::format("at most {}", kMaxTasks));
    std::set<std::string> ids;
    for (size_t i = 0; i < v->as_array().size(); ++i) {
      const std::string ip = Index(tp, i);
      ASSIGN_OR_RETURN(const json::object* t, Object(v->as_array()[i], ip));
      RETURN_IF_ERROR(OnlyMembers(*t, ip, {"id", "name", "event", "extra_chances", "repeat"}));
      Task task;
      ASSIGN_OR_RETURN(task.id, String(*t, "id", ip, true, 64));
      if (!ids.insert(task.id).second) return Bad(Path(ip, "id"), "is used twice");
      ASSIGN_OR_RETURN(task.name, String(*t, "name", ip, true, 200));
      ASSIGN_OR_RETURN(task.event, String(*t, "event", ip, true, 128));
      ASSIGN_OR_RETURN(int64_t extra, Int(*t, "extra_chances", ip, 1, 1, 100));
      task.extra_chances = static_cast<int32_t>(extra);
      ASSIGN_OR_RETURN(std::string repeat, String(*t, "repeat", ip, false, 16, "daily"));
      if (repeat == "daily") {
        task.repeat = Task::Repeat::kDaily;
      } else if (repeat == "once") {
        task.repeat = Task::Repeat::kOnce;
      } else {
        return Bad(Path(ip, "repeat"), "must be daily or once");
      }
      c.tasks.push_back(std::move(task));
    }
  }
  return c;
}

absl::StatusOr<Prize> ParsePrize(const json::object& o, std::string_view path) {
  RETURN_IF_ERROR(OnlyMembers(o, path,
                              {"id", "name", "kind", "weight", "total_stock", "daily_stock",
                               "per_customer_cap", "cost_fen", "reward_ref"}));
  Prize p;
  ASSIGN_OR_RETURN(p.id, String(o, "id", path, true, 64));
  ASSIGN_OR_RETURN(p.name, String(o, "name", path, true, 200));
  ASSIGN_OR_RETURN(p.kind, String(o, "kind", path, true, 16));
  if (std::find(std::begin(kPrizeKinds), std::end(kPrizeKinds), p.kind) == std::end(kPrizeKinds)) {
    return Bad(Path(path, "kind"),
               "must be one of points, coupon, benefit, physical, cash, thanks");
  }
  ASSIGN_OR_RETURN(p.weight, Int(o, "weight", path, std::nullopt, 0, 1'000'000'000));
  ASSIGN_OR_RETURN(p.total_stock, Int(o, "total_stock", path, std::nullopt, -1, 1'000'000'000'000));
  ASSIGN_OR_RETURN(p.daily_stock, Int(o, "daily_stock", path, 0, 0, 1'000'000'000'000));
  ASSIGN_OR_RETURN(int64_t cap, Int(o, "per_customer_cap", path, 0, 0, 1'000'000));
  p.per_customer_cap = static_cast<int32_t>(cap);
  ASSIGN_OR_RETURN(p.cost_fen, Int(o, "cost_fen", path, 0, 0, 100'000'000'000));
  ASSIGN_OR_RETURN(p.reward_ref, String(o, "reward_ref", path, false, 200));
  if (p.kind == "points") {
    int64_t points = 0;
    auto [end, ec] =
        std::from_chars(p.reward_ref.data(), p.reward_ref.data() + p.reward_ref.size(), points);
    if (ec != std::errc() || end != p.reward_ref.data() + p.reward_ref.size() || points <= 0) {
      return Bad(Path(path, "reward_ref"), "must be the number of points, e.g. \"100\"");
    }
  } else if (p.kind == "coupon" || p.kind == "benefit") {
    int64_t id = 0;
    auto [end, ec] =
        std::from_chars(p.reward_ref.data(), p.reward_ref.data() + p.reward_ref.size(), id);
    if (p.reward_ref.empty() || ec != std::errc() ||
        end != p.reward_ref.data() + p.reward_ref.size() || id <= 0) {
      return Bad(Path(path, "reward_ref"),
                 "must be the id of a coupon or benefit template, e.g. \"12\"");
    }
  } else if (p.kind == "cash" && p.cost_fen <= 0) {
    return Bad(Path(path, "cost_fen"), "a cash prize must say its amount in fen");
  }
  return p;
}

absl::StatusOr<PoolGroup> ParsePoolGroup(const json::object& o, std::string_view path) {
  RETURN_IF_ERROR(OnlyMembers(o, path, {"group", "pool"}));
  PoolGroup g;
  const json::value* group = o.if_contains("group");
  const std::string gp = Path(path, "group");
  if (group == nullptr || group->is_null()) return Bad(gp, "is required");
  if (group->is_string()) {
    if (group->as_string() != "default") {
      return Bad(gp, "must be \"default\", {\"audience_id\": N} or {\"rule\": \"...\"}");
    }
    g.kind = PoolGroup::Kind::kDefault;
  } else if (group->is_object()) {
    const json::object& go = group->as_object();
    RETURN_IF_ERROR(OnlyMembers(go, gp, {"audience_id", "rule"}));
    if (go.contains("audience_id") == go.contains("rule")) {
      return Bad(gp, "give exactly one of audience_id or rule");
    }
    if (go.contains("audience_id")) {
      g.kind = PoolGroup::Kind::kAudience;
      ASSIGN_OR_RETURN(g.audience_id, Int(go, "audience_id", gp, std::nullopt, 1, INT64_MAX));
    } else {
      g.kind = PoolGroup::Kind::kRule;
      ASSIGN_OR_RETURN(g.rule, RuleText(go, "rule", gp));
    }
  } else {
    return Bad(gp, "must be \"default\", {\"audience_id\": N} or {\"rule\": \"...\"}");
  }
  const std::string pp = Path(path, "pool");
  const json::value* pool = o.if_contains("pool");
  if (pool == nullptr || pool->is_null()) return Bad(pp, "is required");
  ASSIGN_OR_RETURN(const json::object* po, Object(*pool, pp));
  RETURN_IF_ERROR(
      OnlyMembers(*po, pp, {"id", "name", "prizes", "fallback_prize_id", "guarantee_after"}));
  ASSIGN_OR_RETURN(g.pool.id, String(*po, "id", pp, true, 64));
  ASSIGN_OR_RETURN(g.pool.name, String(*po, "name", pp, true, 200));
  const std::string prp = Path(pp, "prizes");
  const json::value* prizes = po->if_contains("prizes");
  if (prizes == nullptr || !prizes->is_array() || prizes->as_array().empty()) {
    return Bad(prp, "must be a non-empty array");
  }
  if (prizes->as_array().size() > kMaxPrizesPerPool) {
    return Bad(prp, fmt::format("at most {} prizes", kMaxPrizesPerPool));
  }
  std::set<std::string> ids;
  int64_t weight_sum = 0;
  for (size_t i = 0; i < prizes->as_array().size(); ++i) {
    const std::string ip = Index(prp, i);
    ASSIGN_OR_RETURN(const json::object* x, Object(prizes->as_array()[i], ip));
    ASSIGN_OR_RETURN(Prize prize, ParsePrize(*x, ip));
    if (!ids.insert(prize.id).second) return Bad(Path(ip, "id"), "is used twice in this pool");
    weight_sum += prize.weight;
    g.pool.prizes.push_back(std::move(prize));
  }
  if (weight_sum <= 0) return Bad(prp, "at least one prize needs a weight above 0");
  ASSIGN_OR_RETURN(g.pool.fallback_prize_id, String(*po, "fallback_prize_id", pp, false, 64));
  if (!g.pool.fallback_prize_id.empty() && !ids.contains(g.pool.fallback_prize_id)) {
    return Bad(Path(pp, "fallback_prize_id"), "must be the id of a prize in this pool");
  }
  ASSIGN_OR_RETURN(int64_t guarantee, Int(*po, "guarantee_after", pp, 0, 0, 10000));
  g.pool.guarantee_after = static_cast<int32_t>(guarantee);
  if (g.pool.guarantee_after > 0 &&
      std::none_of(g.pool.prizes.begin(), g.pool.prizes.end(),
                   [](const Prize& p) { return p.kind != "thanks" && p.weight > 0; })) {
    return Bad(Path(pp, "guarantee_after"), "needs a prize other than thanks to guarantee");
  }
  return g;
}

absl::StatusOr<Display> ParseDisplay(const json::object& o, std::string_view path,
                                     const TemplateRegistry& templates) {
  RETURN_IF_ERROR(OnlyMembers(o, path, {"template", "title", "theme", "settings"}));
  Display d;
  ASSIGN_OR_RETURN(d.template_name, String(o, "template", path, true, 64));
  if (templates.Find(d.template_name) == nullptr) {
    std::string names;
    for (const std::string& n : templates.Names()) names += (names.empty() ? "" : ", ") + n;
    return Bad(Path(path, "template"), fmt::format("must be one of {}", names));
  }
  ASSIGN_OR_RETURN(d.title, String(o, "title", path, true, 200));
  ASSIGN_OR_RETURN(d.theme, String(o, "theme", path, false, 64, "default"));
  ASSIGN_OR_RETURN(const json::object* settings, OptionalObject(o, "settings", path));
  if (settings != nullptr) d.settings = *settings;
  return d;
}

// --- template validators ---------------------------------------------------------------

absl::Status PoolsSized(const ActivityTerms& t, size_t lo, size_t hi, std::string_view what) {
  if (t.pools.empty()) return Bad("pools", fmt::format("a {} needs at least one pool", what));
  for (size_t i = 0; i < t.pools.size(); ++i) {
    const size_t n = t.pools[i].pool.prizes.size();
    if (n < lo || n > hi) {
      return Bad(fmt::format("pools[{}].pool.prizes", i),
                 fmt::format("a {} shows {} to {} prizes", what, lo, hi));
    }
  }
  return absl::OkStatus();
}

absl::Status IntSetting(const json::object& s, std::string_view key, int64_t lo, int64_t hi) {
  if (!s.contains(key)) return absl::OkStatus();
  return Int(s, key, "display.settings", 0, lo, hi).status();
}

TemplateRegistry MakeDefaultRegistry() {
  TemplateRegistry r;
  auto lottery = [&r](std::string name, std::function<absl::Status(const ActivityTerms&)> more) {
    TemplateSpec spec;
    spec.engine = TemplateEngine::kDraw;
    spec.validate = std::move(more);
    (void)r.Register(std::move(name), std::move(spec));
  };
  lottery("wheel", [](const ActivityTerms& t) {
    RETURN_IF_ERROR(OnlyMembers(t.display.settings, "display.settings", {"spin_ms"}));
    RETURN_IF_ERROR(IntSetting(t.display.settings, "spin_ms", 500, 10000));
    return PoolsSized(t, 2, 12, "wheel");
  });
  lottery("grid9", [](const ActivityTerms& t) {
    RETURN_IF_ERROR(OnlyMembers(t.display.settings, "display.settings", {}));
    return PoolsSized(t, 1, 8, "9-grid");
  });
  lottery("golden_egg", [](const ActivityTerms& t) {
    RETURN_IF_ERROR(OnlyMembers(t.display.settings, "display.settings", {"eggs"}));
    RETURN_IF_ERROR(IntSetting(t.display.settings, "eggs", 3, 12));
    return PoolsSized(t, 1, kMaxPrizesPerPool, "golden egg");
  });
  lottery("blind_box", [](const ActivityTerms& t) {
    RETURN_IF_ERROR(OnlyMembers(t.display.settings, "display.settings", {"boxes"}));
    RETURN_IF_ERROR(IntSetting(t.display.settings, "boxes", 1, 12));
    return PoolsSized(t, 1, kMaxPrizesPerPool, "blind box");
  });
  lottery("scratch_card", [](const ActivityTerms& t) {
    RETURN_IF_ERROR(OnlyMembers(t.display.settings, "display.settings", {"cover_text"}));
    if (t.display.settings.contains("cover_text")) {
      RETURN_IF_ERROR(
          String(t.display.settings, "cover_text", "display.settings", true, 64).status());
    }
    return PoolsSized(t, 1, kMaxPrizesPerPool, "scratch card");
  });
  TemplateSpec sign_in;
  sign_in.engine = TemplateEngine::kSignIn;
  sign_in.validate = ValidateSignInTerms;  // activity/signin_terms.h
  (void)r.Register("sign_in", std::move(sign_in));
  TemplateSpec quiz;
  quiz.engine = TemplateEngine::kQuiz;
  quiz.validate = ValidateQuizTerms;  // activity/quiz_terms.h
  (void)r.Register("quiz", std::move(quiz));
  return r;
}

json::object PrizeToJson(const Prize& p) {
  return json::object{{"id", p.id},
                      {"name", p.name},
                      {"kind", p.kind},
                      {"weight", p.weight},
                      {"total_stock", p.total_stock},
                      {"daily_stock", p.daily_stock},
                      {"per_customer_cap", p.per_customer_cap},
                      {"cost_fen", p.cost_fen},
                      {"reward_ref", p.reward_ref}};
}

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

absl::Status TemplateRegistry::Register(std::string name, TemplateSpec spec) {
  if (templates_.contains(name)) {
    return absl::AlreadyExistsError(fmt::format("template {} is already registered", name));
  }
  templates_.emplace(std::move(name), std::move(spec));
  return absl::OkStatus();
}

const TemplateSpec* TemplateRegistry::Find(std::string_view name) const {
  auto it = templates_.find(name);
  return it == templates_.end() ? nullptr : &it->second;
}

std::vector<std::string> TemplateRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, spec] : templates_) out.push_back(name);
  return out;
}

const TemplateRegistry& TemplateRegistry::Default() {
  static const auto* registry = new TemplateRegistry(MakeDefaultRegistry());
  return *registry;
}

absl::StatusOr<ActivityTerms> ParseActivityTerms(const json::value& value,
                                                 const TemplateRegistry& templates) {
  if (!value.is_object()) return Bad("terms", "must be a JSON object");
  const json::object& o = value.as_object();
  RETURN_IF_ERROR(OnlyMembers(o, "",
                              {"name", "description", "eligibility", "chances", "pools",
                               "budget_fen", "tz_offset_minutes", "display"}));
  ActivityTerms t;
  ASSIGN_OR_RETURN(t.name, String(o, "name", "", true, 200));
  ASSIGN_OR_RETURN(t.description, String(o, "description", "", false, 4000));
  const json::value* e = o.if_contains("eligibility");
  if (e == nullptr || e->is_null()) return Bad("eligibility", "is required");
  ASSIGN_OR_RETURN(const json::object* eo, Object(*e, "eligibility"));
  ASSIGN_OR_RETURN(t.eligibility, ParseEligibility(*eo, "eligibility"));
  ASSIGN_OR_RETURN(const json::object* co, OptionalObject(o, "chances", ""));
  if (co != nullptr) {
    ASSIGN_OR_RETURN(t.chances, ParseChances(*co, "chances"));
  }
  if (const json::value* pools = o.if_contains("pools"); pools && !pools->is_null()) {
    if (!pools->is_array()) return Bad("pools", "must be an array");
    if (pools->as_array().size() > kMaxPools) {
      return Bad("pools", fmt::format("at most {} pools", kMaxPools));
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < pools->as_array().size(); ++i) {
      const std::string ip = Index("pools", i);
      ASSIGN_OR_RETURN(const json::object* po, Object(pools->as_array()[i], ip));
      ASSIGN_OR_RETURN(PoolGroup g, ParsePoolGroup(*po, ip));
      if (!ids.insert(g.pool.id).second) return Bad(Path(ip, "pool.id"), "is used twice");
      if (!t.pools.empty() && t.pools.back().kind == PoolGroup::Kind::kDefault) {
        return Bad(Path(ip, "group"), "comes after the default group and would never be used");
      }
      t.pools.push_back(std::move(g));
    }
  }
  ASSIGN_OR_RETURN(t.budget_fen, Int(o, "budget_fen", "", 0, 0, 100'000'000'000'000));
  ASSIGN_OR_RETURN(int64_t tz, Int(o, "tz_offset_minutes", "", 480, -720, 840));
  t.tz_offset_minutes = static_cast<int32_t>(tz);
  const json::value* d = o.if_contains("display");
  if (d == nullptr || d->is_null()) return Bad("display", "is required");
  ASSIGN_OR_RETURN(const json::object* dobj, Object(*d, "display"));
  ASSIGN_OR_RETURN(t.display, ParseDisplay(*dobj, "display", templates));
  const TemplateSpec* spec = templates.Find(t.display.template_name);
  if (spec->engine == TemplateEngine::kDraw && t.chances.free_per_day == 0 &&
      t.chances.points_cost == 0 && t.chances.tasks.empty()) {
    return Bad("chances",
               "a customer would never get a chance: give free_per_day, "
               "points_cost or tasks");
  }
  if (spec->validate) RETURN_IF_ERROR(spec->validate(t));
  return t;
}

json::object ActivityTermsToJson(const ActivityTerms& t) {
  json::object e;
  if (t.eligibility.audience_id) e["audience_id"] = *t.eligibility.audience_id;
  if (t.eligibility.rule) e["rule"] = *t.eligibility.rule;
  e["white_list"] = Strings(t.eligibility.white_list);
  e["black_list"] = Strings(t.eligibility.black_list);
  e["channels"] = Strings(t.eligibility.channels);
  e["start"] = FormatTime(t.eligibility.start_ms);
  e["end"] = FormatTime(t.eligibility.end_ms);
  if (t.eligibility.verification) {
    const VerificationHook& h = *t.eligibility.verification;
    e["verification"] = json::object{
        {"url", h.url},
        {"timeout_ms", h.timeout_ms},
        {"cache_seconds", h.cache_seconds},
        {"on_failure",
         h.on_failure == VerificationHook::OnFailure::kFailOpen ? "fail_open" : "fail_closed"}};
  }
  json::array tasks;
  for (const Task& task : t.chances.tasks) {
    tasks.push_back(
        json::object{{"id", task.id},
                     {"name", task.name},
                     {"event", task.event},
                     {"extra_chances", task.extra_chances},
                     {"repeat", task.repeat == Task::Repeat::kOnce ? "once" : "daily"}});
  }
  json::array pools;
  for (const PoolGroup& g : t.pools) {
    json::value group;
    switch (g.kind) {
      case PoolGroup::Kind::kDefault:
        group = "default";
        break;
      case PoolGroup::Kind::kAudience:
        group = json::object{{"audience_id", g.audience_id}};
        break;
      case PoolGroup::Kind::kRule:
        group = json::object{{"rule", g.rule}};
        break;
    }
    json::array prizes;
    for (const Prize& p : g.pool.prizes) prizes.push_back(PrizeToJson(p));
    pools.push_back(
        json::object{{"group", std::move(group)},
                     {"pool", json::object{{"id", g.pool.id},
                                           {"name", g.pool.name},
                                           {"prizes", std::move(prizes)},
                                           {"fallback_prize_id", g.pool.fallback_prize_id},
                                           {"guarantee_after", g.pool.guarantee_after}}}});
  }
  return json::object{{"name", t.name},
                      {"description", t.description},
                      {"eligibility", std::move(e)},
                      {"chances", json::object{{"free_per_day", t.chances.free_per_day},
                                               {"points_cost", t.chances.points_cost},
                                               {"max_per_day", t.chances.max_per_day},
                                               {"max_total", t.chances.max_total},
                                               {"tasks", std::move(tasks)}}},
                      {"pools", std::move(pools)},
                      {"budget_fen", t.budget_fen},
                      {"tz_offset_minutes", t.tz_offset_minutes},
                      {"display", json::object{{"template", t.display.template_name},
                                               {"title", t.display.title},
                                               {"theme", t.display.theme},
                                               {"settings", t.display.settings}}}};
}

std::string TermsDigest(const ActivityTerms& terms) {
  return Sha256Hex(json::serialize(ActivityTermsToJson(terms)));
}

}  // namespace mercator::activity
