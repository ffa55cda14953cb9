#include "outreach/outreach_service.h"

#include <fmt/format.h>

#include <algorithm>

#include <sodium.h>

#include "absl/strings/numbers.h"
#include "common/mask.h"
#include "common/status_macros.h"

namespace mercator::outreach {
namespace {

constexpr size_t kMaxDedupeKeyBytes = 200;
constexpr size_t kMaxOriginBytes = 200;
constexpr size_t kMaxVariableValueBytes = 500;
constexpr size_t kMaxLinkBytes = 1000;
constexpr size_t kLinkTokenChars = 12;  // base62: 71 bits, not guessable

// A random base62 token for a tracked link.
std::string NewLinkToken() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string token(kLinkTokenChars, '0');
  for (char& c : token) c = kAlphabet[randombytes_uniform(62)];
  return token;
}

absl::Status CheckLinkUrl(std::string_view url) {
  if (url.size() > kMaxLinkBytes || !(url.starts_with("https://") || url.starts_with("http://")) ||
      url.find_first_of(" \t\r\n<>\"") != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "link_url: must be an http(s) URL of at most {} bytes without spaces", kMaxLinkBytes));
  }
  return absl::OkStatus();
}

SendResult ResultOf(const MessageRow& row, bool replayed) {
  SendResult r;
  r.outcome = row.status == "sent"         ? SendResult::Outcome::kSent
              : row.status == "suppressed" ? SendResult::Outcome::kSuppressed
                                           : SendResult::Outcome::kFailed;
  r.reason = row.reason;
  r.message_id = std::to_string(row.id);
  r.replayed = replayed;
  return r;
}

}  // namespace

std::map<std::string, std::string> BuiltInVariables(const CustomerRecord& customer) {
  return {{"name", MaskName(customer.name)}};
}

OutreachService::OutreachService(OutreachRepository* repo, TemplateService* templates,
                                 CustomerService* customers, ContactPolicy* policy,
                                 std::map<std::string, Channel*> channels, const Clock* clock)
    : repo_(repo),
      templates_(templates),
      customers_(customers),
      policy_(policy),
      channels_(std::move(channels)),
      clock_(clock) {}

absl::StatusOr<OutreachService::Preview> OutreachService::Render(
    const TemplateRow& tmpl, const std::string& customer,
    const std::map<std::string, std::string>& variables) {
  ASSIGN_OR_RETURN(CustomerRecord c, customers_->Get(customer));
  std::map<std::string, std::string> vars = variables;
  for (auto& [k, v] : BuiltInVariables(c)) vars[k] = v;
  for (const auto& [k, v] : vars) {
    if (v.size() > kMaxVariableValueBytes) {
      return absl::InvalidArgumentError(
          fmt::format("variables/{}: at most {} bytes", k, kMaxVariableValueBytes));
    }
  }
  Preview p;
  ASSIGN_OR_RETURN(p.body, RenderTemplate(tmpl.body, vars));
  p.length = Utf16Length(p.body);
  p.segments = tmpl.channel == "sms" ? SmsSegments(p.body) : 0;
  return p;
}

