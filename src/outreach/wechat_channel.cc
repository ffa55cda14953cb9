#include "outreach/wechat_channel.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator::outreach {
namespace json = boost::json;

namespace {

constexpr size_t kMaxReasonBytes = 200;

// Percent-encodes a query value (RFC 3986 unreserved characters stay).
std::string QueryEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string Cut(std::string s) {
  if (s.size() <= kMaxReasonBytes) return s;
  size_t n = kMaxReasonBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

absl::Status CheckBase(std::string_view option, const std::string& url) {
  absl::StatusOr<http::ParsedUrl> u = http::ParseUrl(url);
  if (!u.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", option, std::string(u.status().message())));
  }
  return absl::OkStatus();
}

bool IsTokenError(int64_t errcode) {
  return errcode == 40001 || errcode == 42001 || errcode == 40014;
}

// Rate limits and "system busy": worth a later attempt.
bool IsRetryableErrcode(int64_t errcode) {
  return errcode == 45009 || errcode == 45047 || errcode == -1 || errcode == 45033;
}

int64_t IntOf(const json::object& o, std::string_view key, int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return fallback;
}

std::string StrOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->as_string());
}

// One HTTP exchange answered with a JSON object, or the transport/HTTP error.
absl::StatusOr<json::object> FetchJson(http::HttpClient& client, http::Method method,
                                       const std::string& url, const std::string& body,
                                       int64_t timeout_ms) {
  http::ClientRequest req;
  req.method = method;
  req.url = url;
  req.body = body;
  req.timeout = std::chrono::milliseconds(timeout_ms);
  if (method == http::Method::kPost) req.headers["content-type"] = "application/json";
  ASSIGN_OR_RETURN(http::ClientResponse resp, client.Send(req));
  if (resp.status != 200) {
    return absl::UnavailableError(fmt::format("HTTP {}: {}", resp.status, Cut(resp.body)));
  }
  boost::system::error_code ec;
  json::value v = json::parse(resp.body, ec);
  if (ec || !v.is_object()) {
    return absl::UnavailableError(fmt::format("not a JSON object: {}", Cut(resp.body)));
  }
  return std::move(v.as_object());
}

}  // namespace

absl::Status ValidateWechatOptions(const WechatOptions& o) {
  if (!o.oa_enabled() && !o.wecom_enabled()) {
    return absl::InvalidArgumentError("wechat.oa_base_url: neither channel is configured");
  }
  if (o.oa_enabled()) {
    RETURN_IF_ERROR(CheckBase("wechat.oa_base_url", o.oa_base_url));
    if (o.oa_appid.empty()) return absl::InvalidArgumentError("wechat.oa_appid: is required");
    if (o.oa_appsecret.empty()) {
      return absl::InvalidArgumentError("wechat.oa_appsecret: is required");
    }
  }
  if (o.wecom_enabled()) {
    RETURN_IF_ERROR(CheckBase("wechat.wecom_base_url", o.wecom_base_url));
    if (o.wecom_corpid.empty()) {
      return absl::InvalidArgumentError("wechat.wecom_corpid: is required");
    }
    if (o.wecom_corpsecret.empty()) {
      return absl::InvalidArgumentError("wechat.wecom_corpsecret: is required");
    }
  }
  if (o.timeout_ms <= 0) return absl::InvalidArgumentError("wechat.timeout_ms: must be > 0");
  if (o.max_attempts <= 0) return absl::InvalidArgumentError("wechat.max_attempts: must be > 0");
  if (o.backoff_base_ms <= 0 || o.backoff_max_ms < o.backoff_base_ms) {
    return absl::InvalidArgumentError(
        "wechat.backoff_base_ms: must be > 0 and at most wechat.backoff_max_ms");
  }
  if (o.token_margin_ms < 0) {
    return absl::InvalidArgumentError("wechat.token_margin_ms: must be >= 0");
  }
  if (o.poll_interval_ms <= 0 || o.confirm_window_ms <= 0) {
    return absl::InvalidArgumentError(
        "wechat.poll_interval_ms: poll interval and confirm window must be > 0");
  }
  if (o.batch <= 0) return absl::InvalidArgumentError("wechat.batch: must be > 0");
  return absl::OkStatus();
}

