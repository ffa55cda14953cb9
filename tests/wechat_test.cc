// The WeChat official-account and WeCom channels end to end on the real App with real SQLite
// files, against a fake WeChat/WeCom API (a real http::Server in this process, on the same fake
// clock) that issues access tokens with an expiry, rejects expired or revoked ones with 40001
// as WeChat does, answers sends from a script of errcodes, keeps WeCom group-send tasks whose
// per-customer status the test sets as the manager would, and records every request.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "http/server.h"
#include "http/test_client.h"
#include "openssl/evp.h"
#include "openssl/sha.h"
#include "outreach/wechat_channel.h"
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
constexpr char kAppId[] = "wx0123456789abcdef";
constexpr char kAppSecret[] = "app-secret-for-tests";
constexpr char kCorpId[] = "ww0123456789";
constexpr char kCorpSecret[] = "corp-secret-for-tests";
constexpr int64_t kExpiresIn = 7200;  // seconds, as WeChat issues them
constexpr char kPushToken[] = "push-token-for-tests";
// The account's EncodingAESKey: the 32 bytes "0123456789abcdef0123456789abcdef" in base64
// without its trailing "=".
constexpr char kAesKey[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
constexpr char kAesKeyBytes[] = "0123456789abcdef0123456789abcdef";

// WeChat's safe-mode envelope computed here with OpenSSL: AES-256-CBC (IV = the key's first 16
// bytes) over 16 random bytes, the message length (network order), the message and the appid,
// PKCS#7-padded to 32 bytes, in base64.
std::string SafeModeEncrypt(const std::string& xml, const std::string& appid) {
  std::string plain(16, 'r');
  const uint32_t n = static_cast<uint32_t>(xml.size());
  for (int shift : {24, 16, 8, 0}) plain.push_back(static_cast<char>((n >> shift) & 0xff));
  plain += xml + appid;
  const size_t pad = 32 - plain.size() % 32;
  plain.append(pad, static_cast<char>(pad));
  std::string cipher(plain.size(), '\0');
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const auto* key = reinterpret_cast<const unsigned char*>(kAesKeyBytes);
  int n1 = 0, n2 = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key, key);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(cipher.data()), &n1,
                    reinterpret_cast<const unsigned char*>(plain.data()),
                    static_cast<int>(plain.size()));
  EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(cipher.data()) + n1, &n2);
  EVP_CIPHER_CTX_free(ctx);
  std::string b64(4 * ((cipher.size() + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                  reinterpret_cast<const unsigned char*>(cipher.data()),
                                  static_cast<int>(cipher.size()));
  b64.resize(static_cast<size_t>(len));
  return b64;
}

// WeChat's push signature computed here with OpenSSL's SHA-1: the sorted concatenation of
// token, timestamp and nonce.
std::string Signature(const std::string& timestamp, const std::string& nonce) {
  std::vector<std::string> parts = {kPushToken, timestamp, nonce};
  std::sort(parts.begin(), parts.end());
  const std::string joined = parts[0] + parts[1] + parts[2];
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), d);
  std::string hex;
  for (unsigned char c : d) hex += fmt::format("{:02x}", c);
  return hex;
}

