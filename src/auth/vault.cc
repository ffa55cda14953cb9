#include "auth/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

Vault::Vault(const Key& master_key) : Vault(std::vector<KeyEntry>{{kKeyId, master_key}}) {}

Vault::Vault(const std::vector<KeyEntry>& keys) {
  EnsureSodium();
  ForkGeneration();  // registers the fork handler before any Seal
  // Invariants ParseKeyring guarantees for outside input; callers in code pass literals.
  if (keys.empty()) std::abort();
  keys_.reserve(keys.size());
  for (const KeyEntry& k : keys) {
    if (k.id == 0) std::abort();
    Subkeys sub;
    sub.id = k.id;
    crypto_kdf_derive_from_key(sub.seal_key.data(), sub.seal_key.size(), kSealSubkeyId, kKdfContext,
                               k.key.data());
    crypto_kdf_derive_from_key(sub.lookup_key.data(), sub.lookup_key.size(), kLookupSubkeyId,
                               kKdfContext, k.key.data());
    keys_.push_back(sub);
    sodium_memzero(sub.seal_key.data(), sub.seal_key.size());
    sodium_memzero(sub.lookup_key.data(), sub.lookup_key.size());
  }
  std::sort(keys_.begin(), keys_.end(),
            [](const Subkeys& a, const Subkeys& b) { return a.id < b.id; });
  for (size_t i = 1; i < keys_.size(); ++i) {
    if (keys_[i].id == keys_[i - 1].id) std::abort();
  }
}

Vault::~Vault() {
  for (Subkeys& k : keys_) {
    sodium_memzero(k.seal_key.data(), k.seal_key.size());
    sodium_memzero(k.lookup_key.data(), k.lookup_key.size());
  }
}

std::vector<uint8_t> Vault::key_ids() const {
  std::vector<uint8_t> ids;
  for (const Subkeys& k : keys_) ids.push_back(k.id);
  return ids;
}

Vault::Key Vault::RandomKey() {
  EnsureSodium();
  Key key;
  randombytes_buf(key.data(), key.size());
  return key;
}

absl::StatusOr<std::vector<Vault::KeyEntry>> Vault::ParseKeyring(std::string_view text,
                                                                 std::string_view source) {
  std::vector<std::string_view> parts;
  while (!text.empty()) {
    const size_t end = text.find_first_of(",\n");
    std::string_view part = text.substr(0, end);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\r')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\r')) part.remove_suffix(1);
    if (!part.empty()) parts.push_back(part);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  std::vector<KeyEntry> keys;
  auto wipe = [&keys] {
    for (KeyEntry& k : keys) sodium_memzero(k.key.data(), k.key.size());
  };
  if (parts.size() == 1 && parts[0].find(':') == std::string_view::npos) {
    absl::StatusOr<Key> key = KeyFromHex(parts[0], source);
    if (!key.ok()) return key.status();
    keys.push_back({kKeyId, *key});
    sodium_memzero(key->data(), key->size());
    return keys;
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError(Cat(source, ": no vault key in it"));
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    const size_t colon = part.find(':');
    int id = 0;
    const std::string_view id_text = part.substr(0, colon);
    bool ok = colon != std::string_view::npos && !id_text.empty() && id_text.size() <= 3;
    for (char c : id_text) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) id = id * 10 + (c - '0');
    }
    if (!ok || id < 1 || id > 255) {
      wipe();
      return absl::InvalidArgumentError(
          Cat(source, ": entry ", i + 1, " is not <key id 1-255>:<64 hex characters>"));
    }
    for (const KeyEntry& k : keys) {
      if (k.id == id) {
        wipe();
        return absl::InvalidArgumentError(Cat(source, ": key id ", id, " appears twice"));
      }
    }
    absl::StatusOr<Key> key = KeyFromHex(part.substr(colon + 1), Cat(source, ": key ", id));
    if (!key.ok()) {
      wipe();
      return key.status();
    }
    keys.push_back({static_cast<uint8_t>(id), *key});
    sodium_memzero(key->data(), key->size());
  }
  return keys;
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::FromHex(std::string_view hex_key) {
  absl::StatusOr<Key> key = KeyFromHex(hex_key, "vault key");
  if (!key.ok()) return key.status();
  auto vault = std::make_unique<Vault>(*key);
  sodium_memzero(key->data(), key->size());
  return vault;
}

