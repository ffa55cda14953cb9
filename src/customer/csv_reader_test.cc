#include "customer/csv_reader.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mercator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TestData(const std::string& name) {
  const char* root = std::getenv("MERCATOR_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/src/customer/testdata/csv/" + name;
}

struct Row {
  int64_t line;
  std::vector<std::string> fields;
  std::string error;
  bool operator==(const Row&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
  os << "{line " << r.line << ", [";
  for (const std::string& f : r.fields) os << '"' << f << "\" ";
  return os << "], error \"" << r.error << "\"}";
}

std::vector<Row> ReadAll(CsvReader& reader) {
  std::vector<Row> rows;
  CsvRow row;
  for (;;) {
    absl::StatusOr<bool> more = reader.Next(row);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    rows.push_back(Row{row.line, {row.fields.begin(), row.fields.end()}, row.error});
  }
  return rows;
}

std::vector<Row> ReadString(std::string_view data, CsvOptions options = {}) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::FromString(data, options);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  return ReadAll(**r);
}

TEST(CsvReader, QuotedFieldsWithSeparatorsNewlinesAndDoubledQuotes) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(TestData("quoted.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT((*r)->header(), ElementsAre("cif", "name", "age", "segment", "vip", "note"));
  EXPECT_EQ((*r)->separator(), ',');
  std::vector<Row> rows = ReadAll(**r);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (Row{2, {"C001", "Zhang, San", "35", "gold", "yes", "said \"hi\""}, ""}));
  EXPECT_EQ(rows[1], (Row{3, {"C002", "Li Si", "41", "silver", "no", "line one\nline two"}, ""}));
  // The quoted newline in row 2 moves the next record to physical line 5.
  EXPECT_EQ(rows[2], (Row{5, {"C003", "", "29", "", "unknown", "plain"}, ""}));
  EXPECT_EQ((*r)->bytes_consumed(), (*r)->total_bytes());
}

