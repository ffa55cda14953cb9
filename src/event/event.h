// Customer events (埋点) as the rest of Mercator sees them: what happened, to whom, when, with
// which typed properties; and the read side of the durable event log that journeys, task
// completion and the workbench's timeline follow.
//
// Every accepted event has a sequence number, dense and increasing in the order the log made
// events durable. A consumer that must see each event exactly once (a journey entering
// customers) stores the last sequence it applied in the same transaction as its own effects
// and reads on from there after a restart (ReadAfter), like the fulfilment outbox follows the
// draw journal.
#ifndef MERCATOR_EVENT_EVENT_H_
#define MERCATOR_EVENT_EVENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"

namespace mercator::event {

// A property value. Money amounts are int64 fen; dates are int64 days since 1970-01-01 (the
// catalog's field type says which); scores and counts are int64.
using PropertyValue = std::variant<bool, int64_t, std::string>;
using Properties = std::map<std::string, PropertyValue, std::less<>>;

// Where an event came from.
inline constexpr std::string_view kSourceImport = "import";      // file backfill
inline constexpr std::string_view kSourceInternal = "internal";  // emitted by Mercator itself
// Otherwise the API client's key id that sent it.

struct Event {
  uint64_t seq = 0;         // position in the log (0 until accepted)
  std::string id;           // the sender's event id; unique per source (idempotency)
  std::string type;         // a catalog type: "login", "purchase", "lifecycle_changed", ...
  uint32_t uid = 0;         // the customer's internal id
  std::string customer;     // the customer's external id (CIF number)
  int64_t occurred_ms = 0;  // when it happened (UTC ms), as the sender says
  int64_t received_ms = 0;  // when Mercator accepted it (UTC ms)
  std::string source;       // API client key id, kSourceImport or kSourceInternal
  Properties properties;
};

// Internal event types Mercator emits itself (source kSourceInternal).
// lifecycle_changed{from, to}: a customer's lifecycle stage changed (from is "" the first time).
inline constexpr std::string_view kLifecycleChanged = "lifecycle_changed";

// The read side of the durable event log. Implemented by event::EventService.
// Thread safety: safe for concurrent use.
class EventLog {
 public:
  virtual ~EventLog() = default;

  // The sequence of the newest durable event (0 when there is none).
  virtual uint64_t LastSeq() const = 0;

  // Calls `fn` for durable events with seq > `after`, in order, until `fn` returns false or
  // `max` events were passed. Events of erased customers are skipped.
  virtual absl::Status ReadAfter(uint64_t after, size_t max,
                                 const std::function<bool(const Event&)>& fn) const = 0;

  // One customer's events, newest first, with seq < `before_seq` (0: from the newest), at most
  // `limit`; `type` empty means every type. For timelines and "did X happen within T".
  virtual absl::Status CustomerEvents(uint32_t uid, std::string_view type, uint64_t before_seq,
                                      size_t limit,
                                      const std::function<bool(const Event&)>& fn) const = 0;

  // Whether the customer has an event of `type` that occurred at or after `since_ms`.
  virtual bool HappenedSince(uint32_t uid, std::string_view type, int64_t since_ms) const = 0;

  // Registers `fn`, called with the new LastSeq() after each batch of events becomes durable.
  // It runs on the log's writer thread: it must only note the number or wake a thread, never
  // block. Returns a handle for Unsubscribe.
  virtual int Subscribe(std::function<void(uint64_t last_seq)> fn) = 0;
  virtual void Unsubscribe(int handle) = 0;
};

}  // namespace mercator::event

#endif  // MERCATOR_EVENT_EVENT_H_
