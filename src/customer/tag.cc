#include "customer/tag.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "absl/strings/ascii.h"

namespace mercator {

namespace {

template <typename E, size_t N>
struct EnumNames {
  std::array<std::pair<E, std::string_view>, N> entries;

  std::string_view Name(E e) const {
    for (const auto& [v, n] : entries)
      if (v == e) return n;
    return "?";
  }
  absl::StatusOr<E> Parse(std::string_view s, std::string_view what) const {
    for (const auto& [v, n] : entries)
      if (n == s) return v;
    std::vector<std::string_view> names;
    for (const auto& [v, n] : entries) names.push_back(n);
    return absl::InvalidArgumentError(
        fmt::format("{} \"{}\" is not one of {}", what, s, fmt::join(names, ", ")));
  }
};

constexpr EnumNames<TagType, 6> kTypeNames{{{{TagType::kBool, "bool"},
                                             {TagType::kEnum, "enum"},
                                             {TagType::kMultiEnum, "multi_enum"},
                                             {TagType::kInt, "int"},
                                             {TagType::kDecimal, "decimal"},
                                             {TagType::kDate, "date"}}}};
constexpr EnumNames<TagCategory, 6> kCategoryNames{{{{TagCategory::kBasic, "basic"},
                                                     {TagCategory::kProduct, "product"},
                                                     {TagCategory::kPersona, "persona"},
                                                     {TagCategory::kBehaviour, "behaviour"},
                                                     {TagCategory::kLifecycle, "lifecycle"},
                                                     {TagCategory::kModel, "model"}}}};
constexpr EnumNames<TagSource, 3> kSourceNames{{{{TagSource::kImported, "imported"},
                                                 {TagSource::kRuleComputed, "rule_computed"},
                                                 {TagSource::kModel, "model"}}}};

std::string_view Trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr int64_t kPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};

absl::StatusOr<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return absl::InvalidArgumentError(fmt::format("\"{}\" is not an integer", s));
  }
  return v;
}

// Exact decimal parsing: "-12.5" with scale 2 -> -1250. More digits than `scale` after the
// point are an error unless they are zeros; nothing is rounded.
absl::StatusOr<int64_t> ParseDecimal(std::string_view s, int32_t scale) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\" is not a decimal with at most {} places", s, scale));
  };
  std::string_view t = s;
  bool negative = false;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  std::string_view int_part = t, frac_part;
  if (size_t dot = t.find('.'); dot != std::string_view::npos) {
    int_part = t.substr(0, dot);
    frac_part = t.substr(dot + 1);
  }
  if (int_part.empty() && frac_part.empty()) return bad();
  auto all_digits = [](std::string_view x) {
    return std::all_of(x.begin(), x.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(int_part) || !all_digits(frac_part)) return bad();
  while (static_cast<int32_t>(frac_part.size()) > scale && frac_part.back() == '0') {
    frac_part.remove_suffix(1);
  }
  if (static_cast<int32_t>(frac_part.size()) > scale) return bad();
  __int128 v = 0;
  for (char c : int_part) {
    v = v * 10 + (c - '0');
    if (v > INT64_MAX) return bad();
  }
  for (int32_t i = 0; i < scale; ++i) {
    v = v * 10 + (i < static_cast<int32_t>(frac_part.size()) ? frac_part[i] - '0' : 0);
    if (v > INT64_MAX) return bad();
  }
  return static_cast<int64_t>(negative ? -v : v);
}

absl::StatusOr<int64_t> ParseDate(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\" is not a date (YYYY-MM-DD or YYYYMMDD)", s));
  };
  // The eight digits YYYYMMDD, read in place: an import parses millions of dates.
  size_t at[8];
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    constexpr size_t kDashed[8] = {0, 1, 2, 3, 5, 6, 8, 9};
    std::copy(std::begin(kDashed), std::end(kDashed), at);
  } else if (s.size() == 8) {
    for (size_t i = 0; i < 8; ++i) at[i] = i;
  } else {
    return bad();
  }
  unsigned digit[8];
  for (size_t i = 0; i < 8; ++i) {
    const char c = s[at[i]];
    if (c < '0' || c > '9') return bad();
    digit[i] = static_cast<unsigned>(c - '0');
  }
  const int64_t y = digit[0] * 1000 + digit[1] * 100 + digit[2] * 10 + digit[3];
  const unsigned m = digit[4] * 10 + digit[5];
  const unsigned d = digit[6] * 10 + digit[7];
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1] ||
      (m == 2 && d == 29 && !leap)) {
    return bad();
  }
  return DaysFromCivil(y, m, d);
}

