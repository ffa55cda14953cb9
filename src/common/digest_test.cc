#include "common/digest.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

namespace mercator {
namespace {

std::string Hex(const Sha256Digest& d) { return HexEncode(d.data(), d.size()); }

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// libsodium's portable SHA-256 and HMAC: an implementation independent of OpenSSL's.
std::string SodiumSha256(std::string_view data) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return HexEncode(out, sizeof out);
}

std::string SodiumHmac(std::string_view key, std::string_view message) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, out);
  return HexEncode(out, sizeof out);
}

TEST(Digest, Sha256OfKnownStrings) {
  // FIPS 180-2 appendix B and the empty string.
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Digest, Sha256MatchesLibsodiumAtEveryLengthAroundTheBlocks) {
  std::mt19937_64 rng(7);
  for (size_t n = 0; n <= 300; ++n) {
    const std::string data = RandomBytes(rng, n);
    ASSERT_EQ(Sha256Hex(data), SodiumSha256(data)) << "length " << n;
  }
}

TEST(Digest, HmacOfRfc4231Cases) {
  // Test case 1: a 20-byte key.
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b')).Mac("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the output.
  EXPECT_EQ(Hex(HmacSha256("Jefe").Mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a 131-byte key, hashed first.
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'))
                    .Mac("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Digest, HmacMatchesLibsodiumForKeysAndMessagesOfEveryLength) {
  std::mt19937_64 rng(11);
  for (size_t key_len : {0, 1, 31, 32, 63, 64, 65, 67, 128, 200}) {
    const std::string key = RandomBytes(rng, key_len);
    const HmacSha256 mac(key);
    for (size_t n = 0; n <= 200; n += 3) {
      const std::string message = RandomBytes(rng, n);
      ASSERT_EQ(Hex(mac.Mac(message)), SodiumHmac(key, message))
          << "key length " << key_len << ", message length " << n;
    }
  }
}

TEST(Digest, HmacFromManyThreadsAtOnceGivesEachItsOwnAnswer) {
  const std::string key = "cs_" + std::string(64, 'f');
  const HmacSha256 mac(key);
  std::vector<std::string> expected;
  for (int i = 0; i < 64; ++i) expected.push_back(SodiumHmac(key, "message " + std::to_string(i)));
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2000; ++round) {
        const int i = (round * 7 + t) % 64;
        // Interleaved with plain digests, which use the same per-thread context.
        if (Hex(mac.Mac("message " + std::to_string(i))) != expected[i]) ++wrong[t];
        if (Sha256Hex("x") != "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881") {
          ++wrong[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace mercator
