// The channel interface every adapter implements, and the sandbox channel.
//
// OutreachService calls Deliver after the contact policy let a message through and the message
// was recorded (so caps count it even if the gateway is slow). Deliver hands one rendered
// message to a gateway and returns whether the gateway accepted it; receipts come later
// through the adapter's own route (issue 6: webhook, SMPP, CMPP, WeChat, WeCom adapters plug in
// here, each with its own retries and dead-letter queue).
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_OUTREACH_CHANNEL_H_
#define MERCATOR_OUTREACH_CHANNEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "store/outreach_repository.h"

namespace mercator::outreach {

struct OutboundMessage {
  int64_t message_id = 0;  // the recorded message (outreach_messages)
  uint32_t uid = 0;
  std::string customer;  // external id; adapters resolve the address (phone, openid) themselves
  std::string channel;
  std::string purpose;
  int64_t template_id = 0;  // the approved template it was rendered from
  std::string body;         // rendered
  std::string origin;
};

struct Delivery {
  bool accepted = true;
  std::string reason;      // why the gateway refused it (accepted == false)
  std::string gateway_id;  // the gateway's id for receipts
};

class Channel {
 public:
  virtual ~Channel() = default;
  // An error is a failure to reach the gateway (the message is recorded as failed with it).
  virtual absl::StatusOr<Delivery> Deliver(const OutboundMessage& message) = 0;
  // Deliver for each message (out[i] for messages[i]); a campaign's slice comes this way. The
  // default delivers one by one; an adapter whose gateway takes batches does better.
  virtual std::vector<absl::StatusOr<Delivery>> DeliverBatch(
      std::span<const OutboundMessage> messages) {
    std::vector<absl::StatusOr<Delivery>> out;
    out.reserve(messages.size());
    for (const OutboundMessage& m : messages) out.push_back(Deliver(m));
    return out;
  }
};

// Stores every message in the sandbox outbox (SQLite table sandbox_outbox) instead of sending
// it: for the demo, tests and a bank's acceptance runs. Inspect it through
// GET /v1/outreach/sandbox/outbox or OutreachRepository::ListOutbox.
class SandboxChannel final : public Channel {
 public:
  SandboxChannel(OutreachRepository* repo, const Clock* clock) : repo_(repo), clock_(clock) {}
  absl::StatusOr<Delivery> Deliver(const OutboundMessage& message) override;
  // One transaction for the whole batch.
  std::vector<absl::StatusOr<Delivery>> DeliverBatch(
      std::span<const OutboundMessage> messages) override;

 private:
  OutreachRepository* const repo_;
  const Clock* const clock_;
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_CHANNEL_H_
