#include "journey/journey.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <functional>
#include <set>

#include "common/status_macros.h"

namespace mercator::journey {

namespace json = boost::json;

namespace {

absl::Status Bad(std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", field, reason));
}

std::string Path(std::string_view base, std::string_view member) {
  bool plain = !member.empty() && member.size() <= 64;
  for (char c : member) {
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  // An empty or unusual name (from outside: an unknown member, a property) is quoted, so the
  // message still starts with a field path: definition[""], trigger.where["a b"].
  if (!plain) {
    return fmt::format("{}[{}]", base.empty() ? "definition" : base,
                       json::serialize(json::string(member)).substr(0, 80));
  }
  return base.empty() ? std::string(member) : fmt::format("{}.{}", base, member);
}

// Rejects members the schema does not know, so a typo ("wiat") is an error, not ignored.
absl::Status OnlyKnown(const json::object& o, std::string_view base,
                       std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || kv.key() == k;
    if (!ok) return Bad(Path(base, kv.key()), "unknown member");
  }
  return absl::OkStatus();
}

absl::StatusOr<const json::object*> Object(const json::value& v, std::string_view field) {
  if (!v.is_object()) return Bad(field, "must be an object");
  return &v.as_object();
}

absl::StatusOr<std::string> Str(const json::object& o, std::string_view base,
                                std::string_view member, bool required, size_t max_bytes = 200) {
  const json::value* v = o.if_contains(member);
  if (v == nullptr || v->is_null()) {
    if (required) return Bad(Path(base, member), "is required");
    return std::string();
  }
  if (!v->is_string()) return Bad(Path(base, member), "must be a string");
  std::string s(v->as_string());
  if (required && s.empty()) return Bad(Path(base, member), "must not be empty");
  if (s.size() > max_bytes) {
    return Bad(Path(base, member), fmt::format("at most {} bytes", max_bytes));
  }
  return s;
}

absl::StatusOr<std::optional<int64_t>> Int(const json::object& o, std::string_view base,
                                           std::string_view member, int64_t lo, int64_t hi) {
  const json::value* v = o.if_contains(member);
  if (v == nullptr || v->is_null()) return std::nullopt;
  int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v->as_uint64());
  } else {
    return Bad(Path(base, member), "must be an integer");
  }
  if (n < lo || n > hi) {
    return Bad(Path(base, member), fmt::format("must be between {} and {}", lo, hi));
  }
  return n;
}

// "HH:MM" -> minutes after midnight.
absl::StatusOr<int32_t> TimeOfDay(const std::string& s, std::string_view field) {
  if (s.size() != 5 || s[2] != ':') return Bad(field, "must be a local time HH:MM");
  int h = 0, m = 0;
  auto r1 = std::from_chars(s.data(), s.data() + 2, h);
  auto r2 = std::from_chars(s.data() + 3, s.data() + 5, m);
  if (r1.ec != std::errc() || r1.ptr != s.data() + 2 || r2.ec != std::errc() ||
      r2.ptr != s.data() + 5 || h > 23 || m > 59 || h < 0 || m < 0) {
    return Bad(field, "must be a local time HH:MM");
  }
  return h * 60 + m;
}

absl::StatusOr<event::PropertyValue> Scalar(const json::value& v, std::string_view field) {
  if (v.is_bool()) return event::PropertyValue(v.as_bool());
  if (v.is_int64()) return event::PropertyValue(v.as_int64());
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return event::PropertyValue(static_cast<int64_t>(v.as_uint64()));
  }
  if (v.is_string()) return event::PropertyValue(std::string(v.as_string()));
  return Bad(field, "must be a string, an integer or a boolean");
}

