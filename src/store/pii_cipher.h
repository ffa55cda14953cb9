// Encryption of personal data at rest, as the store sees it. The store never holds a key: it is
// handed a PiiCipher (implemented by auth/vault.h) and stores only what Seal returns and the
// lookup hashes. A store opened without a cipher refuses to write personal data.
#ifndef MERCATOR_STORE_PII_CIPHER_H_
#define MERCATOR_STORE_PII_CIPHER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mercator {

class PiiCipher {
 public:
  virtual ~PiiCipher() = default;
  // Authenticated encryption of `plaintext`, bound to `context` (e.g. "customers.phone"): a
  // value sealed for one column does not open as another. Each call uses a fresh nonce, so
  // equal plaintexts give different ciphertexts.
  virtual std::string Seal(std::string_view plaintext, std::string_view context) const = 0;
  // DataLoss if the value was tampered with, sealed under another key or another context.
  virtual absl::StatusOr<std::string> Open(std::string_view sealed,
                                           std::string_view context) const = 0;
  // A keyed hash for exact-match lookup ("find the customer with this phone number") that
  // reveals nothing without the key. Deterministic for (context, value).
  virtual std::string LookupHash(std::string_view value, std::string_view context) const = 0;

  // During a key rotation (auth/vault.h): the lookup hashes of `value` under every key the
  // cipher holds, the current key's first, so rows not yet re-hashed are still found.
  virtual std::vector<std::string> LookupHashes(std::string_view value,
                                                std::string_view context) const {
    return {LookupHash(value, context)};
  }
  // Whether `sealed` was sealed under the key Seal uses now (false: a key rotation has yet to
  // re-seal it).
  virtual bool SealedUnderCurrentKey(std::string_view sealed) const {
    (void)sealed;
    return true;
  }
};

}  // namespace mercator

#endif  // MERCATOR_STORE_PII_CIPHER_H_
