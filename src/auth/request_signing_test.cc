#include "auth/request_signing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <thread>

#include "auth/vault.h"
#include "common/retry_after.h"
#include "store/sqlite/exec_on_file_for_test.h"
#include "store/sqlite/sqlite_api_clients.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::auth {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kMinute = 60 * 1000;

// ---- The canonical request, against values computed independently with openssl ----

TEST(RequestSigningTest, MatchesOpensslReference) {
  // printf '{"x":1}' | openssl dgst -sha256
  EXPECT_EQ(Sha256Hex(R"({"x":1})"),
            "5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string to_sign =
      StringToSign("POST", "/v1/events?b=2&a=1", R"({"x":1})", kT0, "nonce_0123456789ab");
  EXPECT_EQ(to_sign,
            "MCT-HMAC-SHA256\nPOST\n/v1/events\na=1&b=2\n1700000000000\nnonce_0123456789ab\n"
            "5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22");
  // printf '<to_sign>' | openssl dgst -sha256 -hmac cs_test_secret
  EXPECT_EQ(SignatureHex("cs_test_secret", to_sign),
            "41fd4ac2b3cd58d1c55419ce496facf9fb6a65444a4c98a147cbeb7d482acc8f");
  EXPECT_EQ(SignRequest("ck_0123456789abcdef", "cs_test_secret", "POST", "/v1/events?b=2&a=1",
                        R"({"x":1})", kT0, "nonce_0123456789ab"),
            "MCT-HMAC-SHA256 Credential=ck_0123456789abcdef, Timestamp=1700000000000, "
            "Nonce=nonce_0123456789ab, "
            "Signature=41fd4ac2b3cd58d1c55419ce496facf9fb6a65444a4c98a147cbeb7d482acc8f");
}

TEST(RequestSigningTest, CanonicalQuerySortsByNameThenValueAsSent) {
  EXPECT_EQ(CanonicalQuery(""), "");
  EXPECT_EQ(CanonicalQuery("b=2&a=1"), "a=1&b=2");
  EXPECT_EQ(CanonicalQuery("a=2&a=10&a=1"), "a=1&a=10&a=2");  // bytes, not numbers
  // By name first: "a" < "a-b" although "a-b=1" < "a=1" as whole strings.
  EXPECT_EQ(CanonicalQuery("a-b=1&a=1"), "a=1&a-b=1");
  // Kept percent-encoded; empty pieces dropped; "a" (no "=") before "a=".
  EXPECT_EQ(CanonicalQuery("q=caf%C3%A9&&x=a+b&a=&a"), "a&a=&q=caf%C3%A9&x=a+b");
  // Upper-case sorts before lower-case (bytes).
  EXPECT_EQ(CanonicalQuery("b=1&B=1"), "B=1&b=1");
}

TEST(RequestSigningTest, ParsesAHeaderInAnyOrderWithSpaces) {
  auto h = ParseSignatureHeader(
      "MCT-HMAC-SHA256  Signature=" + std::string(64, 'a') +
      " ,Nonce=abcdefghijklmnop,Credential=ck_0123456789abcdef,   Timestamp=1700000000000 ");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->key_id, "ck_0123456789abcdef");
  EXPECT_EQ(h->timestamp_ms, kT0);
  EXPECT_EQ(h->nonce, "abcdefghijklmnop");
  EXPECT_EQ(h->signature_hex, std::string(64, 'a'));
}

