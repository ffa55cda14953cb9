// The PII vault: authenticated encryption of personal data at rest and keyed hashes for
// exact-match lookup, under one 32-byte master key that never enters the database.
//
// Sealed format (version 1):
//   byte 0      key id: which key of the keyring sealed it (1 for a key file without ids)
//   bytes 1-24  nonce: 16 random bytes drawn when the Vault is made (again in a forked child)
//               and a 64-bit counter, so nonces never repeat under a key without a system call
//               per Seal (getrandom per value cost more than the encryption)
//   bytes 25-   XChaCha20-Poly1305-IETF ciphertext + 16-byte tag
// The associated data is the context ("customers.phone"), so a value sealed for one column does
// not open as another. Changing the key id byte selects another key, so that fails to open too.
//
// Two subkeys are derived from the master key with crypto_kdf (BLAKE2b): one for encryption,
// one for lookup hashes, so a lookup hash reveals nothing about the encryption key. A lookup hash
// is a 16-byte keyed BLAKE2b (crypto_generichash) of the length-prefixed context and the value,
// returned as raw bytes.
//
// Keyring and rotation: a Vault holds one or more master keys, each with an id 1-255. Seal and
// LookupHash use the highest id (the current key); Open picks the key by the sealed value's
// key id byte; LookupHashes gives the hash under every key. `mercator vault rotate-key`
// (cli/vault_cmd.h) adds a key, re-seals and re-hashes everything under it while the old key
// still opens what is not done yet, then drops the old key.
//
// Loading the key:
//   FromKeyFile(path): the file holds 64 hex characters (optionally followed by a newline) or
//     32 raw bytes (key id 1), or a keyring: lines "<id>:<64 hex>"; it must not be readable or
//     writable by group or others.
//   FromEnvironmentOrFile(data_dir): MERCATOR_VAULT_KEY (64 hex characters, or a keyring of
//     "<id>:<64 hex>" entries separated by commas), else the file named
//     by MERCATOR_VAULT_KEY_FILE, else <data_dir>/vault.key, created with a fresh random key and
//     mode 0600 if it does not exist yet.
//
// Thread safety: all methods are safe to call concurrently (the nonce state is behind a
// mutex). Not copyable; the key material is wiped on destruction.
#ifndef MERCATOR_AUTH_VAULT_H_
#define MERCATOR_AUTH_VAULT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "store/pii_cipher.h"

namespace mercator::auth {

class Vault final : public PiiCipher {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kNonceBytes = 24;
  static constexpr size_t kTagBytes = 16;
  // 128 bits: no two of billions of values collide in practice, and every byte counts twice at
  // 10M customers (in the row and in the lookup index).
  static constexpr size_t kLookupHashBytes = 16;
  static constexpr uint8_t kKeyId = 1;
  // Bytes Seal adds to the plaintext: key id + nonce + tag.
  static constexpr size_t kOverheadBytes = 1 + kNonceBytes + kTagBytes;

  using Key = std::array<uint8_t, kKeyBytes>;
  struct KeyEntry {
    uint8_t id = kKeyId;
    Key key{};
  };

  // A vault of one key, id 1.
  explicit Vault(const Key& master_key);
  // A keyring: at least one key, ids 1-255 and distinct (ParseKeyring checks text from outside;
  // here a violation is a programming error and aborts).
  explicit Vault(const std::vector<KeyEntry>& keys);
  ~Vault() override;
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  // InvalidArgument for a string that is not 64 hex characters.
  static absl::StatusOr<std::unique_ptr<Vault>> FromHex(std::string_view hex_key);
  // NotFound if the file does not exist; PermissionDenied if group or others may read or write
  // it; InvalidArgument if it does not hold a 32-byte key.
  static absl::StatusOr<std::unique_ptr<Vault>> FromKeyFile(const std::string& path);
  // See the header comment. Errors name the source (environment variable or file), never the key.
  static absl::StatusOr<std::unique_ptr<Vault>> FromEnvironmentOrFile(const std::string& data_dir);

  // Writes a fresh random key to `path` as hex with mode 0600; AlreadyExists if the file exists.
  static absl::Status CreateKeyFile(const std::string& path);

  // The keys of a key file (same checks as FromKeyFile), for tools that rewrite it.
  static absl::StatusOr<std::vector<KeyEntry>> ReadKeyFile(const std::string& path);
  // Parses key text (a bare 64-hex key, or "<id>:<64 hex>" entries separated by line ends or
  // commas). InvalidArgument naming `source`, never the key.
  static absl::StatusOr<std::vector<KeyEntry>> ParseKeyring(std::string_view text,
                                                            std::string_view source);
  // Replaces `path` atomically (a temporary file with mode 0600, fsynced, renamed over it) with
  // a keyring of `keys`.
  static absl::Status WriteKeyFile(const std::string& path, const std::vector<KeyEntry>& keys);
  // A fresh random key.
  static Key RandomKey();

  uint8_t current_key_id() const { return keys_.back().id; }
  std::vector<uint8_t> key_ids() const;

  std::string Seal(std::string_view plaintext, std::string_view context) const override;
  absl::StatusOr<std::string> Open(std::string_view sealed,
                                   std::string_view context) const override;
  std::string LookupHash(std::string_view value, std::string_view context) const override;
  std::vector<std::string> LookupHashes(std::string_view value,
                                        std::string_view context) const override;
  bool SealedUnderCurrentKey(std::string_view sealed) const override;

 private:
  struct Subkeys {
    uint8_t id = 0;
    std::array<uint8_t, kKeyBytes> seal_key;
    std::array<uint8_t, kKeyBytes> lookup_key;
  };
  // Writes the next unique nonce to `out`.
  void NextNonce(uint8_t* out) const;
  static std::string LookupHashWith(const Subkeys& keys, std::string_view value,
                                    std::string_view context);

  std::vector<Subkeys> keys_;     // ascending ids; back() is the current key
  mutable absl::Mutex nonce_mu_;  // leaf lock
  mutable std::array<uint8_t, 16> nonce_prefix_ ABSL_GUARDED_BY(nonce_mu_);
  mutable uint64_t nonce_counter_ ABSL_GUARDED_BY(nonce_mu_) = 0;
  // The process fork generation nonce_prefix_ was drawn in (see vault.cc).
  mutable uint64_t nonce_generation_ ABSL_GUARDED_BY(nonce_mu_) = 0;
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_VAULT_H_
