// Message templates: validation per channel, {{variable}} rendering, SMS segment counting, and
// the TemplateService that keeps templates and sends them through maker-checker
// (auth::ApprovalService, object type "outreach_template"). Only an approved template can be
// sent (OutreachService asks Approved()); any edit makes it a draft that needs approval again.
//
// Thread safety: the functions are pure; TemplateService is safe for concurrent use.
#ifndef MERCATOR_OUTREACH_TEMPLATES_H_
#define MERCATOR_OUTREACH_TEMPLATES_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/approvals.h"
#include "common/clock.h"
#include "common/principal.h"
#include "store/outreach_repository.h"

namespace mercator::outreach {

inline constexpr std::string_view kTemplateObjectType = "outreach_template";

// "sms", "app_push", "in_app", "wechat_oa", "wecom", "email" (outreach.h).
bool IsChannel(std::string_view channel);
// InvalidArgument "purpose: must be marketing or service" otherwise.
absl::Status CheckPurpose(std::string_view purpose);

struct TemplateSpec {
  std::string name;
  std::string channel;
  std::string purpose = "marketing";
  std::string body;
};

// InvalidArgument naming the field: "name: ...", "channel: ...", "purpose: ...",
// "body: ..." (SMS: "body: an SMS template must carry the bank's signature 【…】",
// "body: an SMS template must end with the opt-out footer 回T退订"; a malformed {{...}}).
absl::Status ValidateTemplate(const TemplateSpec& spec);

// The variable names a body uses, in order of first use, each once. The body must be valid.
std::vector<std::string> TemplateVariables(std::string_view body);

// Replaces each {{var}} with variables[var]; InvalidArgument "variables/<var>: missing" for a
// variable without a value.
absl::StatusOr<std::string> RenderTemplate(std::string_view body,
                                           const std::map<std::string, std::string>& variables);

// UCS-2 (UTF-16) code units of a UTF-8 text, and the SMS segments it takes as the SMPP channel
// sends it (smpp_codec.h EncodeSms): a text entirely in the GSM 03.38 alphabet one of up to 160
// septets, otherwise parts of up to 153 (an extension character such as € or { is two septets,
// never split); any other text one of up to 70 units, otherwise parts of up to 67 (a surrogate
// pair never split). 0 for "".
int64_t Utf16Length(std::string_view utf8);
int64_t SmsSegments(std::string_view utf8);

// The digest an approval covers: name, channel, purpose and body.
std::string TemplateDigest(const TemplateSpec& spec);

class TemplateService {
 public:
  // Registers its approval listener on `approvals`; none of the pointers is owned.
  TemplateService(OutreachRepository* repo, auth::ApprovalService* approvals, const Clock* clock);
  TemplateService(const TemplateService&) = delete;
  TemplateService& operator=(const TemplateService&) = delete;

  absl::StatusOr<TemplateRow> Create(const TemplateSpec& spec, const Principal& by);
  // FailedPrecondition while an approval is pending; the template becomes a draft.
  absl::StatusOr<TemplateRow> Update(int64_t id, const TemplateSpec& spec);
  absl::StatusOr<TemplateRow> Get(int64_t id);
  absl::StatusOr<std::vector<TemplateRow>> List(int64_t after_id, int limit,
                                                std::string_view status);
  absl::Status Delete(int64_t id);
  // Submits the current version for approval (the submitter may not approve it).
  absl::StatusOr<TemplateRow> Submit(int64_t id, const Principal& by,
                                     const auth::RequestMeta& meta);
  // The template if approved; InvalidArgument "template_id: template N is not approved
  // (status draft)" otherwise, NotFound for an unknown one.
  absl::StatusOr<TemplateRow> Approved(int64_t id);

 private:
  void OnDecided(const Approval& approval);

  OutreachRepository* const repo_;
  auth::ApprovalService* const approvals_;
  const Clock* const clock_;
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_TEMPLATES_H_
