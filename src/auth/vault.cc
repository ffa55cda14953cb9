#include "auth/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "absl/status/status.h"
#include "common/strings.h"

namespace mercator::auth {
namespace {

// crypto_kdf context: exactly crypto_kdf_CONTEXTBYTES (8) characters.
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "mctvault";
constexpr uint64_t kSealSubkeyId = 1;
constexpr uint64_t kLookupSubkeyId = 2;

static_assert(Vault::kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(Vault::kNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(Vault::kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(Vault::kKeyBytes == crypto_kdf_KEYBYTES);
static_assert(Vault::kLookupHashBytes >= crypto_generichash_BYTES_MIN);

void EnsureSodium() {
  // sodium_init is thread-safe and idempotent; it fails only if the system has no entropy
  // source, in which case no key could be made safely either.
  if (sodium_init() < 0) std::abort();
}

// Counts forks: a child process must not continue its parent's nonce sequence (both would
// seal with the same nonces), so a Vault draws a new nonce prefix when this has changed.
std::atomic<uint64_t> g_fork_generation{1};

uint64_t ForkGeneration() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); });
  });
  return g_fork_generation.load(std::memory_order_relaxed);
}

absl::StatusOr<Vault::Key> KeyFromHex(std::string_view hex, std::string_view source) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) {
    hex.remove_suffix(1);
  }
  Vault::Key key;
  size_t len = 0;
  const char* end = nullptr;
  if (hex.size() != 2 * Vault::kKeyBytes ||
      sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != key.size() || end != hex.data() + hex.size()) {
    sodium_memzero(key.data(), key.size());
    return absl::InvalidArgumentError(
        Cat(source, ": not a vault key (expected 64 hex characters, a 32-byte key)"));
  }
  return key;
}

std::string ErrnoText(int err) { return std::string(std::strerror(err)); }

}  // namespace

Vault::Vault(const Key& master_key) {
  EnsureSodium();
  ForkGeneration();  // registers the fork handler before any Seal
  crypto_kdf_derive_from_key(seal_key_.data(), seal_key_.size(), kSealSubkeyId, kKdfContext,
                             master_key.data());
  crypto_kdf_derive_from_key(lookup_key_.data(), lookup_key_.size(), kLookupSubkeyId, kKdfContext,
                             master_key.data());
}

