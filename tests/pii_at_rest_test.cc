// Personal data at rest and in logs, end to end with the real binary: `mercator demo` and
// `mercator import` write customers with known names, mobile numbers and ID numbers, a real
// `mercator serve` answers API calls (including an unmasked read and a write of new personal
// data), and every process's stdout and stderr is captured. Then the raw bytes of the data
// directory (mercator.db, its WAL and shared memory, the snapshot) and of every log are
// searched for each known value: none may appear. The unmasked reads must return the very same
// values, so the test cannot pass by losing them.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "auth/request_signing.h"
#include "auth/vault.h"
#include "common/clock.h"
#include "customer/customer.h"
#include "customer/demo_bank.h"
#include "customer/tag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session_client.h"
#include "store/sqlite/sqlite_store.h"

extern char** environ;

namespace mercator {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::HasSubstr;

constexpr uint64_t kDemoSeed = 7;
constexpr uint64_t kDemoCustomers = 500;
constexpr char kDemoToday[] = "2025-06-30";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A valid ID number from its first 17 digits.
std::string IdNumber(const std::string& first17) { return first17 + IdNumberCheckChar(first17); }

struct Person {
  std::string external_id, name, phone, id_number;
};

// Starts `mercator --data <dir> <args...>` with stdout and stderr appended to `log`.
pid_t Spawn(const std::string& dir, const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv_s = {MERCATOR_BINARY, "--data", dir};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, MERCATOR_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << "spawning " << MERCATOR_BINARY;
  return rc == 0 ? pid : -1;
}

// Runs a command to completion; returns its exit code (-1 if it did not exit normally).
int RunToEnd(const std::string& dir, const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = Spawn(dir, args, log);
  if (pid < 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// The value after "password: " on the last line that has one.
std::string PasswordIn(const std::string& output) {
  const std::string key = "password: ";
  const size_t at = output.rfind(key);
  if (at == std::string::npos) return "";
  const size_t end = output.find('\n', at);
  return output.substr(at + key.size(), end - at - key.size());
}

json::object ParseObject(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  return !ec && v.is_object() ? v.as_object() : json::object{};
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

class PiiAtRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("mercator_pii_test_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "logs");
    data_ = (root_ / "data").string();
    // The key comes from <data>/vault.key, created by the first command.
    ::unsetenv("MERCATOR_VAULT_KEY");
    ::unsetenv("MERCATOR_VAULT_KEY_FILE");
  }
  void TearDown() override {
    StopServer();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  fs::path Log(const std::string& name) const { return root_ / "logs" / (name + ".log"); }

  // `log` names the server's log; a later server in the same test needs another one.
  void StartServer(const std::string& log = "serve") {
    port_ = 0;
    server_ = Spawn(data_, {"serve", "--port", "0", "--insecure-cookies"}, Log(log));
    ASSERT_GT(server_, 0);
    const std::string key =
        "\"server started\",\"attributes\":{\"server.address\":\"127.0.0.1\","
        "\"server.port\":\"";
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::string text = ReadFile(Log(log));
      if (size_t at = text.find(key); at != std::string::npos) {
        port_ = static_cast<uint16_t>(std::stoi(text.substr(at + key.size())));
      }
    }
    ASSERT_NE(port_, 0) << "the server did not start:\n" << ReadFile(Log(log));
  }

  void StopServer() {
    if (server_ <= 0) return;
    kill(server_, SIGTERM);
    int status = 0;
    waitpid(server_, &status, 0);
    server_ = -1;
  }

  std::unique_ptr<SessionClient> Login(const std::string& user, const std::string& password) {
    auto c = SessionClient::Login(port_, user, password);
    EXPECT_TRUE(c->ok()) << user << ": " << c->login_result().status << " "
                         << c->login_result().body;
    return c;
  }

  // Adds a staff account with one role; returns its one-time password.
  std::string AddUser(const std::string& name, const std::string& role) {
    const fs::path log = Log("user-add-" + name);
    EXPECT_EQ(RunToEnd(data_, {"user", "add", "--username", name, "--role", role}, log), 0)
        << ReadFile(log);
    return PasswordIn(ReadFile(log));
  }

  // Everything a person with the disk (or the logs) could read.
  std::string AllBytesAtRest() const {
    std::string bytes;
    for (const fs::path& dir : {root_ / "data", root_ / "logs"}) {
      // Recursive: module directories (the draw journal, snapshots) hold data too.
      for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file()) bytes += ReadFile(entry.path());
      }
    }
    return bytes;
  }

  void ExpectAbsent(const std::string& bytes, const std::vector<Person>& people,
                    const std::string& when) {
    for (const Person& p : people) {
      EXPECT_EQ(bytes.find(p.phone), std::string::npos) << when << ": phone of " << p.external_id;
      EXPECT_EQ(bytes.find(p.id_number), std::string::npos)
          << when << ": ID number of " << p.external_id;
      if (!p.name.empty()) {
        EXPECT_EQ(bytes.find(p.name), std::string::npos) << when << ": name of " << p.external_id;
      }
    }
  }

  fs::path root_;
  std::string data_;
  pid_t server_ = -1;
  uint16_t port_ = 0;
};

TEST_F(PiiAtRestTest, NoPlaintextPersonalDataInTheFilesOrLogs) {
  // 1. The demo bank, whose personal data the test can regenerate from the seed.
  ASSERT_EQ(RunToEnd(data_,
                     {"demo", "--customers", std::to_string(kDemoCustomers), "--seed",
                      std::to_string(kDemoSeed), "--today", kDemoToday},
                     Log("demo")),
            0)
      << ReadFile(Log("demo"));
  const std::string admin_password = PasswordIn(ReadFile(Log("demo")));
  ASSERT_FALSE(admin_password.empty()) << ReadFile(Log("demo"));
  std::vector<Person> people;
  const DemoBank bank(kDemoSeed, DaysFromCivil(2025, 6, 30));
  for (uint64_t i = 0; i < kDemoCustomers; ++i) {
    const CustomerUpsert c = bank.Customer(i);
    ASSERT_TRUE(c.phone && c.id_number && c.name);
    // Demo names are two to four common characters, which the tag catalog's branch and
    // manager names may share by chance; only phones and ID numbers are searched for them.
    people.push_back({c.external_id, "", *c.phone, *c.id_number});
  }
  const CustomerUpsert demo3 = bank.Customer(3);

  // 2. A CSV import with distinctive names (x in an ID number is normalized to X).
  const std::vector<Person> imported = {
      {"IMP001", "欧阳测试甲", "13912340001", IdNumber("33010619850315123")},
      {"IMP002", "司马验证乙", "15887650002", IdNumber("11010519720101456")},
      {"IMP003", "诸葛样本丙", "18611110003", IdNumber("44030419991231789")},
  };
  {
    std::ofstream csv(root_ / "customers.csv");
    csv << "cif,name,mobile,id_card,age\n";
    for (const Person& p : imported) {
      std::string id = p.id_number;
      if (id.back() == 'X') id.back() = 'x';
      csv << p.external_id << "," << p.name << "," << p.phone << "," << id << ",40\n";
    }
    // A bad row: its invalid values must not be echoed into the report or the logs.
    csv << "IMP004,慕容错误丁,12345678901,110105194912310022,41\n";
    std::ofstream(root_ / "mapping.json") << R"({
      "id": {"column": "cif"}, "name_column": "name", "phone_column": "mobile",
      "id_number_column": "id_card",
      "tags": [{"key": "age", "name_en": "Age", "type": "int"}],
      "columns": [{"column": "age", "tag": "age"}]
    })";
  }
  EXPECT_EQ(RunToEnd(data_,
                     {"import", "--skip-bad-rows", "--mapping", (root_ / "mapping.json").string(),
                      (root_ / "customers.csv").string()},
                     Log("import")),
            2)  // 2: some rows were rejected
      << ReadFile(Log("import"));
  EXPECT_THAT(ReadFile(Log("import")), HasSubstr("not a mainland mobile number"));
  people.insert(people.end(), imported.begin(), imported.end());
  const std::vector<Person> rejected = {
      {"IMP004", "慕容错误丁", "12345678901", "110105194912310022"}};

  const std::string manager_password = AddUser("mgr", "manager");
  const std::string analyst_password = AddUser("ana", "analyst");
  const std::string auditor_password = AddUser("aud", "auditor");

  // 3. The server, called as three kinds of staff.
  StartServer();
  auto admin = Login("admin", admin_password);
  auto manager = Login("mgr", manager_password);
  auto analyst = Login("ana", analyst_password);
  auto auditor = Login("aud", auditor_password);
  ASSERT_TRUE(admin->ok() && manager->ok() && analyst->ok() && auditor->ok());

  // A write of new personal data through the API, and one with invalid values.
  const Person api_person = {"API001", "上官接口戊", "17755550004", IdNumber("31010419880808234")};
  http::HttpResult r = admin->Fetch(
      "POST", "/v1/customers/batch",
      json::serialize(json::object{
          {"customers", json::array{json::object{{"external_id", api_person.external_id},
                                                 {"name", api_person.name},
                                                 {"phone", api_person.phone},
                                                 {"id_number", api_person.id_number}}}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  people.push_back(api_person);
  // Ten digits, and an ID number with a wrong check character.
  r = admin->Fetch(
      "POST", "/v1/customers/batch",
      json::serialize(json::object{
          {"customers", json::array{json::object{{"external_id", "API002"},
                                                 {"phone", "1990000000"},
                                                 {"id_number", "110105194912310021"}}}}}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.body.find("1990000000"), std::string::npos) << r.body;
  EXPECT_THAT(r.body, HasSubstr("customers/0/phone"));

  // Masked by default, for everyone.
  r = analyst->Fetch("GET", "/v1/customers/IMP001");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object masked = ParseObject(r.body);
  EXPECT_EQ(Str(masked, "phone"), "139****0001");
  EXPECT_EQ(Str(masked, "name"), "欧****");
  EXPECT_EQ(Str(masked, "id_number"), "3301**********" + imported[0].id_number.substr(14));
  EXPECT_EQ(Str(masked, "pii"), "masked");
  EXPECT_EQ(r.body.find(imported[0].phone), std::string::npos);

  // Unmasking needs pii:read.
  r = analyst->Fetch("GET", "/v1/customers/IMP001?unmask=true");
  EXPECT_EQ(r.status, 403) << r.body;
  r = admin->Fetch("GET", "/v1/customers/IMP001?unmask=true");
  EXPECT_EQ(r.status, 403) << r.body;  // admin runs the system but may not read PII

  // A manager gets the exact values back: nothing was lost on the way to the disk.
  int unmasked_reads = 0;
  for (const Person& p : {imported[0], imported[1], imported[2], api_person}) {
    r = manager->Fetch("GET", "/v1/customers/" + p.external_id + "?unmask=true");
    ASSERT_EQ(r.status, 200) << r.body;
    ++unmasked_reads;
    json::object full = ParseObject(r.body);
    EXPECT_EQ(Str(full, "name"), p.name);
    EXPECT_EQ(Str(full, "phone"), p.phone);
    EXPECT_EQ(Str(full, "id_number"), p.id_number);
    EXPECT_EQ(Str(full, "pii"), "unmasked");
  }
  r = manager->Fetch("GET", "/v1/customers/" + demo3.external_id + "?unmask=true");
  ASSERT_EQ(r.status, 200) << r.body;
  ++unmasked_reads;
  json::object full = ParseObject(r.body);
  EXPECT_EQ(Str(full, "name"), *demo3.name);
  EXPECT_EQ(Str(full, "phone"), *demo3.phone);
  EXPECT_EQ(Str(full, "id_number"), *demo3.id_number);
  // The rejected import row is not there.
  EXPECT_EQ(manager->Fetch("GET", "/v1/customers/IMP004").status, 404);

  // Exact-match lookup with the value in the body, answered masked.
  r = analyst->Fetch("POST", "/v1/customers/lookup",
                     json::serialize(json::object{{"phone", imported[1].phone}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"IMP002\""));
  EXPECT_EQ(r.body.find(imported[1].phone), std::string::npos) << r.body;
  r = analyst->Fetch("POST", "/v1/customers/lookup",
                     json::serialize(json::object{{"id_number", demo3.id_number->c_str()}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(demo3.external_id));
  r = analyst->Fetch("POST", "/v1/customers/lookup",
                     json::serialize(json::object{{"phone", "12345678901"}}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.body.find("12345678901"), std::string::npos) << r.body;

  // Every unmasked read is in the audit log (the refused ones are not reads).
  r = auditor->Fetch("GET", "/v1/audit?action=customer.pii_read&limit=100");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find(imported[0].phone), std::string::npos);
  int audited = 0;
  for (size_t at = r.body.find("\"customer.pii_read\""); at != std::string::npos;
       at = r.body.find("\"customer.pii_read\"", at + 1)) {
    ++audited;
  }
  EXPECT_EQ(audited, unmasked_reads) << r.body;
  EXPECT_THAT(r.body, HasSubstr("user:mgr"));

  // 4. The files while the server runs (the WAL holds the latest writes) ...
  std::string bytes = AllBytesAtRest();
  // ... can be searched: external ids are stored in clear, the logs hold the requests (access
  // log lines are written in batches, within 50 ms).
  for (int i = 0; i < 100 && bytes.find("/v1/customers/lookup") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    bytes = AllBytesAtRest();
  }
  ASSERT_NE(bytes.find("IMP003"), std::string::npos);
  ASSERT_NE(bytes.find("API001"), std::string::npos);
  ASSERT_NE(bytes.find("/v1/customers/lookup"), std::string::npos);
  ExpectAbsent(bytes, people, "server running");
  ExpectAbsent(bytes, rejected, "server running");

  // ... and after a clean stop (WAL checkpointed into the main file).
  StopServer();
  bytes = AllBytesAtRest();
  ASSERT_NE(bytes.find("IMP003"), std::string::npos);
  ASSERT_NE(ReadFile(Log("serve")).find("snapshot saved"), std::string::npos);
  ExpectAbsent(bytes, people, "after stop");
  ExpectAbsent(bytes, rejected, "after stop");
  EXPECT_TRUE(fs::exists(fs::path(data_) / "vault.key"));
}

// The value after `key` on the first line that has it.
std::string ValueAfter(const std::string& output, const std::string& key) {
  const size_t at = output.find(key);
  if (at == std::string::npos) return "";
  const size_t end = output.find('\n', at);
  return output.substr(at + key.size(), end - at - key.size());
}

TEST_F(PiiAtRestTest, RotateKeyReSealsEverythingAndLookupsKeepWorking) {
  ASSERT_EQ(RunToEnd(data_,
                     {"demo", "--customers", std::to_string(kDemoCustomers), "--seed",
                      std::to_string(kDemoSeed), "--today", kDemoToday},
                     Log("demo")),
            0)
      << ReadFile(Log("demo"));
  const DemoBank bank(kDemoSeed, DaysFromCivil(2025, 6, 30));
  const CustomerUpsert demo3 = bank.Customer(3);
  const CustomerUpsert demo400 = bank.Customer(400);
  ASSERT_EQ(RunToEnd(data_, {"client", "add", "--name", "App", "--scope", "events"}, Log("client")),
            0)
      << ReadFile(Log("client"));
  const std::string key_id = ValueAfter(ReadFile(Log("client")), "key_id: ");
  const std::string secret = ValueAfter(ReadFile(Log("client")), "secret: ");
  ASSERT_FALSE(key_id.empty() || secret.empty()) << ReadFile(Log("client"));
  const std::string manager_password = AddUser("mgr", "manager");
  const fs::path key_file = fs::path(data_) / "vault.key";
  std::string old_hex = ReadFile(key_file);
  while (!old_hex.empty() && old_hex.back() == '\n') old_hex.pop_back();
  ASSERT_EQ(old_hex.size(), 64u);

  // An interrupted rotation: the new key is in the file, nothing is re-sealed yet. The server
  // opens the old values with the old key, seals new ones under the new key, and lookups find
  // rows hashed under either.
  const std::string new_hex(64, 'b');
  {
    std::ofstream out(key_file, std::ios::trunc);
    out << "1:" << old_hex << "\n2:" << new_hex << "\n";
  }
  StartServer();
  {
    auto manager = Login("mgr", manager_password);
    ASSERT_TRUE(manager->ok());
    http::HttpResult r =
        manager->Fetch("GET", "/v1/customers/" + demo3.external_id + "?unmask=true");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Str(ParseObject(r.body), "phone"), *demo3.phone);
    r = manager->Fetch("POST", "/v1/customers/lookup",
                       json::serialize(json::object{{"phone", demo400.phone->c_str()}}));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_THAT(r.body, HasSubstr(demo400.external_id));
  }
  StopServer();

  // The rotation continues with key 2, in batches, showing progress, and drops key 1.
  ASSERT_EQ(RunToEnd(data_, {"vault", "rotate-key", "--batch", "100"}, Log("rotate")), 0)
      << ReadFile(Log("rotate"));
  const std::string rotate_log = ReadFile(Log("rotate"));
  EXPECT_THAT(rotate_log, HasSubstr("continuing with key 2"));
  EXPECT_THAT(rotate_log, HasSubstr("re-sealing"));
  EXPECT_THAT(rotate_log, HasSubstr("1 client secrets re-sealed"));
  EXPECT_EQ(rotate_log.find(old_hex), std::string::npos);
  EXPECT_EQ(rotate_log.find(new_hex), std::string::npos);
  EXPECT_EQ(ReadFile(key_file), "2:" + new_hex + "\n");
  EXPECT_EQ(fs::status(key_file).permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);
  ASSERT_EQ(RunToEnd(data_, {"vault", "status"}, Log("status")), 0) << ReadFile(Log("status"));
  EXPECT_THAT(ReadFile(Log("status")),
              HasSubstr("key ids: 2 (current 2); values sealed under an older key: 0"));

  // Against independent vaults over the file: the old key alone opens nothing and finds
  // nothing any more; the new key alone opens and finds everything.
  {
    auto old_keys = auth::Vault::ParseKeyring("1:" + old_hex, "old");
    auto new_keys = auth::Vault::ParseKeyring("2:" + new_hex, "new");
    ASSERT_TRUE(old_keys.ok() && new_keys.ok());
    auto old_vault = std::make_unique<auth::Vault>(*old_keys);
    auto new_vault = std::make_unique<auth::Vault>(*new_keys);
    for (auth::Vault* vault : {old_vault.get(), new_vault.get()}) {
      SqliteStoreOptions options;
      options.cipher = vault;
      auto store = OpenSqliteStore(data_, SystemClock::Get(), options);
      ASSERT_TRUE(store.ok()) << store.status();
      const bool is_new = vault == new_vault.get();
      for (const CustomerUpsert* c : {&demo3, &demo400}) {
        auto found = (*store)->customers().FindByPii(PiiLookup::kPhone, *c->phone, 10);
        ASSERT_TRUE(found.ok()) << (is_new ? "new key: " : "old key: ") << found.status();
        EXPECT_EQ(found->size(), is_new ? 1u : 0u) << c->external_id;
        auto by_id = (*store)->customers().FindByPii(PiiLookup::kIdNumber, *c->id_number, 10);
        ASSERT_TRUE(by_id.ok()) << by_id.status();
        EXPECT_EQ(by_id->size(), is_new ? 1u : 0u) << c->external_id;
        auto record = (*store)->customers().FindByExternalId(c->external_id);
        if (is_new) {
          ASSERT_TRUE(record.ok() && record->has_value()) << record.status();
          EXPECT_EQ((*record)->phone, *c->phone);
          EXPECT_EQ((*record)->name, *c->name);
        } else {
          EXPECT_EQ(record.status().code(), absl::StatusCode::kDataLoss) << record.status();
        }
      }
    }
  }

  // The server with the new key alone: unmasked reads, lookups and the client's signature.
  StartServer("serve-after-rotation");
  auto manager = Login("mgr", manager_password);
  ASSERT_TRUE(manager->ok());
  http::HttpResult r =
      manager->Fetch("GET", "/v1/customers/" + demo400.external_id + "?unmask=true");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(ParseObject(r.body), "id_number"), *demo400.id_number);
  r = manager->Fetch("POST", "/v1/customers/lookup",
                     json::serialize(json::object{{"id_number", demo3.id_number->c_str()}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(demo3.external_id));
  http::TestClient app(port_);
  const std::string auth = auth::SignRequest(key_id, secret, "GET", "/v1/whoami", "",
                                             SystemClock::Get()->NowMs(), auth::RandomNonce());
  r = app.Fetch("GET", "/v1/whoami", "", {{"authorization", auth}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = manager->Fetch("GET", "/v1/audit?action=vault.rotate_key");
  EXPECT_EQ(r.status, 403);  // managers do not read the audit log; the entry is checked below
  StopServer();
  ASSERT_EQ(RunToEnd(data_, {"audit", "list", "--action", "vault.rotate_key"}, Log("audit")), 0);
  EXPECT_THAT(ReadFile(Log("audit")), HasSubstr("system:cli:vault"));
  EXPECT_THAT(ReadFile(Log("audit")), HasSubstr(R"("retired_key_ids":[1])"));
}

}  // namespace
}  // namespace mercator