// `allowed` is the hash set of def.values when the caller has one (TagValueParser).
absl::Status CheckAllowed(const TagDef& def, std::string_view v,
                          const absl::flat_hash_set<std::string>* allowed) {
  if (def.values.empty()) return absl::OkStatus();
  if (allowed != nullptr ? allowed->contains(absl::string_view(v.data(), v.size()))
                         : std::find(def.values.begin(), def.values.end(), v) != def.values.end()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      fmt::format("value \"{}\" is not one of {}", v, fmt::join(def.values, ", ")));
}

}  // namespace

std::string_view TagTypeName(TagType t) { return kTypeNames.Name(t); }
std::string_view TagCategoryName(TagCategory c) { return kCategoryNames.Name(c); }
std::string_view TagSourceName(TagSource s) { return kSourceNames.Name(s); }
absl::StatusOr<TagType> ParseTagType(std::string_view s) { return kTypeNames.Parse(s, "type"); }
absl::StatusOr<TagCategory> ParseTagCategory(std::string_view s) {
  return kCategoryNames.Parse(s, "category");
}
absl::StatusOr<TagSource> ParseTagSource(std::string_view s) {
  return kSourceNames.Parse(s, "source");
}

absl::Status ValidateTagDef(const TagDef& def) {
  const std::string_view k = def.key;
  bool key_ok = !k.empty() && k.size() <= 64 && k[0] >= 'a' && k[0] <= 'z';
  for (char c : k) {
    key_ok = key_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!key_ok) {
    return absl::InvalidArgumentError(
        fmt::format("key: \"{}\" must match [a-z][a-z0-9_]{{0,63}}", k));
  }
  if (def.name_zh.empty() && def.name_en.empty()) {
    return absl::InvalidArgumentError("name_zh: a tag needs a name (name_zh or name_en)");
  }
  if (def.scale < 0 || def.scale > 6) {
    return absl::InvalidArgumentError("scale: must be between 0 and 6");
  }
  if (def.type != TagType::kDecimal && def.scale != 0) {
    return absl::InvalidArgumentError("scale: only decimal tags have a scale");
  }
  if (!def.values.empty() && def.type != TagType::kEnum && def.type != TagType::kMultiEnum) {
    return absl::InvalidArgumentError("values: only enum and multi_enum tags list values");
  }
  for (const std::string& v : def.values) {
    if (v.empty()) return absl::InvalidArgumentError("values: a value must not be empty");
    if (def.type == TagType::kMultiEnum && v.find_first_of("|,") != std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("values: \"{}\" must not contain '|' or ','", v));
    }
  }
  return absl::OkStatus();
}

