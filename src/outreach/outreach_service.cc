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
  return RenderWith(tmpl, c, variables);
}

absl::StatusOr<std::string> OutreachService::RenderBody(const TemplateRow& tmpl,
                                                        const CustomerRecord& customer,
                                                        std::map<std::string, std::string> vars) {
  for (auto& [k, v] : BuiltInVariables(customer)) vars[k] = v;
  for (const auto& [k, v] : vars) {
    if (v.size() > kMaxVariableValueBytes) {
      return absl::InvalidArgumentError(
          fmt::format("variables/{}: at most {} bytes", k, kMaxVariableValueBytes));
    }
  }
  return RenderTemplate(tmpl.body, vars);
}

absl::StatusOr<OutreachService::Preview> OutreachService::RenderWith(
    const TemplateRow& tmpl, const CustomerRecord& customer,
    std::map<std::string, std::string> vars) {
  Preview p;
  ASSIGN_OR_RETURN(p.body, RenderBody(tmpl, customer, std::move(vars)));
  p.length = Utf16Length(p.body);
  p.segments = tmpl.channel == "sms" ? SmsSegments(p.body) : 0;
  return p;
}

absl::StatusOr<SendResult> OutreachService::Send(const Message& m) {
  ASSIGN_OR_RETURN(std::vector<absl::StatusOr<SendResult>> r, SendBatch({&m, 1}));
  return std::move(r.front());
}

absl::StatusOr<const TemplateRow*> OutreachService::CheckMessage(
    const Message& m, std::map<int64_t, absl::StatusOr<TemplateRow>>& templates) const {
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
  if (m.customer.empty() && m.uid == 0) {
    return absl::InvalidArgumentError("customer: is required");
  }
  int64_t template_id = 0;
  if (!absl::SimpleAtoi(m.template_id, &template_id)) {
    return absl::InvalidArgumentError("template_id: must be a template id");
  }
  auto t = templates.find(template_id);
  if (t == templates.end())
    t = templates.emplace(template_id, templates_->Approved(template_id)).first;
  if (!t->second.ok()) return t->second.status();
  const TemplateRow& tmpl = *t->second;
  if (tmpl.channel != m.channel) {
    return absl::InvalidArgumentError(fmt::format("channel: template {} is for {}, not {}",
                                                  template_id, tmpl.channel, m.channel));
  }
  if (tmpl.purpose != m.purpose) {
    return absl::InvalidArgumentError(fmt::format("purpose: template {} is for {}, not {}",
                                                  template_id, tmpl.purpose, m.purpose));
  }
  if (!m.link_url.empty()) RETURN_IF_ERROR(CheckLinkUrl(m.link_url));
  return &tmpl;
}

absl::StatusOr<std::vector<absl::StatusOr<SendResult>>> OutreachService::SendBatch(
    std::span<const Message> messages) {
  ASSIGN_OR_RETURN(std::unique_ptr<PreparedBatch> prepared,
                   PrepareBatch(std::vector<Message>(messages.begin(), messages.end())));
  return SendPrepared(std::move(prepared));
}

// What PrepareBatch read and decided, per message: the template (null once the message has its
// result), the customer, the rendered body, the tracked link's token and the policy's reason.
struct OutreachService::Prepared final : PreparedBatch {
  std::vector<Message> messages;
  std::vector<absl::StatusOr<SendResult>> results;
  std::map<int64_t, absl::StatusOr<TemplateRow>> templates;
  std::vector<const TemplateRow*> tmpl;
  std::vector<std::optional<CustomerRecord>> customers;
  std::vector<std::string> bodies, link_tokens, reasons;
  // The caps counted ahead (MessageRow::counted_*), -1 where not counted.
  std::vector<int64_t> counted_day, counted_week;
  int64_t counted_as_of = -1;
  PolicySettings settings;
  int64_t now = 0;
};