absl::StatusOr<std::vector<Vault::KeyEntry>> Vault::ReadKeyFile(const std::string& path) {
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
  // A key file is 32 raw bytes, 64 hex characters plus a line end, or a keyring of at most
  // 255 entries of 68 bytes; read a little more to detect a file that is longer than that.
  char buf[255 * 70 + 64];
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
  absl::StatusOr<std::vector<KeyEntry>> keys;
  if (size == kKeyBytes) {
    KeyEntry raw;
    std::memcpy(raw.key.data(), buf, kKeyBytes);
    keys = std::vector<KeyEntry>{raw};
    sodium_memzero(raw.key.data(), raw.key.size());
  } else if (size == sizeof buf) {
    keys = absl::InvalidArgumentError(Cat("vault key file ", path, ": too long for a key file"));
  } else {
    keys = ParseKeyring(std::string_view(buf, size), Cat("vault key file ", path));
  }
  sodium_memzero(buf, sizeof buf);
  return keys;
}

namespace {
std::unique_ptr<Vault> VaultOf(std::vector<Vault::KeyEntry>& keys) {
  auto vault = std::make_unique<Vault>(keys);
  for (Vault::KeyEntry& k : keys) sodium_memzero(k.key.data(), k.key.size());
  return vault;
}
}  // namespace

absl::StatusOr<std::unique_ptr<Vault>> Vault::FromKeyFile(const std::string& path) {
  absl::StatusOr<std::vector<KeyEntry>> keys = ReadKeyFile(path);
  if (!keys.ok()) return keys.status();
  return VaultOf(*keys);
}

absl::Status Vault::WriteKeyFile(const std::string& path, const std::vector<KeyEntry>& keys) {
  if (keys.empty()) return absl::InvalidArgumentError("a key file needs at least one key");
  std::string text;
  for (const KeyEntry& k : keys) {
    char hex[2 * kKeyBytes + 1];
    sodium_bin2hex(hex, sizeof hex, k.key.data(), k.key.size());
    text += fmt::format("{}:{}\n", k.id, std::string_view(hex, 2 * kKeyBytes));
    sodium_memzero(hex, sizeof hex);
  }
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  absl::Status status;
  if (fd < 0) {
    status = absl::FailedPreconditionError(
        Cat("vault key file ", tmp, ": cannot create: ", ErrnoText(errno)));
  } else {
    ::fchmod(fd, 0600);
    size_t written = 0;
    while (status.ok() && written < text.size()) {
      const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        status = absl::InternalError(Cat("vault key file ", tmp, ": ", ErrnoText(errno)));
        break;
      }
      written += static_cast<size_t>(n);
    }
    if (status.ok() && ::fsync(fd) != 0) {
      status = absl::InternalError(Cat("vault key file ", tmp, ": ", ErrnoText(errno)));
    }
    ::close(fd);
  }
  sodium_memzero(text.data(), text.size());
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(Cat("vault key file ", path, ": ", ErrnoText(errno)));
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  // The rename is durable once the directory is synced.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
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
    absl::StatusOr<std::vector<KeyEntry>> keys = ParseKeyring(hex, "MERCATOR_VAULT_KEY");
    if (!keys.ok()) return keys.status();
    return VaultOf(*keys);
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
  const Subkeys& keys = keys_.back();
  p[0] = keys.id;
  unsigned char* nonce = p + 1;
  NextNonce(nonce);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(context.data()), context.size(),
      nullptr, nonce, keys.seal_key.data());
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
  const Subkeys* keys = nullptr;
  for (const Subkeys& k : keys_) {
    if (k.id == p[0]) keys = &k;
  }
  if (keys == nullptr) {
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
          keys->seal_key.data()) != 0) {
    return absl::DataLossError(
        "sealed value: does not open (tampered, another key or another column)");
  }
  return out;
}

std::string Vault::LookupHash(std::string_view value, std::string_view context) const {
  return LookupHashWith(keys_.back(), value, context);
}

std::vector<std::string> Vault::LookupHashes(std::string_view value,
                                             std::string_view context) const {
  std::vector<std::string> out;
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    out.push_back(LookupHashWith(*it, value, context));
  }
  return out;
}

bool Vault::SealedUnderCurrentKey(std::string_view sealed) const {
  return !sealed.empty() && static_cast<uint8_t>(sealed[0]) == keys_.back().id;
}

std::string Vault::LookupHashWith(const Subkeys& keys, std::string_view value,
                                  std::string_view context) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, keys.lookup_key.data(), keys.lookup_key.size(), kLookupHashBytes);
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
