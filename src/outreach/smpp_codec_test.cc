#include "outreach/smpp_codec.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace mercator::outreach {
namespace {

// n copies of a CJK character (one UCS-2 unit each).
std::string Cjk(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += "银";
  return s;
}

std::string Payload(const std::string& segment, bool udh) {
  return udh ? segment.substr(6) : segment;
}

TEST(SmppCodec, SeventyUnitsIsOneSegmentWithoutHeader) {
  const std::vector<std::string> s = Ucs2Segments(Cjk(70), 9);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].size(), 140u);
  EXPECT_EQ(Utf16BeToUtf8(s[0]), Cjk(70));
}

TEST(SmppCodec, SeventyOneUnitsAreTwoPartsOf67AndFour) {
  const std::vector<std::string> s = Ucs2Segments(Cjk(71), 0xAB);
  ASSERT_EQ(s.size(), 2u);
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].substr(0, 6), std::string({0x05, 0x00, 0x03, static_cast<char>(0xAB), 0x02,
                                              static_cast<char>(i + 1)}));
  }
  EXPECT_EQ(s[0].size(), 6u + 2 * 67);
  EXPECT_EQ(s[1].size(), 6u + 2 * 4);
  EXPECT_EQ(Utf16BeToUtf8(Payload(s[0], true)) + Utf16BeToUtf8(Payload(s[1], true)), Cjk(71));
}

TEST(SmppCodec, SurrogatePairIsNeverSplit) {
  // 66 units, then an emoji (2 units) that would straddle the 67-unit boundary.
  const std::string text = Cjk(66) + "😀" + Cjk(10);
  const std::vector<std::string> s = Ucs2Segments(text, 1);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].size(), 6u + 2 * 66);
  EXPECT_EQ(Utf16BeToUtf8(Payload(s[0], true)) + Utf16BeToUtf8(Payload(s[1], true)), text);
}

TEST(SmppCodec, Utf8RoundTripsAndMalformedBecomesReplacement) {
  const std::string text = "【示例银行】Hello 😀 回T退订";
  const std::u16string u = Utf8ToUtf16(text);
  std::string be;
  for (char16_t c : u) {
    be += static_cast<char>(c >> 8);
    be += static_cast<char>(c & 0xFF);
  }
  EXPECT_EQ(Utf16BeToUtf8(be), text);
  EXPECT_EQ(Utf8ToUtf16("a\xFFz"), (std::u16string{u'a', 0xFFFD, u'z'}));
}

TEST(SmppCodec, ParsesReceiptText) {
  auto r = ParseReceiptText(
      "id:0a1b2c sub:001 dlvr:001 submit date:2611231000 done date:2611231001 stat:UNDELIV "
      "err:013 text:hello");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, "0a1b2c");
  EXPECT_EQ(r->stat, "UNDELIV");
  EXPECT_EQ(r->err, "013");
  EXPECT_FALSE(ParseReceiptText("T").has_value());
  EXPECT_EQ(ReceiptOutcome("DELIVRD"), "delivered");
  EXPECT_EQ(ReceiptOutcome("REJECTD"), "failed");
  EXPECT_EQ(ReceiptOutcome("ENROUTE"), "");
  EXPECT_EQ(MessageStateStat(2), "DELIVRD");
}

TEST(SmppCodec, OptOutKeywords) {
  for (const char* t : {"T", " t ", "TD", "td", "R", "N", "退订", " 退订\n"}) {
    EXPECT_TRUE(IsOptOutReply(t)) << t;
  }
  for (const char* t : {"", "TT", "谢谢", "stop T"}) EXPECT_FALSE(IsOptOutReply(t)) << t;
}