class FakeWechat {
 public:
  explicit FakeWechat(const Clock* clock) : clock_(clock) {
    router_.Add(http::Method::kGet, "/cgi-bin/token", http::Auth::kPublic,
                [this](http::Request& req) {
                  const bool ok = req.Query("grant_type") == "client_credential" &&
                                  req.Query("appid") == kAppId && req.Query("secret") == kAppSecret;
                  return Issue(ok, "oa");
                });
    router_.Add(
        http::Method::kGet, "/cgi-bin/gettoken", http::Auth::kPublic, [this](http::Request& req) {
          const bool ok = req.Query("corpid") == kCorpId && req.Query("corpsecret") == kCorpSecret;
          return Issue(ok, "wc");
        });
    router_.Add(http::Method::kPost, "/cgi-bin/message/template/send", http::Auth::kPublic,
                [this](http::Request& req) { return TemplateSend(req, "template"); });
    router_.Add(http::Method::kPost, "/cgi-bin/message/subscribe/bizsend", http::Auth::kPublic,
                [this](http::Request& req) { return TemplateSend(req, "subscribe"); });
    router_.Add(http::Method::kPost, "/cgi-bin/externalcontact/add_msg_template",
                http::Auth::kPublic, [this](http::Request& req) { return AddTask(req); });
    router_.Add(http::Method::kPost, "/cgi-bin/externalcontact/get_groupmsg_send_result",
                http::Auth::kPublic, [this](http::Request& req) { return SendResult(req); });
    http::ServerOptions so;
    so.port = 0;
    so.io_threads = 1;
    so.worker_threads = 2;
    server_ = std::make_unique<http::Server>(so, router_, &metrics_);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeWechat() { server_->Drain(); }

  std::string Base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  // The errcodes of the next template sends (then 0).
  void Script(std::vector<int> errcodes) {
    absl::MutexLock lock(&mu_);
    script_.assign(errcodes.begin(), errcodes.end());
  }
  // Every token issued so far stops working (as when another system fetched a new one).
  void RevokeTokens() {
    absl::MutexLock lock(&mu_);
    tokens_.clear();
  }
  void NotAContact(const std::string& external_userid) {
    absl::MutexLock lock(&mu_);
    not_contacts_.insert(external_userid);
  }
  // The manager's WeCom app: the task's message to this contact is sent (1) or not (2, 3).
  void SetStatus(const std::string& msgid, const std::string& external_userid, int status) {
    absl::MutexLock lock(&mu_);
    tasks_[msgid].status[external_userid] = status;
  }

  struct Task {
    std::string sender;
    std::vector<std::string> external_userids;
    std::string text;
    std::map<std::string, int> status;
  };
  int token_fetches(const std::string& kind) {
    absl::MutexLock lock(&mu_);
    return fetches_[kind];
  }
  int rejected_tokens() {
    absl::MutexLock lock(&mu_);
    return rejected_tokens_;
  }
  std::vector<json::object> sends() {
    absl::MutexLock lock(&mu_);
    return sends_;
  }
  std::map<std::string, Task> tasks() {
    absl::MutexLock lock(&mu_);
    return tasks_;
  }
  int polls() {
    absl::MutexLock lock(&mu_);
    return polls_;
  }

 private:
  static http::Response Answer(json::object o) {
    return http::Response::Json(200, json::serialize(o));
  }

  http::Response Issue(bool ok, const std::string& kind) {
    absl::MutexLock lock(&mu_);
    if (!ok) return Answer({{"errcode", 40013}, {"errmsg", "invalid appid or secret"}});
    const std::string token = kind + "-tok-" + std::to_string(++fetches_[kind]);
    tokens_[token] = clock_->NowMs() + kExpiresIn * 1000;
    return Answer({{"access_token", token}, {"expires_in", kExpiresIn}});
  }

  // 0 if the request's token is current, else WeChat's errcode (42001 expired, 40001 invalid).
  int CheckToken(const http::Request& req) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string token(req.Query("access_token").value_or(""));
    auto it = tokens_.find(token);
    if (it == tokens_.end()) return 40001;
    if (clock_->NowMs() >= it->second) return 42001;
    return 0;
  }

  // Template and subscribe messages share the token, the script of errcodes and the record
  // (`_api` says which API was called); only a template message's answer carries a msgid.
  http::Response TemplateSend(http::Request& req, const std::string& api) {
    absl::MutexLock lock(&mu_);
    if (int e = CheckToken(req); e != 0) {
      ++rejected_tokens_;
      return Answer({{"errcode", e}, {"errmsg", "invalid credential, access_token is invalid"}});
    }
    sends_.push_back(Parse(req.body).as_object());
    sends_.back()["_api"] = api;
    int errcode = 0;
    if (!script_.empty()) {
      errcode = script_.front();
      script_.pop_front();
    }
    if (errcode != 0) return Answer({{"errcode", errcode}, {"errmsg", "scripted"}});
    if (api == "subscribe") return Answer({{"errcode", 0}, {"errmsg", "ok"}});
    return Answer({{"errcode", 0}, {"errmsg", "ok"}, {"msgid", 200000 + sends_.size()}});
  }

  http::Response AddTask(http::Request& req) {
    absl::MutexLock lock(&mu_);
    if (int e = CheckToken(req); e != 0) {
      ++rejected_tokens_;
      return Answer({{"errcode", e}, {"errmsg", "invalid access_token"}});
    }
    json::object body = Parse(req.body).as_object();
    if (Str(body, "chat_type") != "single") {
      return Answer({{"errcode", 40058}, {"errmsg", "chat_type"}});
    }
    const std::string msgid = "msg" + std::to_string(tasks_.size() + 1);
    Task t;
    t.sender = Str(body, "sender");
    t.text = std::string(body.at("text").at("content").as_string());
    json::array fail_list;
    for (const json::value& v : body.at("external_userid").as_array()) {
      const std::string id(v.as_string());
      if (not_contacts_.contains(id)) {
        fail_list.emplace_back(id);
      } else {
        t.external_userids.push_back(id);
      }
    }
    tasks_[msgid] = t;
    return Answer({{"errcode", 0}, {"errmsg", "ok"}, {"fail_list", fail_list}, {"msgid", msgid}});
  }

  http::Response SendResult(http::Request& req) {
    absl::MutexLock lock(&mu_);
    if (int e = CheckToken(req); e != 0) {
      ++rejected_tokens_;
      return Answer({{"errcode", e}, {"errmsg", "invalid access_token"}});
    }
    ++polls_;
    json::object body = Parse(req.body).as_object();
    auto it = tasks_.find(Str(body, "msgid"));
    if (it == tasks_.end() || it->second.sender != Str(body, "userid")) {
      return Answer({{"errcode", 41063}, {"errmsg", "msgid not found for this userid"}});
    }
    json::array list;
    for (const std::string& id : it->second.external_userids) {
      auto s = it->second.status.find(id);
      const int status = s == it->second.status.end() ? 0 : s->second;
      json::object e{{"external_userid", id}, {"userid", it->second.sender}, {"status", status}};
      if (status == 1) e["send_time"] = clock_->NowMs() / 1000;
      list.push_back(std::move(e));
    }
    return Answer({{"errcode", 0}, {"errmsg", "ok"}, {"next_cursor", ""}, {"send_list", list}});
  }

