// The webhook channel end to end on the real App with real SQLite files: a fake bank platform
// (a real http::Server in this process) receives every message, checks each request's
// signature with an independent HMAC-SHA256 (OpenSSL, not the production signing code) and
// answers from a script: 500 twice then 200 (retries, then delivered), 400 (dead letter at
// once, no retry), a hang past the timeout (retried), nothing listening (retries, then dead).
// Operators list and retry dead letters (audited); the platform's receipts and "T" replies come
// back through /v1/webhooks/* as a signed API client and show in the contact history and the
// contact policy. A child process killed with SIGKILL while its request is in flight leaves
// the record pending; the restarted App delivers it, the platform sees every message id and
// Mercator marks each delivered exactly once.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "http/server.h"
#include "http/test_client.h"
#include "outreach/webhook_channel.h"
#include "outreach_test_util.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator {
namespace {

namespace json = boost::json;

using test::Int;
using test::Parse;
using test::Str;
using test::TempDir;

// Monday 2026-11-23 10:00 in Shanghai (02:00 UTC): outside quiet hours.
constexpr int64_t kMonday10 = 1795399200000;
constexpr char kSecret[] = "platform-shared-secret-0123456789";
constexpr char kSms[] = "【示例银行】{{name}}您好，您的专属理财礼包已到账，详询客户经理。回T退订";

// HMAC-SHA256 by OpenSSL, hex: the oracle for the X-Mercator-Signature header.
std::string OpenSslHmacHex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

// The bank's SMS/push platform. Each request takes the next scripted answer (a status, or
// kHang: hold the request until released or hang_ms pass); an empty script answers 200.
class FakePlatform {
 public:
  static constexpr int kHang = -1;

  explicit FakePlatform(const Clock* clock) : clock_(clock) {
    router_.Add(http::Method::kPost, "/sms", http::Auth::kPublic,
                [this](http::Request& req) { return Handle(req); });
    http::ServerOptions so;
    so.port = 0;
    so.io_threads = 1;
    so.worker_threads = 6;
    server_ = std::make_unique<http::Server>(so, router_, &metrics_);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakePlatform() {
    release_ = true;
    server_->Drain();
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/sms"; }
  void Script(std::vector<int> answers) {
    absl::MutexLock lock(&mu_);
    script_.assign(answers.begin(), answers.end());
  }
  void Release() { release_ = true; }

  int requests() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(bodies_.size());
  }
  int bad_signatures() {
    absl::MutexLock lock(&mu_);
    return bad_signatures_;
  }
  // Requests per message id (the receiver's dedupe keys).
  std::map<std::string, int> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  std::vector<json::value> bodies() {
    absl::MutexLock lock(&mu_);
    return bodies_;
  }

 private:
  http::Response Handle(http::Request& req) {
    int answer = 200;
    {
      absl::MutexLock lock(&mu_);
      // Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, t within
      // five minutes of the sender's clock.
      const std::string header(req.Header("x-mercator-signature"));
      const size_t comma = header.find(",v1=");
      bool ok = header.rfind("t=", 0) == 0 && comma != std::string::npos;
      if (ok) {
        const std::string t = header.substr(2, comma - 2);
        const std::string v1 = header.substr(comma + 4);
        ok = v1 == OpenSslHmacHex(kSecret, t + "." + req.body) &&
             std::llabs(std::stoll(t) - clock_->NowMs() / 1000) <= 300;
      }
      if (!ok) ++bad_signatures_;
      json::value body = Parse(req.body);
      bodies_.push_back(body);
      const std::string id = Str(body, "message_id");
      if (id.empty() || std::string(req.Header("x-mercator-message-id")) != id) ++bad_signatures_;
      ++seen_[id];
      if (!script_.empty()) {
        answer = script_.front();
        script_.pop_front();
      }
    }
    if (answer == kHang) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!release_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      answer = 503;
    }
    return http::Response::Json(answer, R"({"error":"scripted"})");
  }

