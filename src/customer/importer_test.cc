#include "customer/importer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mercator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string SourceDir() {
  const char* root = std::getenv("MERCATOR_SOURCE_DIR");
  return root != nullptr ? root : ".";
}
std::string TestData(const std::string& name) {
  return SourceDir() + "/src/customer/testdata/csv/" + name;
}

// Collects everything the importer hands over.
struct CollectingSink {
  std::vector<CustomerUpsert> upserts;
  std::vector<size_t> batch_sizes;
  UpsertSink AsSink() {
    return [this](std::vector<CustomerUpsert>& batch) {
      batch_sizes.push_back(batch.size());
      for (CustomerUpsert& u : batch) upserts.push_back(std::move(u));
      return absl::OkStatus();
    };
  }
};

// Small mapping used by the fixture files: cif,age,vip.
ImportMapping SmallMapping() {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "id": {"column": "cif"},
    "tags": [{"key": "age", "name_en": "Age", "type": "int"},
             {"key": "vip", "name_en": "VIP", "type": "bool"}],
    "columns": [{"column": "age", "tag": "age"},
                {"column": "vip", "tag": "vip", "null_tokens": ["unknown", ""]}]
  })");
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

absl::StatusOr<ImportReport> Import(const ImportMapping& mapping, const std::string& file,
                                    CollectingSink& sink, ImportOptions options = {}) {
  FakeClock clock(0);
  Importer importer(mapping, options, &clock);
  return importer.ImportFile(TestData(file), sink.AsSink());
}

const std::optional<TagValue>* FindTag(const CustomerUpsert& u, std::string_view key) {
  auto it = u.tags.find(key);
  return it == u.tags.end() ? nullptr : &it->second;
}

template <typename T>
std::optional<T> Get(const CustomerUpsert& u, std::string_view key) {
  const std::optional<TagValue>* v = FindTag(u, key);
  if (v == nullptr || !v->has_value()) return std::nullopt;
  const T* t = std::get_if<T>(&**v);
  if (t == nullptr) return std::nullopt;
  return *t;
}

TEST(Importer, ImportsCrlfFile) {
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "crlf.csv", sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_read, 2);
  EXPECT_EQ(r->rows_applied, 2);
  EXPECT_EQ(r->error_count, 0);
  ASSERT_EQ(sink.upserts.size(), 2u);
  EXPECT_EQ(sink.upserts[0].external_id, "C001");
  EXPECT_EQ(Get<int64_t>(sink.upserts[0], "age"), 35);
  EXPECT_EQ(Get<bool>(sink.upserts[0], "vip"), true);
  EXPECT_EQ(Get<bool>(sink.upserts[1], "vip"), false);
  EXPECT_FALSE(sink.upserts[0].name.has_value());
}

TEST(Importer, AllOrNothingAppliesNothingWhenARowIsBad) {
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "bad_values.csv", sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(sink.batch_sizes.empty());
  EXPECT_EQ(r->rows_read, 4);
  EXPECT_EQ(r->rows_applied, 0);
  EXPECT_EQ(r->rows_rejected, 2);
  EXPECT_EQ(r->error_count, 2);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].line, 3);
  EXPECT_EQ(r->errors[0].column, "age");
  EXPECT_THAT(r->errors[0].reason, HasSubstr("forty"));
  EXPECT_EQ(r->errors[1].line, 4);
  EXPECT_EQ(r->errors[1].column, "vip");
  EXPECT_THAT(r->errors[1].reason, HasSubstr("maybe"));
}

TEST(Importer, SkipBadRowsAppliesTheGoodRows) {
  for (ImportPasses passes : {ImportPasses::kValidateFirst, ImportPasses::kSinglePass}) {
    CollectingSink sink;
    ImportOptions o;
    o.mode = ImportMode::kSkipBadRows;
    o.passes = passes;
    absl::StatusOr<ImportReport> r = Import(SmallMapping(), "bad_values.csv", sink, o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->rows_read, 4);
    EXPECT_EQ(r->rows_applied, 2);
    EXPECT_EQ(r->rows_rejected, 2);
    ASSERT_EQ(sink.upserts.size(), 2u);
    EXPECT_EQ(sink.upserts[0].external_id, "C001");
    EXPECT_EQ(sink.upserts[1].external_id, "C004");
  }
}