  const Clock* const clock_;
  http::Router router_;
  http::Metrics metrics_;
  absl::Mutex mu_;
  std::map<std::string, int> fetches_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> tokens_ ABSL_GUARDED_BY(mu_);  // token -> expiry
  std::deque<int> script_ ABSL_GUARDED_BY(mu_);
  std::vector<json::object> sends_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> not_contacts_ ABSL_GUARDED_BY(mu_);
  int rejected_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  int polls_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<http::Server> server_;
};

class WechatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = test::OutreachServerOptions(dir_.path(), &clock_);
    options_.wechat.oa_base_url = wechat_.Base();
    options_.wechat.oa_appid = kAppId;
    options_.wechat.oa_appsecret = kAppSecret;
    options_.wechat.wecom_base_url = wechat_.Base();
    options_.wechat.wecom_corpid = kCorpId;
    options_.wechat.wecom_corpsecret = kCorpSecret;
    options_.wechat.timeout_ms = 2000;
    options_.wechat.max_attempts = 4;
    options_.wechat.backoff_base_ms = 1000;
    options_.wechat.poll_interval_ms = 60'000;
    options_.wechat.confirm_window_ms = 86'400'000;
    options_.wechat.interval_ms = 0;  // the test drives RunOnce
    options_.wechat.oa_token = kPushToken;
    options_.wechat.oa_encoding_aes_key = kAesKey;
    auto app = App::Open(options_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    ASSERT_NE(app_->wechat_channel(), nullptr);
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    ASSERT_TRUE(admin_ && op_ && approver_);
    json::array customers;
    for (const char* c : {"C1", "C2", "C3", "C4"}) {
      customers.push_back(json::object{{"external_id", c}, {"name", "张三"}});
    }
    Expect(admin_->Fetch("POST", "/v1/customers/batch",
                         json::serialize(json::object{{"customers", customers}})),
           200);
    Expect(op_->Fetch("PUT", "/v1/contact-policy", R"({"day_cap":0,"week_cap":0})"), 200);
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  void Bind(const std::string& customer, json::object binding) {
    Expect(op_->Fetch("PUT", "/v1/customers/" + customer + "/wechat", json::serialize(binding)),
           200);
  }

  // A wechat_oa service template of two lines with its WeChat template (thing1, time2).
  int64_t OaTemplate() {
    const int64_t id = test::ApprovedTemplate(*op_, *approver_, "arrival", "wechat_oa",
                                              "{{product}}已到账\n{{date}}", "service");
    Expect(op_->Fetch("PUT", "/v1/templates/" + std::to_string(id) + "/wechat",
                      R"({"wechat_template_id":"TM00015","fields":["thing1","time2"],)"
                      R"("url":"https://m.bank.example/h5/notice"})"),
           200);
    return id;
  }

  outreach::SendResult Send(const std::string& customer, const std::string& channel,
                            int64_t template_id, const std::string& purpose,
                            const std::string& key) {
    outreach::Message m;
    m.customer = customer;
    m.channel = channel;
    m.purpose = purpose;
    m.template_id = std::to_string(template_id);
    m.variables = {{"product", "理财产品A"}, {"date", "2026-11-23"}};
    m.origin = "manager:olivia";
    m.dedupe_key = key;
    absl::StatusOr<outreach::SendResult> r = app_->outreach().Send(m);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : outreach::SendResult{};
  }

  outreach::WechatChannel::Pass Run() {
    absl::StatusOr<outreach::WechatChannel::Pass> p = app_->wechat_channel()->RunOnce();
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : outreach::WechatChannel::Pass{};
  }

  WechatOutboundRow Record(const std::string& message_id) {
    auto r = app_->wechat_store().Get(std::stoll(message_id));
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && r->has_value() ? **r : WechatOutboundRow{};
  }

  // The message's receipt in the customer's contact history (null if none).
  json::value Receipt(const std::string& customer, const std::string& message_id) {
    json::value h = Expect(op_->Fetch("GET", "/v1/customers/" + customer + "/contacts"), 200);
    for (const json::value& m : h.at("messages").as_array()) {
      if (std::to_string(Int(m, "id")) != message_id) continue;
      if (m.at("delivery").is_null()) return nullptr;
      return m.at("delivery").at("receipt");
    }
    ADD_FAILURE() << "message " << message_id << " not in " << h;
    return nullptr;
  }

  // WeChat pushing to the account's server URL, signed for `at_ms`.
  http::HttpResult Push(const std::string& xml, int64_t at_ms = 0,
                        const std::string& signature = "") {
    const std::string ts = std::to_string((at_ms > 0 ? at_ms : clock_.NowMs()) / 1000);
    const std::string nonce = "1514257";
    const std::string sig = signature.empty() ? Signature(ts, nonce) : signature;
    http::TestClient client(app_->port());
    return client.Fetch("POST",
                        "/wechat/oa/push?signature=" + sig + "&timestamp=" + ts + "&nonce=" + nonce,
                        xml, {{"content-type", "text/xml"}});
  }
  std::string JobFinished(const std::string& openid, const std::string& msgid,
                          const std::string& status) {
    return fmt::format(
        "<xml><ToUserName><![CDATA[gh_bank]]></ToUserName><FromUserName><![CDATA[{}]]>"
        "</FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{}</MsgID>"
        "<Status><![CDATA[{}]]></Status></xml>",
        openid, clock_.NowMs() / 1000, msgid, status);
  }

  TempDir dir_;
  FakeClock clock_{kMonday10};
  FakeWechat wechat_{&clock_};
  AppOptions options_;
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_;
};

TEST_F(WechatTest, TemplateMessageCarriesOpenidTemplateAndFieldsWithOneCachedToken) {
  const int64_t tmpl = OaTemplate();
  Bind("C1", {{"openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}});
  Bind("C2", {{"openid", "oUpF8uN2second"}});
  ASSERT_EQ(Send("C1", "wechat_oa", tmpl, "service", "k1").outcome,
            outreach::SendResult::Outcome::kSent);
  ASSERT_EQ(Send("C2", "wechat_oa", tmpl, "service", "k2").outcome,
            outreach::SendResult::Outcome::kSent);
  EXPECT_EQ(Run().sent, 2);
  EXPECT_EQ(wechat_.token_fetches("oa"), 1);  // one token for both sends
  std::vector<json::object> sends = wechat_.sends();
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(Str(sends[0], "touser"), "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
  EXPECT_EQ(Str(sends[0], "template_id"), "TM00015");
  EXPECT_EQ(Str(sends[0], "url"), "https://m.bank.example/h5/notice");
  EXPECT_EQ(sends[0].at("data").at("thing1").at("value").as_string(), "理财产品A已到账");
  EXPECT_EQ(sends[0].at("data").at("time2").at("value").as_string(), "2026-11-23");
  EXPECT_EQ(Str(sends[1], "touser"), "oUpF8uN2second");
}

TEST_F(WechatTest, TokenRefreshedBeforeExpiryAndOnceOn40001WithTheSendRetried) {
  const int64_t tmpl = OaTemplate();
  Bind("C1", {{"openid", "oC1"}});
  Send("C1", "wechat_oa", tmpl, "service", "k1");
  EXPECT_EQ(Run().sent, 1);
  EXPECT_EQ(wechat_.token_fetches("oa"), 1);

  // Shortly before expires_in (margin 5 min) a new token is fetched: WeChat never refuses one.
  clock_.Advance((kExpiresIn - 299) * 1000);
  Send("C1", "wechat_oa", tmpl, "service", "k2");
  EXPECT_EQ(Run().sent, 1);
  EXPECT_EQ(wechat_.token_fetches("oa"), 2);
  EXPECT_EQ(wechat_.rejected_tokens(), 0);

  // Another system took a new token: the cached one is answered with 40001; Mercator fetches a
  // new one and sends again at once, in the same pass.
  wechat_.RevokeTokens();
  const outreach::SendResult r = Send("C1", "wechat_oa", tmpl, "service", "k3");
  outreach::WechatChannel::Pass p = Run();
  EXPECT_EQ(p.sent, 1);
  EXPECT_EQ(p.retried, 0);
  EXPECT_EQ(wechat_.rejected_tokens(), 1);
  EXPECT_EQ(wechat_.token_fetches("oa"), 3);
  EXPECT_EQ(wechat_.sends().size(), 3u);
  EXPECT_EQ(Record(r.message_id).state, "sent");
  EXPECT_EQ(Record(r.message_id).attempts, 1);
}

TEST_F(WechatTest, MarketingTemplatesAreRefused) {
  // At creation: a wechat_oa template must be a service notice.
  json::value bad =
      Expect(op_->Fetch("POST", "/v1/templates",
                        json::serialize(json::object{{"name", "ad"},
                                                     {"channel", "wechat_oa"},
                                                     {"purpose", "marketing"},
                                                     {"body", "限时理财{{product}}"}})),
             400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "purpose") << bad;

  // At send (a marketing message that reached the adapter anyway, e.g. a template stored
  // before this rule): refused with the reason, nothing goes to WeChat.
  Bind("C1", {{"openid", "oC1"}});
  const int64_t tmpl = OaTemplate();
  outreach::OutboundMessage m;
  m.message_id = 999;
  m.customer = "C1";
  m.channel = "wechat_oa";
  m.purpose = "marketing";
  m.template_id = tmpl;
  m.body = "ad\nline";
  absl::StatusOr<outreach::Delivery> d = app_->wechat_channel()->Deliver(m);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->accepted);
  EXPECT_NE(d->reason.find("forbids marketing"), std::string::npos) << d->reason;
  Run();
  EXPECT_TRUE(wechat_.sends().empty());

  // The WeChat template of a non-wechat_oa template is refused naming the field.
  const int64_t sms = test::ApprovedTemplate(*op_, *approver_, "sms", "sms",
                                             "【示例银行】{{product}}到账。回T退订", "service");
  bad = Expect(op_->Fetch("PUT", "/v1/templates/" + std::to_string(sms) + "/wechat",
                          R"({"wechat_template_id":"TM1","fields":["thing1"]})"),
               400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "template_id") << bad;
}

TEST_F(WechatTest, NotFollowingFailsWithTheReasonAndIsNotRetried) {
  const int64_t tmpl = OaTemplate();
  Bind("C1", {{"openid", "oC1"}});
  wechat_.Script({43004});
  const outreach::SendResult r = Send("C1", "wechat_oa", tmpl, "service", "k1");
  ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent);
  EXPECT_EQ(Run().failed, 1);
  const WechatOutboundRow row = Record(r.message_id);
  EXPECT_EQ(row.state, "failed");
  EXPECT_NE(row.last_error.find("43004"), std::string::npos) << row.last_error;
  json::value receipt = Receipt("C1", r.message_id);
  ASSERT_TRUE(receipt.is_object());
  EXPECT_EQ(Str(receipt, "status"), "failed");
  EXPECT_NE(Str(receipt, "reason").find("does not follow"), std::string::npos) << receipt;
  clock_.Advance(3'600'000);
  Run();
  EXPECT_EQ(wechat_.sends().size(), 1u);  // never sent again
}

TEST_F(WechatTest, RateLimitsAreRetriedWithBackoff) {
  const int64_t tmpl = OaTemplate();
  Bind("C1", {{"openid", "oC1"}});
  wechat_.Script({45009, 45047});
  const outreach::SendResult r = Send("C1", "wechat_oa", tmpl, "service", "k1");
  EXPECT_EQ(Run().retried, 1);
  EXPECT_EQ(Record(r.message_id).state, "pending");
  clock_.Advance(999);  // back-off 1 s
  Run();
  EXPECT_EQ(wechat_.sends().size(), 1u);
  clock_.Advance(1);
  EXPECT_EQ(Run().retried, 1);
  clock_.Advance(1999);  // back-off 2 s
  Run();
  EXPECT_EQ(wechat_.sends().size(), 2u);
  clock_.Advance(1);
  EXPECT_EQ(Run().sent, 1);
  EXPECT_EQ(wechat_.sends().size(), 3u);
  EXPECT_EQ(Record(r.message_id).state, "sent");
  EXPECT_EQ(Record(r.message_id).attempts, 3);
  EXPECT_TRUE(Receipt("C1", r.message_id).is_null());
}

TEST_F(WechatTest, WecomTasksPerSenderThenStatusFromThePoll) {
  for (const char* c : {"C1", "C2", "C3", "C4"}) test::RecordConsent(*op_, c, "wecom", true);
  Bind("C1", {{"wecom_external_userid", "wmC1"}, {"wecom_sender", "zhangwei"}});
  Bind("C2", {{"wecom_external_userid", "wmC2"}, {"wecom_sender", "zhangwei"}});
  Bind("C3", {{"wecom_external_userid", "wmC3"}, {"wecom_sender", "lina"}});
  Bind("C4", {{"wecom_external_userid", "wmC4"}, {"wecom_sender", "zhangwei"}});
  wechat_.NotAContact("wmC4");
  const int64_t tmpl = test::ApprovedTemplate(*op_, *approver_, "fund", "wecom",
                                              "您关注的{{product}}开放申购", "marketing");
  std::map<std::string, std::string> ids;
  for (const char* c : {"C1", "C2", "C3", "C4"}) {
    const outreach::SendResult r = Send(c, "wecom", tmpl, "marketing", std::string("w") + c);
    ASSERT_EQ(r.outcome, outreach::SendResult::Outcome::kSent) << r.reason;
    ids[c] = r.message_id;
  }
  outreach::WechatChannel::Pass p = Run();
  EXPECT_EQ(p.created, 3);
  EXPECT_EQ(p.failed, 1);  // C4 is not a contact of zhangwei (fail_list)
  EXPECT_EQ(wechat_.token_fetches("wc"), 1);

  // One task per sender, with that sender's customers.
  std::map<std::string, FakeWechat::Task> tasks = wechat_.tasks();
  ASSERT_EQ(tasks.size(), 2u);
  std::map<std::string, std::string> msgid_of;
  for (const auto& [msgid, t] : tasks) {
    msgid_of[t.sender] = msgid;
    EXPECT_EQ(t.text, "您关注的理财产品A开放申购");
  }
  EXPECT_EQ(tasks[msgid_of["zhangwei"]].external_userids,
            (std::vector<std::string>{"wmC1", "wmC2"}));
  EXPECT_EQ(tasks[msgid_of["lina"]].external_userids, (std::vector<std::string>{"wmC3"}));
  EXPECT_EQ(Record(ids["C1"]).state, "created");
  EXPECT_EQ(Record(ids["C1"]).gateway_id, msgid_of["zhangwei"]);
  EXPECT_EQ(Record(ids["C4"]).state, "failed");
  EXPECT_EQ(Str(Receipt("C4", ids["C4"]), "status"), "failed");

  // Not polled before the interval.
  Run();
  EXPECT_EQ(wechat_.polls(), 0);

  // zhangwei confirms: sent to C1; C2 had received another group message today.
  wechat_.SetStatus(msgid_of["zhangwei"], "wmC1", 1);
  wechat_.SetStatus(msgid_of["zhangwei"], "wmC2", 3);
  clock_.Advance(60'000);
  p = Run();
  EXPECT_EQ(wechat_.polls(), 2);
  EXPECT_EQ(p.sent, 1);
  EXPECT_EQ(p.failed, 1);
  EXPECT_EQ(p.waiting, 1);
  EXPECT_EQ(Record(ids["C1"]).state, "sent");
  EXPECT_EQ(Str(Receipt("C1", ids["C1"]), "status"), "delivered");
  EXPECT_EQ(Record(ids["C2"]).state, "failed");
  EXPECT_NE(Str(Receipt("C2", ids["C2"]), "reason").find("another group message"),
            std::string::npos);
  EXPECT_EQ(Record(ids["C3"]).state, "created");

  // lina never confirms: failed once the confirm window has passed.
  clock_.Advance(86'400'000);
  p = Run();
  EXPECT_EQ(p.failed, 1);
  EXPECT_EQ(Record(ids["C3"]).state, "failed");
  EXPECT_NE(Record(ids["C3"]).last_error.find("not sent by the manager (lina)"), std::string::npos);
  // Settled records are not polled again.
  const int polls = wechat_.polls();
  clock_.Advance(60'000);
  Run();
  EXPECT_EQ(wechat_.polls(), polls);

  // /metrics counts the records by channel and state after each pass.
  http::TestClient metrics(app_->port());
  const std::string body = metrics.Fetch("GET", "/metrics").body;
  EXPECT_NE(body.find(R"(mercator_wechat_outbound{channel="wecom",state="sent"} 1)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"(mercator_wechat_outbound{channel="wecom",state="failed"} 3)"),
            std::string::npos);
  EXPECT_NE(body.find(R"(mercator_wechat_outbound{channel="wecom",state="created"} 0)"),
            std::string::npos);
}

TEST_F(WechatTest, BindingsAreValidatedAndMissingAddressesRefuseAtSend) {
  json::value bad =
      Expect(op_->Fetch("PUT", "/v1/customers/C1/wechat", R"({"openid":"not an id!"})"), 400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "openid") << bad;
  bad = Expect(op_->Fetch("PUT", "/v1/customers/C1/wechat", R"({"wecom_external_userid":"wm1"})"),
               400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "wecom_sender") << bad;
  Expect(op_->Fetch("PUT", "/v1/customers/NOPE/wechat", R"({"openid":"o1"})"), 404);
  Expect(op_->Fetch("GET", "/v1/customers/C2/wechat"), 404);
  Bind("C2", {{"openid", "oC2"}});
  json::value got = Expect(op_->Fetch("GET", "/v1/customers/C2/wechat"), 200);
  EXPECT_EQ(Str(got, "openid"), "oC2");

  // C1 has no openid: the message fails at once with the reason, nothing reaches WeChat.
  const int64_t tmpl = OaTemplate();
  const outreach::SendResult r = Send("C1", "wechat_oa", tmpl, "service", "k1");
  EXPECT_EQ(r.outcome, outreach::SendResult::Outcome::kFailed);
  EXPECT_NE(r.reason.find("no openid"), std::string::npos) << r.reason;
  Run();
  EXPECT_TRUE(wechat_.sends().empty());
}

TEST_F(WechatTest, MessagesACrashLeftWithoutARecordAreAdoptedAtStart) {
  const int64_t tmpl = OaTemplate();
  Bind("C1", {{"openid", "oC1"}});
  const outreach::SendResult first = Send("C1", "wechat_oa", tmpl, "service", "k1");
  // As if the process died after recording a message and before enqueueing it.
  MessageRow row;
  row.dedupe_key = "k2";
  row.customer = "C1";
  row.channel = "wechat_oa";
  row.purpose = "service";
  row.template_id = tmpl;
  row.origin = "manager:olivia";
  row.status = "sent";
  row.body = "理财产品B已到账\n2026-11-24";
  row.created_ms = clock_.NowMs();
  auto rec = app_->outreach_store().RecordMessage(row, 0, 0);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_FALSE(app_->wechat_store().Get(rec->row.id)->has_value());

  app_.reset();
  auto app = App::Open(options_);
  ASSERT_TRUE(app.ok()) << app.status();
  app_ = std::move(*app);
  ASSERT_TRUE(app_->Start().ok());
  EXPECT_EQ(Record(std::to_string(rec->row.id)).openid, "oC1");
  EXPECT_EQ(Record(std::to_string(rec->row.id)).state, "pending");
  EXPECT_EQ(Run().sent, 2);  // the first message and the adopted one, each once
  std::vector<json::object> sends = wechat_.sends();
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[1].at("data").at("thing1").at("value").as_string(), "理财产品B已到账");
  EXPECT_EQ(Record(first.message_id).state, "sent");
}

TEST_F(WechatTest, PushUrlCheckEchoesOnlyForTheRightSignatureAndTime) {
  const std::string ts = std::to_string(clock_.NowMs() / 1000);
  http::TestClient client(app_->port());
  http::HttpResult r = client.Fetch("GET", "/wechat/oa/push?signature=" + Signature(ts, "n1") +
                                               "&timestamp=" + ts + "&nonce=n1&echostr=e-4242");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "e-4242");
  r = client.Fetch("GET", "/wechat/oa/push?signature=" + Signature(ts, "n2") + "&timestamp=" + ts +
                              "&nonce=n1&echostr=e-4242");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("signature"), std::string::npos) << r.body;
  // Ten minutes old, even well signed.
  const std::string old = std::to_string(clock_.NowMs() / 1000 - 600);
  r = client.Fetch("GET", "/wechat/oa/push?signature=" + Signature(old, "n1") +
                              "&timestamp=" + old + "&nonce=n1&echostr=x");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("timestamp"), std::string::npos) << r.body;
  // A POST with a wrong signature changes nothing; malformed XML names what is wrong.
  EXPECT_EQ(Push(JobFinished("o1", "1", "success"), 0, std::string(40, 'a')).status, 403);
  r = Push("<xml><ToUserName>gh</ToUserName>");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("xml"), std::string::npos) << r.body;
  r = Push(
      "<xml><ToUserName>gh</ToUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>"
      "</xml>");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("xml.FromUserName"), std::string::npos) << r.body;
}

