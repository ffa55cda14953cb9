#include "customer/tag.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "customer/customer.h"

namespace mercator {
namespace {

TagDef Def(TagType type, int32_t scale = 0, std::vector<std::string> values = {}) {
  TagDef d;
  d.key = "t";
  d.name_en = "T";
  d.type = type;
  d.scale = scale;
  d.values = std::move(values);
  return d;
}

TEST(TagValue, DecimalIsExactAndScaled) {
  const TagDef aum = Def(TagType::kDecimal, 2);
  EXPECT_EQ(std::get<int64_t>(*ParseTagValue(aum, "50000")), 5000000);
  EXPECT_EQ(std::get<int64_t>(*ParseTagValue(aum, "50000.5")), 5000050);
  EXPECT_EQ(std::get<int64_t>(*ParseTagValue(aum, "-0.01")), -1);
  EXPECT_EQ(std::get<int64_t>(*ParseTagValue(aum, "1.500")), 150);
  EXPECT_FALSE(ParseTagValue(aum, "1.005").ok());
  EXPECT_FALSE(ParseTagValue(aum, "abc").ok());
  EXPECT_FALSE(ParseTagValue(aum, "").ok());
  EXPECT_FALSE(ParseTagValue(aum, "99999999999999999999").ok());
  EXPECT_EQ(FormatTagValue(aum, TagValue(int64_t{5000050})), "50000.50");
  EXPECT_EQ(FormatTagValue(aum, TagValue(int64_t{-1})), "-0.01");
}

TEST(TagValue, DatesRoundTrip) {
  const TagDef d = Def(TagType::kDate);
  EXPECT_EQ(std::get<int64_t>(*ParseTagValue(d, "1970-01-01")), 0);
  EXPECT_EQ(std::get<int64_t>(*ParseTagValue(d, "20240229")),
            std::get<int64_t>(*ParseTagValue(d, "2024-02-29")));
  EXPECT_FALSE(ParseTagValue(d, "2023-02-29").ok());
  EXPECT_FALSE(ParseTagValue(d, "2023-13-01").ok());
  for (int64_t day = -25000; day < 80000; day += 37) {
    EXPECT_EQ(std::get<int64_t>(*ParseTagValue(d, FormatTagValue(d, TagValue(day)))), day);
  }
}

// Oracle: the C++20 calendar. Every day of every month number 0..13 and day number 0..32 of
// years around the accepted range 1900..2200, in both spellings, is a date exactly when the
// calendar says so and the year is in range, and then it is the calendar's day count.
TEST(TagValue, DatesAgreeWithTheCalendar) {
  const TagDef d = Def(TagType::kDate);
  for (int y : {1899, 1900, 1970, 2000, 2023, 2024, 2100, 2200, 2201}) {
    for (unsigned m = 0; m <= 13; ++m) {
      for (unsigned day = 0; day <= 32; ++day) {
        const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m),
                                              std::chrono::day(day)};
        const bool valid = ymd.ok() && y >= 1900 && y <= 2200;
        for (const std::string& text : {fmt::format("{:04}-{:02}-{:02}", y, m, day),
                                        fmt::format("{:04}{:02}{:02}", y, m, day)}) {
          absl::StatusOr<TagValue> v = ParseTagValue(d, text);
          ASSERT_EQ(v.ok(), valid) << text;
          if (valid) {
            EXPECT_EQ(std::get<int64_t>(*v), std::chrono::sys_days(ymd).time_since_epoch().count())
                << text;
          } else {
            EXPECT_EQ(v.status().message(),
                      fmt::format("\"{}\" is not a date (YYYY-MM-DD or YYYYMMDD)", text));
          }
        }
      }
    }
  }
  for (std::string_view bad : {"2024-1-01", "2024/01/01", "2024-01-0a", "+2024-1-01", "+0240101",
                               "2024010", "202401011", "2024-01-01x", "-1000101", ""}) {
    EXPECT_FALSE(ParseTagValue(d, bad).ok()) << bad;
  }
  EXPECT_EQ(std::get<int64_t>(*ParseTagValue(d, " 2024-01-01 ")),
            std::get<int64_t>(*ParseTagValue(d, "20240101")));
}

