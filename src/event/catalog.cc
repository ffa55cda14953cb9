#include "event/catalog.h"

#include <boost/json.hpp>

#include <cmath>
#include <utility>

#include "customer/tag.h"
#include "fmt/format.h"

namespace mercator::event {
namespace {

FieldDef Field(std::string name, FieldType type, bool required, std::string description) {
  FieldDef f;
  f.name = std::move(name);
  f.type = type;
  f.required = required;
  f.description = std::move(description);
  return f;
}

FieldDef EnumField(std::string name, bool required, std::vector<std::string> values,
                   std::string description) {
  FieldDef f = Field(std::move(name), FieldType::kEnum, required, std::move(description));
  f.values = std::move(values);
  return f;
}

FieldDef Amount() {
  FieldDef f = Field("amount", FieldType::kMoney, true, "Amount in yuan (元), more than 0.");
  f.min = 1;
  return f;
}

FieldDef Channel() {
  return EnumField("channel", false, {"app", "h5", "wechat_oa", "wecom", "branch", "web"},
                   "Where it happened.");
}

FieldDef Product() {
  FieldDef f = Field("product", FieldType::kString, true, "The bank's product code.");
  f.max_length = 64;
  return f;
}

EventType Type(std::string name, std::string zh, std::string en, std::vector<FieldDef> fields,
               std::string description) {
  EventType t;
  t.name = std::move(name);
  t.name_zh = std::move(zh);
  t.name_en = std::move(en);
  t.fields = std::move(fields);
  t.description = std::move(description);
  for (const FieldDef& f : t.fields) {
    if (f.name == "amount") t.amount_field = "amount";
  }
  return t;
}

std::vector<EventType> BuiltinTypes() {
  std::vector<EventType> types;
  types.push_back(Type("login", "登录", "Login", {Channel()}, "The customer signed in."));
  {
    FieldDef page = Field("page", FieldType::kString, true, "Page or screen id.");
    FieldDef duration = Field("duration_ms", FieldType::kInt, false, "Time on the page.");
    duration.min = 0;
    duration.max = 24LL * 3600 * 1000;
    types.push_back(Type("page_view", "页面浏览", "Page view", {page, duration, Channel()},
                         "A page or screen was shown."));
  }
  types.push_back(
      Type("transfer", "转账", "Transfer",
           {Amount(), EnumField("direction", false, {"in", "out"}, "in or out."), Channel()},
           "A transfer the customer made or received."));
  types.push_back(
      Type("purchase", "购买产品", "Product purchase",
           {Product(), Amount(),
            EnumField("category", false,
                      {"wealth", "fund", "insurance", "precious_metal", "deposit", "loan", "other"},
                      "Product category."),
            Channel()},
           "The customer bought a product (wealth, fund, insurance, ...)."));
  {
    FieldDef maturity =
        Field("maturity_date", FieldType::kDate, true, "When the deposit matures (YYYY-MM-DD).");
    FieldDef term = Field("term_months", FieldType::kInt, false, "Term in months.");
    term.min = 1;
    term.max = 600;
    types.push_back(Type("deposit_open", "定期存入", "Time deposit opened",
                         {Product(), Amount(), maturity, term, Channel()},
                         "A time deposit was opened."));
  }
  types.push_back(Type("app_register", "注册手机银行", "App registration", {Channel()},
                       "The customer registered for mobile banking."));
  types.push_back(
      Type("card_bind", "绑卡", "Card bound",
           {EnumField("card_type", false, {"debit", "credit"}, "debit or credit."), Channel()},
           "A card was bound in the app or WeChat."));
  {
    FieldDef score = Field("score", FieldType::kInt, true, "0 to 10 (NPS scale).");
    score.min = 0;
    score.max = 10;
    FieldDef text = Field("text", FieldType::kString, false, "What the customer wrote.");
    text.max_length = 1000;
    types.push_back(Type("feedback", "反馈评价", "Feedback", {score, text, Channel()},
                         "A satisfaction score, with optional text."));
  }
  types.push_back(
      Type("coupon_redeem", "用券", "Coupon redeemed",
           {Field("coupon_code", FieldType::kString, true, "The coupon's code."), Channel()},
           "A coupon was used."));
  {
    EventType t = Type("lifecycle_changed", "生命周期变化", "Lifecycle stage changed",
                       {Field("from", FieldType::kString, true, "Stage before (empty: none)."),
                        Field("to", FieldType::kString, true, "Stage after.")},
                       "Emitted by Mercator when a customer's lifecycle stage changes.");
    t.internal = true;
    types.push_back(std::move(t));
  }
  return types;
}

absl::Status FieldError(const FieldDef& f, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("properties.{}: {}", f.name, reason));
}

absl::StatusOr<PropertyValue> ParseField(const FieldDef& f, const boost::json::value& v) {
  switch (f.type) {
    case FieldType::kString: {
      if (!v.is_string()) return FieldError(f, "must be a string");
      const boost::json::string& s = v.get_string();
      if (s.size() > f.max_length) {
        return FieldError(f, fmt::format("is longer than {} bytes", f.max_length));
      }
      return std::string(s.data(), s.size());
    }
    case FieldType::kEnum: {
      if (!v.is_string()) return FieldError(f, "must be a string");
      const std::string s(v.get_string().data(), v.get_string().size());
      for (const std::string& allowed : f.values) {
        if (allowed == s) return s;
      }
      return FieldError(f, fmt::format("\"{}\" is not one of {}", s, fmt::join(f.values, ", ")));
    }
    case FieldType::kBool:
      if (!v.is_bool()) return FieldError(f, "must be true or false");
      return v.get_bool();
    case FieldType::kInt: {
      int64_t n;
      if (v.is_int64()) {
        n = v.get_int64();
      } else if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
        n = static_cast<int64_t>(v.get_uint64());
      } else {
        return FieldError(f, "must be an integer");
      }
      if (n < f.min || n > f.max) {
        return FieldError(f, fmt::format("must be between {} and {}", f.min, f.max));
      }
      return n;
    }
    case FieldType::kMoney: {
      static const TagDef kMoneyDef = [] {
        TagDef d;
        d.key = "amount";
        d.type = TagType::kDecimal;
        d.scale = 2;
        return d;
      }();
      int64_t fen = 0;
      if (v.is_int64() || v.is_uint64()) {
        const int64_t yuan = v.is_int64() ? v.get_int64() : static_cast<int64_t>(v.get_uint64());
        if (v.is_uint64() && v.get_uint64() > static_cast<uint64_t>(INT64_MAX / 100)) {
          return FieldError(f, "is too large");
        }
        if (yuan > INT64_MAX / 100 || yuan < INT64_MIN / 100) return FieldError(f, "is too large");
        fen = yuan * 100;
      } else if (v.is_double()) {
        const double cents = v.get_double() * 100.0;
        const double rounded = std::round(cents);
        if (!std::isfinite(cents) || std::fabs(rounded) > 9.0e15 ||
            std::fabs(cents - rounded) > 1e-6 * std::max(1.0, std::fabs(cents))) {
          return FieldError(f, "must be an amount in yuan with at most 2 decimals");
        }
        fen = static_cast<int64_t>(rounded);
      } else if (v.is_string()) {
        absl::StatusOr<TagValue> parsed = ParseTagValue(
            kMoneyDef, std::string_view(v.get_string().data(), v.get_string().size()));
        if (!parsed.ok()) {
          return FieldError(f, "must be an amount in yuan with at most 2 decimals");
        }
        fen = std::get<int64_t>(*parsed);
      } else {
        return FieldError(f, "must be an amount in yuan (a number or a string such as \"100.50\")");
      }
      if (fen < f.min || fen > f.max) {
        return FieldError(f, f.min == 1 ? "must be more than 0" : "is out of range");
      }
      return fen;
    }
    case FieldType::kDate: {
      static const TagDef kDateDef = [] {
        TagDef d;
        d.key = "date";
        d.type = TagType::kDate;
        return d;
      }();
      if (!v.is_string()) return FieldError(f, "must be a date \"YYYY-MM-DD\"");
      absl::StatusOr<TagValue> parsed =
          ParseTagValue(kDateDef, std::string_view(v.get_string().data(), v.get_string().size()));
      if (!parsed.ok()) return FieldError(f, "must be a date \"YYYY-MM-DD\"");
      return std::get<int64_t>(*parsed);
    }
  }
  return FieldError(f, "has an unknown type");
}

}  // namespace

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "string";
    case FieldType::kInt:
      return "int";
    case FieldType::kMoney:
      return "money";
    case FieldType::kDate:
      return "date";
    case FieldType::kBool:
      return "bool";
    case FieldType::kEnum:
      return "enum";
  }
  return "unknown";
}

