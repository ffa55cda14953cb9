// Fuzz target for customer tokens (src/auth/customer_token.h): the bearer text an H5 page
// sends, and the sealed payload's parser behind the seal.
//
// The input is tried twice: as a token as received (it must be refused: nobody without the key
// makes a token), and sealed under the test key as a payload (so the fuzzer reaches the payload
// parser). A payload that is accepted must give claims that serialize back to exactly the
// input. Anything else aborts.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/customer_token.h"
#include "auth/vault.h"
#include "common/clock.h"

namespace {

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "customer_token_fuzz: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

std::string Base64Url(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* vault = mercator::auth::Vault::FromHex(
                                 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
                                 ->release();
  static mercator::FakeClock clock(1796868000000);
  static mercator::auth::CustomerTokenService tokens(vault, &clock);
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto raw = tokens.Verify(input);
  Check(!raw.ok() && raw.status().code() == absl::StatusCode::kUnauthenticated,
        "an unsealed input was accepted as a token", input);

  auto c = tokens.Verify("mh5." + Base64Url(vault->Seal(input, "h5.token")));
  if (!c.ok()) {
    Check(c.status().code() == absl::StatusCode::kUnauthenticated, "not Unauthenticated", input);
    return 0;
  }
  const std::string back = "v1\n" + c->client_id + "\n" + c->channel + "\n" +
                           std::to_string(c->activity_id) + "\n" + std::to_string(c->issued_ms) +
                           "\n" + std::to_string(c->expires_ms) + "\n" + c->customer;
  Check(back == input, "accepted claims do not serialize back to the payload", input);
  Check(c->expires_ms > clock.NowMs(), "an expired payload was accepted", input);
  return 0;
}