// Check is Parse without the value: the same verdict and the same reason for every input.
TEST(TagValue, CheckAgreesWithParse) {
  const std::vector<TagDef> defs = {
      Def(TagType::kBool),       Def(TagType::kEnum, 0, {"普通", "金卡"}),
      Def(TagType::kEnum),       Def(TagType::kMultiEnum, 0, {"fund", "deposit", "wealth"}),
      Def(TagType::kMultiEnum),  Def(TagType::kInt),
      Def(TagType::kDecimal, 2), Def(TagType::kDate),
  };
  const std::vector<std::string_view> inputs = {"",
                                                " ",
                                                "true",
                                                "TRUE",
                                                " Yes ",
                                                "y",
                                                "N",
                                                "0",
                                                "1",
                                                "是",
                                                "否",
                                                "maybe",
                                                "普通",
                                                " 金卡 ",
                                                "钻石",
                                                "fund",
                                                "fund|deposit",
                                                " wealth , fund ",
                                                "fund||",
                                                "|",
                                                "fund|gold",
                                                "gold|fund",
                                                "12",
                                                "-3",
                                                "+4",
                                                "1.5",
                                                "1.005",
                                                "abc",
                                                "2024-02-29",
                                                "20230229",
                                                "99999999999999999999"};
  for (const TagDef& def : defs) {
    const TagValueParser parser(def);
    for (std::string_view in : inputs) {
      EXPECT_EQ(parser.Check(in), parser.Parse(in).status())
          << TagTypeName(def.type) << " \"" << in << "\"";
      // ParseInto over whatever an earlier row left in the value gives what Parse gives.
      const std::vector<std::optional<TagValue>> earlier = {
          std::nullopt,
          TagValue(true),
          TagValue(int64_t{7}),
          TagValue(std::string("an earlier value longer than the short-string buffer")),
          TagValue(std::vector<std::string>{}),
          TagValue(std::vector<std::string>{"zeta", "an earlier value longer than the buffer",
                                            "fund", "deposit", "wealth"}),
      };
      for (const std::optional<TagValue>& before : earlier) {
        std::optional<TagValue> out = before;
        const absl::Status status = parser.ParseInto(in, out);
        const absl::StatusOr<TagValue> expected = parser.Parse(in);
        EXPECT_EQ(status, expected.status()) << TagTypeName(def.type) << " \"" << in << "\"";
        if (expected.ok() && status.ok()) {
          EXPECT_EQ(out, std::optional<TagValue>(*expected))
              << TagTypeName(def.type) << " \"" << in << "\"";
        }
      }
    }
  }
}

TEST(TagValue, EnumChecksAllowedValues) {
  const TagDef level = Def(TagType::kEnum, 0, {"普通", "金卡"});
  EXPECT_EQ(std::get<std::string>(*ParseTagValue(level, "金卡")), "金卡");
  auto bad = ParseTagValue(level, "钻石");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not one of"), std::string::npos);
}

TEST(TagValue, MultiEnumSortsAndDedupes) {
  const TagDef products = Def(TagType::kMultiEnum);
  auto v = ParseTagValue(products, "wealth|deposit,wealth");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<std::vector<std::string>>(*v),
            (std::vector<std::string>{"deposit", "wealth"}));
}

TEST(TagValue, BoolAcceptsCommonSpellings) {
  const TagDef b = Def(TagType::kBool);
  for (const char* t : {"true", "YES", "1", "是"})
    EXPECT_TRUE(std::get<bool>(*ParseTagValue(b, t)));
  for (const char* f : {"false", "no", "0", "否"}) {
    EXPECT_FALSE(std::get<bool>(*ParseTagValue(b, f)));
  }
  EXPECT_FALSE(ParseTagValue(b, "maybe").ok());
}

TEST(TagDefValidation, RejectsBadKeysAndScales) {
  TagDef d = Def(TagType::kDecimal, 2);
  EXPECT_TRUE(ValidateTagDef(d).ok());
  d.key = "Age";
  EXPECT_FALSE(ValidateTagDef(d).ok());
  d.key = "age";
  d.scale = 9;
  EXPECT_FALSE(ValidateTagDef(d).ok());
  EXPECT_TRUE(ParseTagType("multi_enum").ok());
  EXPECT_FALSE(ParseTagType("float").ok());
}

TEST(ExternalId, Validation) {
  EXPECT_TRUE(ValidateExternalId("C000000001").ok());
  EXPECT_FALSE(ValidateExternalId("").ok());
  EXPECT_FALSE(ValidateExternalId("a b").ok());
}

}  // namespace
}  // namespace mercator
