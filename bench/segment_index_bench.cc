// Segment index figures at bank scale: bulk load rate, memory, and rule latency percentiles
// by number of terms, on synthetic customers (25 tags each).
//
//   segment_index_bench [customers ...]      default: 1000000 10000000
//
// Prints one block per size. Not a test: nothing is asserted.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "customer/tag.h"
#include "segment/bitmap_index.h"
#include "segment/rule.h"

namespace mercator {
namespace {

using Clock = std::chrono::steady_clock;

double CpuMs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
// CPU time of this thread: the machine is shared, so wall time includes waiting for a core.
double ThreadCpuMs() { return CpuMs(CLOCK_THREAD_CPUTIME_ID); }
// CPU time of the whole process: a query may hand chunks to a helper thread, and this
// program runs nothing else while it measures one.
double ProcessCpuMs() { return CpuMs(CLOCK_PROCESS_CPUTIME_ID); }

// The 1-minute load average: figures taken on a busy machine say so.
double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

TagDef Def(std::string key, TagType type, std::vector<std::string> values = {}, int scale = 0) {
  TagDef d;
  d.key = std::move(key);
  d.name_en = d.key;
  d.type = type;
  d.values = std::move(values);
  d.scale = scale;
  return d;
}

std::vector<std::string> Names(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

const std::vector<std::string> kProvinces = Names("p", 31);
const std::vector<std::string> kLevels = {"normal", "silver", "gold", "private"};
const std::vector<std::string> kProducts = {"deposit", "fund", "insurance",
                                            "loan",    "card", "wealth"};
const std::vector<std::string> kLifecycle = {"new",       "growing", "mature",
                                             "declining", "dormant", "churned"};

std::vector<TagDef> Catalog() {
  return {
      Def("age", TagType::kInt),
      Def("aum", TagType::kDecimal, {}, 2),
      Def("province", TagType::kEnum, kProvinces),
      Def("level", TagType::kEnum, kLevels),
      Def("products", TagType::kMultiEnum, kProducts),
      Def("open_date", TagType::kDate),
      Def("has_app", TagType::kBool),
      Def("is_employee", TagType::kBool),
      Def("marketing_consent", TagType::kBool),
      Def("has_mortgage", TagType::kBool),
      Def("is_payroll", TagType::kBool),
      Def("gender", TagType::kEnum, {"f", "m"}),
      Def("channel", TagType::kEnum, Names("ch", 5)),
      Def("risk_level", TagType::kEnum, Names("r", 5)),
      Def("lifecycle", TagType::kEnum, kLifecycle),
      Def("education", TagType::kEnum, Names("edu", 6)),
      Def("occupation", TagType::kEnum),  // Open.
      Def("credit_score", TagType::kInt),
      Def("deposit_balance", TagType::kDecimal, {}, 2),
      Def("loan_balance", TagType::kDecimal, {}, 2),
      Def("last_login", TagType::kDate),
      Def("birthday", TagType::kDate),
      Def("txn_count_30d", TagType::kInt),
      Def("card_count", TagType::kInt),
      Def("city_tier", TagType::kEnum, Names("t", 5)),
  };
}

class Synth {
 public:
  explicit Synth(uint64_t seed) : rng_(seed) {}
  int U(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  int64_t R(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  int64_t LogNormalFen(double median_yuan, double sigma) {
    const double yuan = median_yuan * std::exp(sigma * normal_(rng_));
    return static_cast<int64_t>(std::min(yuan, 1e10) * 100);
  }
  const std::string& Pick(const std::vector<std::string>& v) {
    return v[U(static_cast<int>(v.size()))];
  }

  TagChanges Customer() {
    TagChanges c;
    c["age"] = TagValue(R(18, 90));
    c["aum"] = TagValue(LogNormalFen(30000, 1.6));
    c["province"] = TagValue(Pick(kProvinces));
    c["level"] = TagValue(kLevels[std::min(3, U(8) / 2 + (U(10) == 0))]);
    std::vector<std::string> products;
    for (const std::string& p : kProducts) {
      if (U(3) == 0) products.push_back(p);
    }
    c["products"] = TagValue(std::move(products));
    c["open_date"] = TagValue(R(DaysFromCivil(2000, 1, 1), DaysFromCivil(2024, 12, 31)));
    c["has_app"] = TagValue(U(10) < 7);
    c["is_employee"] = TagValue(U(100) == 0);
    c["marketing_consent"] = TagValue(U(10) < 6);
    c["has_mortgage"] = TagValue(U(10) < 2);
    c["is_payroll"] = TagValue(U(10) < 3);
    c["gender"] = TagValue(std::string(U(2) ? "f" : "m"));
    c["channel"] = TagValue("ch" + std::to_string(U(5)));
    c["risk_level"] = TagValue("r" + std::to_string(U(5)));
    c["lifecycle"] = TagValue(Pick(kLifecycle));
    c["education"] = TagValue("edu" + std::to_string(U(6)));
    c["occupation"] = TagValue("occ" + std::to_string(U(40)));
    c["credit_score"] = TagValue(R(300, 850));
    c["deposit_balance"] = TagValue(LogNormalFen(10000, 1.5));
    if (U(4) == 0) c["loan_balance"] = TagValue(LogNormalFen(200000, 1.0));
    c["last_login"] = TagValue(R(DaysFromCivil(2023, 1, 1), DaysFromCivil(2024, 12, 31)));
    c["birthday"] = TagValue(R(DaysFromCivil(1934, 1, 1), DaysFromCivil(2006, 12, 31)));
    c["txn_count_30d"] = TagValue(R(0, 200));
    c["card_count"] = TagValue(R(0, 5));
    c["city_tier"] = TagValue("t" + std::to_string(U(5)));
    return c;
  }

  Literal Num(int64_t v) { return Literal::Number(std::to_string(v)); }
  Literal Yuan(int64_t yuan) { return Literal::Number(std::to_string(yuan) + ".00"); }

  // One term of the kind a marketer writes.
  Rule Term() {
    switch (U(14)) {
      case 0: {
        const int64_t lo = R(18, 70);
        return Rule::Between("age", Num(lo), Num(lo + R(5, 20)));
      }
      case 1: {
        std::vector<Literal> v;
        for (int i = 0, n = 1 + U(4); i < n; ++i) v.push_back(Literal::String(Pick(kProvinces)));
        return Rule::In("province", v);
      }
      case 2:
        return Rule::Compare("aum", CompareOp::kGe,
                             Yuan(std::vector<int64_t>{10000, 50000, 200000, 1000000}[U(4)]));
      case 3:
        return Rule::Compare("level", U(2) ? CompareOp::kEq : CompareOp::kNe,
                             Literal::String(Pick(kLevels)));
      case 4:
        return Rule::Has("products", U(2) ? HasMode::kAny : HasMode::kAll,
                         {Literal::String(Pick(kProducts)), Literal::String(Pick(kProducts))});
      case 5:
        return Rule::Not(Rule::Compare("lifecycle", CompareOp::kEq, Literal::String("churned")));
      case 6:
        return Rule::Compare("has_app", CompareOp::kEq, Literal::Bool(U(2) == 0));
      case 7:
        return Rule::Compare("open_date", U(2) ? CompareOp::kGe : CompareOp::kLt,
                             Literal::String(std::to_string(R(2005, 2023)) + "-06-01"));
      case 8:
        return Rule::Compare("credit_score", CompareOp::kGt, Num(R(400, 800)));
      case 9:
        return Rule::Compare("marketing_consent", CompareOp::kEq, Literal::Bool(true));
      case 10:
        return Rule::Between("deposit_balance", Yuan(R(1000, 20000)), Yuan(R(30000, 500000)));
      case 11:
        return Rule::Compare("txn_count_30d", CompareOp::kGe, Num(R(1, 100)));
      case 12:
        return Rule::Or({Rule::Compare("is_payroll", CompareOp::kEq, Literal::Bool(true)),
                         Rule::Compare("aum", CompareOp::kGe, Yuan(100000))});
      default:
        return Rule::Compare("last_login", CompareOp::kGe, Literal::String("2024-06-01"));
    }
  }

  // A rule of `terms` leaves (an Or term counts two): mostly And, sometimes an Or group.
  Rule Query(int terms) {
    std::vector<Rule> parts;
    int n = 0;
    while (n < terms) {
      Rule t = Term();
      const int c = CountTerms(t);
      if (n + c > terms) continue;
      n += c;
      parts.push_back(std::move(t));
    }
    if (parts.size() == 1) return parts[0];
    if (parts.size() >= 4 && U(3) == 0) {
      Rule tail = Rule::Or({parts[parts.size() - 2], parts[parts.size() - 1]});
      parts.resize(parts.size() - 2);
      parts.push_back(std::move(tail));
    }
    return Rule::And(std::move(parts));
  }

 private:
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
};

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void Run(uint32_t customers) {
  std::printf("== %u customers, 25 tags each (load average %.2f) ==\n", customers, LoadAverage());
  SegmentIndex index;
  for (const TagDef& d : Catalog()) {
    if (!index.DefineTag(d).ok()) std::abort();
  }
  Synth synth(customers);
  // Importer-sized batches: a batch's change maps stay in cache between the check and apply
  // passes, and readers wait less for the writer lock.
  constexpr uint32_t kBatch = 2000;
  double apply_seconds = 0;
  double apply_cpu_ms = 0;
  const long rss_before = RssKiB();
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  for (uint32_t first = 0; first < customers; first += kBatch) {
    batch.clear();
    for (uint32_t uid = first; uid < std::min(customers, first + kBatch); ++uid) {
      batch.emplace_back(uid, synth.Customer());
    }
    const double c0 = ThreadCpuMs();
    const auto t0 = Clock::now();
    if (!index.ApplyBatch(batch).ok()) std::abort();
    apply_seconds += Seconds(t0, Clock::now());
    apply_cpu_ms += ThreadCpuMs() - c0;
  }
  batch.clear();
  batch.shrink_to_fit();
  std::printf("bulk ApplyBatch: %.1f s wall, %.1f s CPU: %.0f customers/s wall, %.0f per CPU-s\n",
              apply_seconds, apply_cpu_ms / 1e3, customers / apply_seconds,
              customers / (apply_cpu_ms / 1e3));
  std::printf("index memory: %.1f MiB (CRoaring accounting); process RSS growth %.1f MiB\n",
              static_cast<double>(index.MemoryBytes()) / (1 << 20),
              static_cast<double>(RssKiB() - rss_before) / 1024);

  // Updates to existing customers (the real-time path).
  {
    Synth upd(customers + 1);
    const int kUpdates = 20000;
    const auto t0 = Clock::now();
    for (int i = 0; i < kUpdates; ++i) {
      const uint32_t uid = static_cast<uint32_t>(upd.R(0, customers - 1));
      TagChanges c;
      c["aum"] = TagValue(upd.LogNormalFen(30000, 1.6));
      c["lifecycle"] = TagValue(upd.Pick(kLifecycle));
      c["products"] = TagValue(std::vector<std::string>{"fund"});
      if (!index.Apply(uid, c).ok()) std::abort();
    }
    std::printf("single Apply update (3 tags): %.2f us each\n",
                Seconds(t0, Clock::now()) * 1e6 / kUpdates);
  }

  const int kQueries = customers > 2000000 ? 60 : 200;
  // Count wall time, and CPU time of the process per Count (all threads), percentiles.
  std::printf("%5s %10s %10s %10s %10s %10s %10s %12s\n", "terms", "count p50", "count p99",
              "cpu p50", "cpu p99", "eval p50", "count max", "avg matched");
  for (int terms = 1; terms <= 10; ++terms) {
    Synth q(1000 + terms);
    std::vector<double> count_ms;
    std::vector<double> eval_ms;
    std::vector<double> cpu_ms;
    double matched = 0;
    for (int i = 0; i < kQueries; ++i) {
      const Rule rule = q.Query(terms);
      const double c0 = ProcessCpuMs();
      auto t0 = Clock::now();
      absl::StatusOr<uint64_t> n = index.Count(rule);
      auto t1 = Clock::now();
      cpu_ms.push_back(ProcessCpuMs() - c0);
      if (!n.ok()) {
        std::fprintf(stderr, "%s\n", n.status().ToString().c_str());
        std::abort();
      }
      benchmark::DoNotOptimize(*n);
      count_ms.push_back(Seconds(t0, t1) * 1e3);
      matched += static_cast<double>(*n);
      if (i % 4 == 0) {
        t0 = Clock::now();
        absl::StatusOr<Roaring> r = index.Evaluate(rule);
        t1 = Clock::now();
        benchmark::DoNotOptimize(r->cardinality());
        eval_ms.push_back(Seconds(t0, t1) * 1e3);
      }
    }
    std::printf("%5d %8.2fms %8.2fms %8.2fms %8.2fms %8.2fms %8.2fms %12.0f\n", terms,
                Percentile(count_ms, 0.5), Percentile(count_ms, 0.99), Percentile(cpu_ms, 0.5),
                Percentile(cpu_ms, 0.99), Percentile(eval_ms, 0.5),
                *std::max_element(count_ms.begin(), count_ms.end()), matched / kQueries);
  }

  const std::string path = "/tmp/segment_index_bench.snapshot";
  auto t0 = Clock::now();
  if (!index.Save(path, 1).ok()) std::abort();
  const double save_s = Seconds(t0, Clock::now());
  SegmentIndex loaded;
  t0 = Clock::now();
  if (!loaded.Load(path).ok()) std::abort();
  const double load_s = Seconds(t0, Clock::now());
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  std::printf("snapshot: %.1f MiB, save %.2f s, load %.2f s (load average now %.2f)\n",
              static_cast<double>(f.tellg()) / (1 << 20), save_s, load_s, LoadAverage());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) {
  std::vector<uint32_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(static_cast<uint32_t>(std::atol(argv[i])));
  if (sizes.empty()) sizes = {1000000, 10000000};
  for (uint32_t n : sizes) mercator::Run(n);
  return 0;
}