// {"product": "fixed_1y", "amount": {"gte": 10000}, "channel": {"in": ["app", "h5"]},
//  "score": {"ne": 0}}
absl::StatusOr<std::vector<PropertyFilter>> Where(const json::object& o, std::string_view base) {
  std::vector<PropertyFilter> out;
  const json::value* w = o.if_contains("where");
  if (w == nullptr || w->is_null()) return out;
  const std::string field = Path(base, "where");
  ASSIGN_OR_RETURN(const json::object* wo, Object(*w, field));
  if (wo->size() > 16) return Bad(field, "at most 16 conditions");
  for (const auto& kv : *wo) {
    const std::string f = Path(field, kv.key());
    PropertyFilter pf;
    pf.property = std::string(kv.key());
    if (pf.property.empty() || pf.property.size() > 64) return Bad(f, "bad property name");
    if (!kv.value().is_object()) {
      ASSIGN_OR_RETURN(event::PropertyValue pv, Scalar(kv.value(), f));
      pf.values.push_back(std::move(pv));
      out.push_back(std::move(pf));
      continue;
    }
    const json::object& c = kv.value().as_object();
    if (c.size() != 1) return Bad(f, "must have exactly one of eq, ne, gte, lte, in");
    const std::string_view op = c.begin()->key();
    const json::value& arg = c.begin()->value();
    const std::string fo = Path(f, op);
    if (op == "in") {
      if (!arg.is_array() || arg.as_array().empty() || arg.as_array().size() > 100) {
        return Bad(fo, "must be an array of 1 to 100 values");
      }
      pf.op = PropertyFilter::Op::kIn;
      for (const json::value& x : arg.as_array()) {
        ASSIGN_OR_RETURN(event::PropertyValue pv, Scalar(x, fo));
        pf.values.push_back(std::move(pv));
      }
    } else if (op == "eq" || op == "ne") {
      pf.op = op == "eq" ? PropertyFilter::Op::kEq : PropertyFilter::Op::kNe;
      ASSIGN_OR_RETURN(event::PropertyValue pv, Scalar(arg, fo));
      pf.values.push_back(std::move(pv));
    } else if (op == "gte" || op == "lte") {
      pf.op = op == "gte" ? PropertyFilter::Op::kGte : PropertyFilter::Op::kLte;
      if (!arg.is_int64()) return Bad(fo, "must be an integer");
      pf.values.emplace_back(std::in_place_type<int64_t>, arg.as_int64());
    } else {
      return Bad(fo, "unknown operator (eq, ne, gte, lte, in)");
    }
    out.push_back(std::move(pf));
  }
  return out;
}

absl::StatusOr<int64_t> DurationMember(const json::object& o, std::string_view base,
                                       std::string_view member, bool required) {
  ASSIGN_OR_RETURN(std::string s, Str(o, base, member, required, 16));
  if (s.empty()) return 0;
  return ParseDuration(s, Path(base, member));
}

absl::StatusOr<Trigger> ParseTrigger(const json::value& v) {
  ASSIGN_OR_RETURN(const json::object* o, Object(v, "trigger"));
  Trigger t;
  ASSIGN_OR_RETURN(std::string type, Str(*o, "trigger", "type", true, 32));
  if (type == "event") {
    RETURN_IF_ERROR(OnlyKnown(*o, "trigger", {"type", "event", "where"}));
    t.kind = TriggerKind::kEvent;
    ASSIGN_OR_RETURN(t.event_type, Str(*o, "trigger", "event", true, 64));
    ASSIGN_OR_RETURN(t.where, Where(*o, "trigger"));
  } else if (type == "audience") {
    RETURN_IF_ERROR(OnlyKnown(*o, "trigger", {"type", "rule"}));
    t.kind = TriggerKind::kAudience;
    ASSIGN_OR_RETURN(t.rule, Str(*o, "trigger", "rule", true, 4000));
  } else if (type == "lifecycle") {
    RETURN_IF_ERROR(OnlyKnown(*o, "trigger", {"type", "from", "to"}));
    t.kind = TriggerKind::kLifecycle;
    ASSIGN_OR_RETURN(t.from_stage, Str(*o, "trigger", "from", false, 32));
    ASSIGN_OR_RETURN(t.to_stage, Str(*o, "trigger", "to", false, 32));
    if (t.from_stage.empty() && t.to_stage.empty()) {
      return Bad("trigger.to", "from or to is required");
    }
  } else if (type == "date") {
    RETURN_IF_ERROR(OnlyKnown(*o, "trigger", {"type", "tag", "offset_days", "at", "annual"}));
    t.kind = TriggerKind::kDate;
    ASSIGN_OR_RETURN(t.date_tag, Str(*o, "trigger", "tag", true, 64));
    ASSIGN_OR_RETURN(std::optional<int64_t> off, Int(*o, "trigger", "offset_days", -366, 366));
    t.offset_days = static_cast<int32_t>(off.value_or(0));
    ASSIGN_OR_RETURN(std::string at, Str(*o, "trigger", "at", false, 5));
    if (!at.empty()) {
      ASSIGN_OR_RETURN(t.at_minute, TimeOfDay(at, "trigger.at"));
    }
    if (const json::value* a = o->if_contains("annual"); a != nullptr && !a->is_null()) {
      if (!a->is_bool()) return Bad("trigger.annual", "must be a boolean");
      t.annual = a->as_bool();
    }
  } else {
    return Bad("trigger.type", "must be one of event, audience, lifecycle, date");
  }
  return t;
}