TEST(RequestSigningTest, MalformedHeadersNameThePart) {
  const std::string sig = "Signature=" + std::string(64, 'f');
  const std::string good_rest = "Credential=ck_1, Timestamp=1700000000000, Nonce=abcdefghijklmnop";
  struct Case {
    std::string header;
    std::string reason;  // expected substring of the message
  };
  const Case cases[] = {
      {"", "the scheme must be MCT-HMAC-SHA256"},
      {"Bearer abc", "the scheme must be MCT-HMAC-SHA256"},
      {"MCT-HMAC-SHA256", "the scheme must be MCT-HMAC-SHA256"},
      {"MCT-HMAC-SHA256X " + good_rest, "the scheme must be"},
      {"MCT-HMAC-SHA256 " + good_rest, "Signature is missing"},
      {"MCT-HMAC-SHA256 Timestamp=1700000000000, Nonce=abcdefghijklmnop, " + sig,
       "Credential is missing"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Nonce=abcdefghijklmnop, " + sig, "Timestamp is missing"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Timestamp=1700000000000, " + sig, "Nonce is missing"},
      {"MCT-HMAC-SHA256 " + good_rest + ", " + sig + ", Nonce=abcdefghijklmnop",
       "Nonce is given twice"},
      {"MCT-HMAC-SHA256 " + good_rest + ", " + sig + ", Region=cn", "unknown part Region"},
      {"MCT-HMAC-SHA256 " + good_rest + ", " + sig + ",", "parts must be Name=value"},
      // A missing comma: the nonce swallows the signature.
      {"MCT-HMAC-SHA256 " + good_rest + " " + sig, "Signature is missing"},
      {"MCT-HMAC-SHA256 Credential=, Timestamp=1700000000000, Nonce=abcdefghijklmnop, " + sig,
       "Credential must be a key id"},
      {"MCT-HMAC-SHA256 Credential=ck 1, Timestamp=1700000000000, Nonce=abcdefghijklmnop, " + sig,
       "Credential must be a key id"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Timestamp=17e11, Nonce=abcdefghijklmnop, " + sig,
       "Timestamp must be Unix time in milliseconds"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Timestamp=-5, Nonce=abcdefghijklmnop, " + sig,
       "Timestamp must be Unix time in milliseconds"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Timestamp=, Nonce=abcdefghijklmnop, " + sig,
       "Timestamp must be Unix time in milliseconds"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Timestamp=1700000000000, Nonce=short, " + sig,
       "Nonce must be 16-64 characters"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Timestamp=1700000000000, Nonce=abcdefghijklmno!, " + sig,
       "Nonce must be 16-64 characters"},
      {"MCT-HMAC-SHA256 Credential=ck_1, Timestamp=1700000000000, Nonce=" + std::string(65, 'n') +
           ", " + sig,
       "Nonce must be 16-64 characters"},
      {"MCT-HMAC-SHA256 " + good_rest + ", Signature=abc", "Signature must be 64 hex characters"},
      {"MCT-HMAC-SHA256 " + good_rest + ", Signature=" + std::string(64, 'g'),
       "Signature must be 64 hex characters"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SignatureHeader> h = ParseSignatureHeader(c.header);
    ASSERT_FALSE(h.ok()) << c.header;
    EXPECT_TRUE(absl::IsUnauthenticated(h.status())) << c.header << ": " << h.status();
    EXPECT_NE(std::string(h.status().message()).find(c.reason), std::string::npos)
        << c.header << " -> " << h.status() << " (expected \"" << c.reason << "\")";
    EXPECT_EQ(std::string(h.status().message()).rfind("authorization: ", 0), 0u) << h.status();
  }
}

TEST(NonceCacheTest, RefusesReplaysUntilExpiryAndStaysBounded) {
  NonceCache cache(3, /*bucket_ms=*/100);
  EXPECT_EQ(cache.Record("ck_a", "n1", 100, 0), NonceCache::Result::kRecorded);  // [100, 200)
  EXPECT_EQ(cache.Record("ck_a", "n1", 100, 50), NonceCache::Result::kReplay);
  // Another client may use the same nonce.
  EXPECT_EQ(cache.Record("ck_b", "n1", 100, 50), NonceCache::Result::kRecorded);
  // Length-prefixing: ("ck_a", "bn1") is not ("ck_ab", "n1").
  EXPECT_EQ(cache.Record("ck_ab", "n1", 200, 50), NonceCache::Result::kRecorded);  // [200, 300)
  EXPECT_EQ(cache.Record("ck_a", "bn1", 200, 50), NonceCache::Result::kFull);
  EXPECT_EQ(cache.size(), 3u);
  // Past its expiry but inside its bucket's span a pair is still refused: kept at most one
  // bucket longer, never shorter.
  EXPECT_EQ(cache.Record("ck_a", "n1", 300, 199), NonceCache::Result::kReplay);
  // At 200 the first bucket's span has passed: its two pairs go and make room.
  EXPECT_EQ(cache.Record("ck_a", "n2", 300, 200), NonceCache::Result::kRecorded);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Record("ck_a", "n1", 300, 200), NonceCache::Result::kRecorded);
  EXPECT_EQ(cache.Record("ck_ab", "n1", 300, 200), NonceCache::Result::kReplay);
}

