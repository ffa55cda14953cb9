#include "auth/customer_token.h"

#include <gtest/gtest.h>

#include <sodium.h>

#include <string>

#include "auth/vault.h"
#include "common/clock.h"

namespace mercator::auth {
namespace {

constexpr int64_t kNowMs = 1796868000000;
constexpr char kKeyA[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kKeyB[] = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

std::string Base64Url(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);
  return out;
}

class CustomerTokenTest : public ::testing::Test {
 protected:
  std::unique_ptr<Vault> vault_ = *Vault::FromHex(kKeyA);
  FakeClock clock_{kNowMs};
  CustomerTokenService tokens_{vault_.get(), &clock_, CustomerTokenOptions{.ttl_ms = 60'000}};
};

TEST_F(CustomerTokenTest, RoundTripsItsClaimsUntilExpiry) {
  auto issued = tokens_.Issue("ck_0123456789abcdef", "客户 C-1\tx", "h5", 42);
  // A tab is a control character: refused.
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
  issued = tokens_.Issue("ck_0123456789abcdef", "客户 C-1 with\nno", "h5", 42);
  EXPECT_FALSE(issued.ok());
  issued = tokens_.Issue("ck_0123456789abcdef", "客户 C-1", "wechat_oa", 42);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->token.rfind("mh5.", 0), 0u);
  EXPECT_EQ(issued->claims.expires_ms, kNowMs + 60'000);

  auto c = tokens_.Verify(issued->token);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->client_id, "ck_0123456789abcdef");
  EXPECT_EQ(c->customer, "客户 C-1");
  EXPECT_EQ(c->channel, "wechat_oa");
  EXPECT_EQ(c->activity_id, 42);
  EXPECT_EQ(c->issued_ms, kNowMs);

  clock_.Advance(59'999);
  EXPECT_TRUE(tokens_.Verify(issued->token).ok());
  clock_.Advance(1);
  auto expired = tokens_.Verify(issued->token);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(std::string(expired.status().message()).find("expired"), std::string::npos);
}

TEST_F(CustomerTokenTest, RefusesForgedAlteredAndForeignTokens) {
  auto issued = tokens_.Issue("ck_0123456789abcdef", "C1", "h5", 0);
  ASSERT_TRUE(issued.ok());
  // Another key.
  auto other_vault = *Vault::FromHex(kKeyB);
  CustomerTokenService other(other_vault.get(), &clock_);
  EXPECT_FALSE(other.Verify(issued->token).ok());
  // The same payload sealed for a personal-data column is not a token.
  const std::string payload = "v1\nck_0123456789abcdef\nh5\n0\n0\n9999999999999\nC1";
  EXPECT_FALSE(tokens_.Verify("mh5." + Base64Url(vault_->Seal(payload, "customers.phone"))).ok());
  // ...while sealed for tokens it is one (the test's payload format is the real one).
  EXPECT_TRUE(tokens_.Verify("mh5." + Base64Url(vault_->Seal(payload, "h5.token"))).ok());
  // A well-sealed payload of the wrong shape.
  EXPECT_FALSE(tokens_.Verify("mh5." + Base64Url(vault_->Seal("v1\nck\nh5\n0", "h5.token"))).ok());
  EXPECT_FALSE(tokens_
                   .Verify("mh5." + Base64Url(vault_->Seal("v2\nck\nh5\n0\n0\n9999999999999\nC1",
                                                           "h5.token")))
                   .ok());
  // Every flipped character, a cut, a wrong prefix, garbage.
  for (size_t i = 4; i < issued->token.size(); ++i) {
    std::string t = issued->token;
    t[i] = t[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(tokens_.Verify(t).ok()) << i;
  }
  EXPECT_FALSE(tokens_.Verify(issued->token.substr(0, issued->token.size() - 1)).ok());
  EXPECT_FALSE(tokens_.Verify("xh5." + issued->token.substr(4)).ok());
  EXPECT_FALSE(tokens_.Verify("mh5.!!!").ok());
  EXPECT_FALSE(tokens_.Verify(std::string(5000, 'a')).ok());
}

}  // namespace
}  // namespace mercator::auth