absl::StatusOr<SendResult> OutreachService::Send(const Message& m) {
  if (m.dedupe_key.empty() || m.dedupe_key.size() > kMaxDedupeKeyBytes) {
    return absl::InvalidArgumentError(
        fmt::format("dedupe_key: is required, at most {} bytes", kMaxDedupeKeyBytes));
  }
  if (m.origin.size() > kMaxOriginBytes) {
    return absl::InvalidArgumentError(fmt::format("origin: at most {} bytes", kMaxOriginBytes));
  }
  if (!IsChannel(m.channel)) {
    return absl::InvalidArgumentError(
        "channel: must be one of sms, app_push, in_app, wechat_oa, wecom, email");
  }
  auto channel = channels_.find(m.channel);
  if (channel == channels_.end() || channel->second == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("channel: no adapter configured for {}", m.channel));
  }
  RETURN_IF_ERROR(CheckPurpose(m.purpose));
  if (m.customer.empty()) return absl::InvalidArgumentError("customer: is required");
  ASSIGN_OR_RETURN(std::optional<MessageRow> first, repo_->FindMessage(m.dedupe_key));
  if (first) return ResultOf(*first, true);

  int64_t template_id = 0;
  if (!absl::SimpleAtoi(m.template_id, &template_id)) {
    return absl::InvalidArgumentError("template_id: must be a template id");
  }
  ASSIGN_OR_RETURN(TemplateRow tmpl, templates_->Approved(template_id));
  if (tmpl.channel != m.channel) {
    return absl::InvalidArgumentError(fmt::format("channel: template {} is for {}, not {}",
                                                  template_id, tmpl.channel, m.channel));
  }
  if (tmpl.purpose != m.purpose) {
    return absl::InvalidArgumentError(fmt::format("purpose: template {} is for {}, not {}",
                                                  template_id, tmpl.purpose, m.purpose));
  }
  // {{link}}: a tracked link made for this message, stored once the message is recorded.
  std::map<std::string, std::string> variables = m.variables;
  std::string link_token;
  if (!m.link_url.empty()) {
    RETURN_IF_ERROR(CheckLinkUrl(m.link_url));
    const std::vector<std::string> used = TemplateVariables(tmpl.body);
    if (std::find(used.begin(), used.end(), "link") != used.end()) {
      link_token = NewLinkToken();
      variables["link"] = fmt::format("{}/t/{}", link_base_, link_token);
    }
  }
  ASSIGN_OR_RETURN(Preview rendered, Render(tmpl, m.customer, variables));
  ASSIGN_OR_RETURN(CustomerRecord customer, customers_->Get(m.customer));

  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(PolicySettings settings, policy_->Settings());
  ASSIGN_OR_RETURN(std::string reason,
                   policy_->Check(m.customer, m.channel, m.purpose, now, settings));
  MessageRow row;
  row.dedupe_key = m.dedupe_key;
  row.uid = customer.uid;
  row.customer = m.customer;
  row.channel = m.channel;
  row.purpose = m.purpose;
  row.template_id = template_id;
  row.origin = m.origin;
  row.status = reason.empty() ? "sent" : "suppressed";
  row.reason = reason;
  row.body = reason.empty() ? rendered.body : std::string();
  row.created_ms = now;
  row.local_day = LocalDay(now, policy_->tz_offset_minutes());
  row.local_week = LocalWeek(row.local_day);
  ASSIGN_OR_RETURN(OutreachRepository::Recorded rec,
                   repo_->RecordMessage(row, settings.day_cap, settings.week_cap));
  if (rec.replayed || rec.row.status != "sent") return ResultOf(rec.row, rec.replayed);
  if (!link_token.empty()) {
    LinkRow link;
    link.token = link_token;
    link.message_id = rec.row.id;
    link.customer = rec.row.customer;
    link.url = m.link_url;
    link.origin = rec.row.origin;
    link.created_ms = now;
    RETURN_IF_ERROR(repo_->PutLink(link));
  }

  OutboundMessage out;
  out.message_id = rec.row.id;
  out.uid = rec.row.uid;
  out.customer = rec.row.customer;
  out.channel = rec.row.channel;
  out.purpose = rec.row.purpose;
  out.template_id = rec.row.template_id;
  out.body = rec.row.body;
  out.origin = rec.row.origin;
  absl::StatusOr<Delivery> d = channel->second->Deliver(out);
  std::string failure;
  if (!d.ok()) {
    failure = std::string(d.status().message());
  } else if (!d->accepted) {
    failure = d->reason.empty() ? "refused by the gateway" : d->reason;
  }
  if (!failure.empty()) {
    RETURN_IF_ERROR(repo_->SetMessageStatus(rec.row.id, "failed", failure));
    rec.row.status = "failed";
    rec.row.reason = failure;
  }
  return ResultOf(rec.row, false);
}

}  // namespace mercator::outreach