// Against a brute-force oracle (every pair with its expiry): over a long run with expiries
// spread across many buckets, a pair recorded and unexpired is always a replay, a fresh pair is
// recorded, and the cache never holds a pair more than one bucket past its expiry.
TEST(NonceCacheTest, MatchesAnExactOracleAcrossManyBuckets) {
  constexpr int64_t kBucket = 1000;
  NonceCache cache(1'000'000, kBucket);
  std::map<std::pair<std::string, std::string>, int64_t> oracle;  // pair -> expiry
  std::mt19937_64 rng(7);
  int64_t now = 0;
  int fresh = 0;
  int replays = 0;
  int forgotten = 0;
  for (int i = 0; i < 200'000; ++i) {
    now += static_cast<int64_t>(rng() % 20);
    const std::string key = "ck_" + std::to_string(rng() % 3);
    // Half the time a pair seen before (a replay, or a reuse once it expired), else a new one.
    const bool reuse = !oracle.empty() && rng() % 2 == 0;
    // A reuse picks one of the last thousand nonces: some still live, some long expired.
    const int back = static_cast<int>(rng() % static_cast<uint64_t>(std::min(fresh, 1000) + 1));
    const std::string nonce = "n" + std::to_string(reuse ? std::max(fresh - back, 0) : fresh++);
    const int64_t expires = now + 1 + static_cast<int64_t>(rng() % (4 * kBucket));
    auto it = oracle.find({key, nonce});
    const NonceCache::Result got = cache.Record(key, nonce, expires, now);
    if (it != oracle.end() && it->second > now) {
      ASSERT_EQ(got, NonceCache::Result::kReplay) << i;  // unexpired: always refused
      ++replays;
      continue;
    }
    if (it != oracle.end() && it->second + kBucket <= now) {
      ASSERT_EQ(got, NonceCache::Result::kRecorded) << i;  // a bucket past expiry: forgotten
      ++forgotten;
    } else if (it == oracle.end()) {
      ASSERT_EQ(got, NonceCache::Result::kRecorded) << i;  // never seen
    }
    if (got == NonceCache::Result::kRecorded) oracle[{key, nonce}] = expires;
  }
  EXPECT_GT(replays, 5'000);
  EXPECT_GT(forgotten, 5'000) << forgotten;
  // What the cache holds: the pairs the oracle has unexpired, plus at most a bucket's slack.
  size_t unexpired = 0;
  size_t within_slack = 0;
  for (const auto& [pair, expires] : oracle) {
    if (expires > now) ++unexpired;
    if (expires + kBucket > now) ++within_slack;
  }
  EXPECT_GE(cache.size(), unexpired);
  EXPECT_LE(cache.size(), within_slack);
}

// ---- ApiClientService over a real SQLite store and the real vault ----

class ApiClientServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-signing-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    repo_ = NewSqliteApiClientRepository(*store_, &clock_);
    Vault::Key key;
    key.fill(42);
    vault_ = std::make_unique<Vault>(key);
    ApiClientOptions options;
    options.rate_limit = {.per_second = 1, .burst = 5, .max_keys = 1000};
    service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, options);
    auto created = service_->Create("Mobile app", {"events", "draw"}, "user:root");
    ASSERT_TRUE(created.ok()) << created.status();
    client_ = created->client;
    secret_ = created->secret;
  }
  void TearDown() override {
    service_.reset();
    repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  struct Req {
    std::string method = "POST";
    std::string target = "/v1/events?b=2&a=1";
    std::string body = R"({"event":"login"})";
  };

  // Signs `sent` (what the client meant) and verifies `received` (what reached the server).
  absl::StatusOr<Principal> Send(const Req& sent, const Req& received, std::string_view secret,
                                 int64_t timestamp_ms, const std::string& nonce) {
    const std::string header = SignRequest(client_.key_id, secret, sent.method, sent.target,
                                           sent.body, timestamp_ms, nonce);
    return service_->Verify({header, received.method, received.target, received.body});
  }
  absl::StatusOr<Principal> Send(const Req& r, std::string_view secret) {
    return Send(r, r, secret, clock_.NowMs(), RandomNonce());
  }
  absl::StatusOr<Principal> Send(const Req& r) { return Send(r, secret_); }

  static std::string Message(const absl::StatusOr<Principal>& r) {
    return std::string(r.status().message());
  }

  FakeClock clock_{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ApiClientRepository> repo_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<ApiClientService> service_;
  ApiClient client_;
  std::string secret_;
};

TEST_F(ApiClientServiceTest, CreatesKeyIdAndSecretOfTheDocumentedForm) {
  EXPECT_EQ(client_.key_id.size(), 3u + 16u);
  EXPECT_EQ(client_.key_id.substr(0, 3), "ck_");
  EXPECT_EQ(secret_.size(), 3u + 64u);
  EXPECT_EQ(secret_.substr(0, 3), "cs_");
  EXPECT_EQ(client_.scopes, (std::vector<std::string>{"draw", "events"}));
  EXPECT_EQ(client_.created_by, "user:root");
  EXPECT_FALSE(client_.disabled);
  auto other = service_->Create("Other", {"events"}, "user:root");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->client.key_id, client_.key_id);
  EXPECT_NE(other->secret, secret_);
}

TEST_F(ApiClientServiceTest, ValidSignatureGivesTheClientPrincipal) {
  absl::StatusOr<Principal> p = Send(Req{});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->kind, Principal::Kind::kClient);
  EXPECT_EQ(p->id, client_.key_id);
  EXPECT_EQ(p->Actor(), "client:" + client_.key_id);
  EXPECT_TRUE(p->roles.empty());
  EXPECT_EQ(p->permissions, (std::vector<std::string>{"draw", "events:write", "self"}));
  // GET without a body and query.
  EXPECT_TRUE(Send(Req{"GET", "/v1/whoami", ""}).ok());
}

