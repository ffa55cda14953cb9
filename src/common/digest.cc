#include "common/digest.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace mercator {

std::string HexEncode(const unsigned char* bytes, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, n);
  out.pop_back();
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return HexEncode(out, sizeof out);
}

KeyedDigest64::KeyedDigest64() {
  static_assert(sizeof key_ == crypto_shorthash_KEYBYTES);
  if (sodium_init() < 0) std::abort();  // no randomness: nothing safe to do
  crypto_shorthash_keygen(key_.data());
}

uint64_t KeyedDigest64::operator()(std::string_view name) const {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(name.data()), name.size(),
                   key_.data());
  uint64_t v;
  std::memcpy(&v, out, sizeof v);
  return v;
}

}  // namespace mercator
