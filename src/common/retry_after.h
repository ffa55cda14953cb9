// "Try again in N seconds" carried on an absl::Status (ResourceExhausted or Unavailable), so
// that layers which only pass statuses along (rate limiters, lock-out) can tell the HTTP layer
// to send a Retry-After header.
#ifndef MERCATOR_COMMON_RETRY_AFTER_H_
#define MERCATOR_COMMON_RETRY_AFTER_H_

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"

namespace mercator {

inline constexpr char kRetryAfterPayload[] = "type.mercator.dev/retry-after-seconds";

// Returns `status` with the delay attached (seconds, at least 1).
inline absl::Status WithRetryAfter(absl::Status status, int64_t seconds) {
  status.SetPayload(kRetryAfterPayload, absl::Cord(std::to_string(seconds < 1 ? 1 : seconds)));
  return status;
}

// The delay attached by WithRetryAfter, if any.
inline std::optional<int64_t> RetryAfterOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterPayload);  // absl::optional in this Abseil
  if (!payload) return std::nullopt;
  const std::string text(*payload);
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return seconds;
}

}  // namespace mercator

#endif  // MERCATOR_COMMON_RETRY_AFTER_H_
