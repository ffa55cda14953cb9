#include "customer/import_mapping.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mercator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(std::string_view json) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(json);
  EXPECT_FALSE(m.ok());
  return m.ok() ? "" : std::string(m.status().message());
}

TEST(ImportMapping, ParsesAllMembers) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "description": "test",
    "csv": {"separator": "|", "encoding": "gbk"},
    "id": {"column": "cif"},
    "name_column": "name", "phone_column": "mobile", "id_number_column": "id_card",
    "null_tokens": ["NA"],
    "trim_whitespace": false,
    "tags": [{"key": "aum", "name_zh": "资产", "name_en": "AUM", "category": "product",
              "type": "decimal", "source": "imported", "scale": 2, "description": "yuan"},
             {"key": "seg", "name_en": "Segment", "type": "enum", "values": ["a", "b"]}],
    "columns": [{"column": "aum_yuan", "tag": "aum"},
                {"column": "segment", "tag": "seg", "null_tokens": ["", "-"],
                 "value_map": {"A": "a", "B": "b"}}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->description, "test");
  EXPECT_EQ(m->separator, '|');
  EXPECT_EQ(m->encoding, CsvEncoding::kGb18030);
  EXPECT_EQ(m->id_column, "cif");
  EXPECT_EQ(m->name_column, "name");
  EXPECT_EQ(m->phone_column, "mobile");
  EXPECT_EQ(m->id_number_column, "id_card");
  EXPECT_THAT(m->null_tokens, ElementsAre("NA"));
  EXPECT_FALSE(m->trim_whitespace);
  ASSERT_EQ(m->tags.size(), 2u);
  EXPECT_EQ(m->tags[0].type, TagType::kDecimal);
  EXPECT_EQ(m->tags[0].category, TagCategory::kProduct);
  EXPECT_EQ(m->tags[0].scale, 2);
  EXPECT_EQ(m->tags[0].name_zh, "资产");
  EXPECT_THAT(m->tags[1].values, ElementsAre("a", "b"));
  ASSERT_EQ(m->columns.size(), 2u);
  EXPECT_FALSE(m->columns[0].null_tokens.has_value());
  EXPECT_THAT(*m->columns[1].null_tokens, ElementsAre("", "-"));
  EXPECT_EQ(m->columns[1].value_map.at("A"), "a");
}

TEST(ImportMapping, ErrorsNameTheJsonMember) {
  const std::string tags = R"("tags": [{"key": "vip", "name_en": "VIP", "type": "bool"}])";
  EXPECT_THAT(Message("[1]"), HasSubstr("(root): must be an object"));
  EXPECT_THAT(Message("{"), HasSubstr("not JSON"));
  EXPECT_THAT(Message(R"({"columns": []})"), HasSubstr("id: is required"));
  EXPECT_THAT(Message(R"({"id": {}, "columns": []})"),
              HasSubstr("id: set exactly one of \"column\" and \"template\""));
  EXPECT_THAT(Message(R"({"id": {"column": "a", "template": "X{row}"}, "columns": []})"),
              HasSubstr("id: set exactly one"));
  EXPECT_THAT(Message(R"({"id": {"template": "X{rows}"}, "columns": []})"),
              HasSubstr("id.template: unknown placeholder {rows}"));
  EXPECT_THAT(Message(R"({"id": {"template": "X"}, "columns": []})"),
              HasSubstr("id.template: needs {line} or {row}"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "columns": [], "null_token": []})"),
              HasSubstr("null_token: unknown member"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "columns": [],
                          "tags": [{"key": "vip", "name_en": "VIP", "type": "boolean"}]})"),
              HasSubstr("tags[0].type:"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "columns": [],
                          "tags": [{"key": "Vip", "name_en": "VIP", "type": "bool"}]})"),
              HasSubstr("tags[0].key:"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "columns": [],
                          "tags": [{"key": "v", "type": "decimal", "name_en": "V", "scale": 9}]})"),
              HasSubstr("tags[0].scale"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, )" + tags +
                      R"(, "columns": [{"column": "v", "tag": "vip", "value_map": {"yes": 1}}]})"),
              HasSubstr("columns[0].value_map.yes: must be a string"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, )" + tags +
                      R"(, "columns": [{"column": "v", "tag": "vp"}]})"),
              HasSubstr("columns[0].tag: \"vp\" is not defined in \"tags\""));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, )" + tags +
                      R"(, "columns": [{"column": "c", "tag": "vip"}]})"),
              HasSubstr("columns[0].column: \"c\" is mapped twice"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, )" + tags + R"(, "columns": [{"column": "v"}]})"),
              HasSubstr("columns[0].tag: is required"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "csv": {"separator": ";;"}, "columns": []})"),
              HasSubstr("csv.separator"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "csv": {"encoding": "latin1"}, "columns": []})"),
              HasSubstr("csv.encoding"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "null_tokens": [1], "columns": []})"),
              HasSubstr("null_tokens[0]: must be a string"));
  EXPECT_THAT(Message(R"({"id": {"column": "c"}, "phone_column": "m",
                          "id_number_column": "m", "columns": []})"),
              HasSubstr("id_number_column: \"m\" is already used"));
}

TEST(ImportMapping, MissingFileIsNotFound) {
  EXPECT_EQ(LoadImportMapping("/nonexistent/mapping.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(IdTemplate, FormatsLineAndRowWithPadding) {
  absl::StatusOr<IdTemplate> t = IdTemplate::Parse("UCI{line:06}");
  ASSERT_TRUE(t.ok()) << t.status();
  std::string out;
  t->Format(2, 1, out);
  EXPECT_EQ(out, "UCI000002");
  out.clear();
  t->Format(1234567, 1, out);
  EXPECT_EQ(out, "UCI1234567");
  t = IdTemplate::Parse("{row}-{line:3}x");
  ASSERT_TRUE(t.ok()) << t.status();
  out.clear();
  t->Format(7, 5, out);
  EXPECT_EQ(out, "5-007x");
  EXPECT_FALSE(IdTemplate::Parse("A{line").ok());
  EXPECT_FALSE(IdTemplate::Parse("A}{line}").ok());
  EXPECT_FALSE(IdTemplate::Parse("A{line:x}").ok());
}

}  // namespace
}  // namespace mercator