TEST(Importer, ValidateOnlyReportsWithoutApplying) {
  CollectingSink sink;
  ImportOptions o;
  o.mode = ImportMode::kValidateOnly;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "crlf.csv", sink, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_read, 2);
  EXPECT_EQ(r->rows_applied, 0);
  EXPECT_TRUE(sink.batch_sizes.empty());
  r = Import(SmallMapping(), "bad_values.csv", sink, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_rejected, 2);
  EXPECT_TRUE(sink.batch_sizes.empty());
}

TEST(Importer, SinglePassNeedsSkipMode) {
  CollectingSink sink;
  ImportOptions o;
  o.passes = ImportPasses::kSinglePass;
  EXPECT_EQ(Import(SmallMapping(), "crlf.csv", sink, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Importer, RaggedRowsAreRejectedWithTheirLine) {
  CollectingSink sink;
  ImportOptions o;
  o.mode = ImportMode::kSkipBadRows;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "ragged.csv", sink, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_applied, 2);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].line, 3);
  EXPECT_EQ(r->errors[0].column, "");
  EXPECT_THAT(r->errors[0].reason, HasSubstr("found 2"));
  EXPECT_EQ(r->errors[1].line, 4);
}

TEST(Importer, UnterminatedQuoteIsARowError) {
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "unterminated_quote.csv", sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_applied, 0);
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0], (ImportError{3, "", "unterminated quoted field"}));
}

TEST(Importer, DuplicateIdsAreErrorsNamingTheFirstLine) {
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "duplicate_ids.csv", sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_applied, 0);
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].line, 4);
  EXPECT_EQ(r->errors[0].column, "cif");
  EXPECT_THAT(r->errors[0].reason, HasSubstr("first on line 2"));

  ImportOptions o;
  o.mode = ImportMode::kSkipBadRows;
  CollectingSink skip;
  r = Import(SmallMapping(), "duplicate_ids.csv", skip, o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(skip.upserts.size(), 2u);
  EXPECT_EQ(Get<int64_t>(skip.upserts[0], "age"), 35);  // the first C001 wins
}

TEST(Importer, EmptyFileIsAnError) {
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "empty.csv", sink);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("empty"));
}

TEST(Importer, HeaderOnlyImportsZeroRows) {
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(SmallMapping(), "header_only.csv", sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_read, 0);
  EXPECT_EQ(r->rows_applied, 0);
  EXPECT_TRUE(sink.batch_sizes.empty());
}

TEST(Importer, MappedColumnMissingFromHeaderIsAnError) {
  ImportMapping m = SmallMapping();
  m.columns[0].column = "AGE";
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(m, "crlf.csv", sink);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("columns[0].column: column \"AGE\" is not in"));
}

TEST(Importer, NullTokensValueMapNameAndIgnoredColumns) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "id": {"column": "cif"},
    "name_column": "name",
    "tags": [{"key": "vip", "name_en": "VIP", "type": "bool"},
             {"key": "tier", "name_zh": "等级", "type": "enum", "values": ["金", "银"]}],
    "columns": [{"column": "vip", "tag": "vip", "null_tokens": ["unknown"]},
                {"column": "segment", "tag": "tier", "null_tokens": [""],
                 "value_map": {"gold": "金", "silver": "银"}}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(*m, "quoted.csv", sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error_count, 0);
  EXPECT_THAT(r->ignored_columns, ElementsAre("age", "note"));
  ASSERT_EQ(sink.upserts.size(), 3u);
  EXPECT_EQ(sink.upserts[0].name, "Zhang, San");
  EXPECT_EQ(Get<std::string>(sink.upserts[0], "tier"), "金");
  EXPECT_EQ(Get<std::string>(sink.upserts[1], "tier"), "银");
  EXPECT_FALSE(sink.upserts[2].name.has_value());
  // A null token removes the tag: present in the change, with no value.
  const std::optional<TagValue>* vip = FindTag(sink.upserts[2], "vip");
  ASSERT_NE(vip, nullptr);
  EXPECT_FALSE(vip->has_value());
  const std::optional<TagValue>* tier = FindTag(sink.upserts[2], "tier");
  ASSERT_NE(tier, nullptr);
  EXPECT_FALSE(tier->has_value());
}

