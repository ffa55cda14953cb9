// Hex encoding and SHA-256 digests (libsodium), shared by every module that names things by a
// digest: request signing, the audit chain, activity terms and draw requests, WeChat signatures.
#ifndef MERCATOR_COMMON_DIGEST_H_
#define MERCATOR_COMMON_DIGEST_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace mercator {

// Lower-case hex of `n` bytes.
std::string HexEncode(const unsigned char* bytes, size_t n);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace mercator

#endif  // MERCATOR_COMMON_DIGEST_H_