  const Clock* const clock_;
  http::Router router_;
  http::Metrics metrics_;
  std::atomic<bool> release_{false};
  absl::Mutex mu_;
  std::deque<int> script_ ABSL_GUARDED_BY(mu_);
  std::vector<json::value> bodies_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> seen_ ABSL_GUARDED_BY(mu_);
  int bad_signatures_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<http::Server> server_;
};

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = test::OutreachServerOptions(dir_.path(), &clock_);
    options_.webhook.channels = {"sms", "app_push"};
    options_.webhook.url = platform_.Url();
    options_.webhook.secret = kSecret;
    options_.webhook.timeout_ms = 300;
    options_.webhook.max_attempts = 3;
    options_.webhook.backoff_base_ms = 1000;
    options_.webhook.backoff_max_ms = 60'000;
    options_.webhook.interval_ms = 0;  // the test drives the dispatcher
  }

  void Boot() {
    Reopen();
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    ASSERT_TRUE(admin_ && op_ && approver_);
  }

  // Opens and starts the App on the data directory (staff accounts stay from a first Boot).
  void Reopen() {
    auto app = App::Open(options_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    ASSERT_NE(app_->webhook_dispatcher(), nullptr);
    client_ = std::make_unique<http::TestClient>(app_->port());
  }

  // Customers C1, C2 with marketing consent on sms and app_push, no caps, and an approved sms
  // template.
  void Prepare() {
    json::array customers{
        json::object{{"external_id", "C1"}, {"name", "张三"}, {"phone", "13812341234"}},
        json::object{{"external_id", "C2"}, {"name", "李四"}, {"phone", "13900001111"}}};
    Expect(admin_->Fetch("POST", "/v1/customers/batch",
                         json::serialize(json::object{{"customers", customers}})),
           200);
    for (const char* c : {"C1", "C2"}) {
      for (const char* ch : {"sms", "app_push"}) {
        Expect(op_->Fetch("POST", std::string("/v1/customers/") + c + "/consents",
                          json::serialize(json::object{{"channel", ch},
                                                       {"purpose", "marketing"},
                                                       {"granted", true},
                                                       {"source", "app"},
                                                       {"text_version", "v3"}})),
               201);
      }
    }
    Expect(op_->Fetch("PUT", "/v1/contact-policy", R"({"day_cap":0,"week_cap":0})"), 200);
    json::value t = Expect(
        op_->Fetch(
            "POST", "/v1/templates",
            json::serialize(json::object{
                {"name", "gift"}, {"channel", "sms"}, {"purpose", "marketing"}, {"body", kSms}})),
        201);
    template_id_ = Int(t, "id");
    json::value s = Expect(
        op_->Fetch("POST", "/v1/templates/" + std::to_string(template_id_) + "/submit"), 200);
    Expect(approver_->Fetch("POST",
                            "/v1/approvals/" + std::to_string(Int(s, "approval_id")) + "/approve",
                            R"({"comment":"ok"})"),
           200);
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  outreach::SendResult Send(const std::string& customer, const std::string& key) {
    outreach::Message m;
    m.customer = customer;
    m.channel = "sms";
    m.template_id = std::to_string(template_id_);
    m.origin = "campaign:7";
    m.dedupe_key = key;
    absl::StatusOr<outreach::SendResult> r = app_->outreach().Send(m);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : outreach::SendResult{};
  }

  outreach::WebhookDispatcher::Pass Run() {
    absl::StatusOr<outreach::WebhookDispatcher::Pass> p = app_->webhook_dispatcher()->RunOnce();
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : outreach::WebhookDispatcher::Pass{};
  }

  WebhookOutboundRow Record(const std::string& message_id) {
    auto r = app_->webhook_store().Get(std::stoll(message_id));
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && r->has_value() ? **r : WebhookOutboundRow{};
  }

  // The message's "delivery" in the customer's contact history.
  json::value Delivery(const std::string& customer, const std::string& message_id) {
    json::value h = Expect(op_->Fetch("GET", "/v1/customers/" + customer + "/contacts"), 200);
    for (const json::value& m : h.at("messages").as_array()) {
      if (std::to_string(Int(m, "id")) == message_id) return m.at("delivery");
    }
    ADD_FAILURE() << "message " << message_id << " not in " << h;
    return nullptr;
  }

  double Metric(const std::string& series) {
    http::HttpResult m = client_->Fetch("GET", "/metrics");
    const size_t at = m.body.find(series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(m.body.substr(at + series.size() + 1));
  }

  test::ApiKey CreateClient(const char* scope) {
    http::HttpResult c = admin_->Fetch(
        "POST", "/v1/clients",
        json::serialize(json::object{{"name", "SMS platform"}, {"scopes", json::array{scope}}}));
    EXPECT_EQ(c.status, 201) << c.body;
    return {Str(Parse(c.body), "key_id"), Str(Parse(c.body), "secret")};
  }

  TempDir dir_;
  FakeClock clock_{kMonday10};
  FakePlatform platform_{&clock_};
  AppOptions options_;
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_;
  std::unique_ptr<http::TestClient> client_;
  int64_t template_id_ = 0;
};

TEST_F(WebhookTest, ServerErrorsAreRetriedWithBackoffThenDelivered) {
  Boot();
  Prepare();
  platform_.Script({500, 500, 200});
  outreach::SendResult r = Send("C1", "k1");
  ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent) << r.reason;
  EXPECT_EQ(Record(r.message_id).state, "pending");

  EXPECT_EQ(Run().retried, 1);
  EXPECT_EQ(Record(r.message_id).attempts, 1);
  // Not due before the back-off (1 s) has passed.
  clock_.Advance(999);
  Run();
  EXPECT_EQ(platform_.requests(), 1);
  clock_.Advance(1);
  EXPECT_EQ(Run().retried, 1);
  // The second back-off is twice the first.
  clock_.Advance(1999);
  Run();
  EXPECT_EQ(platform_.requests(), 2);
  clock_.Advance(1);
  EXPECT_EQ(Run().delivered, 1);
  EXPECT_EQ(platform_.requests(), 3);
  EXPECT_EQ(platform_.bad_signatures(), 0);
  clock_.Advance(3'600'000);
  Run();
  EXPECT_EQ(platform_.requests(), 3);

  // The body: the recorded message, rendered (name masked), with its template and origin.
  const json::value body = platform_.bodies().back();
  EXPECT_EQ(Str(body, "message_id"), r.message_id);
  EXPECT_EQ(Str(body, "channel"), "sms");
  EXPECT_EQ(Str(body, "customer"), "C1");
  EXPECT_EQ(Str(body, "text"),
            "【示例银行】张*您好，您的专属理财礼包已到账，详询客户经理。回T退订");
  EXPECT_EQ(Str(body, "template_id"), std::to_string(template_id_));
  EXPECT_EQ(Str(body, "origin"), "campaign:7");

  const WebhookOutboundRow row = Record(r.message_id);
  EXPECT_EQ(row.state, "delivered");
  EXPECT_EQ(row.attempts, 3);
  auto outcomes = app_->webhook_store().AttemptOutcomes(std::stoll(r.message_id));
  ASSERT_TRUE(outcomes.ok());
  EXPECT_EQ(*outcomes, (std::map<std::string, int64_t>{{"delivered", 1}, {"retry", 2}}));
  json::value d = Delivery("C1", r.message_id);
  EXPECT_EQ(Str(d.at("webhook"), "state"), "delivered");
  EXPECT_EQ(Int(d.at("webhook"), "attempts"), 3);
  EXPECT_TRUE(d.at("receipt").is_null());
  EXPECT_EQ(Metric("mercator_webhook_outbound{state=\"delivered\"}"), 1);
  EXPECT_EQ(Metric("mercator_webhook_outbound{state=\"pending\"}"), 0);
  EXPECT_EQ(Metric("mercator_webhook_attempts_total{outcome=\"retry\"}"), 2);
  EXPECT_EQ(Metric("mercator_webhook_attempts_total{outcome=\"delivered\"}"), 1);
}

TEST_F(WebhookTest, ClientErrorIsDeadAtOnceAndOperatorRetries) {
  Boot();
  Prepare();
  platform_.Script({400});
  outreach::SendResult r = Send("C1", "k1");
  EXPECT_EQ(Run().dead, 1);
  clock_.Advance(3'600'000);
  Run();
  EXPECT_EQ(platform_.requests(), 1);  // no retry after a 4xx
  EXPECT_EQ(Record(r.message_id).state, "dead");
  EXPECT_EQ(Metric("mercator_webhook_outbound{state=\"dead\"}"), 1);

  json::value dead = Expect(op_->Fetch("GET", "/v1/outreach/webhook/dead-letters"), 200);
  ASSERT_EQ(dead.at("items").as_array().size(), 1u) << dead;
  const json::value& item = dead.at("items").as_array()[0];
  EXPECT_EQ(Str(item, "message_id"), r.message_id);
  EXPECT_EQ(Str(item, "last_error"), R"(HTTP 400: {"error":"scripted"})");
  EXPECT_EQ(Str(Delivery("C1", r.message_id).at("webhook"), "state"), "dead");
  // The approver may read nothing of it and retry nothing.
  EXPECT_EQ(approver_->Fetch("GET", "/v1/outreach/webhook/dead-letters").status, 403);
  EXPECT_EQ(approver_->Fetch("POST", "/v1/outreach/webhook/dead-letters/" + r.message_id + "/retry")
                .status,
            403);

  // The operator retries after the platform was fixed: pending again, then delivered.
  json::value retried = Expect(
      op_->Fetch("POST", "/v1/outreach/webhook/dead-letters/" + r.message_id + "/retry"), 200);
  EXPECT_EQ(Str(retried, "state"), "pending");
  EXPECT_EQ(Int(retried, "attempts"), 0);
  EXPECT_EQ(Run().delivered, 1);
  EXPECT_EQ(platform_.requests(), 2);
  EXPECT_EQ(Record(r.message_id).state, "delivered");
  dead = Expect(op_->Fetch("GET", "/v1/outreach/webhook/dead-letters"), 200);
  EXPECT_TRUE(dead.at("items").as_array().empty());
  // Not dead any more: a second retry is a conflict; an unknown id is not found.
  EXPECT_EQ(
      op_->Fetch("POST", "/v1/outreach/webhook/dead-letters/" + r.message_id + "/retry").status,
      409);
  EXPECT_EQ(op_->Fetch("POST", "/v1/outreach/webhook/dead-letters/999999/retry").status, 404);
  // The retry is in the audit log with the operator and the reason it was dead.
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?limit=200"), 200);
  int found = 0;
  for (const json::value& e : audit.at("entries").as_array()) {
    if (Str(e, "action") == "webhook.retry" && Str(e, "object_id") == r.message_id) {
      ++found;
      EXPECT_EQ(Str(e, "actor"), "user:olivia");
    }
  }
  EXPECT_EQ(found, 1) << audit;
}

TEST_F(WebhookTest, TimeoutIsRetriedAndTheReceiverDedupes) {
  Boot();
  Prepare();
  platform_.Script({FakePlatform::kHang, 200});
  outreach::SendResult r = Send("C2", "k1");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run().retried, 1);
  // The attempt gave up at its timeout (300 ms), not when the platform answered.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(Record(r.message_id).last_error, "");
  clock_.Advance(1000);
  EXPECT_EQ(Run().delivered, 1);
  // At least once: the platform saw the message twice and keeps it once by its id.
  EXPECT_EQ(platform_.seen(), (std::map<std::string, int>{{r.message_id, 2}}));
  EXPECT_EQ(platform_.bad_signatures(), 0);
  platform_.Release();
}