TEST_F(ApiClientServiceTest, WrongSecretUnknownKeyAndDisabledClientGetTheSameAnswer) {
  std::string wrong = secret_;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  absl::StatusOr<Principal> r = Send(Req{}, wrong);
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_EQ(Message(r), kBadSignatureMessage);

  const std::string unknown = SignRequest("ck_ffffffffffffffff", secret_, "GET", "/v1/whoami", "",
                                          clock_.NowMs(), RandomNonce());
  r = service_->Verify({unknown, "GET", "/v1/whoami", ""});
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_EQ(Message(r), kBadSignatureMessage);

  ClientChange disable;
  disable.disabled = true;
  ASSERT_TRUE(service_->Update(client_.key_id, disable).ok());
  r = Send(Req{});
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_EQ(Message(r), kBadSignatureMessage);
  ClientChange enable;
  enable.disabled = false;
  ASSERT_TRUE(service_->Update(client_.key_id, enable).ok());
  EXPECT_TRUE(Send(Req{}).ok());
}

TEST_F(ApiClientServiceTest, TimestampMustBeWithinFiveMinutesEitherWay) {
  const int64_t now = clock_.NowMs();
  for (int64_t ts : {now - 5 * kMinute, now + 5 * kMinute, now - 1, now + 1}) {
    EXPECT_TRUE(Send(Req{}, Req{}, secret_, ts, RandomNonce()).ok()) << ts - now;
  }
  for (int64_t ts : {now - 5 * kMinute - 1, now + 5 * kMinute + 1, now - 3'600'000}) {
    absl::StatusOr<Principal> r = Send(Req{}, Req{}, secret_, ts, RandomNonce());
    EXPECT_TRUE(absl::IsUnauthenticated(r.status())) << ts - now;
    EXPECT_NE(Message(r).find("Timestamp is more than 300 s away"), std::string::npos)
        << Message(r);
  }
}

TEST_F(ApiClientServiceTest, ReplayedNonceIsRefusedWithinTheWindow) {
  const std::string nonce = RandomNonce();
  const int64_t ts = clock_.NowMs();
  ASSERT_TRUE(Send(Req{}, Req{}, secret_, ts, nonce).ok());
  absl::StatusOr<Principal> r = Send(Req{}, Req{}, secret_, ts, nonce);
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_NE(Message(r).find("Nonce was already used"), std::string::npos) << Message(r);
  // The same nonce on another request (new timestamp, re-signed) is still a replay.
  clock_.Advance(kMinute);
  r = Send(Req{}, Req{}, secret_, clock_.NowMs(), nonce);
  EXPECT_NE(Message(r).find("Nonce was already used"), std::string::npos) << Message(r);
  // Once the original request is stale, its nonce is forgotten; the replay is stale anyway.
  clock_.Advance(5 * kMinute);
  r = Send(Req{}, Req{}, secret_, ts, nonce);
  EXPECT_NE(Message(r).find("Timestamp is more than"), std::string::npos) << Message(r);
}

// A second process (another `mercator serve`, or this one restarted) opening the same file,
// with a nonce cache of its own.
struct OtherProcess {
  OtherProcess(const std::filesystem::path& dir, const Clock* clock, const PiiCipher* cipher,
               ApiClientOptions options = {}) {
    auto opened = OpenSqliteStore(dir.string(), clock);
    EXPECT_TRUE(opened.ok()) << opened.status();
    store = std::move(*opened);
    repo = NewSqliteApiClientRepository(*store, clock);
    service = std::make_unique<ApiClientService>(repo.get(), cipher, clock, options);
  }
  std::unique_ptr<Store> store;
  std::unique_ptr<ApiClientRepository> repo;
  std::unique_ptr<ApiClientService> service;
};

