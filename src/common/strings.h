// Bridges between std::string_view and Debian's Abseil, which is built with its own
// absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so absl::Status::message() and
// absl::StrCat do not speak std::string_view.
#ifndef MERCATOR_COMMON_STRINGS_H_
#define MERCATOR_COMMON_STRINGS_H_

#include <fmt/format.h>

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace mercator {

inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

namespace strings_internal {
inline void Append(std::string& out, std::string_view piece) { out.append(piece); }
inline void Append(std::string& out, const char* piece) { out.append(piece); }
inline void Append(std::string& out, char c) { out.push_back(c); }
// Other string views (absl::string_view, as returned by absl::Status::message()).
template <typename T>
requires requires(const T& v) {
  { v.data() } -> std::convertible_to<const char*>;
  { v.size() } -> std::convertible_to<size_t>;
}
void Append(std::string& out, const T& piece) { out.append(piece.data(), piece.size()); }
template <typename T>
requires std::integral<T> &&
    (!std::same_as<T, bool>)&&(!std::same_as<T, char>)void Append(std::string& out, T value) {
  char buffer[24];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}
}  // namespace strings_internal

// Concatenates strings, string views of either kind, characters and integers: absl::StrCat
// for this Abseil build, which does not take std::string_view.
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (strings_internal::Append(out, args), ...);
  return out;
}
// Appends to `out` (absl::StrAppend).
template <typename... Args>
void CatAppend(std::string* out, const Args&... args) {
  (strings_internal::Append(*out, args), ...);
}

}  // namespace mercator

// Lets fmt::format print absl::string_view (e.g. status.message()).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  auto format(absl::string_view s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

#endif  // MERCATOR_COMMON_STRINGS_H_