TEST_F(WebhookTest, UnreachablePlatformIsDeadAfterMaxAttempts) {
  // A port nothing listens on: connection refused on every attempt.
  {
    FakePlatform gone(&clock_);
    options_.webhook.url = gone.Url();
  }
  Boot();
  Prepare();
  outreach::SendResult r = Send("C1", "k1");
  EXPECT_EQ(Run().retried, 1);
  clock_.Advance(1000);
  EXPECT_EQ(Run().retried, 1);
  clock_.Advance(2000);
  EXPECT_EQ(Run().dead, 1);
  const WebhookOutboundRow row = Record(r.message_id);
  EXPECT_EQ(row.state, "dead");
  EXPECT_EQ(row.attempts, 3);
  EXPECT_EQ(row.last_error.rfind("after 3 attempts: ", 0), 0u) << row.last_error;
}

TEST_F(WebhookTest, ReceiptsAndOptOutReplies) {
  Boot();
  Prepare();
  const test::ApiKey platform = CreateClient("webhooks");
  const test::ApiKey app_backend = CreateClient("events");
  outreach::SendResult r = Send("C1", "k1");
  EXPECT_EQ(Run().delivered, 1);

  auto post = [&](const test::ApiKey& key, const std::string& target, const json::object& body) {
    return test::SignedFetch(*client_, key, clock_.NowMs(), "POST", target, json::serialize(body));
  };
  const json::object receipt{{"message_id", r.message_id},
                             {"status", "delivered"},
                             {"occurred_at", "2026-11-23T10:00:05+08:00"}};
  json::value first = Expect(post(platform, "/v1/webhooks/receipts", receipt), 200);
  EXPECT_FALSE(test::Bool(first, "replayed"));
  EXPECT_EQ(Str(first, "occurred_at").substr(0, 19), "2026-11-23T02:00:05");
  // Idempotent: a repeat (even a contradicting one) answers the first receipt.
  json::value again = Expect(
      post(platform, "/v1/webhooks/receipts",
           json::object{{"message_id", r.message_id}, {"status", "failed"}, {"reason", "UNDELIV"}}),
      200);
  EXPECT_TRUE(test::Bool(again, "replayed"));
  EXPECT_EQ(Str(again, "status"), "delivered");
  json::value d = Delivery("C1", r.message_id);
  EXPECT_EQ(Str(d.at("receipt"), "status"), "delivered");
  EXPECT_EQ(Str(d.at("webhook"), "state"), "delivered");
  // Bad input names the field; unknown messages are not found; other scopes and staff are
  // refused.
  http::HttpResult bad = post(platform, "/v1/webhooks/receipts",
                              json::object{{"message_id", r.message_id}, {"status", "read"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("status"), std::string::npos) << bad.body;
  EXPECT_EQ(post(platform, "/v1/webhooks/receipts",
                 json::object{{"message_id", "987654"}, {"status", "delivered"}})
                .status,
            404);
  EXPECT_EQ(
      post(platform, "/v1/webhooks/receipts",
           json::object{
               {"message_id", r.message_id}, {"status", "delivered"}, {"occurred_at", "yesterday"}})
          .status,
      400);
  EXPECT_EQ(post(app_backend, "/v1/webhooks/receipts", receipt).status, 403);
  EXPECT_EQ(op_->Fetch("POST", "/v1/webhooks/receipts", json::serialize(receipt)).status, 403);

  // A failed receipt of another message keeps the platform's reason.
  outreach::SendResult r2 = Send("C2", "k2");
  Expect(post(platform, "/v1/webhooks/receipts",
              json::object{{"message_id", r2.message_id},
                           {"status", "failed"},
                           {"reason", "MK:0005 handset off"}}),
         200);
  d = Delivery("C2", r2.message_id);
  EXPECT_EQ(Str(d.at("receipt"), "status"), "failed");
  EXPECT_EQ(Str(d.at("receipt"), "reason"), "MK:0005 handset off");

  // Replies: text that is not an opt-out changes nothing; "T" from C1's phone opts C1 out of
  // sms marketing, so the next send is suppressed; "td" by external id does app_push.
  json::value none = Expect(post(platform, "/v1/webhooks/replies",
                                 json::object{{"phone", "13812341234"}, {"text", "谢谢"}}),
                            200);
  EXPECT_EQ(Str(none, "action"), "none");
  EXPECT_EQ(Send("C1", "k3").outcome, outreach::SendResult::Outcome::kSent);
  json::value out = Expect(post(platform, "/v1/webhooks/replies",
                                json::object{{"phone", "13812341234"}, {"text", " T "}}),
                           200);
  EXPECT_EQ(Str(out, "action"), "opt_out");
  EXPECT_EQ(Int(out, "customers"), 1);
  outreach::SendResult after = Send("C1", "k4");
  EXPECT_EQ(after.outcome, outreach::SendResult::Outcome::kSuppressed);
  EXPECT_EQ(after.reason, "opted_out");
  EXPECT_EQ(Send("C2", "k5").outcome, outreach::SendResult::Outcome::kSent);
  Expect(post(platform, "/v1/webhooks/replies",
              json::object{{"customer", "C2"}, {"text", "td"}, {"channel", "app_push"}}),
         200);
  json::value h = Expect(op_->Fetch("GET", "/v1/customers/C2/contacts"), 200);
  ASSERT_EQ(h.at("opt_outs").as_array().size(), 1u) << h;
  EXPECT_EQ(Str(h.at("opt_outs").as_array()[0], "channel"), "app_push");
  EXPECT_EQ(Str(h.at("opt_outs").as_array()[0], "source"), "app_push_reply");
  EXPECT_EQ(post(platform, "/v1/webhooks/replies",
                 json::object{{"customer", "C1"}, {"phone", "13812341234"}, {"text", "T"}})
                .status,
            400);
  EXPECT_EQ(
      post(platform, "/v1/webhooks/replies", json::object{{"customer", "NOBODY"}, {"text", "T"}})
          .status,
      404);
}

TEST_F(WebhookTest, DispatcherThreadDeliversWithoutBeingDriven) {
  options_.webhook.interval_ms = 50;
  Boot();
  Prepare();
  outreach::SendResult r = Send("C1", "k1");
  for (int i = 0; i < 500 && platform_.requests() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int i = 0; i < 500 && Record(r.message_id).state != "delivered"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Record(r.message_id).state, "delivered");
  EXPECT_EQ(platform_.seen(), (std::map<std::string, int>{{r.message_id, 1}}));
}

TEST_F(WebhookTest, SentMessagesLeftWithoutARecordAreAdoptedAtStart) {
  // First sms stays on the sandbox: its message has an outbox entry and is never adopted.
  options_.webhook.channels = {"app_push"};
  Boot();
  Prepare();
  const outreach::SendResult sandboxed = Send("C1", "k1");
  ASSERT_EQ(sandboxed.outcome, outreach::SendResult::Outcome::kSent);
  // A process that recorded a message and died before its channel saw it.
  MessageRow row;
  row.dedupe_key = "crashed-1";
  row.customer = "C2";
  row.channel = "sms";
  row.purpose = "marketing";
  row.template_id = template_id_;
  row.origin = "journey:3:step:s1";
  row.status = "sent";
  row.body = "【示例银行】李*您好。回T退订";
  row.created_ms = clock_.NowMs();
  auto rec = app_->outreach_store().RecordMessage(row, 0, 0);
  ASSERT_TRUE(rec.ok()) << rec.status();
  const std::string orphan = std::to_string(rec->row.id);
  app_.reset();

  options_.webhook.channels = {"sms", "app_push"};
  Reopen();
  EXPECT_EQ(Record(orphan).state, "pending");
  auto sandbox_record = app_->webhook_store().Get(std::stoll(sandboxed.message_id));
  ASSERT_TRUE(sandbox_record.ok());
  EXPECT_FALSE(sandbox_record->has_value());
  EXPECT_EQ(Run().delivered, 1);
  EXPECT_EQ(platform_.seen(), (std::map<std::string, int>{{orphan, 1}}));
  EXPECT_EQ(Str(platform_.bodies().back(), "origin"), "journey:3:step:s1");
}

TEST_F(WebhookTest, RefusesUnusableConfiguration) {
  options_.webhook.url = "ftp://sms.bank.example/send";
  auto app = App::Open(options_);
  ASSERT_FALSE(app.ok());
  EXPECT_NE(std::string(app.status().message()).find("webhook.url"), std::string::npos)
      << app.status();
  options_.webhook.url = platform_.Url();
  // An https:// platform's extra CA bundle must be readable.
  options_.http_client.ca_file = options_.data_dir + "/no-such-ca.pem";
  app = App::Open(options_);
  ASSERT_FALSE(app.ok());
  EXPECT_NE(std::string(app.status().message()).find("ca_file"), std::string::npos) << app.status();
  options_.http_client.ca_file.clear();
  options_.webhook.secret = "short";
  EXPECT_EQ(App::Open(options_).status().code(), absl::StatusCode::kInvalidArgument);
  options_.webhook.secret = kSecret;
  options_.webhook.channels = {"sms", "fax"};
  EXPECT_EQ(App::Open(options_).status().code(), absl::StatusCode::kInvalidArgument);
}

// The child of KilledMidRequestDeliversOnceAfterRestart: opens the App on the parent's data
// directory and runs the dispatcher against the hanging platform until it is killed.
TEST(WebhookCrashChild, RunsUntilKilled) {
  const char* dir = std::getenv("MERCATOR_WEBHOOK_CHILD_DATA");
  const char* url = std::getenv("MERCATOR_WEBHOOK_CHILD_URL");
  if (dir == nullptr || url == nullptr) GTEST_SKIP() << "run by the crash test only";
  FakeClock clock(kMonday10);
  AppOptions o;
  o.data_dir = dir;
  o.port = 0;
  o.clock = &clock;
  o.task_rules_interval_ms = 0;
  o.fulfilment_interval_ms = 0;
  o.points_expiry_interval_ms = 0;
  o.webhook.channels = {"sms"};
  o.webhook.url = url;
  o.webhook.secret = kSecret;
  o.webhook.timeout_ms = 120'000;
  o.webhook.interval_ms = 0;
  auto app = App::Open(o);
  ASSERT_TRUE(app.ok()) << app.status();
  (void)(*app)->webhook_dispatcher()->RunOnce();
  ADD_FAILURE() << "the child was not killed while its request was in flight";
}

TEST_F(WebhookTest, KilledMidRequestDeliversOnceAfterRestart) {
  Boot();
  Prepare();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(Send(i % 2 ? "C2" : "C1", "k" + std::to_string(i)).message_id);
  app_.reset();  // nothing delivered yet: three pending records on disk

  // The child's first request hangs at the platform; the child dies with it in flight.
  platform_.Script({FakePlatform::kHang});
  // Everything the child needs is built before fork (threads run here: only exec after it).
  const std::string env_data = "MERCATOR_WEBHOOK_CHILD_DATA=" + options_.data_dir;
  const std::string env_url = "MERCATOR_WEBHOOK_CHILD_URL=" + platform_.Url();
  char* const envp[] = {const_cast<char*>(env_data.c_str()), const_cast<char*>(env_url.c_str()),
                        nullptr};
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    execle("/proc/self/exe", "webhook_test", "--gtest_filter=WebhookCrashChild.RunsUntilKilled",
           static_cast<char*>(nullptr), envp);
    _exit(127);
  }
  for (int i = 0; i < 3000 && platform_.requests() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(platform_.requests(), 1) << "the child never reached the platform";
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  platform_.Release();

  // Restart: the in-flight message is still pending and is sent again; all three delivered.
  Reopen();
  for (const std::string& id : ids) EXPECT_EQ(Record(id).state, "pending") << id;
  EXPECT_EQ(Run().delivered, 3);
  Run();
  std::map<std::string, int> seen = platform_.seen();
  std::set<std::string> distinct;
  for (const auto& [id, n] : seen) distinct.insert(id);
  EXPECT_EQ(distinct, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(seen[ids[0]], 2);  // the one in flight at the kill: at least once
  EXPECT_EQ(platform_.bad_signatures(), 0);
  for (const std::string& id : ids) {
    EXPECT_EQ(Record(id).state, "delivered");
    auto outcomes = app_->webhook_store().AttemptOutcomes(std::stoll(id));
    ASSERT_TRUE(outcomes.ok());
    EXPECT_EQ(outcomes->at("delivered"), 1) << id;  // marked delivered exactly once
  }
}

}  // namespace
}  // namespace mercator