TEST(Importer, GbkFileWithChineseEnumValues) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "id": {"column": "客户号"},
    "name_column": "姓名",
    "tags": [{"key": "province", "name_zh": "省份", "type": "enum"},
             {"key": "card", "name_zh": "卡等级", "type": "enum",
              "values": ["金卡", "银卡", "普通"]}],
    "columns": [{"column": "省份", "tag": "province"}, {"column": "等级", "tag": "card"}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = Import(*m, "gbk.csv", sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->encoding, CsvEncoding::kGb18030);
  EXPECT_EQ(r->error_count, 0);
  ASSERT_EQ(sink.upserts.size(), 3u);
  EXPECT_EQ(sink.upserts[0].name, "张三");
  EXPECT_EQ(Get<std::string>(sink.upserts[0], "province"), "浙江");
  EXPECT_EQ(Get<std::string>(sink.upserts[2], "card"), "普通");
  EXPECT_EQ(sink.upserts[2].name, "王,五");
}

TEST(Importer, PersonalDataColumnsAreCheckedWithoutQuotingTheValues) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "id": {"column": "cif"}, "name_column": "name", "phone_column": "mobile",
    "id_number_column": "id_card", "null_tokens": ["NA"],
    "tags": [{"key": "age", "name_en": "Age", "type": "int"}],
    "columns": [{"column": "age", "tag": "age"}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  const std::string data =
      "cif,name,mobile,id_card,age\n"
      "C1,张三,13812345678,11010519491231002x,30\n"  // lower-case x is normalized
      "C2,李四,NA,NA,40\n"
      "C3,王五,12345678901,NA,50\n"                   // not a mobile number
      "C4,赵六,13812345679,110105194912310022,60\n";  // wrong check character
  FakeClock clock(0);
  Importer importer(*m, {}, &clock);
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = importer.ImportString(data, sink.AsSink());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_rejected, 2);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].column, "mobile");
  EXPECT_EQ(r->errors[0].reason, "not a mainland mobile number");
  EXPECT_EQ(r->errors[1].column, "id_card");
  EXPECT_THAT(r->errors[1].reason, HasSubstr("not a valid ID number"));
  for (const ImportError& e : r->errors) {
    EXPECT_EQ(e.reason.find("12345678901"), std::string::npos);
    EXPECT_EQ(e.reason.find("110105194912310022"), std::string::npos);
  }
}

TEST(Importer, IdNumberColumnReachesTheUpsert) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "id": {"column": "cif"}, "phone_column": "mobile", "id_number_column": "id_card",
    "null_tokens": ["NA"],
    "tags": [{"key": "age", "name_en": "Age", "type": "int"}],
    "columns": [{"column": "age", "tag": "age"}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  FakeClock clock(0);
  Importer importer(*m, {}, &clock);
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = importer.ImportString(
      "cif,mobile,id_card,age\nC1,13812345678,11010519491231002x,30\nC2,NA,NA,40\n", sink.AsSink());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error_count, 0);
  ASSERT_EQ(sink.upserts.size(), 2u);
  EXPECT_EQ(sink.upserts[0].phone, "13812345678");
  EXPECT_EQ(sink.upserts[0].id_number, "11010519491231002X");
  EXPECT_FALSE(sink.upserts[1].phone.has_value());
  EXPECT_FALSE(sink.upserts[1].id_number.has_value());
}

