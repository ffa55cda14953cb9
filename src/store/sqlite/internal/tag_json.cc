#include "store/sqlite/internal/tag_json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "boost/json.hpp"
#include "common/strings.h"

namespace mercator::sqlite_internal {

namespace json = boost::json;

namespace {

// Byte classes for AppendJsonString: 0 copies as is, 1 needs an escape, 2 starts a multi-byte
// UTF-8 sequence (validated), 3 can never occur in UTF-8.
constexpr std::array<uint8_t, 256> MakeByteClasses() {
  std::array<uint8_t, 256> k{};
  for (int c = 0; c < 0x20; ++c) k[c] = 1;
  k['"'] = 1;
  k['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) k[c] = 3;
  for (int c = 0xc2; c <= 0xf4; ++c) k[c] = 2;
  return k;
}
constexpr std::array<uint8_t, 256> kByteClass = MakeByteClasses();

// Length of the valid UTF-8 sequence starting at s[0] (a lead byte 0xc2..0xf4), 0 if invalid:
// overlong forms, surrogates and code points beyond U+10FFFF are refused.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
  if (c <= 0xdf) {
    len = 2;
  } else if (c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  }
  if (len > n || s[1] < lo || s[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((s[k] & 0xc0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

// Writes JSON text into a std::string through a raw pointer: the encoder appends a few bytes
// at a time, and std::string's per-append capacity checks cost more than the bytes.
class JsonWriter {
 public:
  explicit JsonWriter(size_t expected) : p_(buf_.data()), end_(p_) { Reserve(expected); }

  // Makes room for n more bytes.
  void Reserve(size_t n) {
    if (static_cast<size_t>(end_ - p_) >= n) return;
    const size_t used = p_ - buf_.data();
    buf_.resize(std::max(buf_.size() * 2, used + n));
    p_ = buf_.data() + used;
    end_ = buf_.data() + buf_.size();
  }
  void Put(char c) { *p_++ = c; }  // after Reserve
  void Put(std::string_view s) {   // after Reserve
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }

  // Appends `s` as a JSON string, checking on the way that it is valid UTF-8 (false if not).
  // Only '"', '\\' and control characters need escaping: JSON carries UTF-8 as is.
  bool String(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    Reserve(6 * s.size() + 2);  // every byte escaped as \u00XX at worst
    const auto* in = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    Put('"');
    size_t i = 0;
    while (i < n) {
      const unsigned char c = in[i];
      const uint8_t k = kByteClass[c];
      if (k == 0) {
        *p_++ = static_cast<char>(c);
        ++i;
        continue;
      }
      if (k == 2) {
        const size_t len = Utf8SequenceLength(in + i, n - i);
        if (len == 0) return false;
        std::memcpy(p_, in + i, len);
        p_ += len;
        i += len;
        continue;
      }
      if (k == 3) return false;
      *p_++ = '\\';
      switch (c) {
        case '"':
        case '\\':
          *p_++ = static_cast<char>(c);
          break;
        case '\n':
          *p_++ = 'n';
          break;
        case '\r':
          *p_++ = 'r';
          break;
        case '\t':
          *p_++ = 't';
          break;
        default:
          Put("u00");
          *p_++ = kHex[c >> 4];
          *p_++ = kHex[c & 0xf];
      }
      ++i;
    }
    Put('"');
    return true;
  }

  // Appends "key": . Catalog keys ([a-z][a-z0-9_]*) are copied without a closer look.
  bool Key(std::string_view key) {
    bool plain = true;
    for (char c : key) plain &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!plain) {
      if (!String(key)) return false;
      Reserve(1);
      Put(':');
      return true;
    }
    Reserve(key.size() + 3);
    Put('"');
    Put(key);
    Put('"');
    Put(':');
    return true;
  }

  size_t size() const { return p_ - buf_.data(); }

  std::string Take() && {
    buf_.resize(p_ - buf_.data());
    return std::move(buf_);
  }

 private:
  std::string buf_;  // [data, p_) written; [p_, end_) room
  char* p_;
  char* end_;
};

namespace {

absl::Status BadUtf8(std::string_view what, std::string_view key) {
  return absl::InvalidArgumentError(
      Cat("tag \"", IsValidUtf8(key) ? key : "?", "\" ", what, " is not valid UTF-8"));
}

absl::Status AppendValue(JsonWriter& out, std::string_view key, const TagValue& value) {
  if (const std::string* s = std::get_if<std::string>(&value)) {
    if (!out.String(*s)) return BadUtf8("value", key);
  } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
    char buffer[24];
    auto result = std::to_chars(buffer, buffer + sizeof(buffer), *i);
    out.Reserve(sizeof buffer);
    out.Put(std::string_view(buffer, result.ptr - buffer));
  } else if (const bool* b = std::get_if<bool>(&value)) {
    out.Reserve(5);
    out.Put(*b ? std::string_view("true") : std::string_view("false"));
  } else {
    const auto& many = std::get<std::vector<std::string>>(value);
    out.Reserve(1);
    out.Put('[');
    for (size_t i = 0; i < many.size(); ++i) {
      if (i > 0) {
        out.Reserve(1);
        out.Put(',');
      }
      if (!out.String(many[i])) return BadUtf8("value", key);
    }
    out.Reserve(1);
    out.Put(']');
  }
  return absl::OkStatus();
}

// Writes the object directly rather than building a boost::json::object first: this runs once
// per upserted customer; DecodeTags (Boost.JSON) reads it back and the tests check the round
// trip.
template <typename Map, typename GetValue>
absl::Status AppendObject(JsonWriter& out, const Map& map, GetValue get_value) {
  out.Reserve(32 * map.size() + 2);
  out.Put('{');
  bool first = true;
  for (const auto& [key, entry] : map) {
    const TagValue* value = get_value(entry);
    if (value == nullptr) continue;
    if (!first) {
      out.Reserve(1);
      out.Put(',');
    }
    first = false;
    if (!out.Key(key)) return BadUtf8("key", key);
    if (absl::Status s = AppendValue(out, key, *value); !s.ok()) return s;
  }
  out.Reserve(1);
  out.Put('}');
  return absl::OkStatus();
}

template <typename Map, typename GetValue>
absl::StatusOr<std::string> EncodeObject(const Map& map, GetValue get_value) {
  JsonWriter out(32 * map.size() + 2);
  if (absl::Status s = AppendObject(out, map, get_value); !s.ok()) return s;
  return std::move(out).Take();
}

const TagValue* SetValue(const std::optional<TagValue>& v) { return v.has_value() ? &*v : nullptr; }

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
  return EncodeObject(changes, SetValue);
}

TagValuesEncoder::TagValuesEncoder(size_t expected_bytes)
    : out_(std::make_unique<JsonWriter>(expected_bytes)) {}

TagValuesEncoder::~TagValuesEncoder() = default;

absl::Status TagValuesEncoder::Add(const TagChanges& changes) {
  return AppendObject(*out_, changes, SetValue);
}

void TagValuesEncoder::Reserve(size_t bytes) { out_->Reserve(bytes); }

size_t TagValuesEncoder::size() const { return out_->size(); }

std::string TagValuesEncoder::Take() && { return std::move(*out_).Take(); }

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
