// The real UCI bank-marketing sample through the real pipeline (CSV importer -> customer
// service -> SQLite store + segment index), with audience counts checked against an
// independent scan of the same file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "common/clock.h"
#include "customer/importer.h"
#include "segment/dsl.h"
#include "server/app.h"

namespace mercator {
namespace {

std::string DataFile() {
  const char* root = std::getenv("MERCATOR_SOURCE_DIR");
  return std::string(root ? root : ".") + "/../shared/data/uci-bank-marketing/bank-additional.csv";
}

// The file as plain rows of column name -> raw text, parsed with nothing but splitting on ';'
// and stripping the double quotes (the file has no separators inside quotes).
std::vector<std::map<std::string, std::string>> ScanFile() {
  std::ifstream in(DataFile());
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  auto split = [](const std::string& l) {
    std::vector<std::string> out;
    std::stringstream ss(l);
    std::string f;
    while (std::getline(ss, f, ';')) {
      if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
      out.push_back(f);
    }
    return out;
  };
  const std::vector<std::string> header = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f = split(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < f.size(); ++i) row[header[i]] = f[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

class UciImport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("mercator-uci-" + std::to_string(std::random_device{}())));
    auto engine = OpenEngine(dir_->string());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = new Engine(std::move(*engine));
    const char* root = std::getenv("MERCATOR_SOURCE_DIR");
    auto mapping =
        LoadImportMapping(std::string(root ? root : ".") + "/mappings/uci-bank-marketing.json");
    ASSERT_TRUE(mapping.ok()) << mapping.status();
    for (const TagDef& def : mapping->tags) ASSERT_TRUE(engine_->customers->DefineTag(def).ok());
    Importer importer(*mapping, ImportOptions{}, SystemClock::Get());
    auto report = importer.ImportFile(DataFile(), [](std::vector<CustomerUpsert>& batch) {
      return engine_->customers->Upsert(std::move(batch)).status();
    });
    ASSERT_TRUE(report.ok()) << report.status();
    report_ = new ImportReport(*report);
    rows_ = new std::vector<std::map<std::string, std::string>>(ScanFile());
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete report_;
    delete rows_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static uint64_t Count(const std::string& dsl) {
    auto rule = ParseDsl(dsl);
    EXPECT_TRUE(rule.ok()) << rule.status();
    auto n = engine_->index->Count(*rule);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : UINT64_MAX;
  }
  static uint64_t Scan(const std::function<bool(std::map<std::string, std::string>&)>& pred) {
    uint64_t n = 0;
    for (auto& row : *rows_) n += pred(row);
    return n;
  }
  // Decimal text to an integer of `scale` places, for exact comparisons in the oracle.
  static int64_t Scaled(const std::string& s, int scale) {
    return std::llround(std::stod(s) * std::pow(10, scale));
  }

  static std::filesystem::path* dir_;
  static Engine* engine_;
  static ImportReport* report_;
  static std::vector<std::map<std::string, std::string>>* rows_;
};
std::filesystem::path* UciImport::dir_;
Engine* UciImport::engine_;
ImportReport* UciImport::report_;
std::vector<std::map<std::string, std::string>>* UciImport::rows_;

TEST_F(UciImport, EveryRowImportsAndDurationIsLeftOut) {
  EXPECT_EQ(rows_->size(), 4119u);
  EXPECT_EQ(report_->rows_read, 4119);
  EXPECT_EQ(report_->rows_applied, 4119);
  EXPECT_EQ(report_->error_count, 0);
  EXPECT_EQ(report_->ignored_columns, std::vector<std::string>{"duration"});
  EXPECT_EQ(engine_->index->LiveCount(), 4119u);
}

TEST_F(UciImport, CountsMatchAScanOfTheFile) {
  EXPECT_EQ(Count("age between 30 and 40 and housing = true"), Scan([](auto& r) {
              const int age = std::stoi(r["age"]);
              return age >= 30 && age <= 40 && r["housing"] == "yes";
            }));
  EXPECT_EQ(
      Count(R"(job in ("admin", "technician") and not marital = "married")"), Scan([](auto& r) {
        return (r["job"] == "admin." || r["job"] == "technician") && r["marital"] != "married";
      }));
  EXPECT_EQ(Count("subscribed = true and euribor3m < 1.5"),
            Scan([](auto& r) { return r["y"] == "yes" && Scaled(r["euribor3m"], 3) < 1500; }));
  EXPECT_EQ(Count("exists(pdays)"), Scan([](auto& r) { return r["pdays"] != "999"; }));
  EXPECT_EQ(Count(R"(education = "university_degree" or default_credit = true)"), Scan([](auto& r) {
              return r["education"] == "university.degree" || r["default"] == "yes";
            }));
  EXPECT_EQ(Count(R"(campaign >= 3 and poutcome != "nonexistent")"), Scan([](auto& r) {
              return std::stoi(r["campaign"]) >= 3 && r["poutcome"] != "nonexistent" &&
                     r["poutcome"] != "unknown";
            }));
  EXPECT_EQ(Count("cons_conf_idx between -40 and -36.4 or emp_var_rate > 1"), Scan([](auto& r) {
              const int64_t c = Scaled(r["cons.conf.idx"], 1);
              return (c >= -400 && c <= -364) || Scaled(r["emp.var.rate"], 1) > 10;
            }));
  EXPECT_EQ(Count("not loan = true"), Scan([](auto& r) { return r["loan"] != "yes"; }));
}

TEST_F(UciImport, SubscribersByJobBreakdownMatchesTheFile) {
  auto rule = ParseDsl("subscribed = true");
  ASSERT_TRUE(rule.ok());
  auto members = engine_->index->Evaluate(*rule);
  ASSERT_TRUE(members.ok());
  auto buckets = engine_->index->Breakdown(*members, "job");
  ASSERT_TRUE(buckets.ok()) << buckets.status();
  uint64_t total = 0;
  for (const auto& b : *buckets) {
    total += b.count;
    if (b.label == "admin") {
      EXPECT_EQ(b.count, Scan([](auto& r) { return r["y"] == "yes" && r["job"] == "admin."; }));
    }
  }
  EXPECT_EQ(total, Scan([](auto& r) { return r["y"] == "yes"; }));
}

}  // namespace
}  // namespace mercator