// A file with every kind of row problem spread over many parse tasks: the report and the
// upserts must not depend on how many threads parse it or how rows are split between them.
TEST(Importer, ParallelParseGivesTheSameReportAndRowsAsOneThread) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "id": {"column": "cif"}, "phone_column": "mobile",
    "tags": [{"key": "age", "name_en": "Age", "type": "int"},
             {"key": "level", "name_en": "Level", "type": "enum", "values": ["gold", "silver"]},
             {"key": "vip", "name_en": "VIP", "type": "bool"}],
    "columns": [{"column": "age", "tag": "age"}, {"column": "level", "tag": "level"},
                {"column": "vip", "tag": "vip", "null_tokens": ["unknown", ""]}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  std::string data = "cif,mobile,age,level,vip\n";
  for (int i = 0; i < 3000; ++i) {
    const std::string id = "C" + std::to_string(i % 2500);  // ids 0..499 come back as duplicates
    switch (i % 97) {
      case 13:
        data += id + ",13812345678,x,gold,true\n";  // bad int
        break;
      case 29:
        data += id + ",13812345678,40,bronze,maybe\n";  // two bad columns
        break;
      case 41:
        data += id + ",13812345678,40\n";  // wrong field count
        break;
      case 55:
        data += "bad id!,13812345678,40,gold,true\n";
        break;
      case 71:
        data += id + ",123,40,silver,\n";  // bad mobile
        break;
      default:
        data += id + ",138" + std::to_string(10000000 + i) + "," + std::to_string(18 + i % 60) +
                (i % 3 ? ",gold," : ",silver,") + (i % 4 ? "true" : "unknown") + "\n";
    }
  }
  struct Outcome {
    ImportReport report;
    std::vector<CustomerUpsert> upserts;
  };
  auto run = [&](ImportMode mode, ImportPasses passes, int threads, size_t rows_per_task) {
    ImportOptions o;
    o.mode = mode;
    o.passes = passes;
    o.threads = threads;
    o.rows_per_task = rows_per_task;
    o.batch_size = 333;
    o.max_errors = 100000;
    FakeClock clock(0);
    Importer importer(*m, o, &clock);
    CollectingSink sink;
    absl::StatusOr<ImportReport> r = importer.ImportString(data, sink.AsSink());
    EXPECT_TRUE(r.ok()) << r.status();
    return Outcome{r.ok() ? *r : ImportReport{}, std::move(sink.upserts)};
  };
  for (ImportMode mode : {ImportMode::kAllOrNothing, ImportMode::kSkipBadRows}) {
    for (ImportPasses passes : {ImportPasses::kValidateFirst, ImportPasses::kSinglePass}) {
      if (mode == ImportMode::kAllOrNothing && passes == ImportPasses::kSinglePass) continue;
      const Outcome one = run(mode, passes, 1, 100000);
      EXPECT_GT(one.report.error_count, 500);
      ASSERT_EQ(one.report.errors.size(), static_cast<size_t>(one.report.error_count));
      for (auto [threads, rows_per_task] : {std::pair{2, 7}, {4, 1}, {3, 250}}) {
        const Outcome many = run(mode, passes, threads, rows_per_task);
        EXPECT_EQ(many.report.errors, one.report.errors) << threads << " " << rows_per_task;
        EXPECT_EQ(many.report.error_count, one.report.error_count);
        EXPECT_EQ(many.report.rows_read, one.report.rows_read);
        EXPECT_EQ(many.report.rows_rejected, one.report.rows_rejected);
        EXPECT_EQ(many.report.rows_applied, one.report.rows_applied);
        ASSERT_EQ(many.upserts.size(), one.upserts.size());
        for (size_t i = 0; i < one.upserts.size(); ++i) {
          EXPECT_EQ(many.upserts[i].external_id, one.upserts[i].external_id);
          EXPECT_EQ(many.upserts[i].phone, one.upserts[i].phone);
          EXPECT_EQ(many.upserts[i].tags, one.upserts[i].tags);
        }
      }
      if (mode == ImportMode::kSkipBadRows) {
        EXPECT_GT(one.upserts.size(), 1500u);
      }
    }
  }
}

