#include "store/sqlite/internal/tag_json.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mercator::sqlite_internal {
namespace {

using ::testing::HasSubstr;

TEST(TagJson, EncodesCompactNativeJson) {
  TagMap tags = {{"b", true},
                 {"i", int64_t{-5}},
                 {"l", std::vector<std::string>{"x", "y"}},
                 {"s", std::string("浙江")}};
  absl::StatusOr<std::string> json = EncodeTags(tags);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"b":true,"i":-5,"l":["x","y"],"s":"浙江"})");
  EXPECT_EQ(*DecodeTags(*json), tags);
  EXPECT_EQ(*EncodeTags({}), "{}");
}

TEST(TagJson, EscapesQuotesBackslashesAndControlCharacters) {
  TagMap tags = {{"k\"ey", std::string("a\"b\\c\n\r\t\x01\x1f/\x7f")}};
  absl::StatusOr<std::string> json = EncodeTags(tags);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"({"k\"ey":"a\"b\\c\n\r\t\u0001\u001f/)"
                   "\x7f"
                   R"("})");
  EXPECT_EQ(*DecodeTags(*json), tags);
}

TEST(TagJson, EncodeTagValuesSkipsRemovals) {
  TagChanges changes = {{"a", int64_t{1}}, {"gone", std::nullopt}};
  EXPECT_EQ(*EncodeTagValues(changes), R"({"a":1})");
}

// The batch encoder writes each row exactly as EncodeTagValues would, one after another,
// also when its buffer has to grow many times over.
TEST(TagJson, BatchEncoderConcatenatesEncodeTagValues) {
  std::vector<TagChanges> rows;
  for (int i = 0; i < 300; ++i) {
    TagChanges row = {{"age", int64_t{i}},
                      {"gone", std::nullopt},
                      {"list", std::vector<std::string>(i % 4, "v\"" + std::to_string(i))},
                      {"ok", i % 2 == 0},
                      {"s", std::string(i % 50, 'x') + "浙江"}};
    rows.push_back(std::move(row));
  }
  rows.push_back({});
  TagValuesEncoder encoder(1);
  std::string expected;
  for (const TagChanges& row : rows) {
    ASSERT_TRUE(encoder.Add(row).ok());
    expected += *EncodeTagValues(row);
    EXPECT_EQ(encoder.size(), expected.size());
  }
  EXPECT_EQ(std::move(encoder).Take(), expected);
  TagValuesEncoder bad(16);
  EXPECT_EQ(bad.Add({{"k", std::string("\xc3\x28")}}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TagJson, RejectsInvalidUtf8) {
  EXPECT_EQ(EncodeTags({{"k", std::string("\xc3\x28")}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeTags({{"\xff", true}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeTags({{"k", std::vector<std::string>{"ok", "\xed\xa0\x80"}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeStringList({"\xc0\xaf"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TagJson, Utf8Validator) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("abc 浙江 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xe6\xb5"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
}

// The encoder validates UTF-8 while it escapes: it must refuse exactly what IsValidUtf8
// refuses, and round-trip everything else, on strings built from the bytes that matter.
TEST(TagJson, EncoderAcceptsExactlyValidUtf8) {
  const std::vector<std::string> pieces = {"a",    "\"",   "\\",   "\n",   "\x01",
                                           "\x7f", "\x80", "\xbf", "\xc0", "\xc1",
                                           "\xc2", "\xdf", "\xe0", "\xed", "\xef",
                                           "\xf0", "\xf4", "\xf5", "\xff", "\xa0",
                                           "\x9f", "\x90", "\x8f", "浙",   "\xf0\x9f\x98\x80"};
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1103515245u + 12345u;
    return state >> 16;
  };
  for (int trial = 0; trial < 20000; ++trial) {
    std::string s;
    const int n = 1 + static_cast<int>(next() % 5);
    for (int i = 0; i < n; ++i) s += pieces[next() % pieces.size()];
    absl::StatusOr<std::string> value = EncodeTags({{"k", s}});
    absl::StatusOr<std::string> key = EncodeTags({{s, true}});
    ASSERT_EQ(value.ok(), IsValidUtf8(s)) << testing::PrintToString(s);
    ASSERT_EQ(key.ok(), IsValidUtf8(s)) << testing::PrintToString(s);
    if (value.ok()) {
      absl::StatusOr<TagMap> back = DecodeTags(*value);
      ASSERT_TRUE(back.ok()) << *value;
      EXPECT_EQ(std::get<std::string>(back->at("k")), s);
    }
  }
}

TEST(TagJson, CorruptStoredTagsAreDataLoss) {
  for (const char* bad : {"", "[", "[]", R"({"a":1.5})", R"({"a":null})", R"({"a":{"b":1}})",
                          R"({"a":[1]})", R"({"a":18446744073709551615})"}) {
    absl::StatusOr<TagMap> r = DecodeTags(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  EXPECT_THAT(DecodeTags(R"({"a":[1]})").status().message(), HasSubstr("\"a\""));
}

TEST(TagJson, StringLists) {
  std::vector<std::string> values = {"浙江", "上海", "a\"b"};
  absl::StatusOr<std::string> json = EncodeStringList(values);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*DecodeStringList(*json), values);
  EXPECT_EQ(*EncodeStringList({}), "[]");
  EXPECT_EQ(DecodeStringList("{}").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeStringList("[1]").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mercator::sqlite_internal
