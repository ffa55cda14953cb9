#include "customer/customer.h"

#include <fmt/format.h>

namespace mercator {

absl::Status ValidateExternalId(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError("external_id: must be 1 to 64 characters");
  }
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) {
      return absl::InvalidArgumentError(
          fmt::format("external_id: \"{}\" may contain only A-Z a-z 0-9 _ - . :", id));
    }
  }
  return absl::OkStatus();
}

}  // namespace mercator