namespace {
absl::StatusOr<TagValue> ParseValue(const TagDef& def, std::string_view text,
                                    const absl::flat_hash_set<std::string>* allowed);

// Calls fn(part) for each non-empty part of a multi-enum text ('|' or ',' between parts,
// spaces around them trimmed), after checking that it is allowed; stops at the first part
// that is not.
template <typename Fn>
absl::Status ForEachMultiEnumPart(const TagDef& def, std::string_view s,
                                  const absl::flat_hash_set<std::string>* allowed, Fn fn) {
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find_first_of("|,", start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view part = Trim(s.substr(start, end - start));
    start = end + 1;
    if (part.empty()) continue;
    if (auto st = CheckAllowed(def, part, allowed); !st.ok()) return st;
    fn(part);
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<TagValue> ParseTagValue(const TagDef& def, std::string_view text) {
  return ParseValue(def, text, nullptr);
}

TagValueParser::TagValueParser(TagDef def) : def_(std::move(def)) {
  allowed_.insert(def_.values.begin(), def_.values.end());
}

absl::StatusOr<TagValue> TagValueParser::Parse(std::string_view text) const {
  return ParseValue(def_, text, &allowed_);
}

absl::Status TagValueParser::ParseInto(std::string_view text, std::optional<TagValue>& out) const {
  if (def_.type == TagType::kEnum && out.has_value()) {
    if (std::string* held = std::get_if<std::string>(&*out)) {
      const std::string_view s = Trim(text);
      if (s.empty()) return absl::InvalidArgumentError("empty value");
      if (auto st = CheckAllowed(def_, s, &allowed_); !st.ok()) return st;
      held->assign(s);
      return absl::OkStatus();
    }
  }
  if (def_.type == TagType::kMultiEnum && out.has_value()) {
    if (auto* held = std::get_if<std::vector<std::string>>(&*out)) {
      size_t n = 0;
      if (auto st = ForEachMultiEnumPart(def_, Trim(text), &allowed_,
                                         [&](std::string_view part) {
                                           if (n < held->size()) {
                                             (*held)[n].assign(part);
                                           } else {
                                             held->emplace_back(part);
                                           }
                                           ++n;
                                         });
          !st.ok()) {
        return st;
      }
      held->resize(n);
      std::sort(held->begin(), held->end());
      held->erase(std::unique(held->begin(), held->end()), held->end());
      return absl::OkStatus();
    }
  }
  absl::StatusOr<TagValue> value = ParseValue(def_, text, &allowed_);
  if (!value.ok()) return value.status();
  out = *std::move(value);
  return absl::OkStatus();
}

absl::Status TagValueParser::Check(std::string_view text) const {
  switch (def_.type) {
    case TagType::kEnum: {
      const std::string_view s = Trim(text);
      if (s.empty()) return absl::InvalidArgumentError("empty value");
      return CheckAllowed(def_, s, &allowed_);
    }
    case TagType::kMultiEnum:
      return ForEachMultiEnumPart(def_, Trim(text), &allowed_, [](std::string_view) {});
    default:
      // The other types' values hold no strings: nothing is allocated to parse them.
      return ParseValue(def_, text, &allowed_).status();
  }
}

namespace {
absl::StatusOr<TagValue> ParseValue(const TagDef& def, std::string_view text,
                                    const absl::flat_hash_set<std::string>* allowed) {
  const std::string_view s = Trim(text);
  switch (def.type) {
    case TagType::kBool: {
      // ASCII case-insensitive, without a lowered copy of the text.
      auto is = [&](std::string_view word) {
        return s.size() == word.size() &&
               std::equal(s.begin(), s.end(), word.begin(),
                          [](char a, char b) { return absl::ascii_tolower(a) == b; });
      };
      if (is("true") || is("1") || is("yes") || is("y") || s == "是") return TagValue(true);
      if (is("false") || is("0") || is("no") || is("n") || s == "否") return TagValue(false);
      return absl::InvalidArgumentError(fmt::format("\"{}\" is not a boolean", s));
    }
    case TagType::kEnum: {
      if (s.empty()) return absl::InvalidArgumentError("empty value");
      if (auto st = CheckAllowed(def, s, allowed); !st.ok()) return st;
      return TagValue(std::string(s));
    }
    case TagType::kMultiEnum: {
      std::vector<std::string> out;
      if (auto st = ForEachMultiEnumPart(def, s, allowed,
                                         [&](std::string_view part) { out.emplace_back(part); });
          !st.ok()) {
        return st;
      }
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return TagValue(std::move(out));
    }
    case TagType::kInt: {
      auto v = ParseInt(s);
      if (!v.ok()) return v.status();
      return TagValue(*v);
    }
    case TagType::kDecimal: {
      auto v = ParseDecimal(s, def.scale);
      if (!v.ok()) return v.status();
      return TagValue(*v);
    }
    case TagType::kDate: {
      auto v = ParseDate(s);
      if (!v.ok()) return v.status();
      return TagValue(*v);
    }
  }
  return absl::InternalError("unknown tag type");
}

}  // namespace

std::string FormatTagValue(const TagDef& def, const TagValue& value) {
  if (const bool* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const std::string* s = std::get_if<std::string>(&value)) return *s;
  if (const auto* m = std::get_if<std::vector<std::string>>(&value)) {
    return fmt::format("{}", fmt::join(*m, "|"));
  }
  const int64_t v = std::get<int64_t>(value);
  if (def.type == TagType::kDate) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(v, &y, &m, &d);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
    return buf;
  }
  if (def.type == TagType::kDecimal && def.scale > 0) {
    const int64_t p = kPow10[def.scale];
    const uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    std::string frac = std::to_string(mag % p);
    frac.insert(0, def.scale - frac.size(), '0');
    return fmt::format("{}{}.{}", v < 0 ? "-" : "", mag / p, frac);
  }
  return std::to_string(v);
}

// Howard Hinnant's civil-calendar algorithms (public domain description of the arithmetic).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

}  // namespace mercator
