// Writes the demo bank (customer/demo_bank.h) as a data-warehouse CSV export plus the import
// mapping that reads it back, for the benchmarks: bench/import feeds it to `mercator import`,
// bench/segment loads the same file into Mercator, PostgreSQL and SQLite, bench/startup
// imports it to get a data directory of N customers.
//
//   bench_demo_csv --customers N --csv OUT.csv --mapping OUT.json
//                  [--seed 42] [--today 2025-06-30] [--threads 2]
//
// Columns: customer_id, name, phone, id_number, then every catalog tag in catalog order. Absent
// tags are empty cells; multi-enum values are joined with '|'; decimals keep their scale
// ("50000.00"); dates are YYYY-MM-DD. No cell contains ',', '"' or a line break (checked), so
// readers may split on commas. `today` is fixed (not the clock) so that a cached file and the date
// rules of bench/segment stay meaningful across days.
//
// Customers are generated in chunks by `threads` workers and written in order.
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "customer/demo_bank.h"
#include "customer/tag.h"

namespace mercator {
namespace {

constexpr uint64_t kChunk = 20000;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "bench_demo_csv: %s\n", message.c_str());
  std::exit(1);
}

void AppendCell(std::string& out, std::string_view cell) {
  if (cell.find_first_of(",\"\r\n") != std::string_view::npos) {
    Die("a cell needs quoting, which the bench readers do not support: " + std::string(cell));
  }
  out.append(cell);
}

std::string Chunk(const DemoBank& bank, const std::vector<TagDef>& catalog, uint64_t begin,
                  uint64_t end) {
  std::string out;
  out.reserve((end - begin) * 320);
  for (uint64_t i = begin; i < end; ++i) {
    const CustomerUpsert c = bank.Customer(i);
    AppendCell(out, c.external_id);
    out.push_back(',');
    AppendCell(out, c.name.value_or(""));
    out.push_back(',');
    AppendCell(out, c.phone.value_or(""));
    out.push_back(',');
    AppendCell(out, c.id_number.value_or(""));
    for (const TagDef& def : catalog) {
      out.push_back(',');
      auto it = c.tags.find(def.key);
      if (it != c.tags.end() && it->second.has_value()) {
        AppendCell(out, FormatTagValue(def, *it->second));
      }
    }
    out.push_back('\n');
  }
  return out;
}

boost::json::object MappingJson(const std::vector<TagDef>& catalog) {
  boost::json::array tags, columns;
  for (const TagDef& d : catalog) {
    boost::json::object t;
    t["key"] = d.key;
    t["name_zh"] = d.name_zh;
    t["name_en"] = d.name_en;
    t["category"] = std::string(TagCategoryName(d.category));
    t["type"] = std::string(TagTypeName(d.type));
    t["source"] = std::string(TagSourceName(d.source));
    if (d.type == TagType::kDecimal) t["scale"] = d.scale;
    if (!d.values.empty()) {
      boost::json::array values;
      for (const std::string& v : d.values) values.emplace_back(v);
      t["values"] = std::move(values);
    }
    t["description"] = d.description;
    tags.emplace_back(std::move(t));
    columns.emplace_back(boost::json::object{{"column", d.key}, {"tag", d.key}});
  }
  return boost::json::object{
      {"description", "The Mercator demo bank as a CSV export (written by bench_demo_csv)."},
      {"csv", boost::json::object{{"separator", ","}, {"encoding", "utf-8"}}},
      {"id", boost::json::object{{"column", "customer_id"}}},
      {"name_column", "name"},
      {"phone_column", "phone"},
      {"id_number_column", "id_number"},
      {"null_tokens", boost::json::array{""}},
      {"tags", std::move(tags)},
      {"columns", std::move(columns)},
  };
}

int Main(int argc, char** argv) {
  uint64_t customers = 1'000'000, seed = 42;
  std::string csv_path, mapping_path, today_text = "2025-06-30";
  unsigned threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--customers") {
      customers = std::stoull(next());
    } else if (a == "--csv") {
      csv_path = next();
    } else if (a == "--mapping") {
      mapping_path = next();
    } else if (a == "--seed") {
      seed = std::stoull(next());
    } else if (a == "--today") {
      today_text = next();
    } else if (a == "--threads") {
      threads = std::max(1u, static_cast<unsigned>(std::stoul(next())));
    } else {
      Die("unknown argument " + a);
    }
  }
  if (csv_path.empty() || mapping_path.empty()) Die("--csv and --mapping are required");
  TagDef date_def;
  date_def.type = TagType::kDate;
  absl::StatusOr<TagValue> today = ParseTagValue(date_def, today_text);
  if (!today.ok()) Die("--today: " + std::string(today.status().message()));

  const std::vector<TagDef> catalog = DemoCatalog();
  const DemoBank bank(seed, std::get<int64_t>(*today));
  {
    FILE* m = std::fopen(mapping_path.c_str(), "w");
    if (m == nullptr) Die("cannot write " + mapping_path);
    const std::string json = boost::json::serialize(MappingJson(catalog));
    std::fwrite(json.data(), 1, json.size(), m);
    std::fputc('\n', m);
    std::fclose(m);
  }
  const std::string tmp_path = csv_path + ".tmp";
  FILE* out = std::fopen(tmp_path.c_str(), "w");
  if (out == nullptr) Die("cannot write " + tmp_path);
  std::string header = "customer_id,name,phone,id_number";
  for (const TagDef& d : catalog) header += "," + d.key;
  header += "\n";
  std::fwrite(header.data(), 1, header.size(), out);

  // Workers claim chunks in order and hand them to the writer (this thread), which writes
  // them in order; a worker waits while it is too far ahead, bounding memory.
  const uint64_t chunks = (customers + kChunk - 1) / kChunk;
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::string> ready;
  uint64_t written = 0;
  std::atomic<uint64_t> next_chunk{0};
  auto worker = [&] {
    for (;;) {
      const uint64_t k = next_chunk.fetch_add(1);
      if (k >= chunks) return;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return k < written + 4 * threads; });
      }
      std::string text = Chunk(bank, catalog, k * kChunk, std::min(customers, (k + 1) * kChunk));
      std::lock_guard lock(mu);
      ready.emplace(k, std::move(text));
      cv.notify_all();
    }
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  uint64_t bytes = header.size();
  while (written < chunks) {
    std::string text;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return ready.count(written) > 0; });
      text = std::move(ready[written]);
      ready.erase(written);
    }
    if (std::fwrite(text.data(), 1, text.size(), out) != text.size()) Die("write failed");
    bytes += text.size();
    {
      std::lock_guard lock(mu);
      ++written;
      cv.notify_all();
    }
    if (written % 25 == 0 || written == chunks) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const uint64_t rows = std::min(customers, written * kChunk);
      std::fprintf(stderr, "\rgenerating %llu / %llu customers (%.0f%%), %.0f rows/s   ",
                   static_cast<unsigned long long>(rows),
                   static_cast<unsigned long long>(customers), 100.0 * rows / customers,
                   rows / std::max(s, 1e-9));
    }
  }
  for (std::thread& t : pool) t.join();
  if (std::fclose(out) != 0) Die("close failed");
  if (std::rename(tmp_path.c_str(), csv_path.c_str()) != 0) Die("rename failed");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "\nwrote %s: %llu customers, %.1f MB in %.1f s (%u threads); mapping %s\n",
               csv_path.c_str(), static_cast<unsigned long long>(customers), bytes / 1e6, s,
               threads, mapping_path.c_str());
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Main(argc, argv); }
