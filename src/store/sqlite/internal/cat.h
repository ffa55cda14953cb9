// Cat(): string concatenation over strings, string views and integers. absl::StrCat is not used
// here because Debian's Abseil is built with its own absl::string_view, which does not accept
// std::string_view.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_CAT_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_CAT_H_

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace mercator::sqlite_internal {
namespace cat_internal {

inline void Append(std::string& out, std::string_view piece) { out.append(piece); }
inline void Append(std::string& out, const char* piece) { out.append(piece); }

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

}  // namespace cat_internal

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (cat_internal::Append(out, args), ...);
  return out;
}

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_CAT_H_
