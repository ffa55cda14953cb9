#include "outreach/smpp_codec.h"

#include <gtest/gtest.h>

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