// BulkLoader hands used upserts back through the sink for the importer to overwrite. Whatever
// they hold (other values, personal data, removals, other keys), the rows must come out as
// from fresh upserts.
TEST(Importer, UpsertsHandedBackBySinkAreOverwrittenCompletely) {
  absl::StatusOr<ImportMapping> m = ParseImportMapping(R"({
    "id": {"column": "cif"}, "name_column": "name", "phone_column": "mobile",
    "null_tokens": ["", "NA"],
    "tags": [{"key": "age", "name_en": "Age", "type": "int"},
             {"key": "level", "name_en": "Level", "type": "enum", "values": ["gold", "silver"]},
             {"key": "products", "name_en": "Products", "type": "multi_enum",
              "values": ["deposit", "fund", "loan"]}],
    "columns": [{"column": "age", "tag": "age"}, {"column": "level", "tag": "level"},
                {"column": "products", "tag": "products"}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  std::string data = "cif,name,mobile,age,level,products\n";
  for (int i = 0; i < 2000; ++i) {
    data += "C" + std::to_string(i) + "," + (i % 3 ? "张三" : "NA") + "," +
            (i % 4 ? "1381234" + std::to_string(1000 + i) : "NA") + "," +
            (i % 5 ? std::to_string(20 + i % 50) : "NA") + "," + (i % 2 ? "gold" : "NA") + "," +
            (i % 7 ? "deposit|fund" : "loan") + "\n";
  }
  ImportOptions o;
  o.batch_size = 100;
  o.rows_per_task = 64;
  auto run = [&](int poison) {
    FakeClock clock(0);
    Importer importer(*m, o, &clock);
    std::vector<CustomerUpsert> seen;
    absl::StatusOr<ImportReport> r =
        importer.ImportString(data, [&](std::vector<CustomerUpsert>& batch) {
          for (CustomerUpsert& u : batch) {
            seen.push_back(u);
            if (poison == 0) continue;  // left as they are
            u.external_id = "stale";
            u.name = "stale";
            u.phone = "stale";
            u.id_number = "stale";
            if (poison == 1) {
              for (auto& [key, value] : u.tags) value = TagValue(std::string("stale"));
            } else {
              u.tags.clear();
              u.tags.emplace("other", TagValue(true));
            }
          }
          return absl::OkStatus();
        });
    EXPECT_TRUE(r.ok()) << r.status();
    return seen;
  };
  CollectingSink fresh_sink;
  {
    FakeClock clock(0);
    Importer importer(*m, o, &clock);
    ASSERT_TRUE(importer.ImportString(data, fresh_sink.AsSink()).ok());
  }
  const std::vector<CustomerUpsert>& fresh = fresh_sink.upserts;
  ASSERT_EQ(fresh.size(), 2000u);
  EXPECT_FALSE(fresh[0].name.has_value());
  EXPECT_FALSE(fresh[0].tags.at("age").has_value());
  for (int poison : {0, 1, 2}) {
    const std::vector<CustomerUpsert> reused = run(poison);
    ASSERT_EQ(reused.size(), fresh.size());
    for (size_t i = 0; i < fresh.size(); ++i) {
      ASSERT_EQ(reused[i].external_id, fresh[i].external_id) << poison << " " << i;
      ASSERT_EQ(reused[i].name, fresh[i].name) << poison << " " << i;
      ASSERT_EQ(reused[i].phone, fresh[i].phone) << poison << " " << i;
      ASSERT_EQ(reused[i].id_number, fresh[i].id_number) << poison << " " << i;
      ASSERT_EQ(reused[i].tags, fresh[i].tags) << poison << " " << i;
    }
  }
}

TEST(Importer, ErrorListIsCappedButAllErrorsAreCounted) {
  std::string data = "cif,age,vip\n";
  for (int i = 0; i < 50; ++i) data += "C" + std::to_string(i) + ",x,maybe\n";
  ImportOptions o;
  o.max_errors = 10;
  FakeClock clock(0);
  Importer importer(SmallMapping(), o, &clock);
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = importer.ImportString(data, sink.AsSink());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error_count, 100);  // two bad columns per row
  EXPECT_EQ(r->errors.size(), 10u);
  EXPECT_EQ(r->rows_rejected, 50);
}

TEST(Importer, BatchesProgressTemplateIdsAndRate) {
  std::string data = "age,vip\n";
  for (int i = 0; i < 25; ++i) data += std::to_string(20 + i) + ",yes\n";
  ImportMapping m = SmallMapping();
  m.id_column.clear();
  m.id_template = "T{row:03}-L{line}";
  ImportOptions o;
  o.batch_size = 10;
  o.progress_every_rows = 5;
  std::vector<ImportProgress> progress;
  o.progress = [&](const ImportProgress& p) { progress.push_back(p); };
  FakeClock clock(1000);
  Importer importer(m, o, &clock);
  CollectingSink sink;
  // The sink advances the fake clock so the report has an elapsed time.
  UpsertSink timed = [&](std::vector<CustomerUpsert>& b) {
    clock.Advance(100);
    return sink.AsSink()(b);
  };
  absl::StatusOr<ImportReport> r = importer.ImportString(data, timed);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(sink.batch_sizes, ElementsAre(10, 10, 5));
  EXPECT_EQ(sink.upserts.front().external_id, "T001-L2");
  EXPECT_EQ(sink.upserts.back().external_id, "T025-L26");
  EXPECT_EQ(r->elapsed_ms, 300);
  EXPECT_DOUBLE_EQ(r->rows_per_second, 25 * 1000.0 / 300);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front().pass, 1);
  // Each pass is reported when it starts, before any row, so a caller can time it.
  EXPECT_EQ(progress.front().rows, 0);
  auto second = std::find_if(progress.begin(), progress.end(),
                             [](const ImportProgress& p) { return p.pass == 2; });
  ASSERT_NE(second, progress.end());
  EXPECT_EQ(second->rows, 0);
  EXPECT_EQ(progress.back().pass, 2);
  EXPECT_EQ(progress.back().rows, 25);
  EXPECT_EQ(progress.back().bytes_done, data.size());
  EXPECT_EQ(progress.back().bytes_total, data.size());
}

