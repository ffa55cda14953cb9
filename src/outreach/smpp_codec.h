// The SMPP channel's pure parts (docs/outreach-smpp.md): choosing a rendered message's
// encoding (GSM 03.38 default alphabet or UCS-2) and splitting it into segments with a
// concatenation header, decoding inbound short messages, reading delivery receipts, and the
// opt-out keywords of inbound replies. The PDUs themselves are packed and
// unpacked by libsmpp34 in smpp_channel.cc.
//
// Thread safety: pure functions.
#ifndef MERCATOR_OUTREACH_SMPP_CODEC_H_
#define MERCATOR_OUTREACH_SMPP_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mercator::outreach {

inline constexpr uint8_t kDataCodingDefault = 0x00;  // SMSC default alphabet (GSM 03.38)
inline constexpr uint8_t kDataCodingAscii = 0x01;    // IA5 / ASCII
inline constexpr uint8_t kDataCodingLatin1 = 0x03;
inline constexpr uint8_t kDataCodingUcs2 = 0x08;
inline constexpr uint8_t kEsmClassUdhi = 0x40;
// A single message carries up to 70 UCS-2 units; each part of a long one 67 (six octets of
// the 140 go to the concatenation header 05 00 03 ref total seq).
inline constexpr size_t kUcs2Single = 70;
inline constexpr size_t kUcs2Part = 67;
inline constexpr size_t kMaxParts = 255;
// A single message in the GSM 03.38 default alphabet carries up to 160 septets; each part of a
// long one 153 (the header's six octets take seven septets' room in 140 packed octets). A
// character of the extension table (^ { } \ [ ~ ] | € and form feed) takes two septets.
inline constexpr size_t kGsm7Single = 160;
inline constexpr size_t kGsm7Part = 153;
inline constexpr char kGsm7Escape = 0x1B;

// Whether texts that fit the GSM 03.38 default alphabet go as GSM-7 (kAuto) or every text goes
// as UCS-2 (kNever: for an SMSC that mishandles data_coding 0).
enum class Gsm7Mode { kAuto, kNever };

// UTF-16 code units of a UTF-8 text; a malformed sequence becomes U+FFFD.
std::u16string Utf8ToUtf16(std::string_view utf8);
// UTF-8 of big-endian UCS-2/UTF-16 octets (surrogate pairs joined; a lone one becomes U+FFFD;
// an odd last octet is dropped).
std::string Utf16BeToUtf8(std::string_view octets);

// The short_message octets of each segment of `utf8` in UCS-2 (data_coding 8): one without a
// header for up to 70 units, otherwise parts of up to 67 units (never splitting a surrogate
// pair), each behind the header 05 00 03 <ref> <total> <seq> (esm_class needs kEsmClassUdhi).
// Empty for more than 255 parts.
std::vector<std::string> Ucs2Segments(std::string_view utf8, uint8_t ref);

// The GSM 03.38 septets of a UTF-8 text, unpacked (one septet per octet, as SMSCs take
// short_message for data_coding 0), a character of the extension table as 0x1B and its code;
// nullopt if any character is in neither table (or the text is not valid UTF-8).
std::optional<std::string> Utf8ToGsm7(std::string_view utf8);
// UTF-8 of unpacked GSM 03.38 septets: 0x1B and a code of the extension table is that
// character; 0x1B before any other code is that code's basic character; an octet above 0x7F
// becomes '?'.
std::string Gsm7ToUtf8(std::string_view septets);

// How the channel sends a text: GSM-7 (data_coding 0, unpacked septets) when `mode` is kAuto and
// every character fits the GSM 03.38 default alphabet with its extension table, otherwise
// UCS-2 (data_coding 8). `parts` holds the short_message octets of each segment: one without a
// header up to 160 septets / 70 units, otherwise parts of up to 153 septets / 67 units (never
// splitting an escape pair or a surrogate pair), each behind 05 00 03 <ref> <total> <seq>
// (esm_class needs kEsmClassUdhi). `parts` is empty for more than 255 parts.
struct SmsEncoding {
  uint8_t data_coding = kDataCodingUcs2;
  size_t units = 0;  // septets (GSM-7) or UTF-16 code units (UCS-2)
  std::vector<std::string> parts;
};
SmsEncoding EncodeSms(std::string_view utf8, uint8_t ref, Gsm7Mode mode);
// The number of segments EncodeSms sends `utf8` in with Gsm7Mode::kAuto (also beyond 255), and
// 0 for an empty text: what template authors are shown (templates.h SmsSegments).
size_t SmsSegmentCount(std::string_view utf8);

// The text of an inbound short message (deliver_sm) as UTF-8: UCS-2 for data_coding 8, Latin-1
// for 3, unpacked GSM 03.38 septets for 0, the octets themselves (ASCII) otherwise. A user data
// header (esm_class UDHI) is skipped.
std::string DecodeShortMessage(std::string_view octets, uint8_t data_coding, uint8_t esm_class);

// A delivery receipt's text (SMPP 3.4 appendix B):
// "id:IIIII sub:SSS dlvr:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E
// text:...". nullopt if there is no "id:" field.
struct ReceiptText {
  std::string id;
  std::string stat;  // DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE
  std::string err;
};
std::optional<ReceiptText> ParseReceiptText(std::string_view text);
// The message_state TLV's value (SMPP 3.4 5.3.2.35) as a stat word ("" for an unknown value).
std::string_view MessageStateStat(uint8_t state);
// "delivered" for DELIVRD, "failed" for EXPIRED, DELETED, UNDELIV, UNKNOWN and REJECTD, ""
// for an intermediate or unknown state (ACCEPTD, ENROUTE): nothing to record yet.
std::string_view ReceiptOutcome(std::string_view stat);

// Whether an inbound reply asks to stop marketing: "T", "TD", "R", "N" or "退订", trimmed, any
// case (the same keywords as the webhook channel's /v1/webhooks/replies).
bool IsOptOutReply(std::string_view text);

// "ESME_RTHROTTLED (0x00000058)" for known SMPP command_status values, "0x000000NN" otherwise.
std::string CommandStatusName(uint32_t status);
// Throttling and queue-full answers: the SMSC asks for the same PDU later, not a failure.
bool IsThrottle(uint32_t status);

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_SMPP_CODEC_H_