Catalog::Catalog(std::vector<EventType> types) : types_(std::move(types)) {}

const Catalog& Catalog::Builtin() {
  static const Catalog* catalog = new Catalog(BuiltinTypes());
  return *catalog;
}

const EventType* Catalog::Find(std::string_view name) const {
  for (const EventType& t : types_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<Properties> Catalog::Parse(const EventType& type, const boost::json::object& json) {
  Properties out;
  for (const auto& [key, value] : json) {
    const std::string_view name(key.data(), key.size());
    const FieldDef* field = nullptr;
    for (const FieldDef& f : type.fields) {
      if (f.name == name) field = &f;
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("properties.{}: is not a property of {} events", name, type.name));
    }
    if (value.is_null()) {
      if (field->required) return FieldError(*field, "is required");
      continue;
    }
    absl::StatusOr<PropertyValue> parsed = ParseField(*field, value);
    if (!parsed.ok()) return parsed.status();
    out.emplace(std::string(name), *std::move(parsed));
  }
  for (const FieldDef& f : type.fields) {
    if (f.required && !out.contains(f.name)) return FieldError(f, "is required");
  }
  return out;
}

std::string FormatProperty(const FieldDef& field, const PropertyValue& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  const int64_t n = std::get<int64_t>(value);
  switch (field.type) {
    case FieldType::kMoney: {
      TagDef d;
      d.type = TagType::kDecimal;
      d.scale = 2;
      return FormatTagValue(d, n);
    }
    case FieldType::kDate: {
      TagDef d;
      d.type = TagType::kDate;
      return FormatTagValue(d, n);
    }
    default:
      return std::to_string(n);
  }
}

}  // namespace mercator::event
