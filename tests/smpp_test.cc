// The SMPP channel end to end on the real App with real SQLite files against an independent
// SMSC: the npm `smpp` package running as a server (tests/smpp_peer/server.js, a child
// process on a free port). Every assertion about what went over the wire is made against the
// peer's own record of what it decoded (JSON lines it writes), not against Mercator's code:
// bind credentials, each submit's decoded text and concatenation header, segments of a long
// Chinese message, enquire_link both ways, throttling answers honoured (every message
// eventually accepted exactly once), delivery receipts that update the message's receipt, an
// inbound "T" that opts the customer out (the next send is suppressed by the policy), a
// dropped connection after which nothing is lost or accepted twice, and unbind at shutdown.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/test_client.h"
#include "outreach/smpp_channel.h"
#include "outreach/smpp_codec.h"
#include "outreach_test_util.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

extern char** environ;

namespace mercator {
namespace {

namespace json = boost::json;

using test::Int;
using test::Parse;
using test::Str;
using test::TempDir;

// Monday 2026-11-23 10:00 in Shanghai (02:00 UTC): outside quiet hours.
constexpr int64_t kMonday10 = 1795399200000;
constexpr char kSystemId[] = "mercator";
constexpr char kPassword[] = "s3cret";
constexpr char kShort[] = "【示例银行】{{name}}您好，您的{{product}}已到账。回T退订";
// Over 134 UCS-2 units with the name and product: three parts.
constexpr char kLong[] =
    "【示例银行】{{name}}您好，{{product}}：尊敬的客户，感谢您一直以来对本行的信任与支持，"
    "本行特为您准备了专属理财礼包，包含高收益定期存款与基金申购费率优惠，活动期间登录手机银行"
    "即可领取，名额有限，先到先得，详情请咨询您的客户经理或拨打客服热线。另外，本月起持卡消费"
    "满额还可参加积分加倍与抽奖活动，奖品包括话费充值券、视频会员和精美礼品。回T退订";

// The SMSC: node tests/smpp_peer/server.js with a pipe to its stdin for commands and a record
// file of JSON lines.
class Peer {
 public:
  explicit Peer(const std::string& dir)
      : record_((std::filesystem::path(dir) / "peer.jsonl").string()) {
    const std::string peer_dir = std::string(MERCATOR_SOURCE_DIR) + "/tests/smpp_peer";
    if (!std::filesystem::exists(peer_dir + "/node_modules/smpp")) {
      // The package's locked dependencies (scripts/web.sh does this on CI).
      const std::string cmd = "cd '" + peer_dir + "' && npm ci --no-audit --no-fund >&2";
      EXPECT_EQ(std::system(cmd.c_str()), 0) << "npm ci in tests/smpp_peer failed";
    }
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    const std::string script = peer_dir + "/server.js";
    std::vector<std::string> args = {"node",       script,    "--system-id", kSystemId,
                                     "--password", kPassword, "--record",    record_};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawnp(&pid_, "node", &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[0]);
    stdin_ = fds[1];
    fcntl(stdin_, F_SETFD, FD_CLOEXEC);
    EXPECT_TRUE(WaitFor([&] { return !Events("listening").empty(); }, 20'000))
        << "the SMPP peer did not start";
    if (!Events("listening").empty()) port_ = static_cast<int>(Int(Events("listening")[0], "port"));
  }
  ~Peer() {
    if (stdin_ >= 0) close(stdin_);  // the peer exits when its stdin closes
    if (pid_ > 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      int status = 0;
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > until) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  int port() const { return port_; }

  // Sends one command and waits for the peer's acknowledgement.
  void Command(const json::object& cmd) {
    const size_t acks = Events("ack").size();
    const std::string line = json::serialize(cmd) + "\n";
    ASSERT_EQ(write(stdin_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    ASSERT_TRUE(WaitFor([&] { return Events("ack").size() > acks; }, 10'000)) << line;
  }

  std::vector<json::value> Records() {
    std::vector<json::value> out;
    std::ifstream in(record_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      if (!ec) out.push_back(std::move(v));  // a line being written is read next time
    }
    return out;
  }
  std::vector<json::value> Events(std::string_view event) {
    std::vector<json::value> out;
    for (json::value& v : Records()) {
      if (Str(v, "event") == event) out.push_back(std::move(v));
    }
    return out;
  }
  // Submits the peer accepted (status 0, a message id given).
  std::vector<json::value> Accepted() {
    std::vector<json::value> out;
    for (json::value& v : Events("submit")) {
      if (Int(v, "status") == 0) out.push_back(std::move(v));
    }
    return out;
  }

  static bool WaitFor(const std::function<bool()>& done, int64_t ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

 private:
  std::string record_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

// One message as the SMSC received it: the text joined from its parts in header order.
struct Received {
  std::string text;
  int parts = 0;
  std::vector<std::string> smsc_ids;
  std::set<int64_t> data_codings;  // of its parts
  std::vector<std::string> part_texts;
};

class SmppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = test::OutreachServerOptions(dir_.path(), &clock_);
    options_.smpp.host = "127.0.0.1";
    options_.smpp.port = peer_.port();
    options_.smpp.system_id = kSystemId;
    options_.smpp.password = kPassword;
    options_.smpp.system_type = "mkt";
    options_.smpp.source_addr = "10690001";
    options_.smpp.window = 16;
    options_.smpp.response_timeout_ms = 3000;
    options_.smpp.reconnect_base_ms = 100;
    options_.smpp.reconnect_max_ms = 1000;
    options_.smpp.throttle_base_ms = 50;
    options_.smpp.throttle_max_ms = 400;
    options_.smpp.poll_interval_ms = 200;
  }

  void Boot() {
    auto app = App::Open(options_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    ASSERT_NE(app_->smpp_channel(), nullptr);
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    ASSERT_TRUE(admin_ && op_ && approver_);
  }

  // Customers C1 (13812341234) and C2 (13900001111) with marketing consent on sms, no caps,
  // and two approved sms templates (short_id_, long_id_).
  void Prepare() {
    json::array customers{
        json::object{{"external_id", "C1"}, {"name", "张三"}, {"phone", "13812341234"}},
        json::object{{"external_id", "C2"}, {"name", "李四"}, {"phone", "13900001111"}}};
    Expect(admin_->Fetch("POST", "/v1/customers/batch",
                         json::serialize(json::object{{"customers", customers}})),
           200);
    for (const char* c : {"C1", "C2"}) {
      Expect(op_->Fetch("POST", std::string("/v1/customers/") + c + "/consents",
                        json::serialize(json::object{{"channel", "sms"},
                                                     {"purpose", "marketing"},
                                                     {"granted", true},
                                                     {"source", "app"},
                                                     {"text_version", "v3"}})),
             201);
    }
    Expect(op_->Fetch("PUT", "/v1/contact-policy", R"({"day_cap":0,"week_cap":0})"), 200);
    short_id_ = Approve("short", kShort);
    long_id_ = Approve("long", kLong);
  }

  int64_t Approve(const char* name, const char* body) {
    json::value t = Expect(
        op_->Fetch(
            "POST", "/v1/templates",
            json::serialize(json::object{
                {"name", name}, {"channel", "sms"}, {"purpose", "marketing"}, {"body", body}})),
        201);
    json::value s = Expect(
        op_->Fetch("POST", "/v1/templates/" + std::to_string(Int(t, "id")) + "/submit"), 200);
    Expect(approver_->Fetch("POST",
                            "/v1/approvals/" + std::to_string(Int(s, "approval_id")) + "/approve",
                            R"({"comment":"ok"})"),
           200);
    return Int(t, "id");
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  outreach::SendResult Send(const std::string& customer, int64_t template_id,
                            const std::string& product, const std::string& key) {
    outreach::Message m;
    m.customer = customer;
    m.channel = "sms";
    m.template_id = std::to_string(template_id);
    m.variables["product"] = product;
    m.origin = "campaign:9";
    m.dedupe_key = key;
    absl::StatusOr<outreach::SendResult> r = app_->outreach().Send(m);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : outreach::SendResult{};
  }

  // The rendered text Mercator recorded for a message (what the SMSC must have decoded).
  std::string Body(const std::string& customer, const std::string& message_id) {
    auto rows = app_->outreach_store().ListMessages(customer, 0, 1000);
    EXPECT_TRUE(rows.ok());
    for (const MessageRow& m : *rows) {
      if (std::to_string(m.id) == message_id) return m.body;
    }
    ADD_FAILURE() << "message " << message_id << " not recorded";
    return "";
  }

  // A message recorded with `body` as its text and handed to the SMPP channel, as Outreach does
  // after rendering a template (every SMS template carries 【…】 and 回T退订, which are not in
  // the GSM 03.38 alphabet: texts that are need this way in). Returns the message id.
  std::string SendText(const std::string& customer, const std::string& body,
                       const std::string& key) {
    MessageRow m;
    m.dedupe_key = key;
    m.customer = customer;
    m.channel = "sms";
    m.purpose = "service";
    m.template_id = short_id_;
    m.origin = "journey:1";
    m.status = "sent";
    m.body = body;
    m.created_ms = clock_.NowMs();
    auto recorded = app_->outreach_store().RecordMessage(m, 0, 0);
    EXPECT_TRUE(recorded.ok()) << recorded.status();
    if (!recorded.ok()) return "";
    outreach::OutboundMessage out;
    out.message_id = recorded->row.id;
    out.customer = customer;
    out.channel = "sms";
    out.purpose = m.purpose;
    out.body = body;
    EXPECT_TRUE(app_->smpp_channel()->Deliver(out).ok());
    return std::to_string(recorded->row.id);
  }

  SmppOutboundRow Record(const std::string& message_id) {
    auto r = app_->smpp_store().Get(std::stoll(message_id));
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && r->has_value() ? **r : SmppOutboundRow{};
  }

  bool AllSubmitted(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      auto r = app_->smpp_store().Get(std::stoll(id));
      if (!r.ok() || !r->has_value() || (*r)->state != "submitted") return false;
    }
    return true;
  }

  // The peer's accepted submits to `phone`, grouped into messages: a part with a
  // concatenation header (05 00 03 ref total seq) joins the others of its reference in
  // sequence order; the whole message is reported once all parts are there. Counts how
  // often each (reference, part) was accepted in `dup_parts` (> 1: accepted twice).
  std::vector<Received> ReceivedBy(const std::string& phone, int* dup_parts = nullptr) {
    std::vector<Received> out;
    std::map<std::string, std::map<int, std::pair<std::string, std::string>>> parts;
    std::map<std::string, int> totals;
    std::map<std::string, int> seen;
    std::map<std::string, std::set<int64_t>> codings;
    for (const json::value& s : peer_.Accepted()) {
      if (Str(s, "destination_addr") != phone) continue;
      const std::string udh = Str(s, "udh");
      if (udh.empty()) {
        EXPECT_EQ(Int(s, "esm_class") & 0x40, 0);
        out.push_back(
            {Str(s, "text"), 1, {Str(s, "message_id")}, {Int(s, "data_coding")}, {Str(s, "text")}});
        ++seen[Str(s, "text")];
        continue;
      }
      EXPECT_EQ(Int(s, "esm_class") & 0x40, 0x40);
      // The peer splits the header (its length octet 05 consumed) into information
      // elements: 00 (concatenation, 8-bit reference) 03 <ref> <total> <seq>.
      EXPECT_EQ(udh.size(), 10u) << udh;
      if (udh.size() != 10u) continue;
      EXPECT_EQ(udh.substr(0, 4), "0003") << udh;
      const std::string ref = udh.substr(4, 2);
      const int total = std::stoi(udh.substr(6, 2), nullptr, 16);
      const int seq = std::stoi(udh.substr(8, 2), nullptr, 16);
      totals[ref] = total;
      codings[ref].insert(Int(s, "data_coding"));
      ++seen[ref + ":" + std::to_string(seq)];
      parts[ref][seq] = {Str(s, "text"), Str(s, "message_id")};
    }
    for (const auto& [ref, p] : parts) {
      if (static_cast<int>(p.size()) != totals[ref]) continue;
      Received r;
      r.parts = totals[ref];
      r.data_codings = codings[ref];
      for (const auto& [seq, tp] : p) {
        r.text += tp.first;
        r.part_texts.push_back(tp.first);
        r.smsc_ids.push_back(tp.second);
      }
      out.push_back(std::move(r));
    }
    if (dup_parts != nullptr) {
      *dup_parts = 0;
      for (const auto& [k, n] : seen) *dup_parts += n > 1 ? 1 : 0;
    }
    return out;
  }

  // Sends n messages, every third one the long template to C2, the others the short one to
  // C1; fills the message ids and the rendered bodies (body -> customer).
  void SendMix(int n, const std::string& key_prefix, std::vector<std::string>* ids,
               std::map<std::string, std::string>* bodies) {
    for (int i = 0; i < n; ++i) {
      const std::string customer = i % 3 == 0 ? "C2" : "C1";
      outreach::SendResult r = Send(customer, i % 3 == 0 ? long_id_ : short_id_,
                                    "产品" + std::to_string(i), key_prefix + std::to_string(i));
      ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent) << r.reason;
      ids->push_back(r.message_id);
      (*bodies)[Body(customer, r.message_id)] = customer;
    }
  }

  // What the peer accepted for C1 and C2, checked to be every body exactly once with no part
  // accepted twice.
  std::vector<Received> ExpectEachOnce(const std::map<std::string, std::string>& bodies) {
    int dups1 = 0, dups2 = 0;
    std::vector<Received> got = ReceivedBy("13812341234", &dups1);
    for (Received& r : ReceivedBy("13900001111", &dups2)) got.push_back(std::move(r));
    EXPECT_EQ(dups1, 0);
    EXPECT_EQ(dups2, 0);
    std::multiset<std::string> texts;
    for (const Received& r : got) texts.insert(r.text);
    EXPECT_EQ(texts.size(), bodies.size());
    for (const auto& [body, customer] : bodies) EXPECT_EQ(texts.count(body), 1u) << body;
    return got;
  }

  TempDir dir_;
  Peer peer_{dir_.path()};
  FakeClock clock_{kMonday10};
  AppOptions options_;
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_;
  int64_t short_id_ = 0, long_id_ = 0;
};

TEST_F(SmppTest, BindsSubmitsAndSplitsALongChineseMessage) {
  Boot();
  Prepare();
  outreach::SendResult a = Send("C1", short_id_, "理财礼包", "k1");
  outreach::SendResult b = Send("C2", long_id_, "专享", "k2");
  ASSERT_EQ(a.outcome, outreach::SendResult::Outcome::kSent) << a.reason;
  ASSERT_EQ(b.outcome, outreach::SendResult::Outcome::kSent) << b.reason;
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted({a.message_id, b.message_id}); }, 15'000));

  std::vector<json::value> binds = peer_.Events("bind");
  ASSERT_EQ(binds.size(), 1u);
  EXPECT_EQ(Str(binds[0], "system_id"), kSystemId);
  EXPECT_TRUE(binds[0].at("password_ok").as_bool());
  EXPECT_EQ(Str(binds[0], "system_type"), "mkt");

  const std::string short_body = Body("C1", a.message_id);
  const std::string long_body = Body("C2", b.message_id);
  EXPECT_NE(short_body.find("张*您好"), std::string::npos) << short_body;
  std::vector<Received> c1 = ReceivedBy("13812341234");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].text, short_body);
  EXPECT_EQ(c1[0].parts, 1);
  // Chinese with the 【】 signature is not GSM 03.38: UCS-2.
  EXPECT_EQ(c1[0].data_codings, std::set<int64_t>{8});

  // The long message: ceil(units / 67) parts, each header carrying the same reference.
  const int64_t units = static_cast<int64_t>(outreach::Utf8ToUtf16(long_body).size());
  ASSERT_GT(units, 134);  // three parts
  int dups = 0;
  std::vector<Received> c2 = ReceivedBy("13900001111", &dups);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].parts, (units + 66) / 67);
  EXPECT_EQ(c2[0].text, long_body);
  EXPECT_EQ(c2[0].data_codings, std::set<int64_t>{8});
  EXPECT_EQ(dups, 0);
  EXPECT_EQ(Record(b.message_id).segments, c2[0].parts);
  EXPECT_EQ(Record(b.message_id).accepted.size(), static_cast<size_t>(c2[0].parts));
  for (const json::value& s : peer_.Accepted()) {
    EXPECT_EQ(Str(s, "source_addr"), "10690001");
    EXPECT_EQ(Int(s, "registered_delivery"), 1);
  }

  // Shutdown unbinds.
  app_->Shutdown();
  EXPECT_TRUE(Peer::WaitFor([&] { return !peer_.Events("unbind").empty(); }, 5000));
}

TEST_F(SmppTest, DeliveryReceiptsUpdateTheMessagesStatus) {
  Boot();
  Prepare();
  outreach::SendResult a = Send("C1", short_id_, "礼包", "k1");
  outreach::SendResult b = Send("C2", long_id_, "礼包", "k2");
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted({a.message_id, b.message_id}); }, 15'000));
  std::vector<Received> c1 = ReceivedBy("13812341234");
  std::vector<Received> c2 = ReceivedBy("13900001111");
  ASSERT_EQ(c1.size(), 1u);
  ASSERT_EQ(c2.size(), 1u);
  ASSERT_GE(c2[0].smsc_ids.size(), 2u);

  // C1: a receipt in the text only; an intermediate ENROUTE before it records nothing.
  peer_.Command({{"cmd", "receipt"}, {"message_id", c1[0].smsc_ids[0]}, {"stat", "ENROUTE"}});
  peer_.Command({{"cmd", "receipt"}, {"message_id", c1[0].smsc_ids[0]}, {"stat", "DELIVRD"}});
  // C2: every part delivered but one, whose receipt (with TLVs) says UNDELIV.
  for (size_t i = 0; i < c2[0].smsc_ids.size(); ++i) {
    const bool last = i + 1 == c2[0].smsc_ids.size();
    peer_.Command({{"cmd", "receipt"},
                   {"message_id", c2[0].smsc_ids[i]},
                   {"stat", last ? "UNDELIV" : "DELIVRD"},
                   {"err", last ? "013" : "000"},
                   {"tlv", true}});
  }
  const size_t receipts = 2 + c2[0].smsc_ids.size();
  ASSERT_TRUE(
      Peer::WaitFor([&] { return peer_.Events("deliver_sm_resp").size() >= receipts; }, 10'000));
  for (const json::value& r : peer_.Events("deliver_sm_resp")) EXPECT_EQ(Int(r, "status"), 0);

  auto ra = app_->webhook_store().GetReceipt(std::stoll(a.message_id));
  ASSERT_TRUE(ra.ok() && ra->has_value());
  EXPECT_EQ((*ra)->status, "delivered");
  auto rb = app_->webhook_store().GetReceipt(std::stoll(b.message_id));
  ASSERT_TRUE(rb.ok() && rb->has_value());
  EXPECT_EQ((*rb)->status, "failed");
  EXPECT_EQ((*rb)->reason, "stat:UNDELIV err:013");

  // The contact history shows the receipts.
  json::value h = Expect(op_->Fetch("GET", "/v1/customers/C1/contacts"), 200);
  bool shown = false;
  for (const json::value& m : h.at("messages").as_array()) {
    if (std::to_string(Int(m, "id")) != a.message_id) continue;
    EXPECT_EQ(Str(m.at("delivery").at("receipt"), "status"), "delivered");
    shown = true;
  }
  EXPECT_TRUE(shown) << h;
  EXPECT_EQ(app_->smpp_channel()->stats().receipts, static_cast<int64_t>(receipts));
}

TEST_F(SmppTest, EnquireLinkIsSentWhenIdleAndAnswered) {
  options_.smpp.enquire_link_ms = 300;
  Boot();
  ASSERT_TRUE(Peer::WaitFor([&] { return peer_.Events("enquire_link").size() >= 2; }, 10'000));
  peer_.Command({{"cmd", "enquire_link"}});
  ASSERT_TRUE(Peer::WaitFor([&] { return !peer_.Events("enquire_link_resp").empty(); }, 5000));
  EXPECT_GE(app_->smpp_channel()->stats().enquire_links_answered, 1);
  EXPECT_GE(app_->smpp_channel()->stats().enquire_links_sent, 2);
  EXPECT_EQ(app_->smpp_channel()->stats().disconnects, 0);
  EXPECT_EQ(peer_.Events("bind").size(), 1u);
}

TEST_F(SmppTest, ThrottlingIsHonouredAndEveryMessageAcceptedExactlyOnce) {
  Boot();
  Prepare();
  peer_.Command({{"cmd", "throttle"}, {"n", 7}});
  std::vector<std::string> ids;
  std::set<std::string> bodies;
  for (int i = 0; i < 12; ++i) {
    outreach::SendResult r =
        Send("C1", short_id_, "产品" + std::to_string(i), "t" + std::to_string(i));
    ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent) << r.reason;
    ids.push_back(r.message_id);
    bodies.insert(Body("C1", r.message_id));
  }
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted(ids); }, 20'000));
  int refused = 0;
  for (const json::value& s : peer_.Events("submit")) {
    if (Int(s, "status") != 0) {
      EXPECT_EQ(Int(s, "status"), 0x58);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 7);
  std::multiset<std::string> got;
  for (const Received& r : ReceivedBy("13812341234")) got.insert(r.text);
  EXPECT_EQ(got.size(), 12u);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), bodies);
  EXPECT_EQ(app_->smpp_channel()->stats().throttled, 7);
  EXPECT_EQ(app_->smpp_channel()->stats().failed, 0);
  // /metrics: the link is up, the throttling answers and the records are counted.
  http::TestClient metrics(app_->port());
  auto metric = [&](const std::string& series) {
    const std::string body = metrics.Fetch("GET", "/metrics").body;
    // A sample line starts with the series (its # HELP line has the name too).
    const size_t at = body.find("\n" + series + " ");
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + series.size() + 2));
  };
  EXPECT_TRUE(Peer::WaitFor(
      [&] { return metric(R"(mercator_smpp_outbound{state="submitted"})") == 12; }, 5000));
  EXPECT_EQ(metric("mercator_smpp_bound"), 1);
  EXPECT_EQ(metric(R"(mercator_smpp_events_total{kind="throttled"})"), 7);
  EXPECT_EQ(metric(R"(mercator_smpp_events_total{kind="accepted"})"), 12);
}

TEST_F(SmppTest, InboundTOptsTheCustomerOut) {
  Boot();
  Prepare();
  // A reply that is not a keyword changes nothing.
  peer_.Command({{"cmd", "mo"}, {"from", "8613812341234"}, {"text", "谢谢"}, {"ucs2", true}});
  ASSERT_TRUE(Peer::WaitFor([&] { return peer_.Events("deliver_sm_resp").size() >= 1; }, 5000));
  EXPECT_EQ(Send("C1", short_id_, "x", "before").outcome, outreach::SendResult::Outcome::kSent);

  peer_.Command({{"cmd", "mo"}, {"from", "8613812341234"}, {"text", "T"}});
  peer_.Command({{"cmd", "mo"}, {"from", "13900001111"}, {"text", "退订"}, {"ucs2", true}});
  ASSERT_TRUE(Peer::WaitFor([&] { return peer_.Events("deliver_sm_resp").size() >= 3; }, 5000));
  for (const json::value& r : peer_.Events("deliver_sm_resp")) EXPECT_EQ(Int(r, "status"), 0);

  for (const char* c : {"C1", "C2"}) {
    auto opt_outs = app_->outreach_store().ListOptOuts(c);
    ASSERT_TRUE(opt_outs.ok());
    ASSERT_EQ(opt_outs->size(), 1u) << c;
    EXPECT_EQ((*opt_outs)[0].channel, "sms");
    EXPECT_EQ((*opt_outs)[0].source, "sms_reply");
    outreach::SendResult after = Send(c, short_id_, "x", std::string("after-") + c);
    EXPECT_EQ(after.outcome, outreach::SendResult::Outcome::kSuppressed);
    EXPECT_EQ(after.reason, "opted_out");
  }
  // Audited like a reply through /v1/webhooks/replies.
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?action=contact.opt_out"), 200);
  EXPECT_NE(json::serialize(audit).find("sms_reply"), std::string::npos) << audit;
  EXPECT_EQ(app_->smpp_channel()->stats().opt_outs, 2);
}

TEST_F(SmppTest, ReconnectsAfterTheSmscDropsWithoutLosingOrDuplicating) {
  Boot();
  Prepare();
  // The SMSC answers 5 more submits, then drops the link; submits already on their way are
  // never answered (lost with the connection) and must be submitted again.
  peer_.Command({{"cmd", "delay"}, {"ms", 5}});
  peer_.Command({{"cmd", "drop_after"}, {"n", 5}});
  std::vector<std::string> ids;
  std::map<std::string, std::string> bodies;  // body -> customer
  ASSERT_NO_FATAL_FAILURE(SendMix(30, "r", &ids, &bodies));
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted(ids); }, 30'000));
  EXPECT_GE(peer_.Events("bind").size(), 2u);
  EXPECT_GE(app_->smpp_channel()->stats().disconnects, 1);
  // Submits were in flight when the link went: the peer received them but never answered.
  EXPECT_GE(peer_.Events("ignored").size(), 1u);

