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

absl::Status ValidateMobilePhone(std::string_view phone) {
  bool ok = phone.size() == 11 && phone[0] == '1' && phone[1] >= '3' && phone[1] <= '9';
  for (size_t i = 2; ok && i < phone.size(); ++i) ok = phone[i] >= '0' && phone[i] <= '9';
  if (!ok) return absl::InvalidArgumentError("phone: not a mainland mobile number");
  return absl::OkStatus();
}

char IdNumberCheckChar(std::string_view first17) {
  // ISO 7064 MOD 11-2: weight of position i (0-based from the left) is 2^(17 - i) mod 11.
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char kCheck[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  int sum = 0;
  for (size_t i = 0; i < 17 && i < first17.size(); ++i) sum += (first17[i] - '0') * kWeights[i];
  return kCheck[sum % 11];
}

std::string NormalizeIdNumber(std::string_view id_number) {
  std::string out(id_number);
  if (!out.empty() && out.back() == 'x') out.back() = 'X';
  return out;
}

absl::Status ValidateIdNumber(std::string_view id) {
  if (id.size() != 18) return absl::InvalidArgumentError("id_number: must be 18 characters");
  for (size_t i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') {
      return absl::InvalidArgumentError("id_number: the first 17 characters must be digits");
    }
  }
  const char last = id[17];
  if ((last < '0' || last > '9') && last != 'X') {
    return absl::InvalidArgumentError("id_number: the last character must be a digit or X");
  }
  if (IdNumberCheckChar(id.substr(0, 17)) != last) {
    return absl::InvalidArgumentError("id_number: the check character does not match (GB 11643)");
  }
  return absl::OkStatus();
}

}  // namespace mercator
