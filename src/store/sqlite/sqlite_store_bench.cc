// Upsert throughput of the SQLite store: new customers with ~25 tags each and sealed personal
// data (name, phone, ID number through auth::Vault), in batches, into a fresh database in a
// temporary directory. Prints figures; asserts nothing.
//
//   store_sqlite_upsert_bench [customers=1000000] [batch=10000] [dir]
#include <sys/types.h>
#include <unistd.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "auth/vault.h"
#include "common/clock.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

// CPU time of the calling thread: the figure that matters on a machine shared with other jobs,
// where wall-clock time includes waiting for a core. SQLite does its I/O on this thread.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

CustomerUpsert MakeCustomer(uint64_t i) {
  static const char* kProvinces[] = {"浙江", "上海", "江苏", "广东", "北京"};
  static const char* kLifecycle[] = {"new", "active", "dormant", "churned"};
  CustomerUpsert u;
  u.external_id = "CIF" + std::to_string(100000000 + i * 7919 % 900000000);
  u.name = "客户" + std::to_string(i);
  u.phone = "138" + std::to_string(10000000 + i % 90000000);
  u.id_number = "3301061990" + std::to_string(10000000 + i % 90000000);  // shape only
  TagChanges& t = u.tags;
  t["age"] = int64_t(18 + i % 60);
  t["gender"] = std::string(i % 2 ? "M" : "F");
  t["province"] = std::string(kProvinces[i % 5]);
  t["city"] = std::string("city_") + std::to_string(i % 300);
  t["aum"] = int64_t(i * 1237 % 100000000);
  t["vip"] = i % 10 == 0;
  t["lifecycle"] = std::string(kLifecycle[i % 4]);
  t["products"] = std::vector<std::string>{"card", i % 3 ? "loan" : "fund", "wealth"};
  t["channels"] = std::vector<std::string>{"app", "sms"};
  t["open_date"] = int64_t(15000 + i % 5000);
  t["last_login"] = int64_t(19000 + i % 700);
  t["risk_level"] = std::string("R") + std::to_string(1 + i % 5);
  t["credit_score"] = int64_t(300 + i % 550);
  t["has_mortgage"] = i % 7 == 0;
  t["has_car_loan"] = i % 11 == 0;
  t["payroll"] = i % 4 == 0;
  t["mobile_active"] = i % 3 != 0;
  t["churn_score"] = int64_t(i % 1000);
  t["propensity_fund"] = int64_t(i % 997);
  t["propensity_card"] = int64_t(i % 991);
  t["txn_count_30d"] = int64_t(i % 200);
  t["txn_amount_30d"] = int64_t(i * 31 % 10000000);
  t["segment"] = std::string(i % 5 ? "mass" : "affluent");
  t["employer_type"] = std::string("type_") + std::to_string(i % 12);
  t["marketing_opt_in"] = i % 9 != 0;
  return u;
}

int Run(int argc, char** argv) {
  const uint64_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const uint64_t batch_size = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10'000;
  const std::filesystem::path dir = argc > 3
                                        ? std::filesystem::path(argv[3])
                                        : std::filesystem::temp_directory_path() /
                                              ("mercator_upsert_bench_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  FakeClock clock(1'700'000'000'000);
  auth::Vault::Key key;
  key.fill(0x42);
  auth::Vault vault(key);
  SqliteStoreOptions options;
  options.cipher = &vault;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir.string(), &clock, options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  std::chrono::duration<double> in_store{0};
  double cpu = 0;
  std::vector<CustomerUpsert> batch;
  for (uint64_t start = 0; start < total; start += batch_size) {
    batch.clear();
    for (uint64_t i = start; i < std::min(total, start + batch_size); ++i) {
      batch.push_back(MakeCustomer(i));
    }
    auto t0 = Clock::now();
    double c0 = ThreadCpuSeconds();
    auto r = (*store)->customers().Upsert(batch, clock.NowMs());
    cpu += ThreadCpuSeconds() - c0;
    in_store += Clock::now() - t0;
    if (!r.ok()) {
      std::fprintf(stderr, "upsert: %s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("new customers: %llu with 25 tags, batches of %llu\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(batch_size));
  std::printf("upsert (new):   %.0f customers/s wall (%.2f s), %.0f customers/s of CPU (%.2f s)\n",
              total / in_store.count(), in_store.count(), total / cpu, cpu);

  // Re-upserting the same customers with one changed tag: the merge path.
  std::chrono::duration<double> merge{0};
  double merge_cpu = 0;
  const uint64_t merge_total = std::min<uint64_t>(total, 200'000);
  for (uint64_t start = 0; start < merge_total; start += batch_size) {
    batch.clear();
    for (uint64_t i = start; i < std::min(merge_total, start + batch_size); ++i) {
      CustomerUpsert u;
      u.external_id = MakeCustomer(i).external_id;
      u.tags["churn_score"] = int64_t(i % 1000 + 1);
      batch.push_back(std::move(u));
    }
    auto t0 = Clock::now();
    double c0 = ThreadCpuSeconds();
    auto r = (*store)->customers().Upsert(batch, clock.NowMs());
    merge_cpu += ThreadCpuSeconds() - c0;
    merge += Clock::now() - t0;
    if (!r.ok()) {
      std::fprintf(stderr, "upsert: %s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("upsert (merge): %.0f customers/s wall, %.0f customers/s of CPU, over %llu\n",
              merge_total / merge.count(), merge_total / merge_cpu,
              static_cast<unsigned long long>(merge_total));
  std::printf("database: %.1f MiB\n", std::filesystem::file_size(dir / "mercator.db") / 1048576.0);
  store->reset();
  if (argc <= 3) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Run(argc, argv); }