TEST_F(ApiClientServiceTest, WriteThroughReplayToAnotherProcessIsRefusedAtOnce) {
  ApiClientOptions write_through;
  write_through.nonce_flush_ms = 0;
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, write_through);
  OtherProcess other(dir_, &clock_, vault_.get(), write_through);
  const Req r;
  const std::string header = SignRequest(client_.key_id, secret_, r.method, r.target, r.body,
                                         clock_.NowMs(), RandomNonce());
  ASSERT_TRUE(service_->Verify({header, r.method, r.target, r.body}).ok());
  absl::StatusOr<Principal> replay = other.service->Verify({header, r.method, r.target, r.body});
  EXPECT_NE(Message(replay).find("Nonce was already used"), std::string::npos) << replay.status();
  // And the other way round.
  const std::string second = SignRequest(client_.key_id, secret_, r.method, r.target, r.body,
                                         clock_.NowMs(), RandomNonce());
  ASSERT_TRUE(other.service->Verify({second, r.method, r.target, r.body}).ok());
  EXPECT_NE(Message(service_->Verify({second, r.method, r.target, r.body}))
                .find("Nonce was already used"),
            std::string::npos);
  // A nonce whose request went stale is forgotten by the store as well: the same nonce with a
  // new timestamp after the window is a new request.
  clock_.Advance(6 * kMinute);
  auto fresh =
      std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, write_through);
  const std::string nonce = "0123456789abcdef0123";
  const std::string a =
      SignRequest(client_.key_id, secret_, r.method, r.target, r.body, clock_.NowMs(), nonce);
  ASSERT_TRUE(fresh->Verify({a, r.method, r.target, r.body}).ok());
  clock_.Advance(6 * kMinute);
  auto later =
      std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, write_through);
  const std::string b =
      SignRequest(client_.key_id, secret_, r.method, r.target, r.body, clock_.NowMs(), nonce);
  EXPECT_TRUE(later->Verify({b, r.method, r.target, r.body}).ok());
}

TEST_F(ApiClientServiceTest, ReplayToAnotherProcessOnTheSameStoreIsRefusedOnceFlushed) {
  // The default: nonces reach the store from a background flusher.
  ASSERT_GT(service_->options().nonce_flush_ms, 0);
  OtherProcess other(dir_, &clock_, vault_.get());
  const Req r;
  const std::string nonce = RandomNonce();
  const std::string header =
      SignRequest(client_.key_id, secret_, r.method, r.target, r.body, clock_.NowMs(), nonce);
  ASSERT_TRUE(service_->Verify({header, r.method, r.target, r.body}).ok());
  // The flusher writes it on its own, within a few flush intervals.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool stored = false;
  while (!stored && std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<bool> seen = repo_->NonceRecorded(client_.key_id, nonce, clock_.NowMs());
    ASSERT_TRUE(seen.ok()) << seen.status();
    stored = *seen;
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(stored) << "the flusher did not write the nonce";
  absl::StatusOr<Principal> replay = other.service->Verify({header, r.method, r.target, r.body});
  EXPECT_NE(Message(replay).find("Nonce was already used"), std::string::npos) << replay.status();
  // And the other way round, flushing explicitly.
  const std::string second = SignRequest(client_.key_id, secret_, r.method, r.target, r.body,
                                         clock_.NowMs(), RandomNonce());
  ASSERT_TRUE(other.service->Verify({second, r.method, r.target, r.body}).ok());
  ASSERT_TRUE(other.service->FlushNonces().ok());
  EXPECT_NE(Message(service_->Verify({second, r.method, r.target, r.body}))
                .find("Nonce was already used"),
            std::string::npos);
  EXPECT_EQ(service_->late_replays(), 0u);
  EXPECT_EQ(other.service->late_replays(), 0u);
}

// The server on its own SQLite data directory: no store read per request; the nonces of the
// process before a restart come back from the store at start (LoadNonces).
TEST_F(ApiClientServiceTest, UnsharedStoreRefusesAReplayAfterARestartFromTheLoadedCache) {
  ApiClientOptions alone;
  alone.nonce_store_shared = false;
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, alone);
  const Req r;
  const std::string nonce = RandomNonce();
  const std::string header =
      SignRequest(client_.key_id, secret_, r.method, r.target, r.body, clock_.NowMs(), nonce);
  ASSERT_TRUE(service_->Verify({header, r.method, r.target, r.body}).ok());
  service_.reset();  // the restart: the destructor flushes
  clock_.Advance(kMinute);
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, alone);
  ASSERT_TRUE(service_->LoadNonces().ok());
  absl::StatusOr<Principal> replay = service_->Verify({header, r.method, r.target, r.body});
  EXPECT_NE(Message(replay).find("Nonce was already used"), std::string::npos) << replay.status();
  EXPECT_TRUE(Send(Req{}).ok());  // new nonces still pass

  // Without LoadNonces, the same replay would pass: the store is not read per request (the
  // oracle that the test above does not hold by accident).
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, alone);
  EXPECT_TRUE(service_->Verify({header, r.method, r.target, r.body}).ok());
  service_.reset();
  // Expired nonces are not loaded: after the window the same nonce is a new request.
  clock_.Advance(6 * kMinute);
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, alone);
  ASSERT_TRUE(service_->LoadNonces().ok());
  const std::string again =
      SignRequest(client_.key_id, secret_, r.method, r.target, r.body, clock_.NowMs(), nonce);
  EXPECT_TRUE(service_->Verify({again, r.method, r.target, r.body}).ok());
  // Flushing it purges the expired rows before it: the log holds about the window's traffic.
  service_.reset();
  EXPECT_EQ(ExecOnDatabaseFile(dir_,
                               // abs() of the smallest integer fails: the query's way to fail.
                               "SELECT CASE WHEN (SELECT count(*) FROM api_nonce_log) = 1 THEN 0 "
                               "ELSE abs(-9223372036854775807 - 1) END"),
            "");
  // Nor are the server's nonces checked against api_nonces (only processes sharing a
  // database need that): they were appended.
  absl::StatusOr<bool> in_shared_table =
      repo_->NonceRecorded(client_.key_id, nonce, clock_.NowMs());
  ASSERT_TRUE(in_shared_table.ok());
  EXPECT_FALSE(*in_shared_table);
}

