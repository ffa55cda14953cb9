#include "api/json_util.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "common/mask.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "customer/customer_service.h"
#include "segment/dsl.h"
#include "segment/rule_json.h"

namespace mercator::api {

absl::StatusOr<json::object> ParseObjectBody(const http::Request& request) {
  const std::string_view ct = request.Header("content-type");
  if (!ct.empty() && ct.find("json") == std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("content-type: expected application/json, got {}", ct));
  }
  if (request.body.empty()) return absl::InvalidArgumentError("body: expected a JSON object");
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(request.body, ec, {}, opts);
  if (ec) {
    return absl::InvalidArgumentError(fmt::format("body: malformed JSON ({})", ec.message()));
  }
  if (!v.is_object()) return absl::InvalidArgumentError("body: expected a JSON object");
  return std::move(v.as_object());
}

absl::StatusOr<std::string> RequiredString(const json::object& o, std::string_view field) {
  ASSIGN_OR_RETURN(std::optional<std::string> s, OptionalString(o, field));
  if (!s) return absl::InvalidArgumentError(fmt::format("{}: is required", field));
  return *std::move(s);
}

absl::StatusOr<std::optional<std::string>> OptionalString(const json::object& o,
                                                          std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string())
    return absl::InvalidArgumentError(fmt::format("{}: must be a string", field));
  return std::optional<std::string>(std::string(v->as_string()));
}

absl::StatusOr<std::optional<int64_t>> OptionalInt(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= INT64_MAX) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  return absl::InvalidArgumentError(fmt::format("{}: must be an integer", field));
}

absl::StatusOr<PageQuery> ParsePageQuery(const http::Request& request, int default_limit,
                                         int max_limit) {
  PageQuery page;
  page.limit = default_limit;
  if (auto c = request.Query("cursor"); c && !c->empty()) {
    auto [p, ec] = std::from_chars(c->data(), c->data() + c->size(), page.after);
    if (ec != std::errc() || p != c->data() + c->size() || page.after < 0) {
      return absl::InvalidArgumentError("cursor: not a cursor from this API");
    }
  }
  if (auto l = request.Query("limit"); l && !l->empty()) {
    int64_t limit = 0;
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || p != l->data() + l->size() || limit < 1 || limit > max_limit) {
      return absl::InvalidArgumentError(fmt::format("limit: must be between 1 and {}", max_limit));
    }
    page.limit = static_cast<int>(limit);
  }
  return page;
}

http::Response ErrorResponse(const absl::Status& status) {
  const std::string_view msg = ToStd(status.message());
  std::string field;
  // "customers/3/tags/aum: reason" -> field "customers/3/tags/aum".
  if (size_t colon = msg.find(": "); colon != std::string_view::npos && colon < 120) {
    const std::string_view head = msg.substr(0, colon);
    if (head.find(' ') == std::string_view::npos) field = std::string(head);
  }
  return http::StatusResponse(status, field);
}

http::Response JsonResponse(int status, const json::value& body) {
  return http::Response::Json(status, json::serialize(body));
}

json::object TagDefToJson(const TagDef& def) {
  json::object o;
  o["key"] = def.key;
  o["name_zh"] = def.name_zh;
  o["name_en"] = def.name_en;
  o["category"] = std::string(TagCategoryName(def.category));
  o["type"] = std::string(TagTypeName(def.type));
  o["source"] = std::string(TagSourceName(def.source));
  if (def.type == TagType::kDecimal) o["scale"] = def.scale;
  if (!def.values.empty()) {
    json::array values;
    for (const std::string& v : def.values) values.emplace_back(v);
    o["values"] = std::move(values);
  }
  if (!def.description.empty()) o["description"] = def.description;
  return o;
}

absl::StatusOr<TagDef> TagDefFromJson(const json::object& o) {
  TagDef def;
  ASSIGN_OR_RETURN(def.key, RequiredString(o, "key"));
  ASSIGN_OR_RETURN(std::optional<std::string> zh, OptionalString(o, "name_zh"));
  ASSIGN_OR_RETURN(std::optional<std::string> en, OptionalString(o, "name_en"));
  def.name_zh = zh.value_or("");
  def.name_en = en.value_or("");
  ASSIGN_OR_RETURN(std::string type, RequiredString(o, "type"));
  absl::StatusOr<TagType> t = ParseTagType(type);
  if (!t.ok()) return absl::InvalidArgumentError(fmt::format("type: {}", t.status().message()));
  def.type = *t;
  ASSIGN_OR_RETURN(std::optional<std::string> category, OptionalString(o, "category"));
  if (category) {
    absl::StatusOr<TagCategory> c = ParseTagCategory(*category);
    if (!c.ok()) {
      return absl::InvalidArgumentError(fmt::format("category: {}", c.status().message()));
    }
    def.category = *c;
  }
  ASSIGN_OR_RETURN(std::optional<std::string> source, OptionalString(o, "source"));
  if (source) {
    absl::StatusOr<TagSource> s = ParseTagSource(*source);
    if (!s.ok()) return absl::InvalidArgumentError(fmt::format("source: {}", s.status().message()));
    def.source = *s;
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> scale, OptionalInt(o, "scale"));
  if (scale) {
    if (*scale < 0 || *scale > 6) return absl::InvalidArgumentError("scale: must be 0 to 6");
    def.scale = static_cast<int32_t>(*scale);
  }
  if (const json::value* values = o.if_contains("values"); values && !values->is_null()) {
    if (!values->is_array()) return absl::InvalidArgumentError("values: must be an array");
    for (const json::value& v : values->as_array()) {
      if (!v.is_string()) {
        return absl::InvalidArgumentError("values: every value must be a string");
      }
      def.values.emplace_back(v.as_string());
    }
  }
  ASSIGN_OR_RETURN(std::optional<std::string> description, OptionalString(o, "description"));
  def.description = description.value_or("");
  RETURN_IF_ERROR(ValidateTagDef(def));
  return def;
}

