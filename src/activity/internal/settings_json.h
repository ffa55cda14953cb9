// JSON helpers for template settings (sign-in, quiz) and the rewards they give. Errors are
// InvalidArgument "<path>: <reason>", the shape ParseActivityTerms uses for the rest of the
// terms, so the API can point at the offending member.
#ifndef MERCATOR_ACTIVITY_INTERNAL_SETTINGS_JSON_H_
#define MERCATOR_ACTIVITY_INTERNAL_SETTINGS_JSON_H_

#include <boost/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mercator::activity::settings_json {

absl::Status Bad(std::string_view path, std::string_view reason);
std::string Path(std::string_view parent, std::string_view member);
std::string Index(std::string_view parent, size_t i);

// Refuses members outside `allowed` so a typo is not silently ignored.
absl::Status OnlyMembers(const boost::json::object& o, std::string_view path,
                         std::initializer_list<std::string_view> allowed);
absl::StatusOr<const boost::json::object*> Object(const boost::json::value& v,
                                                  std::string_view path);
// An integer member in [lo, hi]; absent or null gives `fallback`, or "is required" without one.
absl::StatusOr<int64_t> Int(const boost::json::object& o, std::string_view key,
                            std::string_view path, std::optional<int64_t> fallback, int64_t lo,
                            int64_t hi);
// A string member of 1..max_bytes bytes; absent gives `fallback`, or "is required" without one.
absl::StatusOr<std::string> String(const boost::json::object& o, std::string_view key,
                                   std::string_view path, std::optional<std::string> fallback,
                                   size_t max_bytes);

}  // namespace mercator::activity::settings_json

#endif  // MERCATOR_ACTIVITY_INTERNAL_SETTINGS_JSON_H_