// AppendNonces purges, of its oldest `purge_limit` rows, those expired; a row stamped ahead
// of time stays without holding back the expired rows after it. Checked against a plain list
// of the rows appended (the oracle), through UnexpiredNonces at time 0 (which lists them all).
TEST_F(ApiClientServiceTest, AppendingPurgesTheExpiredAmongTheOldestRowsUpToTheLimit) {
  using Record = ApiClientRepository::NonceRecord;
  std::vector<Record> appended;
  std::vector<Record> batch;
  for (int i = 0; i < 40; ++i) {
    // Every seventh stamped ahead: it expires after the purges below.
    batch.push_back({"k", "n" + std::to_string(i), i % 7 == 3 ? 1'000'000 : 100 + i});
  }
  ASSERT_TRUE(repo_->AppendNonces(batch, /*now_ms=*/0, /*purge_limit=*/10).ok());
  appended = batch;
  const auto remaining = [&] {
    absl::StatusOr<std::vector<Record>> rows = repo_->UnexpiredNonces(0, 1000);
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<std::string> nonces;
    for (const Record& r : rows.value_or(std::vector<Record>{})) nonces.push_back(r.nonce);
    std::sort(nonces.begin(), nonces.end());
    return nonces;
  };
  // The oracle: of the oldest `limit` rows still there, drop those expired at `now`.
  const auto purge = [&](int64_t now, size_t limit) {
    std::vector<Record> kept;
    for (size_t i = 0; i < appended.size(); ++i) {
      if (i < limit && appended[i].expires_ms <= now) continue;
      kept.push_back(appended[i]);
    }
    appended = kept;
  };
  const auto expected = [&] {
    std::vector<std::string> nonces;
    for (const Record& r : appended) nonces.push_back(r.nonce);
    std::sort(nonces.begin(), nonces.end());
    return nonces;
  };
  EXPECT_EQ(remaining(), expected());  // nothing had expired at 0
  EXPECT_EQ(remaining().size(), 40u);

  // Each append purges first, then appends its rows after the older ones.
  struct Step {
    int64_t now;
    int limit;
  };
  int next = 40;
  for (const Step step : {Step{120, 10}, Step{120, 0}, Step{130, 5}, Step{10'000, 12},
                          Step{10'000, 1000}, Step{2'000'000, 3}, Step{2'000'000, 1000}}) {
    purge(step.now, static_cast<size_t>(step.limit));
    const Record fresh{"k", "n" + std::to_string(next++), step.now + 50};
    ASSERT_TRUE(repo_->AppendNonces({fresh}, step.now, step.limit).ok());
    appended.push_back(fresh);
    EXPECT_EQ(remaining(), expected())
        << "after the purge at " << step.now << " of up to " << step.limit;
  }
  // The last two appended: the one before the last purge had not yet expired at it.
  EXPECT_EQ(remaining().size(), 2u);
}

TEST_F(ApiClientServiceTest, ReplayWithinTheFlushIntervalIsFoundAtTheFlush) {
  ApiClientOptions slow;
  slow.nonce_flush_ms = 1000;  // neither flushes on its own during the test's first steps
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, slow);
  OtherProcess other(dir_, &clock_, vault_.get(), slow);
  const Req r;
  const std::string header = SignRequest(client_.key_id, secret_, r.method, r.target, r.body,
                                         clock_.NowMs(), RandomNonce());
  ASSERT_TRUE(service_->Verify({header, r.method, r.target, r.body}).ok());
  // The replay reaches the other process before the first one flushed: accepted there ...
  ASSERT_TRUE(other.service->Verify({header, r.method, r.target, r.body}).ok());
  ASSERT_TRUE(service_->FlushNonces().ok());
  EXPECT_EQ(service_->late_replays(), 0u);
  // ... and found when the other process flushes.
  ASSERT_TRUE(other.service->FlushNonces().ok());
  EXPECT_EQ(other.service->late_replays(), 1u);
  // A further replay to either is refused.
  EXPECT_NE(Message(other.service->Verify({header, r.method, r.target, r.body}))
                .find("Nonce was already used"),
            std::string::npos);
}

TEST_F(ApiClientServiceTest, AFailingNonceStoreRefusesSignedRequestsUntilItRecovers) {
  ApiClientOptions manual;
  manual.nonce_flush_ms = 60'000;  // the test flushes
  manual.rate_limit = {.per_second = 1000, .burst = 1000, .max_keys = 1000};
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, manual);
  ASSERT_EQ(ExecOnDatabaseFile(dir_,
                               "CREATE TRIGGER api_nonces_broken BEFORE INSERT ON "
                               "api_nonces BEGIN SELECT RAISE(ABORT, 'disk full'); END;"),
            "");
  const Req r;
  const std::string nonce = RandomNonce();
  const std::string first =
      SignRequest(client_.key_id, secret_, r.method, r.target, r.body, clock_.NowMs(), nonce);
  ASSERT_TRUE(service_->Verify({first, r.method, r.target, r.body}).ok());
  absl::Status flushed = service_->FlushNonces();
  EXPECT_FALSE(flushed.ok());
  EXPECT_NE(std::string(flushed.message()).find("disk full"), std::string::npos) << flushed;
  // Fail closed: nothing is accepted while accepted nonces cannot be stored.
  absl::StatusOr<Principal> refused = Send(Req{});
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_NE(Message(refused).find("nonce store is failing"), std::string::npos) << Message(refused);
  // The store recovers: the queued nonce (kept, not dropped) is written, requests flow again.
  ASSERT_EQ(ExecOnDatabaseFile(dir_, "DROP TRIGGER api_nonces_broken;"), "");
  ASSERT_TRUE(service_->FlushNonces().ok());
  absl::StatusOr<bool> seen = repo_->NonceRecorded(client_.key_id, nonce, clock_.NowMs());
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(*seen) << "the nonce accepted during the failure was lost";
  EXPECT_TRUE(Send(Req{}).ok());
}

TEST_F(ApiClientServiceTest, TooManyUnflushedNoncesAreRefusedWithRetryAfter) {
  ApiClientOptions small;
  small.nonce_flush_ms = 60'000;  // the test flushes
  small.max_pending_nonces = 3;
  small.rate_limit = {.per_second = 1000, .burst = 1000, .max_keys = 1000};
  service_ = std::make_unique<ApiClientService>(repo_.get(), vault_.get(), &clock_, small);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Send(Req{}).ok()) << i;
  absl::StatusOr<Principal> refused = Send(Req{});
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_EQ(RetryAfterOf(refused.status()), std::optional<int64_t>(1));
  ASSERT_TRUE(service_->FlushNonces().ok());
  EXPECT_TRUE(Send(Req{}).ok());
}

