#include "store/sqlite/internal/tag_json.h"

#include <charconv>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "boost/json.hpp"
#include "common/strings.h"

namespace mercator::sqlite_internal {
namespace {

namespace json = boost::json;

absl::Status CheckUtf8(std::string_view what, std::string_view key, std::string_view s) {
  if (IsValidUtf8(s)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      Cat("tag \"", IsValidUtf8(key) ? key : "?", "\" ", what, " is not valid UTF-8"));
}

// Appends `s` as a JSON string. Only '"', '\\' and control characters need escaping; the
// caller has checked that `s` is valid UTF-8, which JSON carries as is.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t plain_from = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + plain_from, s.size() - plain_from);
  out += '"';
}

absl::Status AppendValue(std::string& out, std::string_view key, const TagValue& value) {
  return std::visit(
      [&](const auto& v) -> absl::Status {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          char buffer[24];
          auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
          out.append(buffer, result.ptr);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (absl::Status s = CheckUtf8("value", key, v); !s.ok()) return s;
          AppendJsonString(out, v);
        } else {
          out += '[';
          for (size_t i = 0; i < v.size(); ++i) {
            if (absl::Status s = CheckUtf8("value", key, v[i]); !s.ok()) return s;
            if (i > 0) out += ',';
            AppendJsonString(out, v[i]);
          }
          out += ']';
        }
        return absl::OkStatus();
      },
      value);
}

// Writes the object directly rather than building a boost::json::object first: this runs once
// per upserted customer and is several times faster; DecodeTags (Boost.JSON) reads it back and
// the tests check the round trip.
template <typename Map, typename GetValue>
absl::StatusOr<std::string> EncodeObject(const Map& map, GetValue get_value) {
  std::string out;
  out.reserve(32 * map.size() + 2);
  out += '{';
  bool first = true;
  for (const auto& [key, entry] : map) {
    const TagValue* value = get_value(entry);
    if (value == nullptr) continue;
    if (absl::Status s = CheckUtf8("key", key, key); !s.ok()) return s;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ':';
    if (absl::Status s = AppendValue(out, key, *value); !s.ok()) return s;
  }
  out += '}';
  return out;
}

absl::StatusOr<json::value> Parse(std::string_view text, std::string_view what) {
  try {
    json::error_code ec;
    json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec) {
      return absl::DataLossError(Cat("stored ", what, " are not valid JSON: ", ec.message()));
    }
    return value;
  } catch (const std::exception& e) {
    return absl::InternalError(Cat("parsing stored ", what, ": ", e.what()));
  }
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong forms, surrogates and code points beyond U+10FFFF.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

absl::StatusOr<std::string> EncodeTags(const TagMap& tags) {
  return EncodeObject(tags, [](const TagValue& v) { return &v; });
}

absl::StatusOr<std::string> EncodeTagValues(const TagChanges& changes) {
  return EncodeObject(changes, [](const std::optional<TagValue>& v) -> const TagValue* {
    return v.has_value() ? &*v : nullptr;
  });
}

absl::StatusOr<TagMap> DecodeTags(std::string_view text) {
  absl::StatusOr<json::value> parsed = Parse(text, "tags");
  if (!parsed.ok()) return parsed.status();
  const json::object* object = parsed->if_object();
  if (object == nullptr) return absl::DataLossError("stored tags are not a JSON object");
  TagMap tags;
  for (const json::key_value_pair& kv : *object) {
    std::string key(kv.key());
    const json::value& v = kv.value();
    switch (v.kind()) {
      case json::kind::bool_:
        tags.emplace(std::move(key), v.get_bool());
        break;
      case json::kind::int64:
        tags.emplace(std::move(key), v.get_int64());
        break;
      case json::kind::string:
        tags.emplace(std::move(key), std::string(v.get_string()));
        break;
      case json::kind::array: {
        std::vector<std::string> items;
        items.reserve(v.get_array().size());
        for (const json::value& item : v.get_array()) {
          if (!item.is_string()) {
            return absl::DataLossError(
                Cat("stored tag \"", key, "\" is a list with a non-string item"));
          }
          items.emplace_back(item.get_string());
        }
        tags.emplace(std::move(key), std::move(items));
        break;
      }
      default:
        return absl::DataLossError(
            Cat("stored tag \"", key, "\" has an unsupported JSON value ", json::serialize(v)));
    }
  }
  return tags;
}

absl::StatusOr<std::string> EncodeStringList(const std::vector<std::string>& values) {
  try {
    json::array array;
    array.reserve(values.size());
    for (const std::string& v : values) {
      if (!IsValidUtf8(v)) {
        return absl::InvalidArgumentError("a list value is not valid UTF-8");
      }
      array.emplace_back(json::string_view(v.data(), v.size()));
    }
    return json::serialize(array);
  } catch (const std::exception& e) {
    return absl::InternalError(Cat("encoding a list as JSON: ", e.what()));
  }
}

absl::StatusOr<std::vector<std::string>> DecodeStringList(std::string_view text) {
  absl::StatusOr<json::value> parsed = Parse(text, "list");
  if (!parsed.ok()) return parsed.status();
  const json::array* array = parsed->if_array();
  if (array == nullptr) return absl::DataLossError("stored list is not a JSON array");
  std::vector<std::string> values;
  values.reserve(array->size());
  for (const json::value& item : *array) {
    if (!item.is_string()) return absl::DataLossError("stored list has a non-string item");
    values.emplace_back(item.get_string());
  }
  return values;
}

}  // namespace mercator::sqlite_internal
