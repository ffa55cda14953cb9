#include "common/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace mercator {

std::string HexEncode(const unsigned char* bytes, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, n);
  out.pop_back();
  return out;
}

namespace {

constexpr size_t kSha256Block = 64;

// Fetched once: an implicit fetch on every init (EVP_sha256()) costs more than hashing a request.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    if (fetched == nullptr) std::abort();  // no SHA-256 provider: nothing can be verified
    return fetched;
  }();
  return md;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

EVP_MD_CTX* NewCtx() {
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  if (c == nullptr) std::abort();  // out of memory
  return c;
}

// One context per thread, reused: a digest allocates nothing.
EVP_MD_CTX* ThreadCtx() {
  thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(NewCtx());
  return ctx.get();
}

void Check(int ok) {
  if (ok != 1) std::abort();  // SHA-256 over memory cannot fail short of a broken library
}

void Update(EVP_MD_CTX* c, const void* data, size_t n) { Check(EVP_DigestUpdate(c, data, n)); }

Sha256Digest Final(EVP_MD_CTX* c) {
  Sha256Digest out;
  unsigned int n = 0;
  Check(EVP_DigestFinal_ex(c, out.data(), &n));
  return out;
}

// SHA-256 after one block of `key ^ pad` (the key already at most a block).
EVP_MD_CTX* Padded(std::string_view key, unsigned char pad) {
  unsigned char block[kSha256Block];
  std::memset(block, pad, sizeof block);
  for (size_t i = 0; i < key.size(); ++i) block[i] ^= static_cast<unsigned char>(key[i]);
  EVP_MD_CTX* c = NewCtx();
  Check(EVP_DigestInit_ex(c, Sha256Md(), nullptr));
  Update(c, block, sizeof block);
  OPENSSL_cleanse(block, sizeof block);
  return c;
}

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  EVP_MD_CTX* c = ThreadCtx();
  Check(EVP_DigestInit_ex(c, Sha256Md(), nullptr));
  Update(c, data.data(), data.size());
  return Final(c);
}

std::string Sha256Hex(std::string_view data) {
  const Sha256Digest d = Sha256(data);
  return HexEncode(d.data(), d.size());
}

HmacSha256::HmacSha256(std::string_view key) {
  // A key longer than a block is replaced by its digest (RFC 2104, section 2).
  Sha256Digest hashed;
  if (key.size() > kSha256Block) {
    hashed = Sha256(key);
    key = std::string_view(reinterpret_cast<const char*>(hashed.data()), hashed.size());
  }
  inner_ = Padded(key, 0x36);
  outer_ = Padded(key, 0x5c);
  OPENSSL_cleanse(hashed.data(), hashed.size());
}

HmacSha256::~HmacSha256() {
  // EVP_MD_CTX_free cleanses the digest state before releasing it.
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
}

Sha256Digest HmacSha256::Mac(std::string_view message) const {
  EVP_MD_CTX* c = ThreadCtx();
  Check(EVP_MD_CTX_copy_ex(c, inner_));
  Update(c, message.data(), message.size());
  Sha256Digest inner = Final(c);
  Check(EVP_MD_CTX_copy_ex(c, outer_));
  Update(c, inner.data(), inner.size());
  OPENSSL_cleanse(inner.data(), inner.size());
  return Final(c);
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