TEST_F(WechatTest, JobFinishedPushesBecomeReceiptsAndAnUnfollowUnbinds) {
  const int64_t tmpl = OaTemplate();
  Bind("C1", {{"openid", "oC1"}});
  Bind("C2", {{"openid", "oC2"}});
  const std::string m1 = Send("C1", "wechat_oa", tmpl, "service", "k1").message_id;
  const std::string m2 = Send("C2", "wechat_oa", tmpl, "service", "k2").message_id;
  EXPECT_EQ(Run().sent, 2);
  const std::string msgid1 = Record(m1).gateway_id, msgid2 = Record(m2).gateway_id;
  ASSERT_FALSE(msgid1.empty());
  ASSERT_NE(msgid1, msgid2);

  http::HttpResult r = Push(JobFinished("oC1", msgid1, "success"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "success");
  json::value receipt = Receipt("C1", m1);
  ASSERT_FALSE(receipt.is_null());
  EXPECT_EQ(Str(receipt, "status"), "delivered") << receipt;
  // WeChat retries a push it got no answer to: the same receipt, once.
  EXPECT_EQ(Push(JobFinished("oC1", msgid1, "success")).status, 200);
  EXPECT_EQ(Str(Receipt("C1", m1), "status"), "delivered");

  EXPECT_EQ(Push(JobFinished("oC2", msgid2, "failed:user block")).status, 200);
  receipt = Receipt("C2", m2);
  ASSERT_FALSE(receipt.is_null());
  EXPECT_EQ(Str(receipt, "status"), "failed") << receipt;
  EXPECT_EQ(Str(receipt, "reason"), "user_block") << receipt;
  // A msgid Mercator never sent is acknowledged (WeChat would retry otherwise) and ignored.
  r = Push(JobFinished("oC9", "99999999", "success"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-mercator-push"], "unknown_message");

  // C1 unfollows: the openid is unbound, so the next message fails at once, before WeChat.
  r =
      Push(fmt::format("<xml><ToUserName>gh_bank</ToUserName><FromUserName>oC1</FromUserName>"
                       "<CreateTime>{}</CreateTime><MsgType>event</MsgType>"
                       "<Event>unsubscribe</Event></xml>",
                       clock_.NowMs() / 1000));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-mercator-push"], "unbound");
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", "/v1/customers/C1/wechat"), 200), "openid"), "");
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", "/v1/customers/C2/wechat"), 200), "openid"), "oC2");
  const outreach::SendResult again = Send("C1", "wechat_oa", tmpl, "service", "k3");
  EXPECT_EQ(again.outcome, outreach::SendResult::Outcome::kFailed);
  EXPECT_NE(again.reason.find("no openid"), std::string::npos) << again.reason;
  Run();
  EXPECT_EQ(wechat_.sends().size(), 2u);
}

TEST_F(WechatTest, SubscribeMessagesGoThroughBizsendAndAnUnsubscribedCustomerIsNotRetried) {
  const int64_t id = test::ApprovedTemplate(*op_, *approver_, "arrival-sub", "wechat_oa",
                                            "{{product}}已到账\n{{date}}", "service");
  const std::string path = "/v1/templates/" + std::to_string(id) + "/wechat";
  json::value bad =
      Expect(op_->Fetch("PUT", path,
                        R"({"wechat_template_id":"SUB01","fields":["thing1","time2"],)"
                        R"("kind":"broadcast"})"),
             400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "kind") << bad;
  json::value mapping = Expect(
      op_->Fetch("PUT", path,
                 R"({"wechat_template_id":"SUB01","fields":["thing1","time2"],"kind":"subscribe",)"
                 R"("url":"https://m.bank.example/h5/arrival"})"),
      200);
  EXPECT_EQ(Str(mapping, "kind"), "subscribe");
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", path), 200), "kind"), "subscribe");
  Bind("C1", {{"openid", "oC1"}});
  Bind("C2", {{"openid", "oC2"}});
  const std::string m1 = Send("C1", "wechat_oa", id, "service", "s1").message_id;
  const std::string m2 = Send("C2", "wechat_oa", id, "service", "s2").message_id;
  // Sent oldest first: C1's goes through; C2 never subscribed (or used up a one-off
  // subscription).
  wechat_.Script({0, 43101});
  outreach::WechatChannel::Pass p = Run();
  EXPECT_EQ(p.sent, 1);
  std::vector<json::object> sends = wechat_.sends();
  ASSERT_EQ(sends.size(), 2u);
  for (const json::object& s : sends) {
    EXPECT_EQ(Str(s, "_api"), "subscribe");
    EXPECT_EQ(Str(s, "template_id"), "SUB01");
    EXPECT_EQ(Str(s, "page"), "https://m.bank.example/h5/arrival");  // not "url"
    EXPECT_FALSE(s.contains("url"));
  }
  EXPECT_EQ(sends[0].at("data").at("thing1").at("value").as_string(), "理财产品A已到账");
  EXPECT_EQ(Record(m1).state, "sent");
  const WechatOutboundRow failed = Record(m2);
  EXPECT_EQ(failed.state, "failed");
  EXPECT_NE(failed.last_error.find("43101"), std::string::npos) << failed.last_error;
  clock_.Advance(3'600'000);
  Run();
  EXPECT_EQ(wechat_.sends().size(), 2u);  // not retried
}

TEST_F(WechatTest, SafeModePushesAreDecryptedAndTheirSignatureCoversTheCiphertext) {
  const int64_t tmpl = OaTemplate();
  Bind("C1", {{"openid", "oC1"}});
  const std::string m1 = Send("C1", "wechat_oa", tmpl, "service", "k1").message_id;
  ASSERT_EQ(Run().sent, 1);
  const std::string msgid = Record(m1).gateway_id;
  auto post = [&](const std::string& encrypt, const std::string& msg_signature) {
    const std::string ts = std::to_string(clock_.NowMs() / 1000);
    const std::string nonce = "88";
    std::string sig = msg_signature;
    if (sig.empty()) {
      std::vector<std::string> parts = {kPushToken, ts, nonce, encrypt};
      std::sort(parts.begin(), parts.end());
      const std::string joined = parts[0] + parts[1] + parts[2] + parts[3];
      unsigned char d[SHA_DIGEST_LENGTH];
      SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), d);
      for (unsigned char c : d) sig += fmt::format("{:02x}", c);
    }
    http::TestClient client(app_->port());
    return client.Fetch("POST",
                        "/wechat/oa/push?signature=" + Signature(ts, nonce) + "&timestamp=" + ts +
                            "&nonce=" + nonce + "&encrypt_type=aes&msg_signature=" + sig,
                        "<xml><ToUserName><![CDATA[gh_bank]]></ToUserName><Encrypt><![CDATA[" +
                            encrypt + "]]></Encrypt></xml>");
  };
  const std::string secret = SafeModeEncrypt(JobFinished("oC1", msgid, "success"), kAppId);
  // A signature that does not cover this ciphertext, and a message for another account.
  EXPECT_EQ(post(secret, std::string(40, 'b')).status, 403);
  http::HttpResult r = post(SafeModeEncrypt(JobFinished("oC1", msgid, "success"), "wxother"), "");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_TRUE(Receipt("C1", m1).is_null());
  r = post(secret, "");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-mercator-push"], "delivered");
  EXPECT_EQ(Str(Receipt("C1", m1), "status"), "delivered");

  // A key that is not 43 base64 characters stops the server at start, naming the option.
  app_.reset();
  options_.wechat.oa_encoding_aes_key = "short";
  absl::StatusOr<std::unique_ptr<App>> bad = App::Open(options_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("oa_encoding_aes_key"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace mercator