absl::StatusOr<std::string> AccessToken::Get() {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  if (!token_.empty() && now < valid_until_ms_) return token_;
  ++fetches_;
  absl::StatusOr<json::object> o = FetchJson(*client_, http::Method::kGet, url_, "", timeout_ms_);
  if (!o.ok()) {
    return absl::UnavailableError(
        fmt::format("access token: {}", std::string(o.status().message())));
  }
  const int64_t errcode = IntOf(*o, "errcode", 0);
  const std::string token = StrOf(*o, "access_token");
  if (errcode != 0 || token.empty()) {
    return absl::UnavailableError(
        fmt::format("access token: errcode {}: {}", errcode, Cut(StrOf(*o, "errmsg"))));
  }
  token_ = token;
  const int64_t expires_ms = IntOf(*o, "expires_in", 7200) * 1000;
  valid_until_ms_ = now + std::max<int64_t>(0, expires_ms - margin_ms_);
  return token_;
}

void AccessToken::Invalidate(std::string_view token) {
  absl::MutexLock lock(&mu_);
  if (token_ == token) {
    token_.clear();
    valid_until_ms_ = 0;
  }
}

int64_t AccessToken::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

// What one API call came to: a transport/token failure (status), or WeChat's JSON answer.
struct WechatChannel::Answer {
  absl::Status status;  // not ok: no answer worth classifying (retry later)
  json::object body;
  int64_t errcode = 0;
  std::string errmsg;
};

WechatChannel::WechatChannel(WechatRepository* repo, WebhookRepository* receipts,
                             http::HttpClient* client, const Clock* clock, WechatOptions options)
    : repo_(repo),
      receipts_(receipts),
      client_(client),
      clock_(clock),
      options_(std::move(options)) {
  if (options_.oa_enabled()) {
    oa_token_ = std::make_unique<AccessToken>(
        client_, clock_,
        fmt::format("{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                    options_.oa_base_url, QueryEscape(options_.oa_appid),
                    QueryEscape(options_.oa_appsecret)),
        options_.token_margin_ms, options_.timeout_ms);
  }
  if (options_.wecom_enabled()) {
    wecom_token_ = std::make_unique<AccessToken>(
        client_, clock_,
        fmt::format("{}/cgi-bin/gettoken?corpid={}&corpsecret={}", options_.wecom_base_url,
                    QueryEscape(options_.wecom_corpid), QueryEscape(options_.wecom_corpsecret)),
        options_.token_margin_ms, options_.timeout_ms);
  }
}

WechatChannel::~WechatChannel() { Stop(); }

absl::StatusOr<Delivery> WechatChannel::Deliver(const OutboundMessage& m) {
  Delivery d;
  WechatOutboundRow row;
  row.message_id = m.message_id;
  row.channel = m.channel;
  ASSIGN_OR_RETURN(std::optional<WechatBinding> binding, repo_->GetBinding(m.customer));
  if (m.channel == "wechat_oa" && oa_token_ != nullptr) {
    if (m.purpose == "marketing") {
      d.accepted = false;
      d.reason =
          "wechat_oa: WeChat forbids marketing in template messages (use a service template)";
      return d;
    }
    ASSIGN_OR_RETURN(std::optional<WechatTemplateRow> tmpl, repo_->GetTemplate(m.template_id));
    if (!tmpl) {
      d.accepted = false;
      d.reason =
          fmt::format("wechat_oa: template {} has no WeChat template configured", m.template_id);
      return d;
    }
    if (!binding || binding->openid.empty()) {
      d.accepted = false;
      d.reason = "wechat_oa: the customer has no openid bound";
      return d;
    }
    row.openid = binding->openid;
  } else if (m.channel == "wecom" && wecom_token_ != nullptr) {
    if (!binding || binding->wecom_external_userid.empty() || binding->wecom_sender.empty()) {
      d.accepted = false;
      d.reason = "wecom: the customer has no WeCom external contact and sender bound";
      return d;
    }
    row.external_userid = binding->wecom_external_userid;
    row.sender = binding->wecom_sender;
  } else {
    return absl::FailedPreconditionError(
        fmt::format("wechat: channel {} is not configured", m.channel));
  }
  RETURN_IF_ERROR(repo_->Enqueue(row, clock_->NowMs()));
  Wake();
  d.gateway_id = m.channel + ":" + std::to_string(m.message_id);
  return d;
}

absl::StatusOr<int64_t> WechatChannel::Adopt() {
  int64_t adopted = 0;
  for (const auto& [channel, token] :
       {std::pair{"wechat_oa", oa_token_.get()}, std::pair{"wecom", wecom_token_.get()}}) {
    if (token == nullptr) continue;
    ASSIGN_OR_RETURN(int64_t n, repo_->Adopt(channel, clock_->NowMs()));
    adopted += n;
  }
  return adopted;
}