  EXPECT_EQ(bodies.size(), 30u);
  ExpectEachOnce(bodies);
}

TEST_F(SmppTest, GsmTextGoesAsGsm7AndThePeerDecodesIt) {
  Boot();
  Prepare();
  // Every character of the default alphabet's extension table, and a few of the basic one
  // that ASCII lacks or places elsewhere (@ is septet 0, _ is 0x11, £ ¥ è are 0x01 0x03 0x04).
  const std::string otp = "Your code is 493817. Fee €0 ^ {ok} [x] ~ | \\ @£¥è_ Reply T to stop";
  // 152 septets, then € whose escape pair would straddle the 153-septet boundary.
  std::string head;
  while (head.size() < 152) head += "Dear customer, your card ending 1234 was used. ";
  head.resize(152);
  const std::string tail = " 25.00 at ACME; not you? Call 95555.";
  const std::string long_text = head + "€" + tail;
  const std::string a = SendText("C1", otp, "g1");
  const std::string b = SendText("C2", long_text, "g2");
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted({a, b}); }, 15'000));

  // The peer's own GSM 03.38 decoder (smpp's gsmCoder, unpacked septets) gives the text back.
  std::vector<Received> c1 = ReceivedBy("13812341234");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].text, otp);
  EXPECT_EQ(c1[0].parts, 1);
  EXPECT_EQ(c1[0].data_codings, std::set<int64_t>{0});

  int dups = 0;
  std::vector<Received> c2 = ReceivedBy("13900001111", &dups);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(dups, 0);
  EXPECT_EQ(c2[0].data_codings, std::set<int64_t>{0});
  EXPECT_EQ(c2[0].text, long_text);
  // 152 + 2 + 36 septets: the first part ends before the escape, the second starts with €.
  ASSERT_EQ(c2[0].parts, 2);
  EXPECT_EQ(c2[0].part_texts[0], head);
  EXPECT_EQ(c2[0].part_texts[1], "€" + tail);
  EXPECT_EQ(Record(b).segments, 2);
}

