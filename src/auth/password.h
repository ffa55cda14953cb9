// Staff passwords: argon2id hashing (libsodium crypto_pwhash_str, interactive limits), the
// password policy, and generated one-time passwords.
//
// Hashing costs about 64 MiB of memory and tens of milliseconds of CPU on purpose. To bound
// memory under a burst of sign-ins, at most kMaxConcurrentHashes run at once; the others wait.
// All functions are safe for concurrent use.
#ifndef MERCATOR_AUTH_PASSWORD_H_
#define MERCATOR_AUTH_PASSWORD_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator::auth {

inline constexpr int kMaxConcurrentHashes = 4;
inline constexpr size_t kMinPasswordLength = 12;  // characters (code points)
inline constexpr size_t kMaxPasswordBytes = 1024;

// The argon2id hash string of `password` (algorithm, parameters and salt included).
// ResourceExhausted if libsodium cannot allocate its memory.
absl::StatusOr<std::string> HashPassword(std::string_view password);

// Whether `password` matches `hash` (constant time in the password; false for a malformed
// hash).
bool VerifyPassword(std::string_view hash, std::string_view password);

// Whether `hash` was made with other parameters than HashPassword uses now, so that it should
// be replaced after the next successful sign-in.
bool NeedsRehash(std::string_view hash);

// A hash of a random password no one knows, for spending the same time on an unknown user
// name as on a known one. Computed once.
const std::string& DummyHash();

// The password policy: at least kMinPasswordLength characters, at most kMaxPasswordBytes
// bytes, not made of one character class only (lower-case letters, upper-case letters,
// digits, others), not containing the user name. InvalidArgument "<field>: <reason>" otherwise.
absl::Status CheckPasswordPolicy(std::string_view password, std::string_view username,
                                 std::string_view field = "password");

// A random password for a new account or a reset, shown once: four groups of five
// characters from an alphabet without look-alikes ("K7m2x-pQ9ht-..."), about 115 bits.
// It always satisfies CheckPasswordPolicy.
std::string GeneratePassword();

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_PASSWORD_H_