absl::StatusOr<Step> ParseStep(const json::value& v, const std::string& base) {
  ASSIGN_OR_RETURN(const json::object* o, Object(v, base));
  Step s;
  ASSIGN_OR_RETURN(s.id, Str(*o, base, "id", true, 64));
  for (char c : s.id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return Bad(Path(base, "id"), "letters, digits, '_' and '-' only");
    }
  }
  ASSIGN_OR_RETURN(std::string type, Str(*o, base, "type", true, 16));
  if (type == "wait") {
    RETURN_IF_ERROR(OnlyKnown(*o, base, {"id", "type", "duration", "until", "next"}));
    s.kind = StepKind::kWait;
    ASSIGN_OR_RETURN(s.wait_ms, DurationMember(*o, base, "duration", false));
    ASSIGN_OR_RETURN(std::string until, Str(*o, base, "until", false, 5));
    if (!until.empty()) {
      ASSIGN_OR_RETURN(s.until_minute, TimeOfDay(until, Path(base, "until")));
    }
    if ((s.wait_ms > 0) == (s.until_minute >= 0)) {
      return Bad(Path(base, "duration"), "exactly one of duration and until is required");
    }
    ASSIGN_OR_RETURN(s.next, Str(*o, base, "next", false, 64));
  } else if (type == "branch") {
    RETURN_IF_ERROR(OnlyKnown(*o, base, {"id", "type", "rule", "event", "within", "then", "else"}));
    s.kind = StepKind::kBranch;
    ASSIGN_OR_RETURN(s.rule, Str(*o, base, "rule", false, 4000));
    ASSIGN_OR_RETURN(s.event_type, Str(*o, base, "event", false, 64));
    if (s.rule.empty() == s.event_type.empty()) {
      return Bad(Path(base, "rule"), "exactly one of rule and event is required");
    }
    ASSIGN_OR_RETURN(s.within_ms, DurationMember(*o, base, "within", !s.event_type.empty()));
    if (!s.rule.empty() && s.within_ms > 0) {
      return Bad(Path(base, "within"), "only with event");
    }
    ASSIGN_OR_RETURN(s.then_step, Str(*o, base, "then", false, 64));
    ASSIGN_OR_RETURN(s.else_step, Str(*o, base, "else", false, 64));
  } else if (type == "action") {
    s.kind = StepKind::kAction;
    ASSIGN_OR_RETURN(std::string action, Str(*o, base, "action", true, 16));
    ASSIGN_OR_RETURN(s.next, Str(*o, base, "next", false, 64));
    if (action == "send") {
      RETURN_IF_ERROR(OnlyKnown(
          *o, base,
          {"id", "type", "action", "next", "channel", "purpose", "template_id", "variables"}));
      s.action = ActionKind::kSend;
      ASSIGN_OR_RETURN(s.channel, Str(*o, base, "channel", true, 16));
      static constexpr std::string_view kChannels[] = {"sms",       "app_push", "in_app",
                                                       "wechat_oa", "wecom",    "email"};
      bool known = false;
      for (std::string_view c : kChannels) known = known || c == s.channel;
      if (!known) {
        return Bad(Path(base, "channel"),
                   "must be one of sms, app_push, in_app, wechat_oa, wecom, email");
      }
      ASSIGN_OR_RETURN(s.purpose, Str(*o, base, "purpose", false, 16));
      if (s.purpose.empty()) s.purpose = "marketing";
      if (s.purpose != "marketing" && s.purpose != "service") {
        return Bad(Path(base, "purpose"), "must be marketing or service");
      }
      ASSIGN_OR_RETURN(s.template_id, Str(*o, base, "template_id", true, 64));
      if (const json::value* vars = o->if_contains("variables"); vars && !vars->is_null()) {
        const std::string f = Path(base, "variables");
        ASSIGN_OR_RETURN(const json::object* vo, Object(*vars, f));
        if (vo->size() > 32) return Bad(f, "at most 32 variables");
        for (const auto& kv : *vo) {
          if (!kv.value().is_string()) return Bad(Path(f, kv.key()), "must be a string");
          s.variables[std::string(kv.key())] = std::string(kv.value().as_string());
        }
      }
    } else if (action == "points") {
      RETURN_IF_ERROR(
          OnlyKnown(*o, base, {"id", "type", "action", "next", "points", "valid_days"}));
      s.action = ActionKind::kPoints;
      ASSIGN_OR_RETURN(std::optional<int64_t> p, Int(*o, base, "points", 1, 1'000'000));
      if (!p) return Bad(Path(base, "points"), "is required");
      s.points = *p;
      ASSIGN_OR_RETURN(std::optional<int64_t> d, Int(*o, base, "valid_days", 1, 3660));
      s.valid_days = static_cast<int32_t>(d.value_or(365));
    } else if (action == "coupon") {
      RETURN_IF_ERROR(OnlyKnown(*o, base, {"id", "type", "action", "next", "coupon_template_id"}));
      s.action = ActionKind::kCoupon;
      ASSIGN_OR_RETURN(std::optional<int64_t> t, Int(*o, base, "coupon_template_id", 1, INT64_MAX));
      if (!t) return Bad(Path(base, "coupon_template_id"), "is required");
      s.coupon_template_id = *t;
    } else if (action == "task") {
      RETURN_IF_ERROR(OnlyKnown(
          *o, base,
          {"id", "type", "action", "next", "title", "reason", "kind", "priority", "due_in"}));
      s.action = ActionKind::kTask;
      ASSIGN_OR_RETURN(s.title, Str(*o, base, "title", true, 500));
      ASSIGN_OR_RETURN(s.reason, Str(*o, base, "reason", false, 500));
      ASSIGN_OR_RETURN(s.task_kind, Str(*o, base, "kind", false, 32));
      if (s.task_kind.empty()) s.task_kind = "journey";
      ASSIGN_OR_RETURN(std::optional<int64_t> pr, Int(*o, base, "priority", 1, 3));
      s.priority = static_cast<int32_t>(pr.value_or(2));
      ASSIGN_OR_RETURN(s.due_in_ms, DurationMember(*o, base, "due_in", false));
      if (s.due_in_ms == 0) s.due_in_ms = kDayMs;
    } else if (action == "set_tag") {
      RETURN_IF_ERROR(OnlyKnown(*o, base, {"id", "type", "action", "next", "tag", "value"}));
      s.action = ActionKind::kSetTag;
      ASSIGN_OR_RETURN(s.tag, Str(*o, base, "tag", true, 64));
      const json::value* val = o->if_contains("value");
      if (val == nullptr || val->is_null()) return Bad(Path(base, "value"), "is required");
      if (val->is_string()) {
        s.tag_value = std::string(val->as_string());
      } else if (val->is_bool()) {
        s.tag_value = val->as_bool() ? "true" : "false";
      } else if (val->is_int64()) {
        s.tag_value = std::to_string(val->as_int64());
      } else {
        return Bad(Path(base, "value"), "must be a string, an integer or a boolean");
      }
    } else {
      return Bad(Path(base, "action"), "must be one of send, points, coupon, task, set_tag");
    }
  } else {
    return Bad(Path(base, "type"), "must be one of wait, branch, action");
  }
  return s;
}