TEST_F(ApiClientServiceTest, NonceIsRecordedOnlyAfterTheSignatureVerifies) {
  const std::string nonce = RandomNonce();
  const int64_t ts = clock_.NowMs();
  EXPECT_EQ(Message(Send(Req{}, Req{}, "cs_guess", ts, nonce)), kBadSignatureMessage);
  EXPECT_TRUE(Send(Req{}, Req{}, secret_, ts, nonce).ok());
}

TEST_F(ApiClientServiceTest, TamperedRequestsAreRefused) {
  const Req sent;
  Req body = sent;
  body.body = R"({"event":"logout"})";
  Req query = sent;
  query.target = "/v1/events?b=2&a=2";
  Req extra_param = sent;
  extra_param.target = "/v1/events?b=2&a=1&c=3";
  Req path = sent;
  path.target = "/v1/events/x?b=2&a=1";
  Req encoded_path = sent;
  encoded_path.target = "/v1/%65vents?b=2&a=1";  // same path decoded, different as sent
  Req method = sent;
  method.method = "PUT";
  for (const Req& received : {body, query, extra_param, path, encoded_path, method}) {
    absl::StatusOr<Principal> r = Send(sent, received, secret_, clock_.NowMs(), RandomNonce());
    EXPECT_TRUE(absl::IsUnauthenticated(r.status()))
        << received.method << " " << received.target << " " << received.body;
    EXPECT_EQ(Message(r), kBadSignatureMessage);
  }
  // Reordered query parameters are the same request.
  Req reordered = sent;
  reordered.target = "/v1/events?a=1&b=2";
  EXPECT_TRUE(Send(sent, reordered, secret_, clock_.NowMs(), RandomNonce()).ok());
}

