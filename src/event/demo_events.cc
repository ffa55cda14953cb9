#include "event/demo_events.h"

#include <algorithm>
#include <random>
#include <string>

#include "fmt/format.h"

namespace mercator::event {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kShanghaiMs = 8 * 3'600'000;
constexpr int64_t kWindowDays = 90;

std::optional<int64_t> DateTag(const CustomerUpsert& c, const char* key) {
  auto it = c.tags.find(key);
  if (it == c.tags.end() || !it->second) return std::nullopt;
  if (const auto* d = std::get_if<int64_t>(&*it->second)) return *d;
  return std::nullopt;
}

bool BoolTag(const CustomerUpsert& c, const char* key) {
  auto it = c.tags.find(key);
  if (it == c.tags.end() || !it->second) return false;
  const auto* b = std::get_if<bool>(&*it->second);
  return b != nullptr && *b;
}

bool Holds(const CustomerUpsert& c, const char* product) {
  auto it = c.tags.find("products");
  if (it == c.tags.end() || !it->second) return false;
  const auto* v = std::get_if<std::vector<std::string>>(&*it->second);
  return v != nullptr && std::find(v->begin(), v->end(), product) != v->end();
}

class Generator {
 public:
  Generator(const CustomerUpsert& c, uint64_t index, uint64_t seed)
      : customer_(c), index_(index), rng_(seed * 0x9e3779b97f4a7c15ull + index * 7919 + 1) {}

  int64_t Uniform(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  // A time on local day `day` between 08:00 and 22:00 (Asia/Shanghai).
  int64_t At(int64_t day) {
    return day * kDayMs - kShanghaiMs + Uniform(8 * 3600, 22 * 3600) * 1000;
  }

  void Add(const char* type, int64_t at, Properties props = {}) {
    EventService::Item item;
    item.event.id = fmt::format("demo-{}-{}", index_, items_.size());
    item.event.type = type;
    item.event.customer = customer_.external_id;
    item.event.occurred_ms = at;
    item.event.properties = std::move(props);
    items_.push_back(std::move(item));
  }

  std::vector<EventService::Item> Take() { return std::move(items_); }

 private:
  const CustomerUpsert& customer_;
  const uint64_t index_;
  std::mt19937_64 rng_;
  std::vector<EventService::Item> items_;
};

}  // namespace

std::vector<EventService::Item> DemoEvents(const CustomerUpsert& c, uint64_t index, uint64_t seed,
                                           int64_t today) {
  Generator g(c, index, seed);
  const int64_t first = today - kWindowDays + 1;
  static const char* kPages[] = {"home",        "wealth/list",    "fund/detail", "deposit/rates",
                                 "credit/bill", "activity/wheel", "points/mall"};
  const std::optional<int64_t> last_login = DateTag(c, "last_login");
  if (last_login && *last_login >= first && BoolTag(c, "has_app")) {
    const int64_t logins = g.Uniform(1, 12);
    for (int64_t i = 0; i < logins; ++i) {
      const int64_t day =
          i == 0 ? *last_login : g.Uniform(std::max(first, *last_login - 60), *last_login);
      const int64_t at = g.At(day);
      g.Add("login", at, {{"channel", std::string("app")}});
      if (g.Chance(0.7)) {
        g.Add("page_view", at + g.Uniform(5, 120) * 1000,
              {{"page", std::string(kPages[g.Uniform(0, 6)])},
               {"duration_ms", g.Uniform(2'000, 180'000)},
               {"channel", std::string("app")}});
      }
    }
  }
  const std::optional<int64_t> last_txn = DateTag(c, "last_txn");
  if (last_txn && *last_txn >= first) {
    const int64_t transfers = g.Uniform(1, 4);
    for (int64_t i = 0; i < transfers; ++i) {
      const int64_t day =
          i == 0 ? *last_txn : g.Uniform(std::max(first, *last_txn - 80), *last_txn);
      g.Add("transfer", g.At(day),
            {{"amount", g.Uniform(100, 2'000'000) * 100},
             {"direction", std::string(g.Chance(0.5) ? "in" : "out")},
             {"channel", std::string(g.Chance(0.8) ? "app" : "branch")}});
    }
    for (const char* product : {"wealth", "fund"}) {
      if (Holds(c, product) && g.Chance(0.35)) {
        g.Add(
            "purchase", g.At(g.Uniform(std::max(first, *last_txn - 80), *last_txn)),
            {{"product", fmt::format("{}{:03}", product[0] == 'w' ? "WM" : "FD", g.Uniform(1, 40))},
             {"amount", g.Uniform(10, 500) * 100'000},
             {"category", std::string(product)},
             {"channel", std::string("app")}});
      }
    }
    // The time deposit behind deposit_maturity, if it was opened inside the window.
    const std::optional<int64_t> maturity = DateTag(c, "deposit_maturity");
    if (maturity && Holds(c, "time_deposit")) {
      const int64_t term_months = g.Chance(0.5) ? 12 : 6;
      const int64_t opened = *maturity - term_months * 30;
      if (opened >= first && opened <= *last_txn) {
        g.Add("deposit_open", g.At(opened),
              {{"product", fmt::format("TD{}M", term_months)},
               {"amount", g.Uniform(1, 100) * 1'000'000},
               {"maturity_date", *maturity},
               {"term_months", term_months},
               {"channel", std::string("branch")}});
      }
    }
  }
  return g.Take();
}

}  // namespace mercator::event
