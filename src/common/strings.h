// Bridges between std::string_view and Debian's Abseil, which is built with its own
// absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so absl::Status::message() and
// absl::StrCat do not speak std::string_view.
#ifndef MERCATOR_COMMON_STRINGS_H_
#define MERCATOR_COMMON_STRINGS_H_

#include <fmt/format.h>

#include <string_view>

#include "absl/strings/string_view.h"

namespace mercator {

inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace mercator

// Lets fmt::format print absl::string_view (e.g. status.message()).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  auto format(absl::string_view s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

#endif  // MERCATOR_COMMON_STRINGS_H_