absl::StatusOr<std::unique_ptr<PreparedBatch>> OutreachService::PrepareBatch(
    std::vector<Message> in) {
  auto p = std::make_unique<Prepared>();
  p->messages = std::move(in);
  const std::span<const Message> messages = p->messages;
  const size_t n = messages.size();
  p->results.assign(n, absl::UnknownError("not sent"));
  auto& results = p->results;
  // Per message: its template (validated), then the customer, the rendered body and the link.
  auto& templates = p->templates;
  auto& tmpl = p->tmpl;
  tmpl.assign(n, nullptr);
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<const TemplateRow*> t = CheckMessage(messages[i], templates);
    if (t.ok()) {
      tmpl[i] = *t;
    } else {
      // A retry returns the first result even if the request no longer passes (a template
      // since withdrawn).
      ASSIGN_OR_RETURN(std::optional<MessageRow> first, repo_->FindMessage(messages[i].dedupe_key));
      results[i] = first ? absl::StatusOr<SendResult>(ResultOf(*first, true)) : t.status();
    }
  }
  // The variables each template of the batch uses.
  std::map<const TemplateRow*, std::vector<std::string>> used_by;
  for (const auto& [id, t] : templates) {
    if (t.ok()) used_by[&*t] = TemplateVariables(t->body);
  }
  auto uses = [&](const TemplateRow* t, std::string_view variable) {
    const std::vector<std::string>& used = used_by[t];
    return std::find(used.begin(), used.end(), variable) != used.end();
  };
  // The customers, with their names only if a template says {{name}}, and their time zones
  // for the quiet hours.
  bool names = false;
  for (size_t i = 0; i < n && !names; ++i) names = tmpl[i] != nullptr && uses(tmpl[i], "name");
  auto& customers = p->customers;
  customers.resize(n);
  std::vector<std::string> zones(n);
  {
    // By external id, or by uid for a message that names only the uid (a campaign's): its
    // customer is then filled in here.
    std::vector<std::string_view> ids;
    std::vector<uint32_t> uids;
    std::vector<size_t> by_id, by_uid;
    for (size_t i = 0; i < n; ++i) {
      if (messages[i].customer.empty()) {
        by_uid.push_back(i);
        uids.push_back(messages[i].uid);
      } else {
        by_id.push_back(i);
        ids.push_back(messages[i].customer);
      }
    }
    auto take = [&](std::vector<std::optional<CustomerRepository::Addressee>>& found,
                    const std::vector<size_t>& at) {
      for (size_t k = 0; k < at.size(); ++k) {
        if (!found[k]) continue;
        const size_t i = at[k];
        if (p->messages[i].customer.empty()) p->messages[i].customer = found[k]->external_id;
        customers[i].emplace();
        customers[i]->uid = found[k]->uid;
        customers[i]->name = std::move(found[k]->name);
        zones[i] = std::move(found[k]->time_zone);
      }
    };
    if (!ids.empty()) {
      ASSIGN_OR_RETURN(std::vector<std::optional<CustomerRepository::Addressee>> found,
                       customers_->Addressees(ids, names, policy_->time_zone_tag()));
      take(found, by_id);
    }
    if (!uids.empty()) {
      ASSIGN_OR_RETURN(std::vector<std::optional<CustomerRepository::Addressee>> found,
                       customers_->AddresseesByUid(uids, names, policy_->time_zone_tag()));
      take(found, by_uid);
    }
  }
  auto& bodies = p->bodies;
  auto& link_tokens = p->link_tokens;
  bodies.resize(n);
  link_tokens.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (tmpl[i] == nullptr) continue;
    const Message& m = messages[i];
    if (!customers[i]) {
      results[i] = absl::NotFoundError(m.customer.empty()
                                           ? fmt::format("customer with uid {} not found", m.uid)
                                           : fmt::format("customer '{}' not found", m.customer));
      tmpl[i] = nullptr;
      continue;
    }
    // {{link}}: a tracked link made for this message, stored once the message is recorded.
    std::map<std::string, std::string> variables = m.variables;
    if (!m.link_url.empty() && uses(tmpl[i], "link")) {
      link_tokens[i] = NewLinkToken();
      variables["link"] = fmt::format("{}/t/{}", link_base_, link_tokens[i]);
    }
    absl::StatusOr<std::string> rendered =
        RenderBody(*tmpl[i], *customers[i], std::move(variables));
    if (!rendered.ok()) {
      results[i] = rendered.status();
      tmpl[i] = nullptr;
      continue;
    }
    bodies[i] = *std::move(rendered);
  }

  // The policy, per channel and purpose, for the messages still going.
  p->now = clock_->NowMs();
  const int64_t now = p->now;
  ASSIGN_OR_RETURN(p->settings, policy_->Settings());
  const PolicySettings& settings = p->settings;
  auto& reasons = p->reasons;
  reasons.resize(n);
  std::map<std::pair<std::string_view, std::string_view>, std::vector<size_t>> groups;
  for (size_t i = 0; i < n; ++i) {
    if (tmpl[i] != nullptr) groups[{messages[i].channel, messages[i].purpose}].push_back(i);
  }
  for (const auto& [key, members] : groups) {
    std::vector<std::string> group, group_zones;
    group.reserve(members.size());
    group_zones.reserve(members.size());
    for (size_t i : members) {
      group.push_back(messages[i].customer);
      group_zones.push_back(zones[i]);
    }
    ASSIGN_OR_RETURN(std::vector<std::string> r,
                     policy_->CheckBatch(group, group_zones, key.first, key.second, now, settings));
    for (size_t k = 0; k < members.size(); ++k) reasons[members[k]] = std::move(r[k]);
  }
  // The caps of the marketing messages the policy lets through, counted here so that the write
  // only checks who was sent something since (OutreachRepository::RecordMessages).
  p->counted_day.assign(n, -1);
  p->counted_week.assign(n, -1);
  if (settings.day_cap > 0 || settings.week_cap > 0) {
    std::vector<size_t> capped;
    std::vector<std::string> capped_customers;
    for (size_t i = 0; i < n; ++i) {
      if (tmpl[i] != nullptr && reasons[i].empty() && messages[i].purpose == "marketing") {
        capped.push_back(i);
        capped_customers.push_back(messages[i].customer);
      }
    }
    if (!capped.empty()) {
      const int64_t day = LocalDay(now, policy_->tz_offset_minutes());
      ASSIGN_OR_RETURN(
          OutreachRepository::SentCounts counts,
          repo_->CountSent(capped_customers,
                           settings.day_cap > 0 ? std::optional(day) : std::nullopt,
                           settings.week_cap > 0 ? std::optional(LocalWeek(day)) : std::nullopt));
      for (size_t k = 0; k < capped.size(); ++k) {
        p->counted_day[capped[k]] = counts.day[k];
        p->counted_week[capped[k]] = counts.week[k];
      }
      p->counted_as_of = counts.as_of_id;
    }
  }
  return p;
}

