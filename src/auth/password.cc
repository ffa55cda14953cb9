#include "auth/password.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "absl/synchronization/mutex.h"
#include "common/random.h"
#include "common/strings.h"

namespace mercator::auth {
namespace {

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

// Counts the argon2id computations in progress, bounding their memory.
class HashSlots {
 public:
  class Slot {
   public:
    explicit Slot(HashSlots& slots) : slots_(slots) {
      absl::MutexLock lock(&slots_.mu_, absl::Condition(&slots_, &HashSlots::HasRoom));
      ++slots_.busy_;
    }
    ~Slot() {
      absl::MutexLock lock(&slots_.mu_);
      --slots_.busy_;
    }

   private:
    HashSlots& slots_;
  };

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return busy_ < kMaxConcurrentHashes; }
  absl::Mutex mu_;
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
};

HashSlots& Slots() {
  static auto* slots = new HashSlots;
  return *slots;
}

// Number of UTF-8 code points (continuation bytes are not counted).
size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

absl::StatusOr<std::string> HashPassword(std::string_view password) {
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  HashSlots::Slot slot(Slots());
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return absl::ResourceExhaustedError("hashing a password: out of memory");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  EnsureSodium();
  // crypto_pwhash_str_verify wants a NUL-terminated string of at most STRBYTES - 1 characters.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string h(hash);
  HashSlots::Slot slot(Slots());
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

bool NeedsRehash(std::string_view hash) {
  EnsureSodium();
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return true;
  const std::string h(hash);
  return crypto_pwhash_str_needs_rehash(h.c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

const std::string& DummyHash() {
  static const auto* hash = [] {
    absl::StatusOr<std::string> h = HashPassword(SecureRandom::HexToken(32));
    // Without memory for one hash no sign-in works either; an empty string makes
    // VerifyPassword return at once, which only shortens the unknown-user path.
    return new std::string(h.ok() ? *h : std::string());
  }();
  return *hash;
}

absl::Status CheckPasswordPolicy(std::string_view password, std::string_view username,
                                 std::string_view field) {
  const size_t length = CodePoints(password);
  if (length < kMinPasswordLength) {
    return absl::InvalidArgumentError(Cat(field, ": must be at least ", kMinPasswordLength,
                                          " characters long (it has ", length, ")"));
  }
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(
        Cat(field, ": must be at most ", kMaxPasswordBytes, " bytes long"));
  }
  bool lower = false, upper = false, digit = false, other = false;
  for (char c : password) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 'a' && u <= 'z') {
      lower = true;
    } else if (u >= 'A' && u <= 'Z') {
      upper = true;
    } else if (u >= '0' && u <= '9') {
      digit = true;
    } else {
      other = true;
    }
  }
  if (lower + upper + digit + other < 2) {
    return absl::InvalidArgumentError(
        Cat(field,
            ": must mix at least two kinds of characters (lower-case letters, upper-case "
            "letters, digits, other characters)"));
  }
  if (username.size() >= 3 && Lower(password).find(Lower(username)) != std::string::npos) {
    return absl::InvalidArgumentError(Cat(field, ": must not contain the user name"));
  }
  return absl::OkStatus();
}

std::string GeneratePassword() {
  // No 0/O/o, 1/l/I: the password is read off a screen and typed once.
  static constexpr std::string_view kAlphabet =
      "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  SecureRandom& random = *SecureRandom::Get();
  for (;;) {
    std::string out;
    for (int group = 0; group < 4; ++group) {
      if (group > 0) out.push_back('-');
      for (int i = 0; i < 5; ++i) out.push_back(kAlphabet[random.Uniform(kAlphabet.size())]);
    }
    // The dashes already make two classes; also insist on a letter and a digit so that the
    // password reads as one in any policy a bank's own checks may apply.
    const bool has_digit =
        std::any_of(out.begin(), out.end(), [](char c) { return c >= '2' && c <= '9'; });
    const bool has_letter = std::any_of(out.begin(), out.end(), [](char c) {
      return std::isalpha(static_cast<unsigned char>(c)) != 0;
    });
    if (has_digit && has_letter) return out;
  }
}

}  // namespace mercator::auth
