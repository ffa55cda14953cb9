#include "activity/internal/settings_json.h"

#include <fmt/format.h>

#include <algorithm>

namespace mercator::activity::settings_json {

namespace json = boost::json;

absl::Status Bad(std::string_view path, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", path, reason));
}

std::string Path(std::string_view parent, std::string_view member) {
  return parent.empty() ? std::string(member) : fmt::format("{}.{}", parent, member);
}

std::string Index(std::string_view parent, size_t i) { return fmt::format("{}[{}]", parent, i); }

absl::Status OnlyMembers(const json::object& o, std::string_view path,
                         std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : o) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(key)) == allowed.end()) {
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

absl::StatusOr<std::string> String(const json::object& o, std::string_view key,
                                   std::string_view path, std::optional<std::string> fallback,
                                   size_t max_bytes) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (!fallback) return Bad(Path(path, key), "is required");
    return *fallback;
  }
  if (!v->is_string()) return Bad(Path(path, key), "must be a string");
  if (v->as_string().empty()) return Bad(Path(path, key), "must not be empty");
  if (v->as_string().size() > max_bytes) {
    return Bad(Path(path, key), fmt::format("must be at most {} bytes", max_bytes));
  }
  return std::string(v->as_string());
}

}  // namespace mercator::activity::settings_json