// GSM 03.38 expectations below are written out by hand from 3GPP TS 23.038 6.2.1 (septet values
// of the default alphabet and its extension table), not produced by the code under test.
std::string Octets(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

TEST(SmppGsm7, SeptetsOfTheDefaultAlphabetAndItsExtension) {
  EXPECT_EQ(Utf8ToGsm7("Hi 0"), Octets({0x48, 0x69, 0x20, 0x30}));
  EXPECT_EQ(Utf8ToGsm7("@£$¥_¤¡§¿àÉΔ\n"),
            Octets({0x00, 0x01, 0x02, 0x03, 0x11, 0x24, 0x40, 0x5F, 0x60, 0x7F, 0x1F, 0x10, 0x0A}));
  // Each extension character is the escape 0x1B and its code: two septets.
  EXPECT_EQ(Utf8ToGsm7("^{}\\[~]|€"),
            Octets({0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3C, 0x1B, 0x3D, 0x1B,
                    0x3E, 0x1B, 0x40, 0x1B, 0x65}));
  // Not in either table: the backtick, the ESC control character, CJK and the 【】 signature.
  for (const char* t : {"a`b",
                        "a\x1B"
                        "b",
                        "银", "【Bank】", "😀", "a\xFFz"}) {
    EXPECT_FALSE(Utf8ToGsm7(t).has_value()) << t;
  }
}

TEST(SmppGsm7, HandCountedSeptetsAndSegments) {
  // "Code 1234, fee €0 [ok]": 19 basic characters and 3 extension ones (€ [ ]): 19 + 6 = 25.
  const SmsEncoding otp = EncodeSms("Code 1234, fee €0 [ok]", 9, Gsm7Mode::kAuto);
  EXPECT_EQ(otp.data_coding, kDataCodingDefault);
  EXPECT_EQ(otp.units, 25u);
  ASSERT_EQ(otp.parts.size(), 1u);
  EXPECT_EQ(otp.parts[0].size(), 25u);  // unpacked: one septet per octet, no header
  EXPECT_EQ(SmsSegmentCount(std::string(160, 'a')), 1u);
  EXPECT_EQ(SmsSegmentCount(std::string(161, 'a')), 2u);
  EXPECT_EQ(SmsSegmentCount(std::string(306, 'a')), 2u);
  EXPECT_EQ(SmsSegmentCount(std::string(307, 'a')), 3u);
  // 80 euro signs are 160 septets: one message; one more character makes two parts.
  std::string euros;
  for (int i = 0; i < 80; ++i) euros += "€";
  EXPECT_EQ(SmsSegmentCount(euros), 1u);
  EXPECT_EQ(SmsSegmentCount(euros + "a"), 2u);
  EXPECT_EQ(SmsSegmentCount(""), 0u);
  // The same text as UCS-2 when GSM-7 is off: 70 units a message.
  const SmsEncoding never = EncodeSms(std::string(71, 'a'), 9, Gsm7Mode::kNever);
  EXPECT_EQ(never.data_coding, kDataCodingUcs2);
  EXPECT_EQ(never.parts.size(), 2u);
  EXPECT_EQ(SmsSegmentCount(Cjk(71)), 2u);
}

TEST(SmppGsm7, LongTextPartsOf153SeptetsWithHeader) {
  const std::string text(161, 'x');
  const SmsEncoding e = EncodeSms(text, 0x2A, Gsm7Mode::kAuto);
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[0].substr(0, 6), Octets({0x05, 0x00, 0x03, 0x2A, 0x02, 0x01}));
  EXPECT_EQ(e.parts[1].substr(0, 6), Octets({0x05, 0x00, 0x03, 0x2A, 0x02, 0x02}));
  EXPECT_EQ(e.parts[0].size(), 6u + 153);
  EXPECT_EQ(e.parts[1].size(), 6u + 8);
}

TEST(SmppGsm7, EscapePairIsNeverSplitAcrossParts) {
  // 152 basic septets, then € (0x1B 0x65) would straddle the 153-septet boundary: the first
  // part ends after 152 and the second starts with the escape. 152 + 2 + 152 = 306 septets fit
  // two full parts by count, but take three once the pair moves: 152, 153 (€ + 151), 1.
  const std::string text = std::string(152, 'a') + "€" + std::string(152, 'b');
  const SmsEncoding e = EncodeSms(text, 1, Gsm7Mode::kAuto);
  EXPECT_EQ(e.units, 306u);
  ASSERT_EQ(e.parts.size(), 3u);
  EXPECT_EQ(e.parts[0].size(), 6u + 152);
  EXPECT_EQ(e.parts[1].substr(6, 3), Octets({0x1B, 0x65, 'b'}));
  EXPECT_EQ(e.parts[1].size(), 6u + 153);
  EXPECT_EQ(e.parts[2].size(), 6u + 1);
  EXPECT_EQ(SmsSegmentCount(text), 3u);
  std::string joined;
  for (const std::string& p : e.parts) joined += Gsm7ToUtf8(p.substr(6));
  EXPECT_EQ(joined, text);
}

TEST(SmppGsm7, DecodesInboundSeptets) {
  EXPECT_EQ(DecodeShortMessage(Octets({0x00, 0x1B, 0x65, 0x11, 0x54}), kDataCodingDefault, 0),
            "@€_T");
  // An escape before a code without an extension character is that code's basic character.
  EXPECT_EQ(Gsm7ToUtf8(Octets({0x1B, 0x41})), "A");
  EXPECT_EQ(Gsm7ToUtf8(Octets({0x41, 0x1B})), "A");
  EXPECT_EQ(Gsm7ToUtf8(Octets({0x80})), "?");
}

TEST(SmppCodec, DecodesInboundTextByDataCoding) {
  EXPECT_EQ(DecodeShortMessage("TD", kDataCodingDefault, 0), "TD");
  EXPECT_EQ(DecodeShortMessage(std::string("\x90\x00\x8b\xa2", 4), kDataCodingUcs2, 0), "退订");
  EXPECT_EQ(DecodeShortMessage(std::string("\x05\x00\x03\x01\x01\x01T", 7), kDataCodingDefault,
                               kEsmClassUdhi),
            "T");
  EXPECT_EQ(CommandStatusName(0x58), "ESME_RTHROTTLED (0x00000058)");
  EXPECT_TRUE(IsThrottle(0x14));
  EXPECT_FALSE(IsThrottle(0x0B));
}

}  // namespace
}  // namespace mercator::outreach