int64_t WechatChannel::BackoffMs(int32_t attempt) const {
  int64_t delay = options_.backoff_base_ms;
  for (int32_t i = 1; i < attempt && delay < options_.backoff_max_ms; ++i) delay *= 2;
  return std::min(delay, options_.backoff_max_ms);
}

WechatChannel::Answer WechatChannel::Call(AccessToken& token, const std::string& url,
                                          const std::string& body) {
  Answer a;
  // A rejected token is refreshed and the call made once more with the new one.
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<std::string> t = token.Get();
    if (!t.ok()) {
      a.status = t.status();
      return a;
    }
    absl::StatusOr<json::object> o =
        FetchJson(*client_, http::Method::kPost, url + "?access_token=" + QueryEscape(*t), body,
                  options_.timeout_ms);
    if (!o.ok()) {
      a.status = o.status();
      return a;
    }
    a.body = std::move(*o);
    a.errcode = IntOf(a.body, "errcode", 0);
    a.errmsg = Cut(StrOf(a.body, "errmsg"));
    if (!IsTokenError(a.errcode)) return a;
    token.Invalidate(*t);
  }
  // Still refused with a fresh token: treat as transient (WeChat rotates tokens).
  a.status = absl::UnavailableError(
      fmt::format("access token refused twice: errcode {}: {}", a.errcode, a.errmsg));
  return a;
}

// Stores a final or retry state; on a final failure records a failed receipt.
absl::Status WechatChannel::Settle(WechatOutboundRow row, std::string_view from, Pass& pass) {
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(bool changed, repo_->Transition(row, from, now));
  if (!changed) return absl::OkStatus();
  if (row.state == "failed") {
    ++pass.failed;
    ReceiptRow r;
    r.message_id = row.message_id;
    r.status = "failed";
    r.reason = row.last_error;
    r.occurred_ms = now;
    r.recorded_by = row.channel;
    r.recorded_ms = now;
    RETURN_IF_ERROR(receipts_->RecordReceipt(r).status());
    Log(Severity::kWarn, "wechat: message failed",
        {{"message.id", std::to_string(row.message_id)},
         {"channel", row.channel},
         {"error", row.last_error}});
  } else if (row.state == "sent") {
    ++pass.sent;
  } else if (row.state == "created" && from == "pending") {
    ++pass.created;
  } else if (row.state == "created") {
    ++pass.waiting;
  } else {
    ++pass.retried;
  }
  return absl::OkStatus();
}

absl::Status WechatChannel::SendOa(Pass& pass) {
  ASSIGN_OR_RETURN(std::vector<WechatOutboundRow> due,
                   repo_->Due("wechat_oa", "pending", clock_->NowMs(), options_.batch));
  for (WechatOutboundRow row : due) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
    }
    row.attempts += 1;
    // Checked again here: a record written before a template changed its purpose.
    if (row.purpose == "marketing") {
      row.state = "failed";
      row.last_error = "wechat_oa: WeChat forbids marketing in template messages";
      RETURN_IF_ERROR(Settle(row, "pending", pass));
      continue;
    }
    if (row.openid.empty()) {
      row.state = "failed";
      row.last_error = "wechat_oa: the customer has no openid bound";
      RETURN_IF_ERROR(Settle(row, "pending", pass));
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<WechatTemplateRow> tmpl, repo_->GetTemplate(row.template_id));
    std::vector<std::string> lines = absl::StrSplit(row.body, '\n');
    if (!tmpl || lines.size() != tmpl->fields.size()) {
      row.state = "failed";
      row.last_error = !tmpl
                           ? fmt::format("wechat_oa: template {} has no WeChat template configured",
                                         row.template_id)
                           : fmt::format("wechat_oa: the body has {} lines for {} data fields",
                                         lines.size(), tmpl->fields.size());
      RETURN_IF_ERROR(Settle(row, "pending", pass));
      continue;
    }
    json::object data;
    for (size_t i = 0; i < lines.size(); ++i) {
      data[tmpl->fields[i]] = json::object{{"value", lines[i]}};
    }
    json::object msg{{"touser", row.openid},
                     {"template_id", tmpl->wechat_template_id},
                     {"data", std::move(data)}};
    std::string url = tmpl->url;
    if (!row.link_token.empty()) {
      absl::MutexLock lock(&mu_);
      url = fmt::format("{}/t/{}", link_base_, row.link_token);
    }
    // A subscribe message names its H5 link "page"; a template message "url".
    const bool subscribe = tmpl->kind == "subscribe";
    if (!url.empty()) msg[subscribe ? "page" : "url"] = url;
    Answer a = Call(*oa_token_,
                    options_.oa_base_url + (subscribe ? "/cgi-bin/message/subscribe/bizsend"
                                                      : "/cgi-bin/message/template/send"),
                    json::serialize(msg));
    bool retry = false;
    if (!a.status.ok()) {
      retry = true;
      row.last_error = std::string(a.status.message());
    } else if (a.errcode == 0) {
      row.state = "sent";
      row.last_error.clear();
      const json::value* id = a.body.if_contains("msgid");
      row.gateway_id = id == nullptr     ? ""
                       : id->is_string() ? std::string(id->as_string())
                                         : json::serialize(*id);
    } else if (a.errcode == 43004) {
      row.state = "failed";
      row.last_error =
          fmt::format("errcode 43004: the customer does not follow the account ({})", a.errmsg);
    } else if (a.errcode == 43101) {
      row.state = "failed";  // not retried: only the customer can subscribe again
      row.last_error = fmt::format(
          "errcode 43101: the customer has not subscribed to this message ({})", a.errmsg);
    } else {
      retry = IsRetryableErrcode(a.errcode);
      row.state = "failed";
      row.last_error = fmt::format("errcode {}: {}", a.errcode, a.errmsg);
    }
    if (retry) {
      if (row.attempts < options_.max_attempts) {
        row.state = "pending";
        row.next_attempt_ms = clock_->NowMs() + BackoffMs(row.attempts);
      } else {
        row.state = "failed";
        row.last_error = fmt::format("after {} attempts: {}", row.attempts, row.last_error);
      }
    }
    RETURN_IF_ERROR(Settle(row, "pending", pass));
  }
  return absl::OkStatus();
}

