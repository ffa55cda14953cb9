#include "auth/vault.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/strings.h"

namespace mercator::auth {
namespace {

Vault::Key KeyOf(uint8_t fill) {
  Vault::Key key;
  key.fill(fill);
  return key;
}

constexpr std::string_view kPhone = "13812341234";
constexpr std::string_view kPhoneContext = "customers.phone";

TEST(VaultTest, SealOpenRoundTrip) {
  Vault vault(KeyOf(7));
  for (std::string_view plain :
       {std::string_view("13812341234"), std::string_view("张三丰"), std::string_view("")}) {
    const std::string sealed = vault.Seal(plain, kPhoneContext);
    EXPECT_EQ(sealed.size(), plain.size() + Vault::kOverheadBytes);
    EXPECT_EQ(static_cast<uint8_t>(sealed[0]), Vault::kKeyId);
    if (!plain.empty()) {
      EXPECT_EQ(sealed.find(plain), std::string::npos);
    }
    absl::StatusOr<std::string> opened = vault.Open(sealed, kPhoneContext);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plain);
  }
}

TEST(VaultTest, FreshNonceEverySeal) {
  Vault vault(KeyOf(7));
  const std::string a = vault.Seal(kPhone, kPhoneContext);
  const std::string b = vault.Seal(kPhone, kPhoneContext);
  EXPECT_NE(a, b);
  EXPECT_NE(a.substr(1, Vault::kNonceBytes), b.substr(1, Vault::kNonceBytes));
}

TEST(VaultTest, ForkedChildDoesNotRepeatTheParentsNonces) {
  Vault vault(KeyOf(7));
  const std::string before_fork = vault.Seal(kPhone, kPhoneContext);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string sealed = vault.Seal(kPhone, kPhoneContext);
    const ssize_t n = ::write(fds[1], sealed.data(), sealed.size());
    ::_exit(n == static_cast<ssize_t>(sealed.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string child(before_fork.size(), '\0');
  ASSERT_EQ(::read(fds[0], child.data(), child.size()), static_cast<ssize_t>(child.size()));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string parent = vault.Seal(kPhone, kPhoneContext);
  // The parent's next nonce and the child's first one differ (same counter, new prefix).
  EXPECT_NE(child.substr(1, Vault::kNonceBytes), parent.substr(1, Vault::kNonceBytes));
  EXPECT_NE(child.substr(1, 16), before_fork.substr(1, 16));
  EXPECT_EQ(parent.substr(1, 16), before_fork.substr(1, 16));
  EXPECT_TRUE(vault.Open(child, kPhoneContext).ok());
}

TEST(VaultTest, WrongKeyIsDataLoss) {
  Vault vault(KeyOf(7));
  Vault other(KeyOf(8));
  const std::string sealed = vault.Seal(kPhone, kPhoneContext);
  EXPECT_EQ(other.Open(sealed, kPhoneContext).status().code(), absl::StatusCode::kDataLoss);
}

TEST(VaultTest, EveryTamperedByteIsDataLoss) {
  Vault vault(KeyOf(7));
  const std::string sealed = vault.Seal(kPhone, kPhoneContext);
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_EQ(vault.Open(tampered, kPhoneContext).status().code(), absl::StatusCode::kDataLoss)
        << "byte " << i;
  }
  EXPECT_EQ(vault.Open(sealed.substr(0, sealed.size() - 1), kPhoneContext).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(vault.Open(sealed.substr(0, 5), kPhoneContext).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(vault.Open("", kPhoneContext).status().code(), absl::StatusCode::kDataLoss);
}

TEST(VaultTest, OtherContextIsDataLoss) {
  Vault vault(KeyOf(7));
  const std::string sealed = vault.Seal(kPhone, kPhoneContext);
  EXPECT_EQ(vault.Open(sealed, "customers.id_number").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(vault.Open(sealed, kPhoneContext).ok());
}

TEST(VaultTest, LookupHashIsDeterministicAndKeyAndContextDependent) {
  Vault vault(KeyOf(7));
  Vault same_key(KeyOf(7));
  Vault other(KeyOf(8));
  const std::string h = vault.LookupHash(kPhone, kPhoneContext);
  EXPECT_EQ(h.size(), Vault::kLookupHashBytes);
  EXPECT_EQ(h, vault.LookupHash(kPhone, kPhoneContext));
  EXPECT_EQ(h, same_key.LookupHash(kPhone, kPhoneContext));
  EXPECT_NE(h, other.LookupHash(kPhone, kPhoneContext));
  EXPECT_NE(h, vault.LookupHash("13812341235", kPhoneContext));
  EXPECT_NE(h, vault.LookupHash(kPhone, "customers.id_number"));
  // The context is length-prefixed: moving bytes between context and value changes the hash.
  EXPECT_NE(vault.LookupHash("bc", "a"), vault.LookupHash("c", "ab"));
}

TEST(VaultTest, FromHexChecksTheKey) {
  const std::string hex(64, 'a');
  absl::StatusOr<std::unique_ptr<Vault>> vault = Vault::FromHex(hex);
  ASSERT_TRUE(vault.ok()) << vault.status();
  Vault direct(KeyOf(0xaa));
  EXPECT_EQ((*vault)->LookupHash(kPhone, kPhoneContext), direct.LookupHash(kPhone, kPhoneContext));
  EXPECT_EQ(Vault::FromHex(std::string(62, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Vault::FromHex(std::string(66, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Vault::FromHex(std::string(63, 'a') + "g").status().code(),
            absl::StatusCode::kInvalidArgument);
}

class VaultFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vault_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::unsetenv("MERCATOR_VAULT_KEY");
    ::unsetenv("MERCATOR_VAULT_KEY_FILE");
  }
  void TearDown() override {
    ::unsetenv("MERCATOR_VAULT_KEY");
    ::unsetenv("MERCATOR_VAULT_KEY_FILE");
    std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& path, std::string_view content, mode_t mode) {
    std::ofstream(path, std::ios::binary) << content;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  std::string dir_;
};

TEST_F(VaultFileTest, CreatesKeyFileWithMode0600AndReusesIt) {
  absl::StatusOr<std::unique_ptr<Vault>> first = Vault::FromEnvironmentOrFile(dir_);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string path = dir_ + "/vault.key";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 65);
  const std::string sealed = (*first)->Seal(kPhone, kPhoneContext);
  absl::StatusOr<std::unique_ptr<Vault>> second = Vault::FromEnvironmentOrFile(dir_);
  ASSERT_TRUE(second.ok()) << second.status();
  absl::StatusOr<std::string> opened = (*second)->Open(sealed, kPhoneContext);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kPhone);
  // Another data dir gets another random key.
  const std::string other_dir = dir_ + "/other";
  std::filesystem::create_directory(other_dir);
  absl::StatusOr<std::unique_ptr<Vault>> third = Vault::FromEnvironmentOrFile(other_dir);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ((*third)->Open(sealed, kPhoneContext).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(VaultFileTest, RefusesKeyFileReadableByGroupOrOthers) {
  const std::string path = dir_ + "/vault.key";
  Write(path, std::string(64, 'b') + "\n", 0640);
  absl::StatusOr<std::unique_ptr<Vault>> vault = Vault::FromKeyFile(path);
  EXPECT_EQ(vault.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(std::string(vault.status().message()).find("chmod 600"), std::string::npos);
  // Not silently replaced by a new key either.
  EXPECT_EQ(Vault::FromEnvironmentOrFile(dir_).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  EXPECT_EQ(Vault::FromKeyFile(path).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(Vault::FromKeyFile(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(Vault::FromKeyFile(path).ok());
}

TEST_F(VaultFileTest, KeyFileOfWrongLengthIsAClearError) {
  const std::string path = dir_ + "/short.key";
  Write(path, std::string(40, 'c'), 0600);
  absl::StatusOr<std::unique_ptr<Vault>> vault = Vault::FromKeyFile(path);
  EXPECT_EQ(vault.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(vault.status().message());
  EXPECT_NE(message.find(path), std::string::npos);
  EXPECT_NE(message.find("64 hex characters"), std::string::npos);
  // The key material is never echoed.
  EXPECT_EQ(message.find("cccc"), std::string::npos);
  Write(path, std::string(200, 'c'), 0600);
  EXPECT_EQ(Vault::FromKeyFile(path).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Vault::FromKeyFile(dir_ + "/missing.key").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(VaultFileTest, RawThirtyTwoByteKeyFileMatchesHex) {
  const std::string path = dir_ + "/raw.key";
  Write(path, std::string(32, '\x11'), 0600);
  absl::StatusOr<std::unique_ptr<Vault>> vault = Vault::FromKeyFile(path);
  ASSERT_TRUE(vault.ok()) << vault.status();
  Vault direct(KeyOf(0x11));
  EXPECT_EQ((*vault)->LookupHash(kPhone, kPhoneContext), direct.LookupHash(kPhone, kPhoneContext));
}

TEST_F(VaultFileTest, EnvironmentKeyWinsOverFile) {
  ::setenv("MERCATOR_VAULT_KEY", std::string(64, 'd').c_str(), 1);
  absl::StatusOr<std::unique_ptr<Vault>> vault = Vault::FromEnvironmentOrFile(dir_);
  ASSERT_TRUE(vault.ok()) << vault.status();
  Vault direct(KeyOf(0xdd));
  EXPECT_EQ((*vault)->LookupHash(kPhone, kPhoneContext), direct.LookupHash(kPhone, kPhoneContext));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vault.key"));
  ::setenv("MERCATOR_VAULT_KEY", "not-a-key", 1);
  absl::StatusOr<std::unique_ptr<Vault>> bad = Vault::FromEnvironmentOrFile(dir_);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("MERCATOR_VAULT_KEY"), std::string::npos);
}

TEST_F(VaultFileTest, EnvironmentKeyFileIsUsedAndNeverCreated) {
  const std::string path = dir_ + "/elsewhere.key";
  ::setenv("MERCATOR_VAULT_KEY_FILE", path.c_str(), 1);
  EXPECT_EQ(Vault::FromEnvironmentOrFile(dir_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vault.key"));
  Write(path, std::string(64, 'e'), 0600);
  absl::StatusOr<std::unique_ptr<Vault>> vault = Vault::FromEnvironmentOrFile(dir_);
  ASSERT_TRUE(vault.ok()) << vault.status();
  Vault direct(KeyOf(0xee));
  EXPECT_EQ((*vault)->LookupHash(kPhone, kPhoneContext), direct.LookupHash(kPhone, kPhoneContext));
}

TEST(VaultTest, KeyringSealsWithTheNewestKeyAndOpensWithEach) {
  Vault old_only(KeyOf(1));
  Vault ring(std::vector<Vault::KeyEntry>{{2, KeyOf(2)}, {1, KeyOf(1)}});
  EXPECT_EQ(ring.current_key_id(), 2);
  EXPECT_EQ(ring.key_ids(), (std::vector<uint8_t>{1, 2}));
  const std::string under_old = old_only.Seal(kPhone, kPhoneContext);
  const std::string under_new = ring.Seal(kPhone, kPhoneContext);
  EXPECT_EQ(static_cast<uint8_t>(under_new[0]), 2);
  EXPECT_FALSE(ring.SealedUnderCurrentKey(under_old));
  EXPECT_TRUE(ring.SealedUnderCurrentKey(under_new));
  EXPECT_EQ(*ring.Open(under_old, kPhoneContext), kPhone);
  EXPECT_EQ(*ring.Open(under_new, kPhoneContext), kPhone);
  EXPECT_EQ(old_only.Open(under_new, kPhoneContext).status().code(), absl::StatusCode::kDataLoss);
  // The lookup hash is the new key's; LookupHashes gives it first, then the old key's.
  Vault new_only(std::vector<Vault::KeyEntry>{{2, KeyOf(2)}});
  EXPECT_EQ(ring.LookupHash(kPhone, kPhoneContext), new_only.LookupHash(kPhone, kPhoneContext));
  EXPECT_EQ(ring.LookupHashes(kPhone, kPhoneContext),
            (std::vector<std::string>{new_only.LookupHash(kPhone, kPhoneContext),
                                      old_only.LookupHash(kPhone, kPhoneContext)}));
}

TEST(VaultTest, ParseKeyringNamesTheFaultWithoutTheKey) {
  const std::string a(64, 'a'), b(64, 'b');
  auto ring = Vault::ParseKeyring("1:" + a + "\n 2:" + b + "\r\n", "src");
  ASSERT_TRUE(ring.ok()) << ring.status();
  ASSERT_EQ(ring->size(), 2u);
  EXPECT_EQ((*ring)[1].id, 2);
  EXPECT_EQ((*ring)[1].key, KeyOf(0xbb));
  auto commas = Vault::ParseKeyring("7:" + a + "," + "9:" + b, "env");
  ASSERT_TRUE(commas.ok()) << commas.status();
  EXPECT_EQ((*commas)[0].id, 7);
  auto bare = Vault::ParseKeyring(a + "\n", "file");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ((*bare)[0].id, Vault::kKeyId);
  for (const std::string& bad : {"0:" + a, "256:" + a, "x:" + a, "1:" + a + ",1:" + b, a + "," + b,
                                 "1:" + a.substr(2), std::string("\n")}) {
    auto r = Vault::ParseKeyring(bad, "src");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(std::string(r.status().message()).find("aaaa"), std::string::npos);
    EXPECT_EQ(std::string(r.status().message()).rfind("src", 0), 0u) << r.status();
  }
}

TEST_F(VaultFileTest, WriteKeyFileReplacesItWithMode0600) {
  const std::string path = dir_ + "/vault.key";
  Write(path, std::string(64, 'a'), 0600);
  std::vector<Vault::KeyEntry> keys{{1, KeyOf(0xaa)}, {2, KeyOf(0x22)}};
  ASSERT_TRUE(Vault::WriteKeyFile(path, keys).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto back = Vault::ReadKeyFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].key, KeyOf(0xaa));
  EXPECT_EQ((*back)[1].id, 2);
  EXPECT_EQ((*back)[1].key, KeyOf(0x22));
  auto vault = Vault::FromKeyFile(path);
  ASSERT_TRUE(vault.ok());
  EXPECT_EQ((*vault)->current_key_id(), 2);
}

}  // namespace
}  // namespace mercator::auth
