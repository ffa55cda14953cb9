// Times the CSV importer on a generated file (not a test: tests never assert on speed).
//
//   bench_import_timing [rows=1000000] [dir=/tmp]      (MERCATOR_SOURCE_DIR: the repo root)
//
// Writes a UCI-shaped file of `rows` rows to `dir`, imports it with the UCI mapping into a
// sink that only counts, and prints rows/s for the reader alone and for the whole import.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "customer/csv_reader.h"
#include "customer/importer.h"

namespace {

const char* const kJobs[] = {"\"admin.\"",        "\"blue-collar\"", "\"technician\"",
                             "\"services\"",      "\"management\"",  "\"retired\"",
                             "\"self-employed\"", "\"unknown\""};
const char* const kMonths[] = {"\"may\"", "\"jun\"", "\"jul\"", "\"aug\"", "\"nov\""};
const char* const kDays[] = {"\"mon\"", "\"tue\"", "\"wed\"", "\"thu\"", "\"fri\""};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long rows = argc > 1 ? std::atol(argv[1]) : 1000000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp";
  const char* root = std::getenv("MERCATOR_SOURCE_DIR");
  const std::string mapping_path =
      std::string(root != nullptr ? root : ".") + "/mappings/uci-bank-marketing.json";
  const std::string path = dir + "/mercator-import-timing.csv";

  mercator::SeededRandom rng(42);
  {
    std::ofstream out(path, std::ios::binary);
    out << "\"age\";\"job\";\"marital\";\"education\";\"default\";\"housing\";\"loan\";"
           "\"contact\";\"month\";\"day_of_week\";\"duration\";\"campaign\";\"pdays\";"
           "\"previous\";\"poutcome\";\"emp.var.rate\";\"cons.price.idx\";\"cons.conf.idx\";"
           "\"euribor3m\";\"nr.employed\";\"y\"\r\n";
    char line[512];
    for (long i = 0; i < rows; ++i) {
      int n = std::snprintf(
          line, sizeof(line),
          "%d;%s;\"married\";\"university.degree\";\"no\";\"%s\";\"no\";\"cellular\";%s;%s;"
          "%d;%d;%d;0;\"nonexistent\";%.1f;%d.%03d;-%d.%d;%d.%03d;5099.1;\"%s\"\r\n",
          18 + static_cast<int>(rng.Uniform(70)), kJobs[rng.Uniform(8)],
          rng.Uniform(2) ? "yes" : "no", kMonths[rng.Uniform(5)], kDays[rng.Uniform(5)],
          static_cast<int>(rng.Uniform(2000)), 1 + static_cast<int>(rng.Uniform(10)),
          rng.Uniform(10) ? 999 : static_cast<int>(rng.Uniform(30)),
          -3.4 + 0.1 * static_cast<double>(rng.Uniform(50)), 92 + static_cast<int>(rng.Uniform(3)),
          static_cast<int>(rng.Uniform(1000)), 26 + static_cast<int>(rng.Uniform(25)),
          static_cast<int>(rng.Uniform(10)), static_cast<int>(rng.Uniform(5)),
          static_cast<int>(rng.Uniform(1000)), rng.Uniform(9) ? "no" : "yes");
      out.write(line, n);
    }
  }

  auto t0 = std::chrono::steady_clock::now();
  auto reader = mercator::CsvReader::Open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", std::string(reader.status().message()).c_str());
    return 1;
  }
  mercator::CsvRow row;
  long read = 0;
  while (*(*reader)->Next(row)) ++read;
  const double reader_s = Seconds(t0);
  std::printf("reader only:           %ld rows, %.0f MB in %.3f s = %.0f rows/s\n", read,
              static_cast<double>((*reader)->total_bytes()) / 1e6, reader_s, read / reader_s);

  auto mapping = mercator::LoadImportMapping(mapping_path);
  if (!mapping.ok()) {
    std::fprintf(stderr, "%s\n", std::string(mapping.status().message()).c_str());
    return 1;
  }
  struct Config {
    const char* name;
    mercator::ImportMode mode;
    mercator::ImportPasses passes;
  };
  const Config configs[] = {
      {"validate only (pass 1)", mercator::ImportMode::kValidateOnly,
       mercator::ImportPasses::kValidateFirst},
      {"two passes, all-or-nothing", mercator::ImportMode::kAllOrNothing,
       mercator::ImportPasses::kValidateFirst},
      {"single pass, skip bad rows", mercator::ImportMode::kSkipBadRows,
       mercator::ImportPasses::kSinglePass},
  };
  for (const Config& c : configs) {
    mercator::ImportOptions options;
    options.mode = c.mode;
    options.passes = c.passes;
    mercator::Importer importer(*mapping, options, mercator::SystemClock::Get());
    long upserts = 0;
    auto t1 = std::chrono::steady_clock::now();
    auto report = importer.ImportFile(path, [&](std::vector<mercator::CustomerUpsert>& batch) {
      upserts += static_cast<long>(batch.size());
      return absl::OkStatus();
    });
    const double s = Seconds(t1);
    if (!report.ok()) {
      std::fprintf(stderr, "%s\n", std::string(report.status().message()).c_str());
      return 1;
    }
    std::printf("%-27s %ld rows read, %ld applied, %ld errors in %.3f s = %.0f rows/s\n", c.name,
                static_cast<long>(report->rows_read), upserts,
                static_cast<long>(report->error_count), s, report->rows_read / s);
  }

  // The floor set by the data model: building and destroying the same number of upserts with
  // 20 tags each in a std::map, without reading anything.
  {
    auto t2 = std::chrono::steady_clock::now();
    std::vector<mercator::CustomerUpsert> batch;
    batch.reserve(10000);
    for (long r = 0; r < rows; ++r) {
      mercator::CustomerUpsert& u = batch.emplace_back();
      u.external_id = "UCI000123";
      for (const mercator::TagDef& d : mapping->tags) {
        u.tags.emplace_hint(u.tags.end(), d.key, mercator::TagValue(int64_t{r}));
      }
      if (batch.size() == 10000) batch.clear();
    }
    const double s = Seconds(t2);
    std::printf("%-27s %ld upserts of %zu tags in %.3f s = %.0f rows/s\n",
                "CustomerUpsert build+free", rows, mapping->tags.size(), s, rows / s);
  }
  std::remove(path.c_str());
  return 0;
}