Vault::~Vault() {
  sodium_memzero(seal_key_.data(), seal_key_.size());
  sodium_memzero(lookup_key_.data(), lookup_key_.size());
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::FromHex(std::string_view hex_key) {
  absl::StatusOr<Key> key = KeyFromHex(hex_key, "vault key");
  if (!key.ok()) return key.status();
  auto vault = std::make_unique<Vault>(*key);
  sodium_memzero(key->data(), key->size());
  return vault;
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::FromKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(Cat("vault key file ", path, ": does not exist"));
    return absl::PermissionDeniedError(Cat("vault key file ", path, ": ", ErrnoText(err)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(Cat("vault key file ", path, ": ", ErrnoText(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(Cat("vault key file ", path, ": not a regular file"));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    return absl::PermissionDeniedError(
        Cat("vault key file ", path, ": group or others have access (mode ",
            fmt::format("{:o}", st.st_mode & 0777), "); run chmod 600 on it"));
  }
  // A key file is 32 raw bytes or 64 hex characters plus a line end; read a little more to
  // detect a file that is longer than that.
  char buf[128];
  size_t size = 0;
  while (size < sizeof buf) {
    const ssize_t n = ::read(fd, buf + size, sizeof buf - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      sodium_memzero(buf, sizeof buf);
      return absl::InternalError(Cat("vault key file ", path, ": ", ErrnoText(err)));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  absl::StatusOr<Key> key;
  if (size == kKeyBytes) {
    Key raw;
    std::memcpy(raw.data(), buf, kKeyBytes);
    key = raw;
    sodium_memzero(raw.data(), raw.size());
  } else {
    key = KeyFromHex(std::string_view(buf, size), Cat("vault key file ", path));
  }
  sodium_memzero(buf, sizeof buf);
  if (!key.ok()) return key.status();
  auto vault = std::make_unique<Vault>(*key);
  sodium_memzero(key->data(), key->size());
  return vault;
}

absl::Status Vault::CreateKeyFile(const std::string& path) {
  EnsureSodium();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return absl::AlreadyExistsError(Cat("vault key file ", path, ": exists"));
    return absl::FailedPreconditionError(
        Cat("vault key file ", path, ": cannot create: ", ErrnoText(err)));
  }
  // The umask may have narrowed the mode further, never widened it; make it exactly 0600.
  ::fchmod(fd, 0600);
  Key key;
  randombytes_buf(key.data(), key.size());
  char hex[2 * kKeyBytes + 2];
  sodium_bin2hex(hex, sizeof hex - 1, key.data(), key.size());
  sodium_memzero(key.data(), key.size());
  hex[2 * kKeyBytes] = '\n';
  size_t written = 0;
  const size_t total = 2 * kKeyBytes + 1;
  absl::Status status;
  while (written < total) {
    const ssize_t n = ::write(fd, hex + written, total - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = absl::InternalError(Cat("vault key file ", path, ": ", ErrnoText(errno)));
      break;
    }
    written += static_cast<size_t>(n);
  }
  sodium_memzero(hex, sizeof hex);
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::InternalError(Cat("vault key file ", path, ": ", ErrnoText(errno)));
  }
  ::close(fd);
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::FromEnvironmentOrFile(const std::string& data_dir) {
  if (const char* hex = std::getenv("MERCATOR_VAULT_KEY"); hex != nullptr && *hex != '\0') {
    absl::StatusOr<Key> key = KeyFromHex(hex, "MERCATOR_VAULT_KEY");
    if (!key.ok()) return key.status();
    auto vault = std::make_unique<Vault>(*key);
    sodium_memzero(key->data(), key->size());
    return vault;
  }
  if (const char* file = std::getenv("MERCATOR_VAULT_KEY_FILE"); file != nullptr && *file != '\0') {
    // An operator who names a file means that file: never create it in its place.
    return FromKeyFile(file);
  }
  const std::string path = Cat(data_dir, "/vault.key");
  absl::StatusOr<std::unique_ptr<Vault>> vault = FromKeyFile(path);
  if (!absl::IsNotFound(vault.status())) return vault;
  absl::Status created = CreateKeyFile(path);
  // Another process may have created it between the two calls; then use theirs.
  if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
  return FromKeyFile(path);
}

std::string Vault::Seal(std::string_view plaintext, std::string_view context) const {
  std::string out(kOverheadBytes + plaintext.size(), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = kKeyId;
  unsigned char* nonce = p + 1;
  NextNonce(nonce);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(context.data()), context.size(),
      nullptr, nonce, seal_key_.data());
  return out;
}

void Vault::NextNonce(uint8_t* out) const {
  const uint64_t generation = ForkGeneration();
  absl::MutexLock lock(&nonce_mu_);
  if (nonce_generation_ != generation) {
    // First use, or first use in a forked child: a fresh random prefix. 128 random bits make a
    // prefix shared by two processes (or two Vaults) vanishingly unlikely.
    randombytes_buf(nonce_prefix_.data(), nonce_prefix_.size());
    nonce_counter_ = 0;
    nonce_generation_ = generation;
  }
  std::memcpy(out, nonce_prefix_.data(), nonce_prefix_.size());
  const uint64_t n = nonce_counter_++;
  for (int i = 0; i < 8; ++i) out[nonce_prefix_.size() + i] = static_cast<uint8_t>(n >> (8 * i));
}

absl::StatusOr<std::string> Vault::Open(std::string_view sealed, std::string_view context) const {
  if (sealed.size() < kOverheadBytes) {
    return absl::DataLossError("sealed value: too short");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  if (p[0] != kKeyId) {
    return absl::DataLossError("sealed value: unknown key id");
  }
  const unsigned char* nonce = p + 1;
  const unsigned char* cipher = nonce + kNonceBytes;
  const size_t cipher_len = sealed.size() - 1 - kNonceBytes;
  std::string out(cipher_len - kTagBytes, '\0');
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &mlen, nullptr, cipher, cipher_len,
          reinterpret_cast<const unsigned char*>(context.data()), context.size(), nonce,
          seal_key_.data()) != 0) {
    return absl::DataLossError(
        "sealed value: does not open (tampered, another key or another column)");
  }
  return out;
}

std::string Vault::LookupHash(std::string_view value, std::string_view context) const {
  crypto_generichash_state state;
  crypto_generichash_init(&state, lookup_key_.data(), lookup_key_.size(), kLookupHashBytes);
  // Length-prefix the context so ("ab", "c") and ("a", "bc") hash differently.
  const uint64_t context_len = context.size();
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(context_len >> (8 * i));
  crypto_generichash_update(&state, len_bytes, sizeof len_bytes);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(context.data()),
                            context.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(value.data()),
                            value.size());
  std::string out(kLookupHashBytes, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

}  // namespace mercator::auth
