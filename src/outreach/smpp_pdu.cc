#include "outreach/smpp_pdu.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

// libsmpp34's headers are C; the structs must come before the functions that take them.
// clang-format off
extern "C" {
#include <smpp34.h>
#include <smpp34_heap.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>
}
// clang-format on

namespace mercator::outreach {
namespace {

constexpr size_t kHeaderBytes = 16;
constexpr int kMaxTlvs = 8;

std::string CString(const uint8_t* p, size_t max) {
  const char* c = reinterpret_cast<const char*>(p);
  return std::string(c, strnlen(c, max));
}

uint32_t ReadU32(std::string_view b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

// libsmpp34 leaks the TLV node it was filling when a PDU's optional part is malformed (found by
// fuzz/smpp_deliver_fuzz.cc). Its allocations go through these functions, which remember the
// live blocks; every call into the library holds Smpp34Mutex(), so after an unpack and
// destroy_tlv anything still live is such a leak and is freed (ReleaseLeaked).
std::unordered_set<void*>& Live() {
  static auto* live = new std::unordered_set<void*>();
  return *live;
}
void* TrackedMalloc(size_t n) {
  void* p = std::malloc(n);
  if (p != nullptr) Live().insert(p);
  return p;
}
void* TrackedRealloc(void* p, size_t n) {
  void* q = std::realloc(p, n);
  if (q != nullptr) {
    Live().erase(p);
    Live().insert(q);
  }
  return q;
}
void TrackedFree(void* p) {
  Live().erase(p);
  std::free(p);
}
void ReleaseLeaked() {
  for (void* p : Live()) std::free(p);
  Live().clear();
}

// libsmpp34 reads C-octet strings up to their NUL and TLVs by their length without checking
// either against the PDU's end (found by fuzz/smpp_deliver_fuzz.cc: reads past the buffer).
// So a deliver_sm body is walked here first, with libsmpp34's own field limits (its deliver_sm
// holds schedule_delivery_time and validity_period as empty strings only, as SMPP 3.4 says),
// and only a body that passes is handed to it.
bool WellFormedDeliverBody(std::string_view b) {
  size_t at = 0;
  auto c_octet = [&](size_t max) {  // max includes the NUL
    const size_t end = b.find('\0', at);
    if (end == std::string_view::npos || end - at + 1 > max) return false;
    at = end + 1;
    return true;
  };
  auto octets = [&](size_t n) {
    if (b.size() - at < n) return false;
    at += n;
    return true;
  };
  if (!c_octet(SERVICE_TYPE_LENGTH) || !octets(2) || !c_octet(ADDRESS_LENGTH) || !octets(2) ||
      !c_octet(ADDRESS_LENGTH) || !octets(3) || !c_octet(1) || !c_octet(1) || !octets(5)) {
    return false;
  }
  const size_t sm_length = static_cast<unsigned char>(b[at - 1]);
  if (sm_length > SHORT_MESSAGE_LENGTH - 1 || !octets(sm_length)) return false;
  // libsmpp34 also logs every field it unpacks into a 2 KiB buffer and overruns it after a few
  // dozen TLVs (fuzz found that too): a deliver_sm carries a handful, more are refused.
  int tlvs = 0;
  while (at < b.size()) {
    if (b.size() - at < 4 || ++tlvs > kMaxTlvs) return false;
    const size_t len = (static_cast<size_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
                       static_cast<unsigned char>(b[at + 3]);
    at += 4;
    if (len > MAX_TLV_SIZE || !octets(len)) return false;
  }
  return true;
}

}  // namespace

absl::Mutex& Smpp34Mutex() {
  static absl::Mutex* mu = [] {
    static const smpp34_memory_functions kTracked = {TrackedMalloc, TrackedRealloc, TrackedFree};
    smpp34_set_memory_functions(&kTracked);
    return new absl::Mutex();
  }();
  return *mu;
}

absl::StatusOr<InboundDeliver> DecodeDeliverSm(std::string_view pdu) {
  // libsmpp34 trusts command_length; the framing has checked it against the bytes read, and
  // this checks it again for any other caller.
  if (pdu.size() < kHeaderBytes || ReadU32(pdu, 0) != pdu.size() || ReadU32(pdu, 4) != DELIVER_SM) {
    return absl::InvalidArgumentError("smpp: not a deliver_sm");
  }
  if (!WellFormedDeliverBody(pdu.substr(kHeaderBytes))) {
    return absl::InvalidArgumentError("smpp: malformed deliver_sm (fields or TLVs past its end)");
  }
  deliver_sm_t d;
  std::memset(&d, 0, sizeof d);
  InboundDeliver out;
  std::string receipted_id;
  uint8_t message_state = 0;
  bool has_state = false;
  std::string payload;
  {
    absl::MutexLock lock(&Smpp34Mutex());
    const int rc = smpp34_unpack(DELIVER_SM, &d, reinterpret_cast<const uint8_t*>(pdu.data()),
                                 static_cast<int>(pdu.size()));
    if (rc == 0) {
      for (tlv_t* t = d.tlv; t != nullptr; t = t->next) {
        const size_t len = std::min<size_t>(t->length, MAX_TLV_SIZE);
        if (t->tag == TLVID_receipted_message_id) {
          receipted_id = CString(t->value.octet, len);
        } else if (t->tag == TLVID_message_state && t->length >= 1) {
          message_state = t->value.val08;
          has_state = true;
        } else if (t->tag == TLVID_message_payload) {
          payload.assign(reinterpret_cast<const char*>(t->value.octet), len);
        }
      }
    }
    const std::string error = rc == 0 ? "" : std::string(smpp34_strerror);
    if (d.tlv != nullptr) destroy_tlv(d.tlv);
    d.tlv = nullptr;
    ReleaseLeaked();
    if (rc != 0) {
      return absl::InvalidArgumentError(
          fmt::format("smpp: malformed deliver_sm: {}", error.substr(0, 200)));
    }
  }
  out.sequence = d.sequence_number;
  std::string octets(reinterpret_cast<const char*>(d.short_message),
                     std::min<size_t>(d.sm_length, sizeof d.short_message));
  if (octets.empty()) octets = payload;
  if ((d.esm_class & 0x3C) == SMPP34_DELIVERY_RECEIPT) {
    out.receipt = true;
    // A receipt's text is ASCII (SMPP 3.4 appendix B) whatever data_coding 0 says: read as GSM
    // septets, an id's '_' or '@' would change.
    const uint8_t coding =
        (d.data_coding & 0x0F) == kDataCodingDefault ? kDataCodingAscii : d.data_coding;
    out.receipt_fields =
        ParseReceiptText(DecodeShortMessage(octets, coding, 0)).value_or(ReceiptText{});
    if (!receipted_id.empty()) out.receipt_fields.id = receipted_id;
    if (has_state && !MessageStateStat(message_state).empty()) {
      out.receipt_fields.stat = std::string(MessageStateStat(message_state));
    }
  } else {
    out.source_addr = CString(d.source_addr, sizeof d.source_addr);
    out.text = DecodeShortMessage(octets, d.data_coding, d.esm_class);
  }
  return out;
}

}  // namespace mercator::outreach
