#include "outreach/templates.h"

#include <gtest/gtest.h>

#include <string>

#include "outreach/contact_policy.h"

namespace mercator::outreach {
namespace {

TemplateSpec Sms(std::string body) {
  return TemplateSpec{.name = "n", .channel = "sms", .purpose = "marketing", .body = body};
}

TEST(TemplateValidation, SmsNeedsSignatureAndFooter) {
  EXPECT_TRUE(ValidateTemplate(Sms("【示例银行】{{name}}您好，存款到期。回T退订")).ok());
  absl::Status no_sig = ValidateTemplate(Sms("{{name}}您好，存款到期。回T退订"));
  EXPECT_EQ(no_sig.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(std::string(no_sig.message()).starts_with("body: ")) << no_sig;
  EXPECT_NE(std::string(no_sig.message()).find("【】"), std::string::npos);
  absl::Status empty_sig = ValidateTemplate(Sms("【】您好。回T退订"));
  EXPECT_FALSE(empty_sig.ok());
  absl::Status no_footer = ValidateTemplate(Sms("【示例银行】您好"));
  EXPECT_NE(std::string(no_footer.message()).find("回T退订"), std::string::npos) << no_footer;
  // Other channels need neither.
  TemplateSpec push{.name = "p", .channel = "app_push", .purpose = "service", .body = "hi"};
  EXPECT_TRUE(ValidateTemplate(push).ok());
  push.channel = "fax";
  EXPECT_TRUE(std::string(ValidateTemplate(push).message()).starts_with("channel: "));
  push.channel = "app_push";
  push.purpose = "ads";
  EXPECT_TRUE(std::string(ValidateTemplate(push).message()).starts_with("purpose: "));
}

TEST(TemplateValidation, MalformedPlaceholdersNameTheBody) {
  for (const char* body : {"hi {{name", "hi {{}}", "hi {{Name}}", "hi {{na me}}"}) {
    TemplateSpec t{.name = "p", .channel = "app_push", .purpose = "service", .body = body};
    absl::Status s = ValidateTemplate(t);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_TRUE(std::string(s.message()).starts_with("body: ")) << s;
  }
}

TEST(TemplateRender, SubstitutesAndReportsTheMissingVariable) {
  auto r = RenderTemplate("{{name}}，您的{{product}}将于{{date}}到期",
                          {{"name", "张*"}, {"product", "定期"}, {"date", "12-01"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "张*，您的定期将于12-01到期");
  auto missing = RenderTemplate("{{name}} {{coupon_code}}", {{"name", "x"}});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(std::string(missing.status().message()).starts_with("variables/coupon_code: "));
  EXPECT_EQ(TemplateVariables("{{a}}{{b}}{{a}}"), (std::vector<std::string>{"a", "b"}));
}

TEST(SmsSegments, SeventyThenSixtySevenUcs2Characters) {
  const std::string han = "银";  // one UCS-2 unit, three UTF-8 bytes
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  EXPECT_EQ(SmsSegments(""), 0);
  EXPECT_EQ(SmsSegments(repeat(han, 70)), 1);
  EXPECT_EQ(SmsSegments(repeat(han, 71)), 2);
  EXPECT_EQ(SmsSegments(repeat(han, 134)), 2);
  EXPECT_EQ(SmsSegments(repeat(han, 135)), 3);
  EXPECT_EQ(SmsSegments(repeat("a", 70)), 1);
  EXPECT_EQ(Utf16Length("😀"), 2);  // outside the BMP: a surrogate pair
}

TEST(SmsSegments, GsmTextsCount160ThenParts153Septets) {
  // Hand-counted GSM 03.38 septets: a letter is one, € and [ ] are two each (the escape and the
  // code), and a pair is never split between parts.
  EXPECT_EQ(SmsSegments(std::string(160, 'a')), 1);
  EXPECT_EQ(SmsSegments(std::string(161, 'a')), 2);
  EXPECT_EQ(SmsSegments(std::string(306, 'a')), 2);
  EXPECT_EQ(SmsSegments(std::string(307, 'a')), 3);
  EXPECT_EQ(SmsSegments(std::string(158, 'a') + "[]"), 2);  // 162 septets
  EXPECT_EQ(SmsSegments(std::string(152, 'a') + "€" + std::string(152, 'a')), 3);
  // One character outside the alphabet makes the whole text UCS-2: 71 units are two parts.
  EXPECT_EQ(SmsSegments(std::string(70, 'a') + "`"), 2);
  EXPECT_EQ(SmsSegments("【Bank】" + std::string(60, 'a')), 1);  // 66 units
}

TEST(TemplateDigest, ChangesWithEveryField) {
  TemplateSpec a{.name = "n", .channel = "sms", .purpose = "marketing", .body = "b"};
  const std::string d = TemplateDigest(a);
  for (int i = 0; i < 4; ++i) {
    TemplateSpec b = a;
    (i == 0 ? b.name : i == 1 ? b.channel : i == 2 ? b.purpose : b.body) += "x";
    EXPECT_NE(TemplateDigest(b), d) << i;
  }
}

TEST(LocalTime, ShanghaiDaysWeeksAndQuietHours) {
  // 2026-11-23 (a Monday) 15:59:59 UTC is 23:59:59 in Shanghai; a second later is Tuesday.
  constexpr int64_t kMonday2359 = 1795449599000;
  const int64_t day = LocalDay(kMonday2359, 480);
  EXPECT_EQ(LocalDay(kMonday2359 + 1000, 480), day + 1);
  EXPECT_EQ(LocalWeek(day), LocalWeek(day + 1));      // Monday and Tuesday
  EXPECT_EQ(LocalWeek(day - 1) + 1, LocalWeek(day));  // Sunday is the week before
  EXPECT_EQ(LocalMinuteOfDay(kMonday2359, 480), 23 * 60 + 59);
  EXPECT_EQ(LocalWeek(0), 0);    // Thursday 1970-01-01
  EXPECT_EQ(LocalWeek(-4), -1);  // Sunday 1969-12-28
  EXPECT_TRUE(InQuietHours(21 * 60, 21 * 60, 8 * 60));
  EXPECT_TRUE(InQuietHours(7 * 60 + 59, 21 * 60, 8 * 60));
  EXPECT_FALSE(InQuietHours(8 * 60, 21 * 60, 8 * 60));
  EXPECT_FALSE(InQuietHours(20 * 60 + 59, 21 * 60, 8 * 60));
  EXPECT_TRUE(InQuietHours(13 * 60, 12 * 60, 14 * 60));
  EXPECT_FALSE(InQuietHours(13 * 60, 0, 0));
}

}  // namespace
}  // namespace mercator::outreach
