#include "auth/password.h"

#include <gtest/gtest.h>

#include <set>

namespace mercator::auth {
namespace {

TEST(Password, HashVerifiesOnlyTheSamePassword) {
  auto hash = HashPassword("correct horse battery 9");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse battery 9"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse battery 8"));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(NeedsRehash(*hash));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(*hash, *HashPassword("correct horse battery 9"));
}

TEST(Password, MalformedOrWeakerHashes) {
  EXPECT_FALSE(VerifyPassword("", "x"));
  EXPECT_FALSE(VerifyPassword("not a hash", "x"));
  EXPECT_TRUE(NeedsRehash("not a hash"));
  EXPECT_FALSE(DummyHash().empty());
  EXPECT_FALSE(VerifyPassword(DummyHash(), ""));
}

TEST(Password, PolicyGivesClearReasons) {
  EXPECT_TRUE(CheckPasswordPolicy("Tr0ub4dor&3xyz", "alice").ok());
  absl::Status s = CheckPasswordPolicy("Short1!", "alice");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "password: must be at least 12 characters long (it has 7)");
  s = CheckPasswordPolicy("alllowercaseletters", "alice");
  EXPECT_NE(std::string(s.message()).find("two kinds of characters"), std::string::npos) << s;
  EXPECT_FALSE(CheckPasswordPolicy("123456789012345", "alice").ok());
  s = CheckPasswordPolicy("xxALICE-2026-xx", "alice", "new_password");
  EXPECT_EQ(s.message(), "new_password: must not contain the user name");
  // Characters, not bytes: twelve Chinese characters count as twelve, and mix with digits.
  EXPECT_FALSE(CheckPasswordPolicy("密码密码密码1", "alice").ok());
  EXPECT_TRUE(CheckPasswordPolicy("密码密码密码密码密码密码1", "alice").ok());
  EXPECT_FALSE(CheckPasswordPolicy(std::string(2000, 'a') + "1", "alice").ok());
}

TEST(Password, GeneratedPasswordsPassThePolicyAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string p = GeneratePassword();
    EXPECT_EQ(p.size(), 23u) << p;
    EXPECT_TRUE(CheckPasswordPolicy(p, "admin").ok()) << p;
    EXPECT_EQ(p.find_first_of("0O1lI"), std::string::npos) << p;
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 200u);
}

}  // namespace
}  // namespace mercator::auth
