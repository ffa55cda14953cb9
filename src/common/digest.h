// Hex encoding and SHA-256 digests (libsodium), shared by every module that names things by a
// digest: request signing, the audit chain, activity terms and draw requests, WeChat signatures.
#ifndef MERCATOR_COMMON_DIGEST_H_
#define MERCATOR_COMMON_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mercator {

// Lower-case hex of `n` bytes.
std::string HexEncode(const unsigned char* bytes, size_t n);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// A 64-bit keyed digest (SipHash-2-4) with a key drawn at random per instance: names in memory
// (rate-limit keys, devices, customers) as fixed-width integers, without the string. Two names
// share a digest with probability 2^-64; nobody without the key can make them.
class KeyedDigest64 {
 public:
  KeyedDigest64();
  uint64_t operator()(std::string_view name) const;

 private:
  std::array<unsigned char, 16> key_;
};

}  // namespace mercator

#endif  // MERCATOR_COMMON_DIGEST_H_
