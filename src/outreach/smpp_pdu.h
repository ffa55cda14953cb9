// Decoding of the PDUs an SMSC sends that carry outside input (deliver_sm: delivery receipts
// and customers' replies), apart from the session so that it can be fuzzed
// (fuzz/smpp_deliver_fuzz.cc). libsmpp34 unpacks; it reports errors through process globals,
// so every call into it holds Smpp34Mutex().
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_OUTREACH_SMPP_PDU_H_
#define MERCATOR_OUTREACH_SMPP_PDU_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "outreach/smpp_codec.h"

namespace mercator::outreach {

// Held around every libsmpp34 call (pack, unpack, TLV lists) in the process.
absl::Mutex& Smpp34Mutex();

// A deliver_sm: either a delivery receipt (esm_class message type 0x04) or a
// mobile-originated message.
struct InboundDeliver {
  uint32_t sequence = 0;
  bool receipt = false;
  // receipt: the SMSC message id and state, from the receipted_message_id and message_state
  // TLVs where present, else from the "id:... stat:... err:..." text.
  ReceiptText receipt_fields;
  // mobile-originated: the sender and the text as UTF-8 (smpp_codec.h DecodeShortMessage; the
  // message_payload TLV when short_message is empty).
  std::string source_addr;
  std::string text;
};

// InvalidArgument for a PDU that is not a well-formed deliver_sm (`pdu` is the whole PDU,
// header included).
absl::StatusOr<InboundDeliver> DecodeDeliverSm(std::string_view pdu);

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_SMPP_PDU_H_