TEST_F(SmppTest, Gsm7NeverSendsEveryTextAsUcs2) {
  options_.smpp.gsm7 = outreach::Gsm7Mode::kNever;
  Boot();
  Prepare();
  const std::string text = "Your code is 493817. Fee €0 {ok}";
  const std::string a = SendText("C1", text, "n1");
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted({a}); }, 15'000));
  std::vector<Received> c1 = ReceivedBy("13812341234");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].text, text);
  EXPECT_EQ(c1[0].data_codings, std::set<int64_t>{8});
}

TEST_F(SmppTest, ThreeConnectionsShareTheLoadAndSurviveOneDropped) {
  options_.smpp.connections = 3;
  Boot();
  Prepare();
  ASSERT_TRUE(Peer::WaitFor([&] { return peer_.Events("bind").size() >= 3; }, 10'000));
  ASSERT_TRUE(Peer::WaitFor([&] { return app_->smpp_channel()->stats().bound_links == 3; }, 5000));
  EXPECT_EQ(peer_.Events("bind").size(), 3u);
  std::set<int64_t> first_sessions;
  for (const json::value& b : peer_.Events("bind")) {
    EXPECT_EQ(Int(b, "status"), 0);
    first_sessions.insert(Int(b, "session"));
  }
  ASSERT_EQ(first_sessions.size(), 3u);
  // The SMSC drops one of the three binds after answering 5 more submits on it; submits on
  // their way over that connection are never answered.
  const int64_t dropped = *first_sessions.begin();
  peer_.Command({{"cmd", "delay"}, {"ms", 5}});
  peer_.Command({{"cmd", "drop_after"}, {"n", 5}, {"session", dropped}});
  std::vector<std::string> ids;
  std::map<std::string, std::string> bodies;  // body -> customer
  ASSERT_NO_FATAL_FAILURE(SendMix(45, "m", &ids, &bodies));
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted(ids); }, 30'000));
  EXPECT_GE(app_->smpp_channel()->stats().disconnects, 1);
  bool closed = false;
  for (const json::value& c : peer_.Events("close")) closed |= Int(c, "session") == dropped;
  EXPECT_TRUE(closed);

  // Every message exactly once, spread over the binds.
  EXPECT_EQ(bodies.size(), 45u);
  const std::vector<Received> got = ExpectEachOnce(bodies);
  std::map<int64_t, int> by_session;
  std::map<std::string, int64_t> session_of;  // SMSC message id -> session that accepted it
  for (const json::value& s : peer_.Accepted()) {
    ++by_session[Int(s, "session")];
    session_of[Str(s, "message_id")] = Int(s, "session");
  }
  for (int64_t session : first_sessions) EXPECT_GT(by_session[session], 0) << session;
  // The peer's own count of accepted submit_sm: one per part of every message.
  int64_t parts = 0;
  for (const std::string& id : ids) parts += Record(id).segments;
  peer_.Command({{"cmd", "stats"}});
  std::vector<json::value> stats = peer_.Events("stats");
  ASSERT_FALSE(stats.empty());
  EXPECT_EQ(Int(stats.back(), "accepted"), parts);

  // Receipts come back on another bind than the one that took the part: still matched.
  ASSERT_TRUE(Peer::WaitFor([&] { return app_->smpp_channel()->stats().bound_links == 3; }, 5000));
  std::set<int64_t> live;
  for (const json::value& b : peer_.Events("bind")) live.insert(Int(b, "session"));
  for (const json::value& c : peer_.Events("close")) live.erase(Int(c, "session"));
  ASSERT_EQ(live.size(), 3u);
  EXPECT_GE(peer_.Events("bind").size(), 4u);  // the dropped one bound again
  size_t receipts = 0;
  for (const Received& r : got) {
    for (const std::string& smsc_id : r.smsc_ids) {
      int64_t other = 0;
      for (int64_t s : live) {
        if (s != session_of[smsc_id]) other = s;
      }
      peer_.Command({{"cmd", "receipt"},
                     {"message_id", smsc_id},
                     {"stat", "DELIVRD"},
                     {"tlv", true},
                     {"session", other}});
      ++receipts;
    }
  }
  ASSERT_TRUE(
      Peer::WaitFor([&] { return peer_.Events("deliver_sm_resp").size() >= receipts; }, 15'000));
  for (const json::value& r : peer_.Events("deliver_sm_resp")) EXPECT_EQ(Int(r, "status"), 0);
  for (const std::string& id : ids) {
    auto receipt = app_->webhook_store().GetReceipt(std::stoll(id));
    ASSERT_TRUE(receipt.ok() && receipt->has_value()) << id;
    EXPECT_EQ((*receipt)->status, "delivered") << id;
  }
  // A reply on the last bind opts the customer out like one on the only bind.
  peer_.Command(
      {{"cmd", "mo"}, {"from", "13812341234"}, {"text", "T"}, {"session", *live.rbegin()}});
  ASSERT_TRUE(
      Peer::WaitFor([&] { return peer_.Events("deliver_sm_resp").size() >= receipts + 1; }, 5000));
  auto opt_outs = app_->outreach_store().ListOptOuts("C1");
  ASSERT_TRUE(opt_outs.ok());
  EXPECT_EQ(opt_outs->size(), 1u);

  // /metrics counts the bound connections; shutdown unbinds every one.
  http::TestClient metrics(app_->port());
  auto bound = [&] {
    const std::string body = metrics.Fetch("GET", "/metrics").body;
    const size_t at = body.find("\nmercator_smpp_bound ");
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + 21));
  };
  EXPECT_TRUE(Peer::WaitFor([&] { return bound() == 3; }, 5000)) << bound();
  app_->Shutdown();
  ASSERT_TRUE(Peer::WaitFor([&] { return peer_.Events("unbind").size() >= 3; }, 5000));
  std::set<int64_t> unbound;
  for (const json::value& u : peer_.Events("unbind")) unbound.insert(Int(u, "session"));
  EXPECT_EQ(unbound, live);
}

TEST_F(SmppTest, ABindLeftUnansweredDoesNotHoldUpTheOtherConnection) {
  // The SMSC never answers the first bind_transceiver: that link waits (response_timeout_ms,
  // longer than the test) while the other binds and carries every message.
  options_.smpp.connections = 2;
  options_.smpp.response_timeout_ms = 120'000;
  peer_.Command({{"cmd", "hold_binds"}, {"n", 1}});
  Boot();
  Prepare();
  std::vector<std::string> ids;
  std::map<std::string, std::string> bodies;
  ASSERT_NO_FATAL_FAILURE(SendMix(6, "h", &ids, &bodies));
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted(ids); }, 15'000));
  ASSERT_EQ(peer_.Events("bind_held").size(), 1u);
  const int64_t held = Int(peer_.Events("bind_held")[0], "session");
  for (const json::value& s : peer_.Accepted()) EXPECT_NE(Int(s, "session"), held);
  ExpectEachOnce(bodies);
  // The held link is still waiting for its answer: nothing failed, one link bound.
  EXPECT_EQ(app_->smpp_channel()->stats().connect_failures, 0);
  EXPECT_EQ(app_->smpp_channel()->stats().bound_links, 1);
}