// Ids, references, reachability and acyclicity of the step graph.
absl::Status CheckGraph(const Definition& d) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < d.steps.size(); ++i) {
    if (!index.emplace(d.steps[i].id, i).second) {
      return Bad(fmt::format("steps[{}].id", i), fmt::format("duplicate id '{}'", d.steps[i].id));
    }
  }
  if (!index.contains(d.start)) return Bad("start", fmt::format("unknown step '{}'", d.start));
  auto targets = [](const Step& s) {
    std::vector<std::pair<std::string_view, std::string>> t;
    if (s.kind == StepKind::kBranch) {
      t.emplace_back("then", s.then_step);
      t.emplace_back("else", s.else_step);
    } else {
      t.emplace_back("next", s.next);
    }
    return t;
  };
  for (size_t i = 0; i < d.steps.size(); ++i) {
    for (const auto& [member, target] : targets(d.steps[i])) {
      if (!target.empty() && !index.contains(target)) {
        return Bad(fmt::format("steps[{}].{}", i, member),
                   fmt::format("unknown step '{}'", target));
      }
    }
  }
  // Depth-first from the start: 0 unseen, 1 on the path, 2 done.
  std::vector<int> mark(d.steps.size(), 0);
  absl::Status cycle;
  std::function<void(size_t)> visit = [&](size_t i) {
    mark[i] = 1;
    for (const auto& [member, target] : targets(d.steps[i])) {
      if (target.empty() || !cycle.ok()) continue;
      const size_t j = index.at(target);
      if (mark[j] == 1) {
        cycle = Bad(fmt::format("steps[{}].{}", i, member),
                    fmt::format("'{}' leads back to '{}': steps must not form a cycle",
                                d.steps[i].id, target));
      } else if (mark[j] == 0) {
        visit(j);
      }
    }
    mark[i] = 2;
  };
  visit(index.at(d.start));
  RETURN_IF_ERROR(cycle);
  for (size_t i = 0; i < d.steps.size(); ++i) {
    if (mark[i] == 0) {
      return Bad(fmt::format("steps[{}].id", i),
                 fmt::format("step '{}' cannot be reached from the start", d.steps[i].id));
    }
  }
  return absl::OkStatus();
}

