#include "auth/customer_token.h"

#include <sodium.h>

#include <charconv>
#include <vector>

#include "common/strings.h"

namespace mercator::auth {
namespace {

// The seal's associated data: a value sealed for anything else does not open as a token.
constexpr std::string_view kContext = "h5.token";
constexpr std::string_view kPreviewContext = "h5.preview";
constexpr std::string_view kVersion = "v1";
constexpr size_t kMaxCustomerBytes = 128;
// Bounds the work of a hostile header before any decoding.
constexpr size_t kMaxTokenBytes = 1024;

std::string Base64Url(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

bool FromBase64Url(std::string_view text, std::string& out) {
  out.assign(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return false;
  }
  out.resize(len);
  return true;
}

// Only the canonical decimal form the issuer writes ("7", never "07" or "+7").
bool ParseInt(std::string_view s, int64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && std::to_string(v) == s;
}

absl::Status Invalid() {
  return absl::UnauthenticatedError("authorization: the customer token is not valid");
}

absl::Status InvalidPreview() {
  return absl::UnauthenticatedError("authorization: the preview token is not valid");
}

}  // namespace

CustomerTokenService::CustomerTokenService(const PiiCipher* cipher, const Clock* clock,
                                           CustomerTokenOptions options)
    : cipher_(cipher), clock_(clock), options_(options) {}

absl::StatusOr<CustomerTokenService::Issued> CustomerTokenService::Issue(
    std::string_view client_id, std::string_view customer, std::string_view channel,
    int64_t activity_id) const {
  if (customer.empty()) return absl::InvalidArgumentError("customer: is required");
  if (customer.size() > kMaxCustomerBytes) {
    return absl::InvalidArgumentError("customer: at most 128 bytes");
  }
  for (char c : customer) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("customer: must not contain control characters");
    }
  }
  Issued out;
  out.claims.client_id = std::string(client_id);
  out.claims.customer = std::string(customer);
  out.claims.channel = std::string(channel);
  out.claims.activity_id = activity_id;
  out.claims.issued_ms = clock_->NowMs();
  out.claims.expires_ms = out.claims.issued_ms + options_.ttl_ms;
  const std::string payload =
      Cat(kVersion, "\n", client_id, "\n", channel, "\n", std::to_string(activity_id), "\n",
          std::to_string(out.claims.issued_ms), "\n", std::to_string(out.claims.expires_ms), "\n",
          customer);
  out.token = Cat(kCustomerTokenPrefix, Base64Url(cipher_->Seal(payload, kContext)));
  return out;
}

absl::StatusOr<CustomerTokenClaims> CustomerTokenService::Verify(std::string_view token) const {
  if (token.size() > kMaxTokenBytes ||
      token.substr(0, kCustomerTokenPrefix.size()) != kCustomerTokenPrefix) {
    return Invalid();
  }
  std::string sealed;
  if (!FromBase64Url(token.substr(kCustomerTokenPrefix.size()), sealed)) return Invalid();
  absl::StatusOr<std::string> payload = cipher_->Open(sealed, kContext);
  if (!payload.ok()) return Invalid();
  // Six fields, then the customer id (the rest, which may hold anything but control bytes).
  std::vector<std::string_view> parts;
  std::string_view rest = *payload;
  for (int i = 0; i < 6; ++i) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return Invalid();
    parts.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  CustomerTokenClaims c;
  if (parts[0] != kVersion || !ParseInt(parts[3], c.activity_id) ||
      !ParseInt(parts[4], c.issued_ms) || !ParseInt(parts[5], c.expires_ms) || rest.empty()) {
    return Invalid();
  }
  c.client_id = std::string(parts[1]);
  c.channel = std::string(parts[2]);
  c.customer = std::string(rest);
  if (clock_->NowMs() >= c.expires_ms) {
    return absl::UnauthenticatedError(
        "authorization: the customer token has expired; the app obtains a new one");
  }
  return c;
}

absl::StatusOr<CustomerTokenService::IssuedPreview> CustomerTokenService::IssuePreview(
    std::string_view staff_user, int64_t activity_id) const {
  if (staff_user.empty() || staff_user.find('\n') != std::string_view::npos) {
    return absl::InvalidArgumentError("staff_user: is required, one line");
  }
  if (activity_id <= 0) return absl::InvalidArgumentError("activity: must be positive");
  IssuedPreview out;
  out.claims.staff_user = std::string(staff_user);
  out.claims.activity_id = activity_id;
  out.claims.issued_ms = clock_->NowMs();
  out.claims.expires_ms = out.claims.issued_ms + options_.preview_ttl_ms;
  const std::string payload =
      Cat(kVersion, "\n", std::to_string(activity_id), "\n", std::to_string(out.claims.issued_ms),
          "\n", std::to_string(out.claims.expires_ms), "\n", staff_user);
  out.token = Cat(kPreviewTokenPrefix, Base64Url(cipher_->Seal(payload, kPreviewContext)));
  return out;
}

absl::StatusOr<PreviewTokenClaims> CustomerTokenService::VerifyPreview(
    std::string_view token) const {
  if (token.size() > kMaxTokenBytes ||
      token.substr(0, kPreviewTokenPrefix.size()) != kPreviewTokenPrefix) {
    return InvalidPreview();
  }
  std::string sealed;
  if (!FromBase64Url(token.substr(kPreviewTokenPrefix.size()), sealed)) return InvalidPreview();
  absl::StatusOr<std::string> payload = cipher_->Open(sealed, kPreviewContext);
  if (!payload.ok()) return InvalidPreview();
  std::vector<std::string_view> parts;
  std::string_view rest = *payload;
  for (int i = 0; i < 4; ++i) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return InvalidPreview();
    parts.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  PreviewTokenClaims c;
  if (parts[0] != kVersion || !ParseInt(parts[1], c.activity_id) ||
      !ParseInt(parts[2], c.issued_ms) || !ParseInt(parts[3], c.expires_ms) || rest.empty()) {
    return InvalidPreview();
  }
  c.staff_user = std::string(rest);
  if (clock_->NowMs() >= c.expires_ms) {
    return absl::UnauthenticatedError(
        "authorization: the preview token has expired; open the preview again from the console");
  }
  return c;
}

}  // namespace mercator::auth
