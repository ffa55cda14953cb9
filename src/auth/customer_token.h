// Customer tokens for the H5 activity pages: short-lived bearer tokens that an API client (an
// app back-end with the "draw" scope) obtains for one of its customers and hands to the
// customer's browser. The browser then calls /v1/h5/... with `Authorization: Bearer <token>`
// and can act only for that customer (docs/h5.md).
//
// Format: "mh5." + base64url (no padding) of PiiCipher::Seal(payload, "h5.token"), where the
// payload is "v1\n<client key id>\n<channel>\n<activity id or 0>\n<issued ms>\n<expires ms>\n
// <customer external id>". The seal is XChaCha20-Poly1305 under the PII vault's key
// (auth/vault.h), so a token cannot be forged or altered without that key (any change fails
// to open), the customer id inside is not readable from the URL or a proxy log, and a value
// sealed for a personal-data column never opens as a token (another context). Tokens are
// stateless: every node holding the vault key accepts them, and nothing is written per token.
// A token stops working at its expiry (checked against the injected clock); before that it is
// revoked only with its client (the H5 routes check that the client is still enabled).
//
// Preview tokens ("mh5p." + the same kind of seal under another context, "h5.preview") let a
// staff member who may edit activities open the H5 page of a draft read-only: the payload is
// "v1\n<activity id>\n<issued ms>\n<expires ms>\n<staff user name>". They name no customer
// and no client; the H5 routes render the activity's latest terms for them and refuse draws,
// sign-ins and answers (api/h5_api.cc). They live preview_ttl_ms and are not revocable.
//
// Thread safety: all methods are safe to call concurrently (no mutable state).
#ifndef MERCATOR_AUTH_CUSTOMER_TOKEN_H_
#define MERCATOR_AUTH_CUSTOMER_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "store/pii_cipher.h"

namespace mercator::auth {

inline constexpr std::string_view kCustomerTokenPrefix = "mh5.";
inline constexpr std::string_view kPreviewTokenPrefix = "mh5p.";

struct CustomerTokenOptions {
  // Lifetime of a new token: 15 minutes by default, enough for a visit to an activity page.
  int64_t ttl_ms = 15 * 60 * 1000;
  // Lifetime of a staff preview token: 10 minutes, a look at a draft in the wizard.
  int64_t preview_ttl_ms = 10 * 60 * 1000;
};

// What a valid preview token says.
struct PreviewTokenClaims {
  std::string staff_user;   // who asked for the preview
  int64_t activity_id = 0;  // the only activity it shows
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

// What a valid token says.
struct CustomerTokenClaims {
  std::string client_id;    // the API client's key id that obtained it
  std::string customer;     // the customer's external id
  std::string channel;      // the channel the customer draws on (h5, app, wechat_oa, ...)
  int64_t activity_id = 0;  // the only activity it may act in; 0: any
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

class CustomerTokenService {
 public:
  // Neither pointer is owned; both must outlive the service.
  CustomerTokenService(const PiiCipher* cipher, const Clock* clock,
                       CustomerTokenOptions options = {});
  CustomerTokenService(const CustomerTokenService&) = delete;
  CustomerTokenService& operator=(const CustomerTokenService&) = delete;

  struct Issued {
    std::string token;
    CustomerTokenClaims claims;
  };
  // A token for `customer` valid for options.ttl_ms from now. InvalidArgument "customer: ..."
  // for an empty id or one over 128 bytes or with a control character.
  absl::StatusOr<Issued> Issue(std::string_view client_id, std::string_view customer,
                               std::string_view channel, int64_t activity_id) const;

  // The claims of a token that is well formed, sealed by this key and not expired; otherwise
  // Unauthenticated "authorization: ..." (expired tokens say so; every other failure gets the
  // same answer).
  absl::StatusOr<CustomerTokenClaims> Verify(std::string_view token) const;

  // A preview token of `activity_id` for `staff_user`, valid for options.preview_ttl_ms.
  struct IssuedPreview {
    std::string token;
    PreviewTokenClaims claims;
  };
  absl::StatusOr<IssuedPreview> IssuePreview(std::string_view staff_user,
                                             int64_t activity_id) const;
  // As Verify, for preview tokens.
  absl::StatusOr<PreviewTokenClaims> VerifyPreview(std::string_view token) const;

  const CustomerTokenOptions& options() const { return options_; }

 private:
  const PiiCipher* const cipher_;
  const Clock* const clock_;
  const CustomerTokenOptions options_;
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_CUSTOMER_TOKEN_H_
