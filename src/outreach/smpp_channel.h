// The SMPP 3.4 channel: SMS through an operator's or the bank's SMSC (docs/outreach-smpp.md).
//
// SmppChannel::Deliver only enqueues: it writes a durable outbound record keyed by the message
// id (idempotent) and wakes the session thread, which owns `connections` TCP connections to the
// SMSC (links), each bound on its own: bind_transceiver with system_id/password/system_type,
// then submit_sm of each message's segments (smpp_codec.h EncodeSms: GSM-7 when every
// character fits the GSM 03.38 alphabet and `gsm7` is auto, else UCS-2), spread over the bound
// links with up to `window` requests outstanding on each. Each submit_sm_resp
// with a message id records the segment as accepted (never submitted again); a message whose
// every segment is accepted is "submitted". ESME_RTHROTTLED and ESME_RMSGQFUL pause submitting
// on that link (exponential back-off) and resubmit the same segment; any other error status
// fails the message with it (a failed receipt with the status name). enquire_link keeps an
// idle link alive and detects a dead one; the SMSC's enquire_link and unbind are answered. A
// lost connection or an unanswered request reconnects that link with exponential back-off
// while the others go on, and resubmits only the segments that were not accepted, on any bound
// link. Stop unbinds every link.
//
// deliver_sm (on any link: receipts are matched by the SMSC's message id, whichever link
// submitted the segment): a delivery receipt (esm_class bit 2; id/stat from the
// receipted_message_id and message_state TLVs or the "id:... stat:..." text) records the segment's
// receipt; when every segment of a message has one, the message's receipt (outreach_receipts, as
// the webhook channel's receipts) is delivered or failed with the reason. A mobile-originated "T",
// "TD", "R", "N" or "退订" opts every customer with that mobile number out of marketing SMS
// (opt-out source sms_reply, audited as contact.opt_out, as /v1/webhooks/replies does). deliver_sm
// is answered after it was stored; a storage failure answers ESME_RX_T_APPN so the SMSC retries.
//
// At start, Adopt enqueues sent SMS that a crash left without any outbound record.
//
// Thread safety: Deliver, Wake and stats are safe for concurrent use; Start and Stop are
// called by one owner. Only the session thread touches the socket and libsmpp34.
#ifndef MERCATOR_OUTREACH_SMPP_CHANNEL_H_
#define MERCATOR_OUTREACH_SMPP_CHANNEL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "auth/audit.h"
#include "common/clock.h"
#include "outreach/channel.h"
#include "outreach/smpp_codec.h"
#include "store/outreach_repository.h"
#include "store/repository.h"
#include "store/smpp_repository.h"
#include "store/webhook_repository.h"

namespace mercator::outreach {

struct SmppOptions {
  std::string host;  // the SMSC; empty: no SMPP channel (SMS stays on the sandbox or webhook)
  int32_t port = 2775;
  std::string system_id;    // at most 15 characters
  std::string password;     // at most 8 characters; a secret (file or environment, never argv)
  std::string system_type;  // at most 12 characters, may be empty
  std::string source_addr;  // the sender (short code or alphanumeric), at most 20 characters
  uint8_t source_addr_ton = 0;
  uint8_t source_addr_npi = 0;
  uint8_t dest_addr_ton = 0;
  uint8_t dest_addr_npi = 1;        // E.164
  int32_t window = 16;              // submit_sm outstanding at once, per connection
  int32_t connections = 1;          // binds to the SMSC at once (1..16), each with its own window
  Gsm7Mode gsm7 = Gsm7Mode::kAuto;  // GSM-7 for texts in the GSM 03.38 alphabet, or never
  bool registered_delivery = true;
  int64_t enquire_link_ms = 30'000;      // idle time before an enquire_link
  int64_t response_timeout_ms = 10'000;  // a request unanswered this long drops the link
  int64_t reconnect_base_ms = 1000;      // back-off doubles per failed attempt, capped
  int64_t reconnect_max_ms = 60'000;
  int64_t throttle_base_ms = 500;  // pause after a throttling answer, doubling while they last
  int64_t throttle_max_ms = 30'000;
  int64_t poll_interval_ms = 1000;  // looks for new records when nothing wakes it
  int32_t batch = 256;              // messages held in memory at once
};

// InvalidArgument naming the option ("smpp.password: ...") for an unusable configuration.
absl::Status ValidateSmppOptions(const SmppOptions& options);

class SmppChannel final : public Channel {
 public:
  struct Stats {
    int64_t binds = 0;             // successful bind_transceiver
    int64_t connect_failures = 0;  // connect or bind failed
    int64_t disconnects = 0;       // bound links lost (by the peer, a timeout or an error)
    int64_t submits = 0;           // submit_sm sent
    int64_t accepted = 0;          // segments accepted (submit_sm_resp OK)
    int64_t throttled = 0;         // throttling answers
    int64_t failed = 0;            // messages failed by the SMSC's answer or without a number
    int64_t enquire_links_sent = 0;
    int64_t enquire_links_answered = 0;  // the SMSC's enquire_link we answered
    int64_t receipts = 0;                // delivery receipts received
    int64_t replies = 0;                 // mobile-originated messages received
    int64_t opt_outs = 0;                // customers opted out by a reply
    int32_t bound_links = 0;             // links bound now
    bool bound = false;                  // bound_links > 0
  };

  // None of the pointers is owned; `options` must be valid (ValidateSmppOptions). `receipts`
  // stores message receipts (outreach_receipts), `outreach` the opt-outs, `customers` resolves
  // mobile numbers, `audit` records opt-outs.
  SmppChannel(SmppRepository* repo, WebhookRepository* receipts, OutreachRepository* outreach,
              CustomerRepository* customers, auth::AuditLog* audit, const Clock* clock,
              SmppOptions options);
  ~SmppChannel() override;
  SmppChannel(const SmppChannel&) = delete;
  SmppChannel& operator=(const SmppChannel&) = delete;

  absl::StatusOr<Delivery> Deliver(const OutboundMessage& message) override;

  // Enqueues sent SMS without any outbound record; returns how many.
  absl::StatusOr<int64_t> Adopt();
  // Starts the session thread (connects, binds, submits). Stop unbinds and joins it; records
  // not yet accepted stay pending for the next start.
  absl::Status Start();
  void Stop();
  void Wake();

  Stats stats() const;
  // Called by the session thread with the stats about once a second (for metrics); it must not
  // call back into the channel's Start or Stop.
  using Observer = std::function<void(const Stats& stats)>;
  void SetObserver(Observer observer);
  const SmppOptions& options() const;

 private:
  class Session;
  std::unique_ptr<Session> session_;
  SmppRepository* const repo_;
  const Clock* const clock_;
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_SMPP_CHANNEL_H_
