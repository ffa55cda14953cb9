// Fuzz target for what an SMSC sends Mercator (src/outreach/smpp_pdu.h, smpp_codec.h): the
// input is the body of a deliver_sm (the target adds the 16-octet header), decoded as the
// session decodes it. A body is refused with InvalidArgument or decodes to a receipt or a
// reply whose text is valid UTF-8. The same bytes as a message text split into UCS-2 parts
// that each fit 140 octets and join back to the text, and, where the text fits the GSM 03.38
// alphabet, into GSM-7 parts that keep escape pairs whole and join back. Anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "outreach/smpp_codec.h"
#include "outreach/smpp_pdu.h"

namespace {

using mercator::outreach::DecodeDeliverSm;
using mercator::outreach::EncodeSms;
using mercator::outreach::Gsm7Mode;
using mercator::outreach::Gsm7ToUtf8;
using mercator::outreach::SmsEncoding;
using mercator::outreach::SmsSegmentCount;
using mercator::outreach::Ucs2Segments;
using mercator::outreach::Utf16BeToUtf8;
using mercator::outreach::Utf8ToUtf16;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "smpp_deliver_fuzz: %s\n", what);
  std::abort();
}

bool ValidUtf8(std::string_view s) {
  // A UTF-8 text survives a round trip through UTF-16 unchanged.
  std::string be;
  for (char16_t u : Utf8ToUtf16(s)) {
    be += static_cast<char>(u >> 8);
    be += static_cast<char>(u & 0xFF);
  }
  return Utf16BeToUtf8(be) == s;
}

void Put32(std::string& out, uint32_t v) {
  for (int k = 3; k >= 0; --k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::string pdu;
  Put32(pdu, static_cast<uint32_t>(16 + size));
  Put32(pdu, 0x00000005);  // deliver_sm
  Put32(pdu, 0);
  Put32(pdu, 1);
  pdu += body;
  auto d = DecodeDeliverSm(pdu);
  if (d.ok()) {
    Check(d->sequence == 1, "sequence number lost");
    Check(ValidUtf8(d->text), "reply text is not valid UTF-8");
    Check(d->receipt_fields.id.size() <= 1024, "receipt id longer than a TLV");
  } else {
    Check(d.status().code() == absl::StatusCode::kInvalidArgument, "unexpected error code");
  }

  // The input as a message text (malformed UTF-8 becomes U+FFFD first).
  std::string be;
  for (char16_t u : Utf8ToUtf16(body)) {
    be += static_cast<char>(u >> 8);
    be += static_cast<char>(u & 0xFF);
  }
  const std::string text = Utf16BeToUtf8(be);
  const auto parts = Ucs2Segments(text, 7);
  std::string joined;
  for (const std::string& p : parts) {
    Check(p.size() <= 140, "a part is longer than 140 octets");
    joined += Utf16BeToUtf8(parts.size() > 1 ? p.substr(6) : p);
  }
  Check(parts.empty() || joined == text, "parts do not join back to the text");

  // The same text as the channel encodes it (GSM-7 where it fits): parts of at most 160 septets
  // alone or 6 + 153 octets with a header, no part ending in an escape, joining back.
  const SmsEncoding e = EncodeSms(text, 7, Gsm7Mode::kAuto);
  if (e.data_coding == mercator::outreach::kDataCodingDefault) {
    std::string septets;
    for (const std::string& p : e.parts) {
      const std::string payload = e.parts.size() > 1 ? p.substr(6) : p;
      Check(payload.size() <= (e.parts.size() > 1 ? 153u : 160u), "a GSM-7 part is too long");
      Check(payload.empty() || payload.back() != 0x1B, "a GSM-7 part ends in an escape");
      septets += payload;
    }
    Check(e.parts.empty() || Gsm7ToUtf8(septets) == text, "GSM-7 parts do not join back");
  }
  Check(e.parts.empty() || e.parts.size() == SmsSegmentCount(text) || text.empty(),
        "the segment count differs from the parts sent");
  return 0;
}