TEST_F(SmppTest, PendingMessagesGoOutOnceAfterARestart) {
  Boot();
  Prepare();
  ASSERT_TRUE(Peer::WaitFor([&] { return !peer_.Events("bind").empty(); }, 10'000));
  // The SMSC holds its answers: the submits are in flight when Mercator stops.
  peer_.Command({{"cmd", "delay"}, {"ms", 60'000}});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(
        Send("C1", short_id_, "产品" + std::to_string(i), "p" + std::to_string(i)).message_id);
  }
  ASSERT_TRUE(Peer::WaitFor([&] { return app_->smpp_channel()->stats().submits >= 3; }, 10'000));
  app_->Shutdown();
  app_.reset();
  EXPECT_FALSE(peer_.Events("unbind").empty());
  EXPECT_TRUE(peer_.Accepted().empty());

  peer_.Command({{"cmd", "delay"}, {"ms", 0}});
  auto app = App::Open(options_);
  ASSERT_TRUE(app.ok()) << app.status();
  app_ = std::move(*app);
  ASSERT_TRUE(app_->Start().ok());
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted(ids); }, 15'000));
  int dups = 0;
  std::vector<Received> got = ReceivedBy("13812341234", &dups);
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(dups, 0);
}

TEST_F(SmppTest, SentSmsWithoutAnOutboundRecordIsAdoptedAtStart) {
  Boot();
  Prepare();
  // A process that died between recording the message and enqueueing it left this row.
  MessageRow m;
  m.dedupe_key = "crashed";
  m.customer = "C2";
  m.channel = "sms";
  m.purpose = "marketing";
  m.template_id = short_id_;
  m.origin = "campaign:9";
  m.status = "sent";
  m.body = "【示例银行】李*您好，崩溃前记录的消息。回T退订";
  m.created_ms = clock_.NowMs();
  auto recorded = app_->outreach_store().RecordMessage(m, 0, 0);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  const std::string id = std::to_string(recorded->row.id);
  app_->Shutdown();
  app_.reset();

  auto app = App::Open(options_);
  ASSERT_TRUE(app.ok()) << app.status();
  app_ = std::move(*app);
  ASSERT_TRUE(app_->Start().ok());
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted({id}); }, 15'000));
  std::vector<Received> got = ReceivedBy("13900001111");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, m.body);
}

TEST_F(SmppTest, WrongPasswordIsRefusedAndNothingIsSent) {
  options_.smpp.password = "wrong";
  Boot();
  Prepare();
  outreach::SendResult r = Send("C1", short_id_, "x", "k");
  ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent);
  ASSERT_TRUE(Peer::WaitFor([&] { return peer_.Events("bind").size() >= 2; }, 10'000));
  for (const json::value& b : peer_.Events("bind")) {
    EXPECT_FALSE(b.at("password_ok").as_bool());
    EXPECT_EQ(Int(b, "status"), 0x0D);
  }
  EXPECT_TRUE(peer_.Events("submit").empty());
  EXPECT_EQ(Record(r.message_id).state, "pending");
  EXPECT_GE(app_->smpp_channel()->stats().connect_failures, 2);
  EXPECT_FALSE(app_->smpp_channel()->stats().bound);
}

// An SMSC given by name: "localhost" is looked up on the resolver thread (not as an IP literal),
// and the link binds and submits through whichever of its addresses takes the connection (the
// peer listens on 127.0.0.1 only; localhost may list ::1 first).
TEST_F(SmppTest, AnSmscGivenByNameIsLookedUpAndBinds) {
  options_.smpp.host = "localhost";
  Boot();
  Prepare();
  outreach::SendResult r = Send("C1", short_id_, "理财礼包", "k1");
  ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent) << r.reason;
  ASSERT_TRUE(Peer::WaitFor([&] { return AllSubmitted({r.message_id}); }, 15'000));
  EXPECT_EQ(ReceivedBy("13812341234").size(), 1u);
  EXPECT_EQ(peer_.Events("bind").size(), 1u);
}

// A name that does not resolve (.invalid never does, RFC 6761) is a connect failure like any
// other: counted, retried with back-off, the message kept pending; the server keeps answering.
TEST_F(SmppTest, AnSmscNameThatDoesNotResolveIsRetriedAndNothingIsLost) {
  options_.smpp.host = "smsc.mercator.invalid";
  Boot();
  Prepare();
  outreach::SendResult r = Send("C1", short_id_, "x", "k");
  ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent);
  ASSERT_TRUE(
      Peer::WaitFor([&] { return app_->smpp_channel()->stats().connect_failures >= 2; }, 10'000));
  EXPECT_FALSE(app_->smpp_channel()->stats().bound);
  EXPECT_TRUE(peer_.Events("bind").empty());
  EXPECT_EQ(Record(r.message_id).state, "pending");
}

TEST_F(SmppTest, RefusesUnusableConfiguration) {
  auto refused = [&](AppOptions o, const std::string& field) {
    auto app = App::Open(o);
    ASSERT_FALSE(app.ok()) << field;
    EXPECT_EQ(app.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(app.status().message()).rfind(field, 0), 0u) << app.status();
  };
  AppOptions o = options_;
  o.smpp.password = "longer-than-8";
  refused(o, "smpp.password:");
  o = options_;
  o.smpp.system_id = "";
  refused(o, "smpp.system_id:");
  o = options_;
  o.smpp.window = 0;
  refused(o, "smpp.window:");
  for (int32_t n : {0, 17}) {
    o = options_;
    o.smpp.connections = n;
    refused(o, "smpp.connections:");
  }
  o = options_;
  o.webhook.channels = {"sms"};
  o.webhook.url = "http://127.0.0.1:9/x";
  o.webhook.secret = "0123456789abcdef0123";
  refused(o, "smpp.address:");
}

}  // namespace
}  // namespace mercator