TEST(CsvReader, CrlfLineEndingsAreNotPartOfFields) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(TestData("crlf.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT((*r)->header(), ElementsAre("cif", "age", "vip"));
  EXPECT_THAT(ReadAll(**r),
              ElementsAre(Row{2, {"C001", "35", "yes"}, ""}, Row{3, {"C002", "41", "no"}, ""}));
  // A quoted field keeps its CRLF; the one ending the record is dropped.
  EXPECT_THAT(ReadString("a,b\r\n\"x\r\ny\",\"z\"\r\n"), ElementsAre(Row{2, {"x\r\ny", "z"}, ""}));
}

TEST(CsvReader, StripsUtf8BomAndDetectsSemicolon) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(TestData("bom_semicolon.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT((*r)->header(), ElementsAre("cif", "age", "vip"));
  EXPECT_EQ((*r)->separator(), ';');
  EXPECT_EQ((*r)->encoding(), CsvEncoding::kUtf8);
  EXPECT_THAT(ReadAll(**r),
              ElementsAre(Row{2, {"C001", "30", "yes"}, ""}, Row{3, {"C002", "31", "no"}, ""}));
}

TEST(CsvReader, DetectsSeparatorFromHeader) {
  auto sep = [](std::string_view data) {
    absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::FromString(data);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)->separator() : '?';
  };
  EXPECT_EQ(sep("a,b,c\n1,2,3\n"), ',');
  EXPECT_EQ(sep("a;b;c\n"), ';');
  EXPECT_EQ(sep("a\tb\tc\n"), '\t');
  EXPECT_EQ(sep("a|b|c\n"), '|');
  // Separators inside quotes do not count.
  EXPECT_EQ(sep("\"a,b,c\";\"d\"\n"), ';');
  // One column: nothing to detect, ',' is assumed.
  EXPECT_EQ(sep("id\n1\n"), ',');
}

TEST(CsvReader, ForcedSeparatorWins) {
  CsvOptions o;
  o.separator = '|';
  EXPECT_THAT(ReadString("a,b|c\n1,2|3\n", o), ElementsAre(Row{2, {"1,2", "3"}, ""}));
  o.separator = '"';
  EXPECT_FALSE(CsvReader::FromString("a\n", o).ok());
}

TEST(CsvReader, GbkFileIsDetectedAndConvertedToUtf8) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(TestData("gbk.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->encoding(), CsvEncoding::kGb18030);
  EXPECT_THAT((*r)->header(), ElementsAre("客户号", "姓名", "省份", "等级"));
  EXPECT_THAT(ReadAll(**r), ElementsAre(Row{2, {"C001", "张三", "浙江", "金卡"}, ""},
                                        Row{3, {"C002", "李四", "上海", "银卡"}, ""},
                                        Row{4, {"C003", "王,五", "广东", "普通"}, ""}));
  EXPECT_EQ((*r)->bytes_consumed(), (*r)->total_bytes());
}

TEST(CsvReader, Utf8ChineseIsDetectedAsUtf8) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::FromString("客户号,姓名\nC001,张三\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->encoding(), CsvEncoding::kUtf8);
  EXPECT_THAT(ReadAll(**r), ElementsAre(Row{2, {"C001", "张三"}, ""}));
}

TEST(CsvReader, ForcedUtf8OnGbkReportsRowsWithInvalidUtf8) {
  std::ifstream in(TestData("gbk.csv"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  CsvOptions o;
  o.encoding = CsvEncoding::kUtf8;
  std::vector<Row> rows = ReadString(ss.str(), o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0].error, HasSubstr("invalid UTF-8"));
}

TEST(CsvReader, ForcedGb18030ReadsAsciiUnchanged) {
  CsvOptions o;
  o.encoding = CsvEncoding::kGb18030;
  EXPECT_THAT(ReadString("a,b\n1,2\n", o), ElementsAre(Row{2, {"1", "2"}, ""}));
}

TEST(CsvReader, RaggedRowsAreReportedPerRow) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(TestData("ragged.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<Row> rows = ReadAll(**r);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].error, "");
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_THAT(rows[1].error, HasSubstr("expected 3 fields as in the header, found 2"));
  EXPECT_EQ(rows[2].line, 4);
  EXPECT_THAT(rows[2].error, HasSubstr("found 4"));
  EXPECT_EQ(rows[3], (Row{5, {"C004", "50", "no"}, ""}));
}

TEST(CsvReader, UnterminatedQuoteIsReportedOnItsRecord) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r =
      CsvReader::Open(TestData("unterminated_quote.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<Row> rows = ReadAll(**r);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].error, "");
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(rows[1].error, "unterminated quoted field");
}

TEST(CsvReader, TextAfterClosingQuoteIsAnError) {
  std::vector<Row> rows = ReadString("a,b\n\"x\"y,2\n3,4\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[0].error, HasSubstr("after a closing quote"));
  EXPECT_EQ(rows[1], (Row{3, {"3", "4"}, ""}));
  // A quote inside an unquoted field is data.
  EXPECT_THAT(ReadString("a,b\nx\"y,2\n"), ElementsAre(Row{2, {"x\"y", "2"}, ""}));
}

TEST(CsvReader, EmptyFileIsAnError) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(TestData("empty.csv"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("empty"));
  EXPECT_FALSE(CsvReader::FromString("\n\r\n\n").ok());
  EXPECT_FALSE(CsvReader::FromString("\xEF\xBB\xBF").ok());
}

TEST(CsvReader, HeaderOnlyHasNoRows) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(TestData("header_only.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT((*r)->header(), ElementsAre("cif", "age", "vip"));
  EXPECT_TRUE(ReadAll(**r).empty());
}

TEST(CsvReader, MissingFileIsNotFound) {
  EXPECT_EQ(CsvReader::Open(TestData("no-such-file.csv")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CsvReader, BlankLinesAreSkippedButCounted) {
  EXPECT_THAT(ReadString("\na,b\n\n1,2\r\n\r\n3,4"),
              ElementsAre(Row{4, {"1", "2"}, ""}, Row{6, {"3", "4"}, ""}));
}

TEST(CsvReader, TrailingSeparatorMeansEmptyLastField) {
  EXPECT_THAT(ReadString("a,b\n1,\n2,"), ElementsAre(Row{2, {"1", ""}, ""}, Row{3, {"2", ""}, ""}));
}

TEST(CsvReader, Utf16IsRejected) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r =
      CsvReader::FromString(std::string("\xFF\xFE"
                                        "a\0,\0b\0",
                                        8));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("UTF-16"));
}

TEST(CsvReader, RecordLongerThanLimitStopsReading) {
  CsvOptions o;
  o.chunk_bytes = 16;
  o.max_record_bytes = 100;
  absl::StatusOr<std::unique_ptr<CsvReader>> r =
      CsvReader::FromString("a,b\n1,\"" + std::string(1000, 'x') + "\n", o);
  ASSERT_TRUE(r.ok()) << r.status();
  CsvRow row;
  EXPECT_EQ((*r)->Next(row).status().code(), absl::StatusCode::kResourceExhausted);
}

// Every record must come out the same whatever the chunk size, including chunks that split
// CRLF pairs, doubled quotes and GBK characters.
TEST(CsvReader, ChunkBoundariesDoNotChangeTheResult) {
  std::vector<std::string> inputs;
  for (const char* f : {"quoted.csv", "crlf.csv", "bom_semicolon.csv", "gbk.csv", "ragged.csv",
                        "unterminated_quote.csv"}) {
    std::ifstream in(TestData(f), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    inputs.push_back(ss.str());
  }
  inputs.push_back("a;b\r\n\"x\"\"\";\"\"\"y\"\r\n\r\n\"\";z\r\n1;\"2\r\n3\"\"\"");
  for (const std::string& input : inputs) {
    std::vector<Row> expected = ReadString(input);
    for (size_t chunk : {1, 2, 3, 5, 7, 64}) {
      CsvOptions o;
      o.chunk_bytes = chunk;
      EXPECT_EQ(ReadString(input, o), expected) << "chunk " << chunk << " input " << input;
    }
  }
}

TEST(CsvReader, BytesConsumedGrowsToTotal) {
  std::string data = "id,v\n";
  for (int i = 0; i < 1000; ++i) data += std::to_string(i) + ",value\n";
  CsvOptions o;
  o.chunk_bytes = 256;
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::FromString(data, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->total_bytes(), data.size());
  uint64_t last = 0;
  CsvRow row;
  while (*(*r)->Next(row)) {
    uint64_t now = (*r)->bytes_consumed();
    EXPECT_GE(now, last);
    EXPECT_LE(now, data.size());
    last = now;
  }
  EXPECT_EQ((*r)->bytes_consumed(), data.size());
}

TEST(CsvReader, EncodingNames) {
  EXPECT_EQ(*ParseCsvEncoding("GBK"), CsvEncoding::kGb18030);
  EXPECT_EQ(*ParseCsvEncoding("utf8"), CsvEncoding::kUtf8);
  EXPECT_EQ(CsvEncodingName(CsvEncoding::kGb18030), "gb18030");
  EXPECT_FALSE(ParseCsvEncoding("latin1").ok());
}

}  // namespace
}  // namespace mercator