TEST_F(ApiClientServiceTest, RotationKeepsTheOldSecretDuringTheGracePeriodOnly) {
  const std::string old_secret = secret_;
  auto rotated = service_->Rotate(client_.key_id, 10 * kMinute);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->secret, old_secret);
  EXPECT_EQ(rotated->previous_expires_ms, clock_.NowMs() + 10 * kMinute);
  auto secrets = service_->Secrets(client_.key_id);
  ASSERT_TRUE(secrets.ok());
  ASSERT_EQ(secrets->size(), 2u);
  EXPECT_EQ((*secrets)[0].expires_ms, 0);  // current first

  EXPECT_TRUE(Send(Req{}, rotated->secret).ok());
  EXPECT_TRUE(Send(Req{}, old_secret).ok());
  clock_.Advance(10 * kMinute - 1);
  EXPECT_TRUE(Send(Req{}, old_secret).ok());
  clock_.Advance(1);
  EXPECT_EQ(Message(Send(Req{}, old_secret)), kBadSignatureMessage);
  EXPECT_TRUE(Send(Req{}, rotated->secret).ok());

  // A second rotation retires the first secret for good and keeps at most two.
  auto again = service_->Rotate(client_.key_id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->previous_expires_ms, clock_.NowMs() + 24 * 60 * kMinute);
  auto third = service_->Rotate(client_.key_id, 0);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(Message(Send(Req{}, rotated->secret)), kBadSignatureMessage);
  EXPECT_EQ(Message(Send(Req{}, again->secret)), kBadSignatureMessage);  // grace 0
  EXPECT_TRUE(Send(Req{}, third->secret).ok());

  EXPECT_TRUE(absl::IsInvalidArgument(service_->Rotate(client_.key_id, -1).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(service_->Rotate(client_.key_id, 31 * 24 * 60 * kMinute).status()));
  EXPECT_TRUE(absl::IsNotFound(service_->Rotate("ck_0000000000000000").status()));
}

TEST_F(ApiClientServiceTest, RateLimitIsPerClientWithRetryAfter) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Send(Req{}).ok()) << i;
  absl::StatusOr<Principal> r = Send(Req{});
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_EQ(RetryAfterOf(r.status()), 1);
  // Bad signatures do not use up the client's budget.
  clock_.Advance(1000);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Message(Send(Req{}, "cs_wrong")), kBadSignatureMessage);
  EXPECT_TRUE(Send(Req{}).ok());
  // Another client has its own bucket.
  auto other = service_->Create("Other", {"events"}, "user:root");
  ASSERT_TRUE(other.ok());
  const std::string h = SignRequest(other->client.key_id, other->secret, "GET", "/v1/whoami", "",
                                    clock_.NowMs(), RandomNonce());
  EXPECT_TRUE(service_->Verify({h, "GET", "/v1/whoami", ""}).ok());
}

TEST_F(ApiClientServiceTest, ValidatesNamesAndScopes) {
  EXPECT_EQ(service_->Create("", {"events"}, "x").status().message(), "name: is required");
  EXPECT_TRUE(absl::IsInvalidArgument(service_->Create("a\nb", {"events"}, "x").status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(service_->Create(std::string(101, 'a'), {"events"}, "x").status()));
  EXPECT_EQ(service_->Create("n", {}, "x").status().message(),
            "scopes: at least one scope is required");
  auto bad = service_->Create("n", {"events", "admin"}, "x");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(std::string(bad.status().message()).find("\"admin\" is not a scope"),
            std::string::npos);
  ClientChange change;
  change.scopes = std::vector<std::string>{"placements", "placements", "webhooks"};
  change.name = "Renamed";
  auto updated = service_->Update(client_.key_id, change);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->scopes, (std::vector<std::string>{"placements", "webhooks"}));
  EXPECT_EQ(updated->name, "Renamed");
  absl::StatusOr<Principal> p = Send(Req{});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->permissions,
            (std::vector<std::string>{"placements:read", "self", "webhooks:write"}));
  EXPECT_TRUE(absl::IsNotFound(service_->Update("ck_nope", change).status()));
}

TEST_F(ApiClientServiceTest, ListsInCreationOrder) {
  ASSERT_TRUE(service_->Create("B", {"events"}, "x").ok());
  ASSERT_TRUE(service_->Create("C", {"events"}, "x").ok());
  auto page = service_->List(0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].name, "Mobile app");
  EXPECT_EQ((*page)[1].name, "B");
  auto rest = service_->List(page->back().id, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].name, "C");
}

TEST_F(ApiClientServiceTest, SecretsAreNotInTheDatabaseFileInClear) {
  ASSERT_TRUE(service_->Rotate(client_.key_id).ok());
  service_.reset();
  repo_.reset();
  store_.reset();  // checkpoint and close, so everything is in the files
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_NE(all.find(client_.key_id), std::string::npos);  // the oracle: the file was read
  EXPECT_EQ(all.find(secret_), std::string::npos);
  EXPECT_EQ(all.find(secret_.substr(3)), std::string::npos);
}

}  // namespace
}  // namespace mercator::auth
