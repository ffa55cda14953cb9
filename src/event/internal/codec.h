// The binary form of an event in the event log's journal (event/event_service.h):
//   u8 version (1), str id, str type, varint uid, str customer,
//   zigzag-varint occurred_ms, zigzag-varint received_ms, str source,
//   varint property count, then per property: str key, u8 kind (0 false, 1 true, 2 int as
//   zigzag varint, 3 str); str = varint length + bytes.
#ifndef MERCATOR_EVENT_INTERNAL_CODEC_H_
#define MERCATOR_EVENT_INTERNAL_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "event/event.h"

namespace mercator::event::internal {

// The sequence number is not stored: it is the record's position in the log.
void EncodeEvent(const Event& event, std::string& out);
absl::StatusOr<Event> DecodeEvent(std::string_view bytes);

// A record destroyed in place (an erased customer's event, PIPL): as long as the event's
// record, version byte 0 and zeros, so that every other record keeps its offset and its
// sequence number (its position).
std::string ErasedRecord(size_t length);
bool IsErasedRecord(std::string_view bytes);

}  // namespace mercator::event::internal

#endif  // MERCATOR_EVENT_INTERNAL_CODEC_H_
