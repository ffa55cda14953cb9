// The binary form of an event in the event log's journal (event/event_service.h):
//   u8 version (1), str id, str type, varint uid, str customer,
//   zigzag-varint occurred_ms, zigzag-varint received_ms, str source,
//   varint property count, then per property: str key, u8 kind (0 false, 1 true, 2 int as
//   zigzag varint, 3 str); str = varint length + bytes.
#ifndef MERCATOR_EVENT_INTERNAL_CODEC_H_
#define MERCATOR_EVENT_INTERNAL_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "event/event.h"

namespace mercator::event::internal {

// The sequence number is not stored: it is the record's position in the log.
void EncodeEvent(const Event& event, std::string& out);
absl::StatusOr<Event> DecodeEvent(std::string_view bytes);

// A record read in place, without copying: what the log's replay at start needs of most
// records (DecodeEvent builds strings and a map of properties an event). Views into the
// record's bytes.
struct EventView {
  std::string_view id, type, customer, source;
  uint32_t uid = 0;
  int64_t occurred_ms = 0;
  int64_t received_ms = 0;
  uint64_t property_count = 0;
  std::string_view properties;  // as encoded
};
absl::StatusOr<EventView> DecodeEventView(std::string_view bytes);
// The value of a string property of `view`, if it has one by that key.
std::optional<std::string_view> StringProperty(const EventView& view, std::string_view key);

// A record destroyed in place (an erased customer's event, PIPL): as long as the event's
// record, version byte 0 and zeros, so that every other record keeps its offset and its
// sequence number (its position).
std::string ErasedRecord(size_t length);
bool IsErasedRecord(std::string_view bytes);

}  // namespace mercator::event::internal

#endif  // MERCATOR_EVENT_INTERNAL_CODEC_H_