json::value TagValueToJson(const TagDef& def, const TagValue& value) {
  if (const bool* b = std::get_if<bool>(&value)) return *b;
  if (const std::string* s = std::get_if<std::string>(&value)) return json::string(*s);
  if (const auto* m = std::get_if<std::vector<std::string>>(&value)) {
    json::array a;
    for (const std::string& s : *m) a.emplace_back(s);
    return a;
  }
  if (def.type == TagType::kInt) return std::get<int64_t>(value);
  return json::string(FormatTagValue(def, value));
}

absl::StatusOr<TagValue> TagValueFromJson(const TagDef& def, const json::value& v,
                                          std::string_view field) {
  std::string text;
  if (v.is_string()) {
    text = std::string(v.as_string());
  } else if (v.is_bool() && def.type == TagType::kBool) {
    return TagValue(v.as_bool());
  } else if (v.is_int64() || v.is_uint64()) {
    text = json::serialize(v);
  } else if (v.is_double() && def.type == TagType::kDecimal && std::isfinite(v.as_double())) {
    text = fmt::format("{}", v.as_double());
  } else if (v.is_array() && def.type == TagType::kMultiEnum) {
    std::vector<std::string> parts;
    for (const json::value& e : v.as_array()) {
      if (!e.is_string()) {
        return absl::InvalidArgumentError(fmt::format("{}: values must be strings", field));
      }
      const json::string& s = e.as_string();
      if (s.find_first_of("|,") != json::string::npos) {
        return absl::InvalidArgumentError(
            fmt::format("{}: \"{}\" must not contain '|' or ','", field, std::string(s)));
      }
      parts.emplace_back(s);
    }
    text = fmt::format("{}", fmt::join(parts, "|"));
    if (parts.empty()) return TagValue(std::vector<std::string>{});
  } else {
    return absl::InvalidArgumentError(fmt::format("{}: a {} tag does not take {}", field,
                                                  TagTypeName(def.type), json::serialize(v)));
  }
  absl::StatusOr<TagValue> parsed = ParseTagValue(def, text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", field, parsed.status().message()));
  }
  return parsed;
}

absl::StatusOr<Rule> RuleFromInput(const json::value& v, std::string_view field) {
  if (v.is_string()) {
    DslError error;
    absl::StatusOr<Rule> rule = ParseDsl(std::string_view(v.as_string()), &error);
    if (!rule.ok()) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", field, rule.status().message()));
    }
    return rule;
  }
  if (v.is_object()) {
    absl::StatusOr<Rule> rule = RuleFromJson(v);
    if (!rule.ok()) {
      // RuleFromJson names a JSON pointer inside the tree: "/rules/2/value: ...".
      return absl::InvalidArgumentError(fmt::format("{}{}", field, rule.status().message()));
    }
    return rule;
  }
  return absl::InvalidArgumentError(
      fmt::format("{}: expected a DSL string or a JSON rule tree object", field));
}

json::object RuleToOutput(const Rule& rule) {
  json::object o;
  o["dsl"] = ToDsl(rule);
  o["tree"] = RuleToJson(rule);
  o["terms"] = CountTerms(rule);
  return o;
}

std::string IsoTime(int64_t ms) {
  const int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  const int64_t rem = ms - days * 86400000;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d, rem / 3600000,
                     rem / 60000 % 60, rem / 1000 % 60, rem % 1000);
}

json::object CustomerToJson(const CatalogView& catalog, const CustomerRecord& c, Pii pii) {
  json::object o;
  o["external_id"] = c.external_id;
  o["uid"] = c.uid;
  if (pii == Pii::kUnmasked) {
    o["name"] = c.name;
    o["phone"] = c.phone;
    o["id_number"] = c.id_number;
  } else {
    o["name"] = MaskName(c.name);
    o["phone"] = MaskPhone(c.phone);
    o["id_number"] = MaskIdNumber(c.id_number);
  }
  o["pii"] = pii == Pii::kUnmasked ? "unmasked" : "masked";
  json::object tags;
  for (const auto& [key, value] : c.tags) {
    if (const TagDef* def = catalog.Find(key)) tags[key] = TagValueToJson(*def, value);
  }
  o["tags"] = std::move(tags);
  o["created_at"] = IsoTime(c.created_ms);
  o["updated_at"] = IsoTime(c.updated_ms);
  return o;
}

absl::StatusOr<Pii> RequestedPii(const http::Request& req) {
  Pii pii = Pii::kMasked;
  if (auto it = req.query.find("unmask"); it != req.query.end()) {
    if (it->second == "true") {
      pii = Pii::kUnmasked;
    } else if (it->second != "false") {
      return absl::InvalidArgumentError("unmask: must be true or false");
    }
  }
  if (pii == Pii::kUnmasked && !req.principal.Has("pii:read")) {
    return absl::PermissionDeniedError(
        "unmask: reading personal data in full needs the permission pii:read");
  }
  return pii;
}

}  // namespace mercator::api