absl::Status WechatChannel::CreateWecomTasks(Pass& pass) {
  ASSIGN_OR_RETURN(std::vector<WechatOutboundRow> due,
                   repo_->Due("wecom", "pending", clock_->NowMs(), options_.batch));
  // One task per sender and text: WeCom sends one text to the listed contacts of one sender.
  std::map<std::pair<std::string, std::string>, std::vector<WechatOutboundRow>> tasks;
  for (WechatOutboundRow& row : due) {
    if (row.sender.empty() || row.external_userid.empty()) {
      row.attempts += 1;
      row.state = "failed";
      row.last_error = "wecom: the customer has no WeCom external contact and sender bound";
      RETURN_IF_ERROR(Settle(row, "pending", pass));
      continue;
    }
    tasks[{row.sender, row.body}].push_back(std::move(row));
  }
  for (auto& [key, rows] : tasks) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
    }
    json::array ids;
    for (const WechatOutboundRow& r : rows) ids.emplace_back(r.external_userid);
    const json::object task{{"chat_type", "single"},
                            {"external_userid", std::move(ids)},
                            {"sender", key.first},
                            {"text", json::object{{"content", key.second}}}};
    Answer a =
        Call(*wecom_token_, options_.wecom_base_url + "/cgi-bin/externalcontact/add_msg_template",
             json::serialize(task));
    std::string msgid;
    std::map<std::string, bool> refused;  // fail_list: not a contact of the sender
    if (a.status.ok() && a.errcode == 0) {
      msgid = StrOf(a.body, "msgid");
      if (const json::value* fl = a.body.if_contains("fail_list"); fl && fl->is_array()) {
        for (const json::value& v : fl->as_array()) {
          if (v.is_string()) refused[std::string(v.as_string())] = true;
        }
      }
    }
    for (WechatOutboundRow& row : rows) {
      row.attempts += 1;
      bool retry = false;
      if (!a.status.ok()) {
        retry = true;
        row.last_error = std::string(a.status.message());
      } else if (a.errcode != 0) {
        retry = IsRetryableErrcode(a.errcode);
        row.state = "failed";
        row.last_error = fmt::format("errcode {}: {}", a.errcode, a.errmsg);
      } else if (refused.contains(row.external_userid)) {
        row.state = "failed";
        row.last_error =
            fmt::format("wecom: {} refused the task for this contact (fail_list)", row.sender);
      } else {
        row.state = "created";
        row.gateway_id = msgid;
        row.last_error.clear();
        row.next_attempt_ms = clock_->NowMs() + options_.poll_interval_ms;
      }
      if (retry) {
        if (row.attempts < options_.max_attempts) {
          row.state = "pending";
          row.next_attempt_ms = clock_->NowMs() + BackoffMs(row.attempts);
        } else {
          row.state = "failed";
          row.last_error = fmt::format("after {} attempts: {}", row.attempts, row.last_error);
        }
      }
      RETURN_IF_ERROR(Settle(row, "pending", pass));
    }
  }
  return absl::OkStatus();
}