TEST(Importer, SinkFailureStopsTheImport) {
  FakeClock clock(0);
  ImportOptions o;
  o.batch_size = 1;
  Importer importer(SmallMapping(), o, &clock);
  int calls = 0;
  absl::StatusOr<ImportReport> r =
      importer.ImportFile(TestData("crlf.csv"), [&](std::vector<CustomerUpsert>&) {
        return ++calls == 2 ? absl::UnavailableError("disk full") : absl::OkStatus();
      });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("after 1 rows"));
}

// The real UCI file through the real mapping, checked against a plain split of the same file.
class UciImport : public ::testing::Test {
 protected:
  static std::string CsvPath() {
    return SourceDir() + "/../shared/data/uci-bank-marketing/bank-additional.csv";
  }

  // Rows of the file split on ';' with the quotes removed; index 0 is the header.
  static std::vector<std::vector<std::string>> PlainSplit() {
    std::ifstream in(CsvPath(), std::ios::binary);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      std::vector<std::string> fields;
      size_t start = 0;
      for (;;) {
        size_t end = line.find(';', start);
        std::string f = line.substr(start, end == std::string::npos ? end : end - start);
        if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
        fields.push_back(f);
        if (end == std::string::npos) break;
        start = end + 1;
      }
      rows.push_back(fields);
    }
    return rows;
  }
};