int Compare(const event::PropertyValue& a, const event::PropertyValue& b, bool* comparable) {
  *comparable = a.index() == b.index();
  if (!*comparable) return 0;
  if (const auto* x = std::get_if<int64_t>(&a)) {
    const int64_t y = std::get<int64_t>(b);
    return *x < y ? -1 : (*x > y ? 1 : 0);
  }
  return a == b ? 0 : 1;
}

}  // namespace

const Step* Definition::Find(std::string_view id) const {
  for (const Step& s : steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

absl::StatusOr<int64_t> ParseDuration(std::string_view text, std::string_view field) {
  if (text.size() < 2) return Bad(field, "must be a duration like 90s, 30m, 12h or 7d");
  int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc() || p != text.data() + text.size() - 1 || n <= 0) {
    return Bad(field, "must be a duration like 90s, 30m, 12h or 7d");
  }
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = kMinuteMs;
      break;
    case 'h':
      unit = 60 * kMinuteMs;
      break;
    case 'd':
      unit = kDayMs;
      break;
    default:
      return Bad(field, "must be a duration like 90s, 30m, 12h or 7d");
  }
  if (n > 366 * kDayMs / unit) return Bad(field, "at most 366 days");
  return n * unit;
}

bool Matches(const std::vector<PropertyFilter>& where, const event::Properties& properties) {
  for (const PropertyFilter& f : where) {
    auto it = properties.find(f.property);
    if (it == properties.end()) return false;
    bool comparable = false;
    switch (f.op) {
      case PropertyFilter::Op::kEq:
        if (!(it->second == f.values[0])) return false;
        break;
      case PropertyFilter::Op::kNe:
        if (it->second == f.values[0]) return false;
        break;
      case PropertyFilter::Op::kGte:
        if (Compare(it->second, f.values[0], &comparable) < 0 || !comparable) return false;
        break;
      case PropertyFilter::Op::kLte:
        if (Compare(it->second, f.values[0], &comparable) > 0 || !comparable) return false;
        break;
      case PropertyFilter::Op::kIn: {
        bool any = false;
        for (const event::PropertyValue& v : f.values) any = any || it->second == v;
        if (!any) return false;
        break;
      }
    }
  }
  return true;
}

int64_t LocalDay(const Definition& def, int64_t ms) {
  const int64_t local = ms + def.tz_offset_minutes * kMinuteMs;
  return local >= 0 ? local / kDayMs : -((-local + kDayMs - 1) / kDayMs);
}

