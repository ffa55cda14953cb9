#include "outreach/templates.h"

#include <fmt/format.h>

#include <array>

#include "absl/strings/numbers.h"

#include "common/status_macros.h"
#include "outreach/smpp_codec.h"

namespace mercator::outreach {
namespace {

constexpr std::array<std::string_view, 6> kChannels = {"sms",       "app_push", "in_app",
                                                       "wechat_oa", "wecom",    "email"};
constexpr size_t kMaxNameBytes = 100;
constexpr size_t kMaxBodyBytes = 4000;
constexpr size_t kMaxVariableBytes = 40;

bool IsVariableChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// Calls fn(literal) and fn_var(name) along the body; InvalidArgument at the first malformed
// placeholder.
template <typename Lit, typename Var>
absl::Status Walk(std::string_view body, Lit&& literal, Var&& variable) {
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t open = body.find("{{", pos);
    if (open == std::string_view::npos) {
      literal(body.substr(pos));
      break;
    }
    literal(body.substr(pos, open - pos));
    const size_t close = body.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("body: '{{{{' at byte {} is not closed by '}}}}'", open));
    }
    const std::string_view name = body.substr(open + 2, close - open - 2);
    bool ok = !name.empty() && name.size() <= kMaxVariableBytes;
    for (char c : name) ok = ok && IsVariableChar(c);
    if (!ok) {
      return absl::InvalidArgumentError(
          fmt::format("body: the variable at byte {} must be 1 to {} characters of a-z, 0-9 and _",
                      open, kMaxVariableBytes));
    }
    variable(name);
    pos = close + 2;
  }
  return absl::OkStatus();
}

// The template's content becomes `spec`, as a draft no approval covers yet.
void SetDraft(TemplateRow& row, const TemplateSpec& spec, int64_t now_ms) {
  row.name = spec.name;
  row.channel = spec.channel;
  row.purpose = spec.purpose;
  row.body = spec.body;
  row.status = "draft";
  row.digest = TemplateDigest(spec);
  row.approval_id = 0;
  row.updated_ms = now_ms;
}

}  // namespace

bool IsChannel(std::string_view channel) {
  for (std::string_view c : kChannels) {
    if (c == channel) return true;
  }
  return false;
}

absl::Status CheckPurpose(std::string_view purpose) {
  if (purpose == "marketing" || purpose == "service") return absl::OkStatus();
  return absl::InvalidArgumentError("purpose: must be marketing or service");
}

absl::Status ValidateTemplate(const TemplateSpec& spec) {
  if (spec.name.empty() || spec.name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(fmt::format("name: must be 1 to {} bytes", kMaxNameBytes));
  }
  if (!IsChannel(spec.channel)) {
    return absl::InvalidArgumentError(
        "channel: must be one of sms, app_push, in_app, wechat_oa, wecom, email");
  }
  RETURN_IF_ERROR(CheckPurpose(spec.purpose));
  if (spec.channel == "wechat_oa" && spec.purpose == "marketing") {
    // WeChat's rules for template messages forbid ads (docs/outreach-wechat.md).
    return absl::InvalidArgumentError(
        "purpose: WeChat forbids marketing in official-account template messages; a wechat_oa "
        "template must be a service notice");
  }
  if (spec.body.empty() || spec.body.size() > kMaxBodyBytes) {
    return absl::InvalidArgumentError(fmt::format("body: must be 1 to {} bytes", kMaxBodyBytes));
  }
  RETURN_IF_ERROR(Walk(
      spec.body, [](std::string_view) {}, [](std::string_view) {}));
  if (spec.channel == "sms") {
    // The signature: 【 followed by at least one character and 】.
    const size_t open = spec.body.find("【");
    const size_t close = open == std::string::npos ? open : spec.body.find("】", open);
    if (open == std::string::npos || close == std::string::npos ||
        close == open + std::string_view("【").size()) {
      return absl::InvalidArgumentError(
          "body: an SMS template must carry the bank's signature in 【】 (e.g. 【示例银行】)");
    }
    if (spec.body.find("回T退订") == std::string::npos) {
      return absl::InvalidArgumentError(
          "body: an SMS template must carry the opt-out footer 回T退订");
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> TemplateVariables(std::string_view body) {
  std::vector<std::string> out;
  (void)Walk(
      body, [](std::string_view) {},
      [&out](std::string_view name) {
        for (const std::string& v : out) {
          if (v == name) return;
        }
        out.emplace_back(name);
      });
  return out;
}

absl::StatusOr<std::string> RenderTemplate(std::string_view body,
                                           const std::map<std::string, std::string>& variables) {
  std::string out;
  std::string missing;
  RETURN_IF_ERROR(Walk(
      body, [&out](std::string_view lit) { out.append(lit); },
      [&](std::string_view name) {
        auto it = variables.find(std::string(name));
        if (it == variables.end()) {
          if (missing.empty()) missing = std::string(name);
          return;
        }
        out.append(it->second);
      }));
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("variables/{}: missing (the template uses {{{{{}}}}})", missing, missing));
  }
  return out;
}

int64_t Utf16Length(std::string_view s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    n += (c >= 0xF0) ? 2 : 1;          // 4-byte sequences are surrogate pairs in UTF-16
  }
  return n;
}

