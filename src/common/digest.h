// Hex encoding, SHA-256 digests and HMAC-SHA256, shared by every module that names things by a
// digest: request signing, the audit chain, activity terms and draw requests, WeChat signatures.
// SHA-256 is OpenSSL's, which uses the CPU's SHA extensions where it has them (about four
// times libsodium's portable code on a request's few blocks).
#ifndef MERCATOR_COMMON_DIGEST_H_
#define MERCATOR_COMMON_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace mercator {

using Sha256Digest = std::array<unsigned char, 32>;

// Lower-case hex of `n` bytes.
std::string HexEncode(const unsigned char* bytes, size_t n);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
Sha256Digest Sha256(std::string_view data);

// HMAC-SHA256 (RFC 2104) under one key. The key's two padded blocks are hashed once, here; each
// Mac continues from copies of those states. Mac is thread-safe. The states are wiped when this
// is destroyed.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  Sha256Digest Mac(std::string_view message) const;

 private:
  evp_md_ctx_st* inner_;  // SHA-256 after (key ^ ipad)
  evp_md_ctx_st* outer_;  // SHA-256 after (key ^ opad)
};

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