int64_t WaitEnd(const Definition& def, const Step& step, int64_t now_ms) {
  if (step.until_minute < 0) return now_ms + step.wait_ms;
  const int64_t offset = def.tz_offset_minutes * kMinuteMs;
  int64_t at = LocalDay(def, now_ms) * kDayMs - offset + step.until_minute * kMinuteMs;
  if (at <= now_ms) at += kDayMs;
  return at;
}

absl::StatusOr<Definition> ParseDefinition(const json::value& doc) {
  ASSIGN_OR_RETURN(const json::object* o, Object(doc, "definition"));
  RETURN_IF_ERROR(OnlyKnown(
      *o, "",
      {"name", "timezone", "trigger", "start", "steps", "goal", "reentry", "holdout_percent"}));
  Definition d;
  ASSIGN_OR_RETURN(d.name, Str(*o, "", "name", true, 200));
  ASSIGN_OR_RETURN(std::string tz, Str(*o, "", "timezone", false, 32));
  if (!tz.empty()) {
    // Fixed offsets: China has no daylight saving time.
    if (tz == "Asia/Shanghai" || tz == "Asia/Hong_Kong" || tz == "Asia/Macau") {
      d.tz_offset_minutes = 480;
    } else if (tz == "UTC") {
      d.tz_offset_minutes = 0;
    } else {
      return Bad("timezone", "must be Asia/Shanghai, Asia/Hong_Kong, Asia/Macau or UTC");
    }
    d.timezone = tz;
  }
  const json::value* trigger = o->if_contains("trigger");
  if (trigger == nullptr) return Bad("trigger", "is required");
  ASSIGN_OR_RETURN(d.trigger, ParseTrigger(*trigger));
  const json::value* steps = o->if_contains("steps");
  if (steps == nullptr || !steps->is_array() || steps->as_array().empty()) {
    return Bad("steps", "must be a non-empty array");
  }
  if (steps->as_array().size() > kMaxSteps) {
    return Bad("steps", fmt::format("at most {} steps", kMaxSteps));
  }
  for (size_t i = 0; i < steps->as_array().size(); ++i) {
    ASSIGN_OR_RETURN(Step s, ParseStep(steps->as_array()[i], fmt::format("steps[{}]", i)));
    d.steps.push_back(std::move(s));
  }
  ASSIGN_OR_RETURN(d.start, Str(*o, "", "start", false, 64));
  if (d.start.empty()) d.start = d.steps.front().id;
  if (const json::value* g = o->if_contains("goal"); g != nullptr && !g->is_null()) {
    ASSIGN_OR_RETURN(const json::object* go, Object(*g, "goal"));
    RETURN_IF_ERROR(OnlyKnown(*go, "goal", {"event", "where", "within"}));
    Goal goal;
    ASSIGN_OR_RETURN(goal.event_type, Str(*go, "goal", "event", true, 64));
    ASSIGN_OR_RETURN(goal.where, Where(*go, "goal"));
    ASSIGN_OR_RETURN(goal.within_ms, DurationMember(*go, "goal", "within", true));
    d.goal = std::move(goal);
  }
  if (const json::value* r = o->if_contains("reentry"); r != nullptr && !r->is_null()) {
    ASSIGN_OR_RETURN(const json::object* ro, Object(*r, "reentry"));
    RETURN_IF_ERROR(OnlyKnown(*ro, "reentry", {"policy", "days"}));
    ASSIGN_OR_RETURN(std::string policy, Str(*ro, "reentry", "policy", true, 16));
    if (policy == "once") {
      d.reentry = Reentry::kOnce;
      if (ro->contains("days")) return Bad("reentry.days", "only with policy after");
    } else if (policy == "after") {
      d.reentry = Reentry::kAfter;
      ASSIGN_OR_RETURN(std::optional<int64_t> days, Int(*ro, "reentry", "days", 1, 3660));
      if (!days) return Bad("reentry.days", "is required with policy after");
      d.reentry_days = static_cast<int32_t>(*days);
    } else {
      return Bad("reentry.policy", "must be once or after");
    }
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> holdout, Int(*o, "", "holdout_percent", 0, 90));
  d.holdout_percent = static_cast<int32_t>(holdout.value_or(0));
  if (d.holdout_percent > 0 && !d.goal) {
    return Bad("holdout_percent", "a holdout needs a goal to compare conversions");
  }
  RETURN_IF_ERROR(CheckGraph(d));
  return d;
}

}  // namespace mercator::journey