TEST_F(UciImport, CountsAgreeWithAPlainScanOfTheFile) {
  absl::StatusOr<ImportMapping> mapping =
      LoadImportMapping(SourceDir() + "/mappings/uci-bank-marketing.json");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  FakeClock clock(0);
  Importer importer(*mapping, {}, &clock);
  CollectingSink sink;
  absl::StatusOr<ImportReport> r = importer.ImportFile(CsvPath(), sink.AsSink());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_read, 4119);
  EXPECT_EQ(r->rows_applied, 4119);
  EXPECT_EQ(r->error_count, 0) << (r->errors.empty() ? "" : r->errors[0].reason);
  EXPECT_THAT(r->ignored_columns, ElementsAre("duration"));
  EXPECT_EQ(r->separator, ';');
  ASSERT_EQ(sink.upserts.size(), 4119u);

  std::vector<std::vector<std::string>> plain = PlainSplit();
  ASSERT_EQ(plain.size(), 4120u);
  const std::vector<std::string>& h = plain[0];
  auto col = [&](std::string_view name) {
    return static_cast<size_t>(std::find(h.begin(), h.end(), name) - h.begin());
  };
  int64_t want_age_housing = 0, want_jobs = 0, want_yes = 0, want_pdays = 0;
  int64_t want_default_unknown = 0, want_marital_unknown = 0, want_euribor_sum = 0;
  int64_t want_uni_single = 0;
  for (size_t i = 1; i < plain.size(); ++i) {
    const std::vector<std::string>& f = plain[i];
    ASSERT_EQ(f.size(), 21u) << "line " << i + 1;
    int age = std::stoi(f[col("age")]);
    want_age_housing += age >= 30 && age <= 40 && f[col("housing")] == "yes";
    const std::string& job = f[col("job")];
    want_jobs += job == "admin." || job == "technician" || job == "blue-collar";
    want_yes += f[col("y")] == "yes";
    want_pdays += f[col("pdays")] != "999";
    want_default_unknown += f[col("default")] == "unknown";
    want_marital_unknown += f[col("marital")] == "unknown";
    want_euribor_sum += std::llround(std::stod(f[col("euribor3m")]) * 1000);
    want_uni_single += f[col("education")] == "university.degree" && f[col("marital")] == "single";
  }

  int64_t age_housing = 0, jobs = 0, yes = 0, pdays = 0, default_absent = 0, marital_absent = 0;
  int64_t euribor_sum = 0, uni_single = 0;
  std::set<std::string> ids;
  for (const CustomerUpsert& u : sink.upserts) {
    ids.insert(u.external_id);
    std::optional<int64_t> age = Get<int64_t>(u, "age");
    age_housing += age && *age >= 30 && *age <= 40 && Get<bool>(u, "housing") == true;
    std::optional<std::string> job = Get<std::string>(u, "job");
    jobs += job == "admin" || job == "technician" || job == "blue_collar";
    yes += Get<bool>(u, "subscribed") == true;
    pdays += Get<int64_t>(u, "pdays").has_value();
    default_absent += !Get<bool>(u, "default_credit").has_value();
    marital_absent += !Get<std::string>(u, "marital").has_value();
    euribor_sum += Get<int64_t>(u, "euribor3m").value_or(0);
    uni_single += Get<std::string>(u, "education") == "university_degree" &&
                  Get<std::string>(u, "marital") == "single";
  }
  EXPECT_EQ(age_housing, want_age_housing);
  EXPECT_EQ(jobs, want_jobs);
  EXPECT_EQ(yes, want_yes);
  EXPECT_EQ(yes, 451);  // README: 451 of 4,119 subscribed
  EXPECT_EQ(pdays, want_pdays);
  EXPECT_EQ(default_absent, want_default_unknown);
  EXPECT_EQ(marital_absent, want_marital_unknown);
  EXPECT_EQ(euribor_sum, want_euribor_sum);
  EXPECT_EQ(uni_single, want_uni_single);
  EXPECT_EQ(ids.size(), 4119u);
  EXPECT_EQ(sink.upserts[0].external_id, "UCI000002");
  EXPECT_EQ(Get<int64_t>(sink.upserts[0], "cons_price_idx"), 92893);
  EXPECT_EQ(Get<int64_t>(sink.upserts[0], "emp_var_rate"), -18);
  EXPECT_EQ(FindTag(sink.upserts[0], "duration"), nullptr);
}

}  // namespace
}  // namespace mercator
