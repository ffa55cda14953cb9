// OutreachService: outreach::Outreach (outreach.h) over the contact policy, approved templates
// and the channels. Send: replay by dedupe key -> approved template of the message's channel
// and purpose -> the customer (for {{name}}, masked) -> render ({{link}}: a new tracked link)
// -> policy (do-not-disturb, opt-out, consent, quiet hours) -> record with caps (one
// transaction) -> the tracked link's record -> the channel's Deliver. Every outcome,
// suppressions included, is recorded with its reason in outreach_messages and shown in the
// customer's contact history.
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_OUTREACH_OUTREACH_SERVICE_H_
#define MERCATOR_OUTREACH_OUTREACH_SERVICE_H_

#include <map>
#include <span>
#include <string>
#include <vector>

#include "customer/customer_service.h"
#include "outreach/channel.h"
#include "outreach/contact_policy.h"
#include "outreach/outreach.h"
#include "outreach/templates.h"
#include "store/outreach_repository.h"

namespace mercator::outreach {

// The variables a template can use without the caller giving them: {{name}} is the customer's
// name masked (张*); a caller's own "name" variable is ignored, so a push never carries a full
// name.
std::map<std::string, std::string> BuiltInVariables(const CustomerRecord& customer);

class OutreachService final : public Outreach {
 public:
  // `channels` maps a channel name to its adapter (not owned); a channel without one is
  // InvalidArgument "channel: no adapter configured for X". None of the pointers is owned.
  OutreachService(OutreachRepository* repo, TemplateService* templates, CustomerService* customers,
                  ContactPolicy* policy, std::map<std::string, Channel*> channels,
                  const Clock* clock);

  absl::StatusOr<SendResult> Send(const Message& message) override;
  // Send for many messages in a few transactions: one read of the policy's facts, one write
  // of the records, one delivery per channel. out[i] is messages[i]'s result or its request
  // error (nothing is recorded for a message with an error).
  absl::StatusOr<std::vector<absl::StatusOr<SendResult>>> SendBatch(
      std::span<const Message> messages) override;
  // SendBatch in two halves (Outreach::PrepareBatch): reads, rendering and the policy's
  // consent, opt-out, do-not-disturb and quiet-hour decisions; then the record with its caps,
  // the tracked links and the channels.
  absl::StatusOr<std::unique_ptr<PreparedBatch>> PrepareBatch(
      std::vector<Message> messages) override;
  absl::StatusOr<std::vector<absl::StatusOr<SendResult>>> SendPrepared(
      std::unique_ptr<PreparedBatch> batch) override;

  // The public base of tracked links ("https://m.bank.example"); a message's {{link}} becomes
  // <base>/t/<token>. Set once before serving.
  void SetLinkBase(std::string base) { link_base_ = std::move(base); }
  const std::string& link_base() const { return link_base_; }

  // Renders an approved or draft template for a customer without sending (preview).
  struct Preview {
    std::string body;
    int64_t length = 0;    // UCS-2 characters
    int64_t segments = 0;  // SMS segments (sms only; 0 otherwise)
  };
  absl::StatusOr<Preview> Render(const TemplateRow& tmpl, const std::string& customer,
                                 const std::map<std::string, std::string>& variables);

 private:
  struct Prepared;
  // The request checks of Send; returns the message's approved template (cached in `templates`
  // for the batch).
  absl::StatusOr<const TemplateRow*> CheckMessage(
      const Message& m, std::map<int64_t, absl::StatusOr<TemplateRow>>& templates) const;
  // The body of `tmpl` for `customer` (the built-in variables over `variables`); RenderWith
  // adds its length and segments (a preview), RenderBody does not (sending).
  static absl::StatusOr<std::string> RenderBody(const TemplateRow& tmpl,
                                                const CustomerRecord& customer,
                                                std::map<std::string, std::string> variables);
  static absl::StatusOr<Preview> RenderWith(const TemplateRow& tmpl, const CustomerRecord& customer,
                                            std::map<std::string, std::string> variables);

  OutreachRepository* const repo_;
  TemplateService* const templates_;
  CustomerService* const customers_;
  ContactPolicy* const policy_;
  const std::map<std::string, Channel*> channels_;
  const Clock* const clock_;
  std::string link_base_;
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_OUTREACH_SERVICE_H_