int64_t SmsSegments(std::string_view utf8) {
  // The SMPP channel's own split (smpp_codec.h), so that the count shown is what it sends.
  return static_cast<int64_t>(SmsSegmentCount(utf8));
}

std::string TemplateDigest(const TemplateSpec& spec) {
  // FNV-1a 64 over the fields separated by NUL: detects any change of the approved version.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0;
    h *= 1099511628211ull;
  };
  mix(spec.name);
  mix(spec.channel);
  mix(spec.purpose);
  mix(spec.body);
  return fmt::format("{:016x}", h);
}

TemplateService::TemplateService(OutreachRepository* repo, auth::ApprovalService* approvals,
                                 const Clock* clock)
    : repo_(repo), approvals_(approvals), clock_(clock) {
  approvals_->OnDecided(std::string(kTemplateObjectType),
                        [this](const Approval& a) { OnDecided(a); });
}

absl::StatusOr<TemplateRow> TemplateService::Create(const TemplateSpec& spec, const Principal& by) {
  RETURN_IF_ERROR(ValidateTemplate(spec));
  TemplateRow row;
  SetDraft(row, spec, clock_->NowMs());
  row.created_by = by.Actor();
  row.created_ms = row.updated_ms;
  return repo_->CreateTemplate(row);
}

absl::StatusOr<TemplateRow> TemplateService::Update(int64_t id, const TemplateSpec& spec) {
  RETURN_IF_ERROR(ValidateTemplate(spec));
  ASSIGN_OR_RETURN(TemplateRow row, repo_->GetTemplate(id));
  if (row.status == "pending") {
    return absl::FailedPreconditionError(
        "status: the template is pending approval; withdraw the approval before editing");
  }
  SetDraft(row, spec, clock_->NowMs());
  RETURN_IF_ERROR(repo_->UpdateTemplate(row));
  return row;
}

absl::StatusOr<TemplateRow> TemplateService::Get(int64_t id) { return repo_->GetTemplate(id); }

absl::StatusOr<std::vector<TemplateRow>> TemplateService::List(int64_t after_id, int limit,
                                                               std::string_view status) {
  return repo_->ListTemplates(after_id, limit, status);
}

absl::Status TemplateService::Delete(int64_t id) { return repo_->DeleteTemplate(id); }

absl::StatusOr<TemplateRow> TemplateService::Submit(int64_t id, const Principal& by,
                                                    const auth::RequestMeta& meta) {
  ASSIGN_OR_RETURN(TemplateRow row, repo_->GetTemplate(id));
  if (row.status == "pending") {
    return absl::FailedPreconditionError("status: the template is already pending approval");
  }
  if (row.status == "approved") {
    return absl::FailedPreconditionError("status: the template is already approved");
  }
  auth::Submission s;
  s.object_type = std::string(kTemplateObjectType);
  s.object_id = std::to_string(id);
  s.summary = fmt::format("{} template '{}' ({})", row.channel, row.name, row.purpose);
  s.digest = row.digest;
  ASSIGN_OR_RETURN(Approval a, approvals_->Submit(s, by, meta));
  row.status = "pending";
  row.approval_id = a.id;
  row.updated_ms = clock_->NowMs();
  RETURN_IF_ERROR(repo_->UpdateTemplate(row));
  return row;
}

absl::StatusOr<TemplateRow> TemplateService::Approved(int64_t id) {
  absl::StatusOr<TemplateRow> row = repo_->GetTemplate(id);
  if (absl::IsNotFound(row.status())) {
    return absl::InvalidArgumentError(fmt::format("template_id: template {} not found", id));
  }
  if (!row.ok()) return row.status();
  if (row->status != "approved") {
    return absl::InvalidArgumentError(
        fmt::format("template_id: template {} is not approved (status {})", id, row->status));
  }
  return row;
}

void TemplateService::OnDecided(const Approval& a) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(a.object_id, &id)) return;
  const char* status = a.status == ApprovalStatus::kApproved   ? "approved"
                       : a.status == ApprovalStatus::kRejected ? "rejected"
                                                               : "draft";
  // Only the version submitted: an edit after submission changed the digest.
  (void)repo_->SetTemplateStatusIfDigest(id, a.digest, status, clock_->NowMs());
}

}  // namespace mercator::outreach