absl::StatusOr<std::vector<absl::StatusOr<SendResult>>> OutreachService::SendPrepared(
    std::unique_ptr<PreparedBatch> batch) {
  auto* p = dynamic_cast<Prepared*>(batch.get());
  if (p == nullptr) return absl::InternalError("outreach: a batch prepared elsewhere");
  const std::span<const Message> messages = p->messages;
  const size_t n = messages.size();
  auto& results = p->results;
  const auto& tmpl = p->tmpl;
  auto& customers = p->customers;
  auto& bodies = p->bodies;
  const auto& link_tokens = p->link_tokens;
  const auto& reasons = p->reasons;
  const int64_t now = p->now;
  const PolicySettings& settings = p->settings;
  // Record (caps are counted here), in one transaction.
  std::vector<MessageRow> rows;
  std::vector<size_t> row_of;  // message index of rows[k]
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (tmpl[i] == nullptr) continue;
    const Message& m = messages[i];
    if (m.defer_quiet_hours && reasons[i] == "quiet_hours") {
      SendResult deferred;
      deferred.outcome = SendResult::Outcome::kDeferred;
      deferred.reason = reasons[i];
      results[i] = std::move(deferred);
      continue;
    }
    MessageRow& row = rows.emplace_back();
    row.dedupe_key = std::move(p->messages[i].dedupe_key);  // not read again
    row.uid = customers[i]->uid;
    row.customer = m.customer;
    row.channel = m.channel;
    row.purpose = m.purpose;
    row.template_id = tmpl[i]->id;
    row.origin = m.origin;
    row.status = reasons[i].empty() ? "sent" : "suppressed";
    row.reason = reasons[i];
    if (reasons[i].empty()) row.body = std::move(bodies[i]);
    row.created_ms = now;
    row.local_day = LocalDay(now, policy_->tz_offset_minutes());
    row.local_week = LocalWeek(row.local_day);
    if (p->counted_day[i] >= 0 || p->counted_week[i] >= 0) {
      row.counted_day = p->counted_day[i];
      row.counted_week = p->counted_week[i];
      row.counted_as_of = p->counted_as_of;
    }
    row_of.push_back(i);
  }
  if (rows.empty()) return std::move(results);
  ASSIGN_OR_RETURN(std::vector<OutreachRepository::Recorded> recorded,
                   repo_->RecordMessages(std::move(rows), settings.day_cap, settings.week_cap));

  // Links of the messages recorded as sent, then the channels.
  std::vector<LinkRow> links;
  std::map<std::string_view, std::vector<size_t>> outbound;  // channel -> indexes into recorded
  for (size_t k = 0; k < recorded.size(); ++k) {
    const OutreachRepository::Recorded& rec = recorded[k];
    results[row_of[k]] = ResultOf(rec.row, rec.replayed);
    if (rec.replayed || rec.row.status != "sent") continue;
    if (const std::string& token = link_tokens[row_of[k]]; !token.empty()) {
      LinkRow& link = links.emplace_back();
      link.token = token;
      link.message_id = rec.row.id;
      link.customer = rec.row.customer;
      link.url = messages[row_of[k]].link_url;
      link.origin = rec.row.origin;
      link.created_ms = now;
    }
    outbound[rec.row.channel].push_back(k);
  }
  if (!links.empty()) RETURN_IF_ERROR(repo_->PutLinks(links));
  for (const auto& [channel, members] : outbound) {
    std::vector<OutboundMessage> out(members.size());
    for (size_t j = 0; j < members.size(); ++j) {
      MessageRow& row = recorded[members[j]].row;
      out[j].message_id = row.id;
      out[j].uid = row.uid;
      out[j].customer = row.customer;
      out[j].channel = row.channel;
      out[j].purpose = row.purpose;
      out[j].template_id = row.template_id;
      out[j].body = std::move(row.body);  // the results need only its status and reason
      out[j].origin = row.origin;
    }
    std::vector<absl::StatusOr<Delivery>> d = channels_.at(std::string(channel))->DeliverBatch(out);
    for (size_t j = 0; j < members.size(); ++j) {
      std::string failure;
      if (!d[j].ok()) {
        failure = std::string(d[j].status().message());
      } else if (!d[j]->accepted) {
        failure = d[j]->reason.empty() ? "refused by the gateway" : d[j]->reason;
      }
      if (failure.empty()) continue;
      MessageRow& row = recorded[members[j]].row;
      RETURN_IF_ERROR(repo_->SetMessageStatus(row.id, "failed", failure));
      row.status = "failed";
      row.reason = std::move(failure);
      results[row_of[members[j]]] = ResultOf(row, false);
    }
  }
  return std::move(results);
}

}  // namespace mercator::outreach