absl::Status WechatChannel::PollWecomTasks(Pass& pass) {
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(std::vector<WechatOutboundRow> due,
                   repo_->Due("wecom", "created", now, options_.batch));
  std::map<std::pair<std::string, std::string>, std::vector<WechatOutboundRow>> tasks;
  for (WechatOutboundRow& row : due) tasks[{row.gateway_id, row.sender}].push_back(std::move(row));
  for (auto& [key, rows] : tasks) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
    }
    // external_userid -> (status, send_time) over every page of the task's result.
    std::map<std::string, std::pair<int64_t, int64_t>> results;
    std::string cursor;
    Answer a;
    for (int page = 0; page < 100; ++page) {
      const json::object q{
          {"msgid", key.first}, {"userid", key.second}, {"limit", 1000}, {"cursor", cursor}};
      a = Call(*wecom_token_,
               options_.wecom_base_url + "/cgi-bin/externalcontact/get_groupmsg_send_result",
               json::serialize(q));
      if (!a.status.ok() || a.errcode != 0) break;
      if (const json::value* sl = a.body.if_contains("send_list"); sl && sl->is_array()) {
        for (const json::value& v : sl->as_array()) {
          if (!v.is_object()) continue;
          const json::object& e = v.as_object();
          results[StrOf(e, "external_userid")] = {IntOf(e, "status", 0), IntOf(e, "send_time", 0)};
        }
      }
      cursor = StrOf(a.body, "next_cursor");
      if (cursor.empty()) break;
    }
    for (WechatOutboundRow& row : rows) {
      auto it = results.find(row.external_userid);
      const int64_t status = it == results.end() ? 0 : it->second.first;
      if (status == 1) {
        row.state = "sent";
        ReceiptRow r;
        r.message_id = row.message_id;
        r.status = "delivered";
        r.occurred_ms = it->second.second > 0 ? it->second.second * 1000 : now;
        r.recorded_by = "wecom";
        r.recorded_ms = now;
        ASSIGN_OR_RETURN(bool changed, repo_->Transition(row, "created", now));
        if (changed) {
          ++pass.sent;
          RETURN_IF_ERROR(receipts_->RecordReceipt(r).status());
        }
        continue;
      }
      if (status == 2 || status == 3) {
        row.state = "failed";
        row.last_error = status == 2 ? "wecom: the customer is no longer a contact of the sender"
                                     : "wecom: the customer already received another group message";
      } else if (now - row.created_ms >= options_.confirm_window_ms) {
        row.state = "failed";
        row.last_error = fmt::format("wecom: not sent by the manager ({}) within {} hours",
                                     row.sender, options_.confirm_window_ms / 3'600'000);
      } else {
        // Not sent yet (or the poll failed: a.status / errcode): look again later.
        row.next_attempt_ms = now + options_.poll_interval_ms;
        if (!a.status.ok()) {
          row.last_error = std::string(a.status.message());
        } else if (a.errcode != 0) {
          row.last_error = fmt::format("poll: errcode {}: {}", a.errcode, a.errmsg);
        }
      }
      RETURN_IF_ERROR(Settle(row, "created", pass));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WechatChannel::Pass> WechatChannel::RunOnce() {
  absl::MutexLock run(&run_mu_);
  Pass pass;
  if (oa_token_ != nullptr) RETURN_IF_ERROR(SendOa(pass));
  if (wecom_token_ != nullptr) {
    RETURN_IF_ERROR(CreateWecomTasks(pass));
    RETURN_IF_ERROR(PollWecomTasks(pass));
  }
  std::function<void(const Pass&)> observer;
  {
    absl::MutexLock lock(&mu_);
    observer = observer_;
  }
  if (observer) observer(pass);
  return pass;
}

void WechatChannel::SetObserver(std::function<void(const Pass& pass)> observer) {
  absl::MutexLock lock(&mu_);
  observer_ = std::move(observer);
}

void WechatChannel::SetLinkBase(std::string base) {
  absl::MutexLock lock(&mu_);
  link_base_ = std::move(base);
}

void WechatChannel::Start() {
  if (options_.interval_ms <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void WechatChannel::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void WechatChannel::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void WechatChannel::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(options_.interval_ms));
      if (stop_) return;
      woken_ = false;
    }
    absl::StatusOr<Pass> pass = RunOnce();
    if (!pass.ok()) {
      Log(Severity::kError, "wechat dispatch failed",
          {{"error", std::string(pass.status().message())}});
    }
  }
}

}  // namespace mercator::outreach
