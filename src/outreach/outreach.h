// The one door for every outbound touch: campaigns, journey steps, customer managers' pushes
// and activity invitations call Outreach::Send; none of them reaches into channels or the
// contact policy's tables (../shared/ARCHITECTURE.md, "Contact policy").
//
// Send checks the contact policy (consent per customer x channel x purpose, opt-outs, caps per
// customer per day/week across channels, quiet hours, dedupe) before a channel sees the
// message, renders the approved template, and hands it to the channel. A suppression is not an
// error: it is an outcome with its reason, recorded.
//
// Idempotency: the same dedupe_key again returns the first result and sends nothing.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_OUTREACH_OUTREACH_H_
#define MERCATOR_OUTREACH_OUTREACH_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mercator::outreach {

// Channels: "sms", "app_push", "in_app", "wechat_oa", "wecom", "email".
// Purposes: "marketing" (caps, quiet hours and marketing consent apply) or "service".
struct Message {
  uint32_t uid = 0;
  // The external id. May be empty when `uid` is set: the customer is then found by uid (a
  // campaign's members are uids) and this is filled in for the record. Otherwise `uid` is
  // ignored.
  std::string customer;
  std::string channel;  // one of the channels above
  std::string purpose = "marketing";
  std::string template_id;  // an approved template (no free text)
  std::map<std::string, std::string> variables;
  // Who asked, for the record and attribution: "campaign:12", "journey:3:step:wait_1",
  // "manager:alice", "activity:7".
  std::string origin;
  std::string dedupe_key;  // required; same key, same result
  // The destination of the template's {{link}}: the message carries a tracked short link
  // (<public URL>/t/<token>) that redirects here and records the click. http(s) only.
  std::string link_url;
  // Inside the customer's quiet hours (and only then: every other check passed), return
  // kDeferred without recording anything, instead of recording a quiet_hours suppression: the
  // caller (a campaign) tries again later under the same dedupe key.
  bool defer_quiet_hours = false;
};

struct SendResult {
  enum class Outcome { kSent, kSuppressed, kFailed, kDeferred };
  Outcome outcome = Outcome::kSent;
  // kSuppressed: "do_not_disturb", "opted_out", "no_consent", "cap_day", "cap_week",
  // "quiet_hours", "duplicate"; kFailed: the channel's reason; kDeferred: "quiet_hours" (see
  // Message::defer_quiet_hours; nothing recorded, no message_id).
  std::string reason;
  std::string message_id;  // the recorded message (for receipts, clicks, the 360 view)
  bool replayed = false;   // the dedupe key was seen before: this is the first result
};

// A batch that Outreach::PrepareBatch read and rendered, for Outreach::SendPrepared.
class PreparedBatch {
 public:
  virtual ~PreparedBatch() = default;
};

class Outreach {
 public:
  virtual ~Outreach() = default;
  // Errors are for bad requests (InvalidArgument naming the field: unknown channel, template
  // not approved, missing dedupe_key) and storage failures; policy outcomes are SendResults.
  virtual absl::StatusOr<SendResult> Send(const Message& message) = 0;
  // Send for each message, in order: out[i] is messages[i]'s result or its request error. The
  // error of the whole call is a storage failure. Campaigns send their slices this way; the
  // default sends one by one, OutreachService in a few transactions.
  virtual absl::StatusOr<std::vector<absl::StatusOr<SendResult>>> SendBatch(
      std::span<const Message> messages) {
    std::vector<absl::StatusOr<SendResult>> out;
    out.reserve(messages.size());
    for (const Message& m : messages) {
      absl::StatusOr<SendResult> r = Send(m);
      if (!r.ok() && !absl::IsInvalidArgument(r.status()) && !absl::IsNotFound(r.status())) {
        return r.status();
      }
      out.push_back(std::move(r));
    }
    return out;
  }

  // SendBatch in two halves, for a caller sending batch after batch (a campaign), which can
  // prepare the next batch on another thread while this one is sent. PrepareBatch reads and
  // decides what sending does not change (templates, customers, the rendered text, consent,
  // opt-outs, do-not-disturb, quiet hours) and records nothing; SendPrepared records the
  // messages (the caps are counted there, in the write, so a batch prepared early cannot exceed
  // them) and hands them to the channels. SendPrepared(PrepareBatch(m)) is SendBatch(m). A
  // consent withdrawn between the two halves is seen by the next batch. An implementation
  // overrides both or neither; the defaults keep the messages for SendBatch.
  virtual absl::StatusOr<std::unique_ptr<PreparedBatch>> PrepareBatch(
      std::vector<Message> messages) {
    auto kept = std::make_unique<KeptMessages>();
    kept->messages = std::move(messages);
    return kept;
  }
  virtual absl::StatusOr<std::vector<absl::StatusOr<SendResult>>> SendPrepared(
      std::unique_ptr<PreparedBatch> batch) {
    auto* kept = dynamic_cast<KeptMessages*>(batch.get());
    if (kept == nullptr) return absl::InternalError("outreach: a batch prepared elsewhere");
    return SendBatch(kept->messages);
  }

 private:
  struct KeptMessages final : PreparedBatch {
    std::vector<Message> messages;
  };
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_OUTREACH_H_
