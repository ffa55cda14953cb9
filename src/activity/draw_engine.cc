#include "activity/draw_engine.h"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "store/journal/journal.h"

namespace mercator::activity {
namespace {

constexpr uint8_t kDrawRecordType = 1;
constexpr uint8_t kTermsRecordType = 2;
constexpr uint16_t kNone = 0xFFFF;
constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kShards = 256;
constexpr uint8_t kFlagGuaranteed = 1;
constexpr uint8_t kFlagAllInStock = 2;

// For the commit report's waits (the engine's clock may be a test's fake one).
int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int32_t LocalDay(int64_t ms, int32_t tz_minutes) {
  const int64_t local = ms + int64_t{tz_minutes} * 60'000;
  int64_t day = local / kDayMs;
  if (local % kDayMs < 0) --day;
  return static_cast<int32_t>(day);
}

// x * n / 2^64: uniform in [0, n) from a uniform 64-bit x (bias at most n / 2^64).
uint64_t MulHigh(uint64_t x, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(x) * n) >> 64);
}

// ---- Binary encoding of journal records (little-endian, as the host: x86-64 and arm64) ----

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  template <typename T>
  void Put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Str(std::string_view s) {
    Put<uint16_t>(static_cast<uint16_t>(s.size()));
    out_.append(s.data(), s.size());
  }

 private:
  std::string& out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  template <typename T>
  T Get() {
    T v{};
    if (in_.size() < sizeof v) {
      ok_ = false;
      return v;
    }
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return v;
  }
  std::string_view Str() {
    const uint16_t n = Get<uint16_t>();
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return {};
    }
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }
  bool ok() const { return ok_; }

 private:
  std::string_view in_;
  bool ok_ = true;
};

// ---- Vose alias table with exact integer thresholds ----

class AliasTable {
 public:
  explicit AliasTable(const std::vector<int64_t>& weights) {
    const size_t n = weights.size();
    threshold_.assign(n, 0);
    full_.assign(n, false);
    alias_.assign(n, 0);
    using I = __int128;
    I total = 0;
    for (int64_t w : weights) total += w;
    std::vector<I> scaled(n);
    std::vector<uint16_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = I{weights[i]} * static_cast<I>(n);
      (scaled[i] < total ? small : large).push_back(static_cast<uint16_t>(i));
    }
    // Each column holds `total` units of probability mass: its own scaled weight (kept with
    // probability scaled/total) and the rest from one large entry.
    while (!small.empty() && !large.empty()) {
      const uint16_t l = small.back();
      small.pop_back();
      const uint16_t g = large.back();
      large.pop_back();
      threshold_[l] = static_cast<uint64_t>((static_cast<unsigned __int128>(scaled[l]) << 64) /
                                            static_cast<unsigned __int128>(total));
      alias_[l] = g;
      scaled[g] -= total - scaled[l];
      (scaled[g] < total ? small : large).push_back(g);
    }
    // What is left holds exactly `total` (up to nothing: the arithmetic is exact).
    for (uint16_t i : large) full_[i] = true;
    for (uint16_t i : small) full_[i] = true;
  }

  uint16_t Pick(uint64_t r) const {
    const unsigned __int128 m = static_cast<unsigned __int128>(r) * threshold_.size();
    const auto col = static_cast<size_t>(m >> 64);
    const auto frac = static_cast<uint64_t>(m);
    if (full_[col] || frac < threshold_[col]) return static_cast<uint16_t>(col);
    return alias_[col];
  }

 private:
  std::vector<uint64_t> threshold_;
  std::vector<bool> full_;
  std::vector<uint16_t> alias_;
};

// ---- Runtime state ----

// Units of one prize (pool id + prize id) of an activity, across versions of its terms.
struct PrizeState {
  std::atomic<int64_t> used{0};    // awarded in total
  std::atomic<uint64_t> daily{0};  // (day << 32) | awarded that day
};

uint64_t PackDaily(int32_t day, uint32_t used) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(day)) << 32) | used;
}
uint32_t DailyUsed(uint64_t packed, int32_t day) {
  return static_cast<int32_t>(packed >> 32) == day ? static_cast<uint32_t>(packed) : 0;
}

struct PrizeRt {
  Prize prize;
  PrizeState* state = nullptr;
  bool winning = false;
};

struct PoolRt {
  std::string id;
  int32_t pool_ix = 0;  // activity-wide index of the pool id (guarantee counters)
  std::vector<PrizeRt> prizes;
  int fallback = -1;
  int32_t guarantee_after = 0;
  std::unique_ptr<AliasTable> alias;
  // Fairness: picks of draws where every prize was in stock and no guarantee applied.
  mutable std::unique_ptr<std::atomic<int64_t>[]> fair_picks;
};

struct VersionRt {
  int32_t version = 0;
  int64_t budget_fen = 0;
  int32_t tz_offset_minutes = 480;
  std::vector<std::unique_ptr<PoolRt>> pools;
  std::string encoded;  // the terms record, to tell a reload of the same version

  const PoolRt* FindPool(std::string_view id, uint16_t* index) const {
    for (size_t i = 0; i < pools.size(); ++i) {
      if (pools[i]->id == id) {
        *index = static_cast<uint16_t>(i);
        return pools[i].get();
      }
    }
    return nullptr;
  }
};

// A channel's place in ActivityRt::channel_draws: kChannels in order, then any other.
size_t ChannelIndex(std::string_view channel) {
  size_t i = 0;
  while (i < std::size(kChannels) && kChannels[i] != channel) ++i;
  return i;
}

struct ActivityRt {
  explicit ActivityRt(int64_t id) : id(id) {}
  const int64_t id;
  absl::Mutex mu;
  std::shared_ptr<const VersionRt> current ABSL_GUARDED_BY(mu);
  std::map<int32_t, std::shared_ptr<const VersionRt>> versions ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, std::unique_ptr<PrizeState>> prize_states ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, int32_t> pool_ix ABSL_GUARDED_BY(mu);
  std::atomic<int64_t> budget_spent{0};
  std::atomic<int64_t> draws{0};
  std::atomic<int64_t> wins{0};
  std::atomic<int64_t> participants{0};
  // Draws per channel: kChannels in order, then any other channel.
  std::array<std::atomic<int64_t>, std::size(kChannels) + 1> channel_draws{};
  // current.get(), readable without the lock: versions live as long as the engine.
  std::atomic<const VersionRt*> current_raw{nullptr};
  // Draws per local day, ascending by day (one entry per day with a draw). A leaf lock, taken
  // by a draw while it holds queue_mu_ (so draws never contend on it) and by Stats.
  absl::Mutex day_mu;
  std::vector<DayStats> days ABSL_GUARDED_BY(day_mu);
  // Where ForEachDraw can start reading for this activity: every record of it below journal
  // offset scan_end (a frame boundary) has a draw id <= scan_after. Without it, each pass of
  // the fulfilment outbox read the whole journal to find the few draws after its cursor. A
  // leaf lock. (Record offsets are stable for the journal's life: erasure overwrites in place.)
  absl::Mutex scan_mu;
  int64_t scan_after ABSL_GUARDED_BY(scan_mu) = 0;
  int64_t scan_end ABSL_GUARDED_BY(scan_mu) = 0;

  void CountDay(int32_t day, bool won, int64_t cost_fen) ABSL_LOCKS_EXCLUDED(day_mu) {
    absl::MutexLock lock(&day_mu);
    auto it = days.end();
    if (days.empty() || days.back().day != day) {
      // A clock set back (or a journal replayed out of day order) lands before the end.
      it = std::lower_bound(days.begin(), days.end(), day,
                            [](const DayStats& d, int32_t x) { return d.day < x; });
      if (it == days.end() || it->day != day) {
        DayStats fresh;
        fresh.day = day;
        it = days.insert(it, fresh);
      }
    } else {
      it = std::prev(days.end());
    }
    ++it->draws;
    if (won) ++it->wins;
    it->cost_fen += cost_fen;
  }

  const VersionRt* Current() const { return current_raw.load(std::memory_order_acquire); }

  void CountChannel(std::string_view channel) {
    channel_draws[ChannelIndex(channel)].fetch_add(1, std::memory_order_relaxed);
  }
  std::shared_ptr<const VersionRt> Version(int32_t v) {
    absl::ReaderMutexLock lock(&mu);
    auto it = versions.find(v);
    return it == versions.end() ? nullptr : it->second;
  }
};

// What an idempotency record and "my prizes" keep of a draw; the rest comes from its version
// (versions are kept for the engine's lifetime).
struct DrawBrief {
  int64_t draw_id = 0;
  int64_t at_ms = 0;
  uint64_t random_value = 0;
  const VersionRt* version = nullptr;
  uint16_t pool = 0;
  uint16_t prize = kNone;
  bool guaranteed = false;
};

// The request digest as kept for a key: up to 32 bytes as they are (a raw SHA-256), longer
// ones (a hex digest) as their BLAKE2b-256, so a record costs no allocation for it.
struct Fingerprint {
  std::array<uint8_t, 32> bytes{};
  uint8_t size = 0;  // kHashed for a hashed digest

  static constexpr uint8_t kHashed = 0xFF;
  static Fingerprint Of(std::string_view digest) {
    Fingerprint f;
    if (digest.size() <= f.bytes.size()) {
      std::memcpy(f.bytes.data(), digest.data(), digest.size());
      f.size = static_cast<uint8_t>(digest.size());
    } else {
      crypto_generichash(f.bytes.data(), f.bytes.size(),
                         reinterpret_cast<const unsigned char*>(digest.data()), digest.size(),
                         nullptr, 0);
      f.size = kHashed;
    }
    return f;
  }
  bool operator==(const Fingerprint& o) const { return size == o.size && bytes == o.bytes; }
};

// The longest Idempotency-Key a draw accepts.
constexpr size_t kMaxIdempotencyKeyBytes = 128;

// (activity, uid, Idempotency-Key) as a 128-bit keyed digest (SipHash-1-3-128 with a key
// drawn at random per process): 16 bytes a record whatever the key's length, and no
// allocation. Two names share a digest with probability 2^-128.
struct IdemKey {
  uint64_t a = 0;
  uint64_t b = 0;
  bool operator==(const IdemKey& o) const { return a == o.a && b == o.b; }
  template <typename H>
  friend H AbslHashValue(H h, const IdemKey& k) {
    return H::combine(std::move(h), k.a);  // already uniform
  }
};

struct IdemEntry {
  Fingerprint digest;
  DrawBrief brief;
};

struct CustomerState {
  int32_t day = INT32_MIN;
  int32_t today = 0;
  int32_t total = 0;
  absl::InlinedVector<std::pair<int32_t, int32_t>, 1> losses;          // pool_ix -> losses
  absl::InlinedVector<std::pair<const PrizeState*, int32_t>, 1> wins;  // prize -> units won
  std::vector<DrawBrief> won;

  int32_t& Losses(int32_t pool_ix) {
    for (auto& [ix, n] : losses) {
      if (ix == pool_ix) return n;
    }
    return losses.emplace_back(pool_ix, 0).second;
  }
  int32_t Wins(const PrizeState* p) const {
    for (const auto& [s, n] : wins) {
      if (s == p) return n;
    }
    return 0;
  }
  void AddWin(const PrizeState* p) {
    for (auto& [s, n] : wins) {
      if (s == p) {
        ++n;
        return;
      }
    }
    wins.emplace_back(p, 1);
  }
};

using IdemTable = absl::flat_hash_map<IdemKey, IdemEntry>;

struct Shard {
  absl::Mutex mu;
  absl::flat_hash_map<std::pair<int64_t, uint32_t>, CustomerState> customers ABSL_GUARDED_BY(mu);
  // Idempotency records of the shard's customers (one table per shard, not per customer), in
  // two generations of the retention period (DrawEngineOptions::idempotency_retention_ms):
  // `idem` holds the draws of generation `generation` (now / retention), `idem_previous` those
  // of the one before; older ones are dropped. So a record is kept at least the retention
  // period and at most twice that.
  int64_t generation ABSL_GUARDED_BY(mu) = 0;
  IdemTable idem ABSL_GUARDED_BY(mu);
  IdemTable idem_previous ABSL_GUARDED_BY(mu);

  // Moves to generation `g` (>= generation): the tables too old for it go to `drop`, to be
  // freed once the lock is released.
  void Advance(int64_t g, std::vector<IdemTable>& drop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (g <= generation) return;
    drop.push_back(std::move(idem_previous));
    if (g == generation + 1) {
      idem_previous = std::move(idem);
    } else {
      idem_previous = {};
      drop.push_back(std::move(idem));
    }
    idem = {};
    generation = g;
  }
  // The record named `k` in either generation, or null.
  IdemEntry* FindIdem(const IdemKey& k) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = idem.find(k);
    if (it != idem.end()) return &it->second;
    auto old = idem_previous.find(k);
    return old != idem_previous.end() ? &old->second : nullptr;
  }
};

DrawResult MakeResult(const DrawBrief& b, bool replayed) {
  DrawResult r;
  r.draw_id = b.draw_id;
  const PoolRt& pool = *b.version->pools[b.pool];
  r.pool_id = pool.id;
  if (b.prize != kNone) {
    const Prize& p = pool.prizes[b.prize].prize;
    r.prize_id = p.id;
    r.prize_name = p.name;
    r.kind = p.kind;
    r.reward_ref = p.reward_ref;
    r.cost_fen = p.cost_fen;
    r.won = p.kind != "thanks";
  } else {
    r.kind = "thanks";
  }
  r.guaranteed = b.guaranteed;
  r.random_value = b.random_value;
  r.at_ms = b.at_ms;
  r.terms_version = b.version->version;
  r.replayed = replayed;
  return r;
}

std::string EncodeTerms(const DrawTerms& t) {
  std::string out;
  Encoder e(out);
  e.Put<uint8_t>(kTermsRecordType);
  e.Put<int64_t>(t.activity_id);
  e.Put<int32_t>(t.version);
  e.Put<int64_t>(t.budget_fen);
  e.Put<int32_t>(t.tz_offset_minutes);
  e.Put<uint16_t>(static_cast<uint16_t>(t.pools.size()));
  for (const PrizePool& pool : t.pools) {
    e.Str(pool.id);
    e.Str(pool.name);
    e.Str(pool.fallback_prize_id);
    e.Put<int32_t>(pool.guarantee_after);
    e.Put<uint16_t>(static_cast<uint16_t>(pool.prizes.size()));
    for (const Prize& p : pool.prizes) {
      e.Str(p.id);
      e.Str(p.name);
      e.Str(p.kind);
      e.Str(p.reward_ref);
      e.Put<int64_t>(p.weight);
      e.Put<int64_t>(p.total_stock);
      e.Put<int64_t>(p.daily_stock);
      e.Put<int64_t>(p.cost_fen);
      e.Put<int32_t>(p.per_customer_cap);
    }
  }
  return out;
}

absl::StatusOr<DrawTerms> DecodeTerms(std::string_view record) {
  Decoder d(record);
  DrawTerms t;
  d.Get<uint8_t>();
  t.activity_id = d.Get<int64_t>();
  t.version = d.Get<int32_t>();
  t.budget_fen = d.Get<int64_t>();
  t.tz_offset_minutes = d.Get<int32_t>();
  const uint16_t npools = d.Get<uint16_t>();
  for (uint16_t i = 0; i < npools && d.ok(); ++i) {
    PrizePool pool;
    pool.id = d.Str();
    pool.name = d.Str();
    pool.fallback_prize_id = d.Str();
    pool.guarantee_after = d.Get<int32_t>();
    const uint16_t nprizes = d.Get<uint16_t>();
    for (uint16_t j = 0; j < nprizes && d.ok(); ++j) {
      Prize p;
      p.id = d.Str();
      p.name = d.Str();
      p.kind = d.Str();
      p.reward_ref = d.Str();
      p.weight = d.Get<int64_t>();
      p.total_stock = d.Get<int64_t>();
      p.daily_stock = d.Get<int64_t>();
      p.cost_fen = d.Get<int64_t>();
      p.per_customer_cap = d.Get<int32_t>();
      pool.prizes.push_back(std::move(p));
    }
    t.pools.push_back(std::move(pool));
  }
  if (!d.ok()) return absl::DataLossError("draw journal: malformed terms record");
  return t;
}

absl::Status ValidateTerms(const DrawTerms& t) {
  auto bad = [](std::string path, std::string_view reason) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", path, reason));
  };
  if (t.version <= 0) return bad("version", "must be > 0");
  if (t.pools.empty()) return bad("pools", "at least one pool is needed");
  if (t.pools.size() > kMaxPools) return bad("pools", "too many pools");
  if (t.budget_fen < 0) return bad("budget_fen", "must be >= 0");
  if (t.tz_offset_minutes < -14 * 60 || t.tz_offset_minutes > 14 * 60) {
    return bad("tz_offset_minutes", "must be within +-14 hours");
  }
  for (size_t i = 0; i < t.pools.size(); ++i) {
    const PrizePool& pool = t.pools[i];
    const std::string pp = fmt::format("pools[{}]", i);
    if (pool.id.empty() || pool.id.size() > 64) return bad(pp + ".id", "1 to 64 bytes");
    for (size_t k = 0; k < i; ++k) {
      if (t.pools[k].id == pool.id) return bad(pp + ".id", "is used twice");
    }
    if (pool.prizes.empty()) return bad(pp + ".prizes", "at least one prize is needed");
    if (pool.prizes.size() > kMaxPrizesPerPool) return bad(pp + ".prizes", "too many prizes");
    int64_t sum = 0;
    bool fallback_found = pool.fallback_prize_id.empty();
    for (size_t j = 0; j < pool.prizes.size(); ++j) {
      const Prize& p = pool.prizes[j];
      const std::string ip = fmt::format("{}.prizes[{}]", pp, j);
      if (p.id.empty() || p.id.size() > 64) return bad(ip + ".id", "1 to 64 bytes");
      for (size_t k = 0; k < j; ++k) {
        if (pool.prizes[k].id == p.id) return bad(ip + ".id", "is used twice in this pool");
      }
      if (std::find(std::begin(kPrizeKinds), std::end(kPrizeKinds), p.kind) ==
          std::end(kPrizeKinds)) {
        return bad(ip + ".kind", "unknown kind");
      }
      if (p.weight < 0 || p.weight > 1'000'000'000) return bad(ip + ".weight", "0 to 1e9");
      if (p.total_stock < -1) return bad(ip + ".total_stock", "must be >= -1");
      if (p.daily_stock < -1 || p.daily_stock > UINT32_MAX / 2) {
        return bad(ip + ".daily_stock", "must be -1 to 2^31");
      }
      if (p.per_customer_cap < 0) return bad(ip + ".per_customer_cap", "must be >= 0");
      if (p.cost_fen < 0) return bad(ip + ".cost_fen", "must be >= 0");
      if (p.name.size() > 1000 || p.reward_ref.size() > 1000) return bad(ip, "text too long");
      sum += p.weight;
      if (p.id == pool.fallback_prize_id) fallback_found = true;
    }
    if (sum <= 0) return bad(pp + ".prizes", "at least one prize needs a weight above 0");
    if (!fallback_found) return bad(pp + ".fallback_prize_id", "must name a prize of the pool");
    if (pool.guarantee_after < 0) return bad(pp + ".guarantee_after", "must be >= 0");
  }
  return absl::OkStatus();
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Regularized upper incomplete gamma Q(a, x) (Numerical Recipes' gammq).
double GammaQ(double a, double x) {
  if (x <= 0) return 1.0;
  const double gln = std::lgamma(a);
  if (x < a + 1) {
    double ap = a, sum = 1.0 / a, del = sum;
    for (int n = 0; n < 10000; ++n) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * 1e-15) break;
    }
    return std::max(0.0, 1.0 - sum * std::exp(-x + a * std::log(x) - gln));
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - gln) * h;
}

}  // namespace

double ChiSquarePValue(double x, int32_t k) {
  if (k <= 0) return 1.0;
  return GammaQ(k / 2.0, x / 2.0);
}

// ---- The engine ----

class DrawEngine::Impl {
 public:
  explicit Impl(const DrawEngineOptions& options)
      : options_(options), retention_ms_(std::max<int64_t>(options.idempotency_retention_ms, 1)) {
    randombytes_buf(idem_hash_key_.data(), idem_hash_key_.size());
  }

  ~Impl() {
    if (writer_.joinable()) {
      {
        absl::MutexLock lock(&queue_mu_);
        stopping_ = true;
      }
      writer_.join();
    }
  }

  absl::Status OpenJournal() {
    if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
    replay_generation_ = IdemGeneration(options_.clock->NowMs());
    // A start reads the whole journal back (about a million draws a second): a line every 5 s
    // while it runs, and one at the end.
    const auto started = std::chrono::steady_clock::now();
    auto reported = started;
    int64_t records = 0;
    int64_t bytes = 0;
    ASSIGN_OR_RETURN(journal_,
                     Journal::Open({.dir = options_.dir,
                                    .file_name = "draws.journal",
                                    .magic = "MCTDRAW1",
                                    .name = "draw journal",
                                    .preallocate_bytes = options_.journal_preallocate_bytes},
                                   [&](std::string_view r, int64_t offset) {
                                     bytes = offset + static_cast<int64_t>(r.size());
                                     if (++records % 65536 == 0) {
                                       const auto now = std::chrono::steady_clock::now();
                                       if (now - reported >= std::chrono::seconds(5)) {
                                         reported = now;
                                         Log(Severity::kInfo, "draw journal: reading back",
                                             {{"records", std::to_string(records)},
                                              {"megabytes", std::to_string(bytes >> 20)}});
                                       }
                                     }
                                     return Replay(r);
                                   }));
    FinishReplay();
    replay_ = {};
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    Log(Severity::kInfo, "draw journal read back",
        {{"records", std::to_string(records)},
         {"megabytes", std::to_string(bytes >> 20)},
         {"seconds", fmt::format("{:.2f}", seconds)}});
    writer_ = std::thread([this] { WriterLoop(); });
    return absl::OkStatus();
  }

  absl::Status Load(const DrawTerms& terms) {
    RETURN_IF_ERROR(ValidateTerms(terms));
    std::string encoded = EncodeTerms(terms);
    ActivityRt* act = GetOrCreateActivity(terms.activity_id);
    {
      absl::ReaderMutexLock lock(&act->mu);
      if (act->current && act->current->version > terms.version) {
        return absl::FailedPreconditionError(
            fmt::format("version: activity {} already runs version {}", terms.activity_id,
                        act->current->version));
      }
      auto it = act->versions.find(terms.version);
      if (it != act->versions.end()) {
        if (it->second->encoded == encoded) return absl::OkStatus();
        return absl::FailedPreconditionError(
            fmt::format("version: activity {} version {} is already loaded with other terms",
                        terms.activity_id, terms.version));
      }
    }
    if (failed_.load()) return JournalFailed();
    // The terms record goes into the journal first, so every draw record of this version
    // follows it and replay always knows the terms a draw used.
    absl::Notification durable;
    absl::Status commit_status;
    {
      absl::MutexLock lock(&queue_mu_);
      Journal::AppendRecord(batch_, encoded);
      Waiter w;
      w.control = [&](const absl::Status& st) {
        commit_status = st;
        durable.Notify();
      };
      waiters_.push_back(std::move(w));
    }
    durable.WaitForNotification();
    RETURN_IF_ERROR(commit_status);
    InstallVersion(act, terms, std::move(encoded));
    return absl::OkStatus();
  }

  // `done` is called after the engine's locks are released.
  void DrawAsync(const DrawRequest& req, DrawCallback done) {
    absl::Status st = Enqueue(req, done);
    if (!st.ok()) done(std::move(st));
  }

 private:
  // Draws and queues the record with `done` as its waiter (moved from only then), or returns
  // why not.
  absl::Status Enqueue(const DrawRequest& req, DrawCallback& done) {
    if (failed_.load(std::memory_order_relaxed)) return JournalFailed();
    if (req.idempotency_key.empty() || req.idempotency_key.size() > kMaxIdempotencyKeyBytes) {
      return (absl::InvalidArgumentError("idempotency_key: 1 to 128 bytes are required"));
    }
    if (req.request_digest.size() > 64) {
      return (absl::InvalidArgumentError("request_digest: at most 64 bytes"));
    }
    if (req.channel.size() > 32) return (absl::InvalidArgumentError("channel: too long"));
    ActivityRt* act = FindActivity(req.activity_id);
    const VersionRt* v = act != nullptr ? act->Current() : nullptr;
    if (v == nullptr) {
      return (
          absl::NotFoundError(fmt::format("activity {}: no draw terms loaded", req.activity_id)));
    }
    uint16_t pool_index = 0;
    const PoolRt* pool = v->FindPool(req.pool_id, &pool_index);
    if (pool == nullptr) {
      return (absl::NotFoundError(
          fmt::format("pool_id: activity {} has no pool {}", req.activity_id, req.pool_id)));
    }
    const int64_t now = options_.clock->NowMs();
    const int32_t day = LocalDay(now, v->tz_offset_minutes);

    Shard& shard = ShardOf(req.activity_id, req.uid);
    const IdemKey idem_key = IdemKeyOf(req.activity_id, req.uid, req.idempotency_key);
    const Fingerprint fingerprint = Fingerprint::Of(req.request_digest);
    std::vector<IdemTable> expired;  // freed after the lock is released (declared first)
    absl::MutexLock lock(&shard.mu);
    shard.Advance(IdemGeneration(now), expired);
    if (const IdemEntry* first = shard.FindIdem(idem_key)) {
      if (!(first->digest == fingerprint)) {
        return absl::FailedPreconditionError("Idempotency-Key reused with a different request");
      }
      // The first draw is queued or durable; a barrier behind it completes once it is.
      Waiter w;
      w.brief = first->brief;
      w.replayed = true;
      w.done = std::move(done);
      absl::MutexLock qlock(&queue_mu_);
      waiters_.push_back(std::move(w));
      return absl::OkStatus();
    }
    CustomerState& cs = shard.customers[{req.activity_id, req.uid}];
    const int32_t today = cs.day == day ? cs.today : 0;
    if ((req.max_draws_today > 0 && today >= req.max_draws_today) ||
        (req.max_draws_total > 0 && cs.total >= req.max_draws_total)) {
      return absl::ResourceExhaustedError("no chances left");
    }

    const uint64_t random = NextRandom();
    int32_t& losses = cs.Losses(pool->pool_ix);
    int picked = -1;
    bool guaranteed = false;
    if (pool->guarantee_after > 0 && losses >= pool->guarantee_after) {
      picked = PickGuaranteed(*act, *v, *pool, cs, day, random);
      guaranteed = picked >= 0;
    }
    bool all_in_stock = false;
    if (!guaranteed) {
      picked = pool->alias->Pick(random);
      all_in_stock = AllInStock(*pool, day);
    }
    int awarded = -1;
    if (TryAward(*act, *v, pool->prizes[picked], cs, day)) {
      awarded = picked;
    } else if (pool->fallback >= 0 && pool->fallback != picked &&
               TryAward(*act, *v, pool->prizes[pool->fallback], cs, day)) {
      awarded = pool->fallback;
    }
    const bool won = awarded >= 0 && pool->prizes[awarded].winning;

    // Customer state and counters: the record below carries the same facts, so replay
    // rebuilds exactly this.
    cs.day = day;
    cs.today = today + 1;
    if (cs.total++ == 0) act->participants.fetch_add(1, std::memory_order_relaxed);
    losses = won ? 0 : losses + 1;
    if (awarded >= 0) cs.AddWin(pool->prizes[awarded].state);
    act->draws.fetch_add(1, std::memory_order_relaxed);
    if (won) act->wins.fetch_add(1, std::memory_order_relaxed);
    if (all_in_stock) {
      pool->fair_picks[picked].fetch_add(1, std::memory_order_relaxed);
    }
    act->CountChannel(req.channel);

    DrawBrief brief;
    brief.at_ms = now;
    brief.random_value = random;
    brief.version = v;
    brief.pool = pool_index;
    brief.prize = awarded >= 0 ? static_cast<uint16_t>(awarded) : kNone;
    brief.guaranteed = guaranteed;
    const uint8_t flags = (guaranteed ? kFlagGuaranteed : 0) | (all_in_stock ? kFlagAllInStock : 0);
    {
      absl::MutexLock qlock(&queue_mu_);
      brief.draw_id = ++last_draw_id_;
      // Encoded straight into the pending batch: no allocation per draw.
      const size_t len_at = batch_.size();
      batch_.append(4, '\0');
      Encoder e(batch_);
      e.Put<uint8_t>(kDrawRecordType);
      e.Put<int64_t>(brief.draw_id);
      e.Put<int64_t>(req.activity_id);
      e.Put<int32_t>(v->version);
      e.Put<uint32_t>(req.uid);
      e.Put<int64_t>(now);
      e.Put<int32_t>(day);
      e.Put<uint16_t>(pool_index);
      e.Put<uint16_t>(static_cast<uint16_t>(picked));
      e.Put<uint16_t>(brief.prize);
      e.Put<uint8_t>(flags);
      e.Put<uint64_t>(random);
      e.Str(req.idempotency_key);
      e.Str(req.request_digest);
      e.Str(req.channel);
      const uint32_t len = static_cast<uint32_t>(batch_.size() - len_at - 4);
      std::memcpy(batch_.data() + len_at, &len, 4);
      Waiter w;
      w.brief = brief;
      w.done = std::move(done);
      waiters_.push_back(std::move(w));
      act->CountDay(day, won, awarded >= 0 ? pool->prizes[awarded].prize.cost_fen : 0);
    }
    IdemEntry& entry = shard.idem[idem_key];
    entry.digest = fingerprint;
    entry.brief = brief;
    if (won) cs.won.push_back(brief);
    return absl::OkStatus();
  }

 public:
  absl::StatusOr<std::optional<DrawResult>> Find(int64_t activity_id, uint32_t uid,
                                                 const std::string& key) {
    Shard& shard = ShardOf(activity_id, uid);
    // No record has a key a draw would refuse; IdemKeyOf reads only the first 128 bytes.
    if (key.empty() || key.size() > kMaxIdempotencyKeyBytes) return std::nullopt;
    const IdemKey idem_key = IdemKeyOf(activity_id, uid, key);
    DrawBrief brief;
    {
      std::vector<IdemTable> expired;  // freed after the lock is released (declared first)
      absl::MutexLock lock(&shard.mu);
      shard.Advance(IdemGeneration(options_.clock->NowMs()), expired);
      const IdemEntry* e = shard.FindIdem(idem_key);
      if (e == nullptr) return std::nullopt;
      brief = e->brief;
    }
    RETURN_IF_ERROR(WaitDurable());
    return MakeResult(brief, /*replayed=*/true);
  }

  absl::StatusOr<ChanceUsage> UsedChances(int64_t activity_id, uint32_t uid) {
    ActivityRt* act = FindActivity(activity_id);
    const VersionRt* v = act != nullptr ? act->Current() : nullptr;
    if (v == nullptr)
      return absl::NotFoundError(fmt::format("activity {}: not loaded", activity_id));
    const int32_t day = LocalDay(options_.clock->NowMs(), v->tz_offset_minutes);
    Shard& shard = ShardOf(activity_id, uid);
    absl::MutexLock lock(&shard.mu);
    ChanceUsage u;
    auto it = shard.customers.find({activity_id, uid});
    if (it != shard.customers.end()) {
      u.today = it->second.day == day ? it->second.today : 0;
      u.total = it->second.total;
    }
    return u;
  }

  absl::StatusOr<std::vector<DrawResult>> MyPrizes(int64_t activity_id, uint32_t uid) {
    if (FindActivity(activity_id) == nullptr) {
      return absl::NotFoundError(fmt::format("activity {}: not loaded", activity_id));
    }
    std::vector<DrawBrief> briefs;
    {
      Shard& shard = ShardOf(activity_id, uid);
      absl::MutexLock lock(&shard.mu);
      auto it = shard.customers.find({activity_id, uid});
      if (it != shard.customers.end()) briefs = it->second.won;
    }
    RETURN_IF_ERROR(WaitDurable());
    std::vector<DrawResult> out;
    for (auto it = briefs.rbegin(); it != briefs.rend(); ++it) {
      out.push_back(MakeResult(*it, false));
    }
    return out;
  }

  absl::StatusOr<DrawStats> Stats(int64_t activity_id) {
    ActivityRt* act = FindActivity(activity_id);
    const VersionRt* v = act != nullptr ? act->Current() : nullptr;
    if (v == nullptr)
      return absl::NotFoundError(fmt::format("activity {}: not loaded", activity_id));
    const int32_t day = LocalDay(options_.clock->NowMs(), v->tz_offset_minutes);
    DrawStats s;
    s.draws = act->draws.load();
    s.wins = act->wins.load();
    s.participants = act->participants.load();
    s.budget_fen = v->budget_fen;
    s.budget_spent_fen = act->budget_spent.load();
    for (const auto& pool : v->pools) {
      for (const PrizeRt& p : pool->prizes) {
        PrizeStats ps;
        ps.pool_id = pool->id;
        ps.prize_id = p.prize.id;
        ps.name = p.prize.name;
        ps.kind = p.prize.kind;
        ps.awarded = p.state->used.load();
        if (p.prize.total_stock >= 0) {
          ps.stock_left = std::max<int64_t>(0, p.prize.total_stock - ps.awarded);
        }
        if (p.prize.daily_stock > 0) {
          ps.daily_stock_left =
              std::max<int64_t>(0, p.prize.daily_stock - DailyUsed(p.state->daily.load(), day));
        }
        s.prizes.push_back(std::move(ps));
      }
    }
    for (size_t i = 0; i < act->channel_draws.size(); ++i) {
      const int64_t n = act->channel_draws[i].load();
      if (n > 0)
        s.draws_per_channel[std::string(i < std::size(kChannels) ? kChannels[i] : "other")] = n;
    }
    s.today = day;
    s.tz_offset_minutes = v->tz_offset_minutes;
    {
      absl::MutexLock lock(&act->day_mu);
      s.days = act->days;
    }
    return s;
  }

  absl::StatusOr<std::vector<PoolFairness>> Fairness(int64_t activity_id) {
    ActivityRt* act = FindActivity(activity_id);
    const VersionRt* v = act != nullptr ? act->Current() : nullptr;
    if (v == nullptr)
      return absl::NotFoundError(fmt::format("activity {}: not loaded", activity_id));
    std::vector<PoolFairness> out;
    for (const auto& pool : v->pools) {
      PoolFairness f;
      f.pool_id = pool->id;
      int64_t total_weight = 0;
      for (const PrizeRt& p : pool->prizes) total_weight += p.prize.weight;
      int64_t n = 0;
      for (size_t i = 0; i < pool->prizes.size(); ++i) n += pool->fair_picks[i].load();
      f.draws = n;
      for (size_t i = 0; i < pool->prizes.size(); ++i) {
        const Prize& p = pool->prizes[i].prize;
        if (p.weight <= 0) continue;
        FairnessRow row;
        row.prize_id = p.id;
        row.weight = p.weight;
        row.expected_share = static_cast<double>(p.weight) / static_cast<double>(total_weight);
        row.observed = pool->fair_picks[i].load();
        row.observed_share = n > 0 ? static_cast<double>(row.observed) / n : 0;
        if (n > 0) {
          const double expected = row.expected_share * static_cast<double>(n);
          const double diff = static_cast<double>(row.observed) - expected;
          f.chi_square += diff * diff / expected;
        }
        f.rows.push_back(std::move(row));
      }
      f.degrees_of_freedom = static_cast<int32_t>(f.rows.size()) - 1;
      f.p_value = n > 0 ? ChiSquarePValue(f.chi_square, f.degrees_of_freedom) : 1.0;
      out.push_back(std::move(f));
    }
    return out;
  }

  absl::Status ForEachDraw(int64_t activity_id, int64_t after,
                           const std::function<bool(const DrawRecord&)>& fn) {
    ActivityRt* act = FindActivity(activity_id);
    if (act == nullptr)
      return absl::NotFoundError(fmt::format("activity {}: not loaded", activity_id));
    int64_t from = Journal::FrameStart();
    {
      absl::MutexLock lock(&act->scan_mu);
      if (act->scan_end > 0 && after >= act->scan_after) from = act->scan_end;
    }
    // Read before the scan: the scan reaches at least this far, a frame boundary.
    const int64_t end = journal_->DurableSize();
    int64_t last_id = after;  // the highest draw id of the activity seen
    bool stopped = false;
    absl::Status decode_status;
    // One record for the whole read, its strings keeping their capacity from draw to draw, and
    // the version looked up only when it changes: a read covers every draw since the last.
    DrawRecord rec;
    std::shared_ptr<const VersionRt> v;
    RETURN_IF_ERROR(journal_->ReadRecordsFrom(from, [&](std::string_view r, int64_t) {
      if (r.empty() || static_cast<uint8_t>(r[0]) != kDrawRecordType) return true;
      Decoder d(r.substr(1));
      rec.draw_id = d.Get<int64_t>();
      rec.activity_id = d.Get<int64_t>();
      if (rec.activity_id != activity_id) return true;
      last_id = std::max(last_id, rec.draw_id);
      if (rec.draw_id <= after) return true;
      rec.terms_version = d.Get<int32_t>();
      rec.uid = d.Get<uint32_t>();
      rec.at_ms = d.Get<int64_t>();
      rec.day = d.Get<int32_t>();
      const uint16_t pool = d.Get<uint16_t>();
      const uint16_t picked = d.Get<uint16_t>();
      const uint16_t prize = d.Get<uint16_t>();
      const uint8_t flags = d.Get<uint8_t>();
      rec.random_value = d.Get<uint64_t>();
      rec.idempotency_key.assign(d.Str());
      d.Str();
      rec.channel.assign(d.Str());
      if (v == nullptr || v->version != rec.terms_version) v = act->Version(rec.terms_version);
      if (!d.ok() || v == nullptr || pool >= v->pools.size()) {
        decode_status = absl::DataLossError("draw journal: malformed draw record");
        return false;
      }
      const PoolRt& p = *v->pools[pool];
      rec.pool_id = p.id;
      rec.picked_prize_id.clear();
      if (picked < p.prizes.size()) rec.picked_prize_id = p.prizes[picked].prize.id;
      rec.prize_id.clear();
      rec.prize_name.clear();
      rec.kind = "thanks";
      rec.reward_ref.clear();
      rec.cost_fen = 0;
      rec.won = false;
      if (prize < p.prizes.size()) {
        const Prize& pz = p.prizes[prize].prize;
        rec.prize_id = pz.id;
        rec.prize_name = pz.name;
        rec.kind = pz.kind;
        rec.reward_ref = pz.reward_ref;
        rec.cost_fen = pz.cost_fen;
        rec.won = p.prizes[prize].winning;
      }
      rec.guaranteed = (flags & kFlagGuaranteed) != 0;
      rec.all_in_stock = (flags & kFlagAllInStock) != 0;
      if (!fn(rec)) stopped = true;
      return !stopped;
    }));
    RETURN_IF_ERROR(decode_status);
    if (!stopped) {
      // Every record below `end` was seen: those of this activity have ids <= last_id.
      absl::MutexLock lock(&act->scan_mu);
      if (end >= act->scan_end) {
        act->scan_after = last_id;
        act->scan_end = end;
      }
    }
    return absl::OkStatus();
  }

 private:
  // A caller waiting for the batch its record is in. `control` is for Load and WaitDurable.
  struct Waiter {
    DrawBrief brief;  // the result is made on the writer thread, off the callers' path
    bool replayed = false;
    DrawCallback done;
    std::function<void(const absl::Status&)> control;
    int64_t queued_ns = MonotonicNs();  // for the commit report
  };

  // The CSPRNG value of a draw. With the default SecureRandom, values come from a per-thread
  // buffer filled by libsodium's randombytes_buf (the same generator, one getrandom call per
  // 64 draws instead of one per draw); an injected source (tests) is called directly.
  uint64_t NextRandom() {
    if (options_.random != SecureRandom::Get()) return options_.random->Next();
    thread_local struct {
      uint64_t values[64];
      size_t next = 64;
    } buffer;
    if (buffer.next == std::size(buffer.values)) {
      randombytes_buf(buffer.values, sizeof buffer.values);
      buffer.next = 0;
    }
    const uint64_t v = buffer.values[buffer.next];
    buffer.values[buffer.next++] = 0;  // used values do not linger in memory
    return v;
  }

  static absl::Status JournalFailed() {
    return absl::UnavailableError("draw journal failed; the engine must be restarted");
  }

  Shard& ShardOf(int64_t activity_id, uint32_t uid) {
    const uint64_t h = (static_cast<uint64_t>(activity_id) * 0x9e3779b97f4a7c15ULL) ^ uid;
    return shards_[(h ^ (h >> 17)) % kShards];
  }

  ActivityRt* FindActivity(int64_t id) {
    absl::ReaderMutexLock lock(&acts_mu_);
    auto it = activities_.find(id);
    return it == activities_.end() ? nullptr : it->second.get();
  }

  ActivityRt* GetOrCreateActivity(int64_t id) {
    absl::MutexLock lock(&acts_mu_);
    auto& slot = activities_[id];
    if (slot == nullptr) slot = std::make_unique<ActivityRt>(id);
    return slot.get();
  }

  // Builds the runtime of a version and makes it current if it is the newest.
  const VersionRt* InstallVersion(ActivityRt* act, const DrawTerms& t, std::string encoded) {
    auto v = std::make_shared<VersionRt>();
    v->version = t.version;
    v->budget_fen = t.budget_fen;
    v->tz_offset_minutes = t.tz_offset_minutes;
    v->encoded = std::move(encoded);
    absl::MutexLock lock(&act->mu);
    for (const PrizePool& pool : t.pools) {
      auto p = std::make_unique<PoolRt>();
      p->id = pool.id;
      auto [ix, inserted] =
          act->pool_ix.try_emplace(pool.id, static_cast<int32_t>(act->pool_ix.size()));
      p->pool_ix = ix->second;
      p->guarantee_after = pool.guarantee_after;
      std::vector<int64_t> weights;
      for (const Prize& prize : pool.prizes) {
        PrizeRt rt;
        rt.prize = prize;
        rt.winning = prize.kind != "thanks";
        auto& state = act->prize_states[pool.id + '\x1f' + prize.id];
        if (state == nullptr) state = std::make_unique<PrizeState>();
        rt.state = state.get();
        if (prize.id == pool.fallback_prize_id) p->fallback = static_cast<int>(p->prizes.size());
        weights.push_back(prize.weight);
        p->prizes.push_back(std::move(rt));
      }
      p->alias = std::make_unique<AliasTable>(weights);
      p->fair_picks = std::make_unique<std::atomic<int64_t>[]>(pool.prizes.size());
      v->pools.push_back(std::move(p));
    }
    const VersionRt* raw = v.get();
    act->versions[t.version] = v;
    if (act->current == nullptr || act->current->version <= t.version) {
      act->current = v;
      act->current_raw.store(v.get(), std::memory_order_release);
    }
    return raw;
  }

  static bool Available(const PrizeRt& p, const CustomerState& cs, int32_t day) {
    if (p.prize.per_customer_cap > 0 && cs.Wins(p.state) >= p.prize.per_customer_cap) return false;
    if (p.prize.total_stock >= 0 && p.state->used.load() >= p.prize.total_stock) return false;
    if (p.prize.daily_stock > 0 &&
        DailyUsed(p.state->daily.load(), day) >= static_cast<uint64_t>(p.prize.daily_stock)) {
      return false;
    }
    return true;
  }

  static bool AllInStock(const PoolRt& pool, int32_t day) {
    for (const PrizeRt& p : pool.prizes) {
      if (p.prize.weight <= 0) continue;
      if (p.prize.total_stock >= 0 &&
          p.state->used.load(std::memory_order_relaxed) >= p.prize.total_stock) {
        return false;
      }
      if (p.prize.daily_stock > 0 && DailyUsed(p.state->daily.load(std::memory_order_relaxed),
                                               day) >= static_cast<uint64_t>(p.prize.daily_stock)) {
        return false;
      }
    }
    return true;
  }

  static int PickGuaranteed(const ActivityRt& act, const VersionRt& v, const PoolRt& pool,
                            const CustomerState& cs, int32_t day, uint64_t random) {
    const int64_t spent = act.budget_spent.load();
    int64_t total = 0;
    std::vector<int64_t> w(pool.prizes.size(), 0);
    for (size_t i = 0; i < pool.prizes.size(); ++i) {
      const PrizeRt& p = pool.prizes[i];
      if (!p.winning || p.prize.weight <= 0 || !Available(p, cs, day)) continue;
      if (v.budget_fen > 0 && spent + p.prize.cost_fen > v.budget_fen) continue;
      w[i] = p.prize.weight;
      total += w[i];
    }
    if (total == 0) return -1;
    uint64_t x = MulHigh(random, static_cast<uint64_t>(total));
    for (size_t i = 0; i < w.size(); ++i) {
      if (x < static_cast<uint64_t>(w[i])) return static_cast<int>(i);
      x -= static_cast<uint64_t>(w[i]);
    }
    return -1;  // unreachable: x < total
  }

  // Takes one unit of the prize for this customer if stock (total and today), the customer's
  // cap and the budget allow; all or nothing. Stock and budget use compare-and-swap so that
  // concurrent draws of other customers (other shards) never take more than there is.
  bool TryAward(ActivityRt& act, const VersionRt& v, const PrizeRt& p, const CustomerState& cs,
                int32_t day) {
    const Prize& prize = p.prize;
    if (prize.per_customer_cap > 0 && cs.Wins(p.state) >= prize.per_customer_cap) return false;
    const int64_t cost = prize.cost_fen;
    if (v.budget_fen > 0 && cost > 0) {
      int64_t spent = act.budget_spent.load();
      do {
        if (spent + cost > v.budget_fen) return false;
      } while (!act.budget_spent.compare_exchange_weak(spent, spent + cost));
    } else if (cost > 0) {
      act.budget_spent.fetch_add(cost);
    }
    auto release_budget = [&] {
      if (cost > 0) act.budget_spent.fetch_sub(cost);
    };
    int64_t used = p.state->used.load();
    do {
      if (prize.total_stock >= 0 && used >= prize.total_stock) {
        release_budget();
        return false;
      }
    } while (!p.state->used.compare_exchange_weak(used, used + 1));
    if (prize.daily_stock > 0) {
      uint64_t packed = p.state->daily.load();
      uint64_t next;
      do {
        const uint32_t today = DailyUsed(packed, day);
        if (today >= static_cast<uint64_t>(prize.daily_stock)) {
          p.state->used.fetch_sub(1);
          release_budget();
          return false;
        }
        next = PackDaily(day, today + 1);
      } while (!p.state->daily.compare_exchange_weak(packed, next));
    } else {
      // Keep the day's count for Stats even without a daily limit.
      uint64_t packed = p.state->daily.load();
      while (!p.state->daily.compare_exchange_weak(packed,
                                                   PackDaily(day, DailyUsed(packed, day) + 1))) {
      }
    }
    return true;
  }

  // The generation of idempotency records a draw at `ms` belongs to (floor division).
  int64_t IdemGeneration(int64_t ms) const {
    return ms / retention_ms_ - (ms % retention_ms_ < 0 ? 1 : 0);
  }

  IdemKey IdemKeyOf(int64_t activity_id, uint32_t uid, std::string_view key) const {
    // Fixed-width ids first, then the key: no two names give the same input.
    unsigned char input[12 + kMaxIdempotencyKeyBytes];
    const size_t n = std::min(key.size(), kMaxIdempotencyKeyBytes);  // callers refuse longer
    std::memcpy(input, &activity_id, 8);
    std::memcpy(input + 8, &uid, 4);
    std::memcpy(input + 12, key.data(), n);
    unsigned char out[crypto_shorthash_siphashx24_BYTES];
    crypto_shorthash_siphashx24(out, input, 12 + n, idem_hash_key_.data());
    IdemKey k;
    std::memcpy(&k.a, out, 8);
    std::memcpy(&k.b, out + 8, 8);
    return k;
  }

  // Start-up replay (single-threaded: no draw runs yet) is bound by cache misses, not by
  // decoding: each draw lands on a random customer's state and adds an idempotency record to a
  // large table. So a draw record is decoded and checked at once, and applied kReplayAhead
  // records later, once the memory of the table slots it touches has been fetched.
  static constexpr size_t kReplayAhead = 16;
  struct ReplayDraw {
    DrawBrief brief;
    ActivityRt* act = nullptr;
    const PoolRt* pool = nullptr;
    Shard* shard = nullptr;
    int64_t activity_id = 0;
    uint32_t uid = 0;
    int32_t day = 0;
    uint16_t picked = 0;
    uint8_t flags = 0;
    uint8_t channel = 0;     // index into ActivityRt::channel_draws
    bool keep_idem = false;  // its idempotency record is still within the retention
    IdemKey idem_key;
    Fingerprint digest;
  };

  // Replays one journal record at start-up; FinishReplay applies the draws still pending.
  absl::Status Replay(std::string_view r) {
    if (r.empty()) return absl::DataLossError("draw journal: empty record");
    const uint8_t type = static_cast<uint8_t>(r[0]);
    if (type == kTermsRecordType) {
      FinishReplay();  // journal order kept around terms records too (they are rare)
      ASSIGN_OR_RETURN(DrawTerms t, DecodeTerms(r));
      InstallVersion(GetOrCreateActivity(t.activity_id), t, std::string(r));
      replay_cache_ = {};
      return absl::OkStatus();
    }
    if (type != kDrawRecordType) return absl::DataLossError("draw journal: unknown record");
    if (replay_.size() < kReplayAhead) replay_.resize(kReplayAhead);
    ReplayDraw& d = replay_[(replay_head_ + replay_pending_) % kReplayAhead];
    if (replay_pending_ == kReplayAhead) {
      ApplyReplay(d);  // the oldest pending: its slot takes this record
      replay_head_ = (replay_head_ + 1) % kReplayAhead;
      --replay_pending_;
    }
    Decoder in(r.substr(1));
    DrawBrief& brief = d.brief;
    brief = DrawBrief{};
    brief.draw_id = in.Get<int64_t>();
    d.activity_id = in.Get<int64_t>();
    const int32_t version = in.Get<int32_t>();
    d.uid = in.Get<uint32_t>();
    brief.at_ms = in.Get<int64_t>();
    d.day = in.Get<int32_t>();
    brief.pool = in.Get<uint16_t>();
    d.picked = in.Get<uint16_t>();
    brief.prize = in.Get<uint16_t>();
    d.flags = in.Get<uint8_t>();
    brief.random_value = in.Get<uint64_t>();
    const std::string_view key = in.Str();
    const std::string_view digest = in.Str();
    const std::string_view channel = in.Str();
    // Consecutive draws mostly share an activity and a version: looked up once for a run.
    ReplayCache& c = replay_cache_;
    if (c.act == nullptr || c.activity_id != d.activity_id || c.version_no != version) {
      c = {};
      c.activity_id = d.activity_id;
      c.version_no = version;
      c.act = FindActivity(d.activity_id);
      if (c.act != nullptr) c.version = c.act->Version(version).get();  // kept for life
    }
    d.act = c.act;
    const VersionRt* v = c.version;
    if (!in.ok() || v == nullptr || brief.pool >= v->pools.size()) {
      return absl::DataLossError("draw journal: malformed draw record");
    }
    d.pool = v->pools[brief.pool].get();
    if ((brief.prize != kNone && brief.prize >= d.pool->prizes.size()) ||
        d.picked >= d.pool->prizes.size()) {
      return absl::DataLossError("draw journal: draw record names no prize of its pool");
    }
    brief.version = v;
    brief.guaranteed = (d.flags & kFlagGuaranteed) != 0;
    last_draw_id_ = std::max(last_draw_id_, brief.draw_id);
    d.channel = static_cast<uint8_t>(ChannelIndex(channel));
    // Records of draws older than the previous generation are not kept (Advance would drop
    // them at the next draw anyway): an old journal's draws need no key hashed.
    d.keep_idem = IdemGeneration(brief.at_ms) >= replay_generation_ - 1;
    if (d.keep_idem) {
      d.idem_key = IdemKeyOf(d.activity_id, d.uid, key);
      d.digest = Fingerprint::Of(digest);
    }
    d.shard = &ShardOf(d.activity_id, d.uid);
    Prefetch(d);
    ++replay_pending_;
    return absl::OkStatus();
  }

  // Asks for the memory ApplyReplay will touch first. Start-up runs on one thread, before any
  // draw: the shard's lock is not needed to read where its tables are (taking it was a
  // quarter of a record's decoding).
  static void Prefetch(const ReplayDraw& d) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    d.shard->customers.prefetch(std::pair<int64_t, uint32_t>{d.activity_id, d.uid});
    if (d.keep_idem) d.shard->idem.prefetch(d.idem_key);
  }

  // Applies the draws Replay left pending, in journal order.
  void FinishReplay() {
    for (; replay_pending_ > 0; --replay_pending_) {
      ApplyReplay(replay_[replay_head_]);
      replay_head_ = (replay_head_ + 1) % kReplayAhead;
    }
  }

  void ApplyReplay(const ReplayDraw& d) {
    const DrawBrief& brief = d.brief;
    ActivityRt* act = d.act;
    const PoolRt& pool = *d.pool;
    Shard& shard = *d.shard;
    absl::MutexLock lock(&shard.mu);
    CustomerState& cs = shard.customers[{d.activity_id, d.uid}];
    bool won = false;
    if (brief.prize != kNone) {
      const PrizeRt& p = pool.prizes[brief.prize];
      won = p.winning;
      p.state->used.fetch_add(1);
      const uint64_t packed = p.state->daily.load();
      p.state->daily.store(PackDaily(d.day, DailyUsed(packed, d.day) + 1));
      act->budget_spent.fetch_add(p.prize.cost_fen);
      cs.AddWin(p.state);
    }
    cs.today = cs.day == d.day ? cs.today + 1 : 1;
    cs.day = d.day;
    if (cs.total++ == 0) act->participants.fetch_add(1);
    int32_t& losses = cs.Losses(pool.pool_ix);
    losses = won ? 0 : losses + 1;
    act->draws.fetch_add(1);
    if (won) act->wins.fetch_add(1);
    if ((d.flags & kFlagAllInStock) != 0) {
      pool.fair_picks[d.picked].fetch_add(1);
    }
    act->channel_draws[d.channel].fetch_add(1, std::memory_order_relaxed);
    act->CountDay(d.day, won, brief.prize != kNone ? pool.prizes[brief.prize].prize.cost_fen : 0);
    if (d.keep_idem) {
      const int64_t g = IdemGeneration(brief.at_ms);
      std::vector<IdemTable> dropped;
      shard.Advance(g, dropped);
      if (g >= shard.generation - 1) {  // else the clock went back: a generation already gone
        IdemTable& table = g == shard.generation ? shard.idem : shard.idem_previous;
        IdemEntry& entry = table[d.idem_key];
        entry.digest = d.digest;
        entry.brief = brief;
      }
    }
    if (won) cs.won.push_back(brief);
  }

  // Waits until everything queued so far is durable.
  absl::Status WaitDurable() {
    absl::Notification n;
    absl::Status status;
    {
      absl::MutexLock lock(&queue_mu_);
      if (waiters_.empty() && batch_.empty() && !writing_) return absl::OkStatus();
      Waiter w;
      w.control = [&](const absl::Status& st) {
        status = st;
        n.Notify();
      };
      waiters_.push_back(std::move(w));
    }
    n.WaitForNotification();
    return status;
  }

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return !waiters_.empty() || stopping_;
  }

  // A batch this large is written without waiting out the commit window.
  static constexpr size_t kFullBatch = 1024;
  bool FullOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return stopping_ || waiters_.size() >= kFullBatch;
  }

 public:
  void SetCommitObserver(CommitObserver observer) {
    auto shared = observer ? std::make_shared<const CommitObserver>(std::move(observer)) : nullptr;
    absl::MutexLock lock(&queue_mu_);
    observer_ = std::move(shared);
    // A batch being written reports to the observer it took: wait it out, so that the caller
    // may free what the previous observer used.
    queue_mu_.Await(absl::Condition(
        +[](bool* writing) { return !*writing; }, &writing_));
  }

 private:
  void WriterLoop() {
    pthread_setname_np(pthread_self(), "mct-draw-writer");  // in top, perf and /proc
    std::string batch;
    std::vector<Waiter> waiters;
    std::vector<double> waits;
    std::shared_ptr<const CommitObserver> observer;
    for (;;) {
      {
        absl::MutexLock lock(&queue_mu_, absl::Condition(this, &Impl::HasWork));
        if (waiters_.empty() && stopping_) return;
        if (options_.commit_window_us > 0 && !stopping_) {
          // Let a few more draws join this batch, but never wait beyond the window.
          queue_mu_.AwaitWithTimeout(absl::Condition(this, &Impl::FullOrStopping),
                                     absl::Microseconds(options_.commit_window_us));
        }
        batch.swap(batch_);
        waiters.swap(waiters_);
        writing_ = true;
        observer = observer_;
      }
      const int64_t write_start = MonotonicNs();
      absl::Status st = failed_.load() ? JournalFailed() : journal_->AppendBatch(batch).status();
      const int64_t durable_at = MonotonicNs();
      if (!st.ok() && !failed_.exchange(true)) {
        Log(Severity::kError, "draw journal write failed; refusing draws until restart",
            {{"error.message", std::string(st.message())}});
      }
      for (Waiter& w : waiters) {
        if (w.control) {
          w.control(st);
        } else if (st.ok()) {
          w.done(MakeResult(w.brief, w.replayed));
        } else {
          w.done(JournalFailed());
        }
      }
      if (observer != nullptr && st.ok()) {
        waits.clear();
        for (const Waiter& w : waiters) {
          if (w.control) continue;  // terms and barriers are not draws
          waits.push_back(static_cast<double>(durable_at - w.queued_ns) * 1e-9);
        }
        (*observer)({.bytes = static_cast<int64_t>(batch.size()),
                     .write_seconds = static_cast<double>(durable_at - write_start) * 1e-9,
                     .waits = waits});
      }
      waiters.clear();
      batch.clear();
      {
        absl::MutexLock lock(&queue_mu_);
        writing_ = false;
      }
    }
  }

  const DrawEngineOptions options_;
  std::unique_ptr<Journal> journal_;
  std::atomic<bool> failed_{false};

  // Lock order: acts_mu_ and ActivityRt::mu are leaves taken alone; Shard::mu, then
  // queue_mu_ (a draw appends its record while holding its customer's shard), then
  // ActivityRt::day_mu (a leaf).
  absl::Mutex acts_mu_;
  absl::flat_hash_map<int64_t, std::unique_ptr<ActivityRt>> activities_ ABSL_GUARDED_BY(acts_mu_);
  Shard shards_[kShards];
  const int64_t retention_ms_;  // of idempotency records
  std::array<unsigned char, crypto_shorthash_siphashx24_KEYBYTES> idem_hash_key_;
  int64_t replay_generation_ = 0;  // IdemGeneration at start-up
  // Start-up replay's state (Replay, FinishReplay): draws decoded but not yet applied, a ring
  // of kReplayAhead from replay_head_, and the last activity and version looked up.
  struct ReplayCache {
    int64_t activity_id = 0;
    int32_t version_no = 0;
    ActivityRt* act = nullptr;
    const VersionRt* version = nullptr;
  };
  std::vector<ReplayDraw> replay_;
  size_t replay_head_ = 0;
  size_t replay_pending_ = 0;
  ReplayCache replay_cache_;

  absl::Mutex queue_mu_;
  std::string batch_ ABSL_GUARDED_BY(queue_mu_);
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(queue_mu_);
  int64_t last_draw_id_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool writing_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::shared_ptr<const CommitObserver> observer_ ABSL_GUARDED_BY(queue_mu_);
  std::thread writer_;
};

DrawEngine::DrawEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DrawEngine::~DrawEngine() = default;

absl::StatusOr<std::unique_ptr<DrawEngine>> DrawEngine::Open(const DrawEngineOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("dir: is required");
  auto impl = std::make_unique<Impl>(options);
  RETURN_IF_ERROR(impl->OpenJournal());
  return std::unique_ptr<DrawEngine>(new DrawEngine(std::move(impl)));
}

absl::Status DrawEngine::Load(const DrawTerms& terms) { return impl_->Load(terms); }

absl::StatusOr<DrawResult> DrawEngine::Draw(const DrawRequest& request) {
  absl::Notification done;
  absl::StatusOr<DrawResult> out;
  impl_->DrawAsync(request, [&](absl::StatusOr<DrawResult> r) {
    out = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

void DrawEngine::DrawAsync(const DrawRequest& request, DrawCallback done) {
  impl_->DrawAsync(request, std::move(done));
}

absl::StatusOr<std::optional<DrawResult>> DrawEngine::Find(int64_t activity_id, uint32_t uid,
                                                           const std::string& key) {
  return impl_->Find(activity_id, uid, key);
}

absl::StatusOr<ChanceUsage> DrawEngine::UsedChances(int64_t activity_id, uint32_t uid) {
  return impl_->UsedChances(activity_id, uid);
}

absl::StatusOr<int32_t> DrawEngine::RemainingChances(int64_t activity_id, uint32_t uid,
                                                     int32_t max_today, int32_t max_total) {
  ASSIGN_OR_RETURN(ChanceUsage u, impl_->UsedChances(activity_id, uid));
  int32_t left = -1;
  if (max_today > 0) left = std::max(0, max_today - u.today);
  if (max_total > 0) {
    const int32_t t = std::max(0, max_total - u.total);
    left = left < 0 ? t : std::min(left, t);
  }
  return left;
}

absl::StatusOr<std::vector<DrawResult>> DrawEngine::MyPrizes(int64_t activity_id, uint32_t uid) {
  return impl_->MyPrizes(activity_id, uid);
}

absl::StatusOr<DrawStats> DrawEngine::Stats(int64_t activity_id) {
  return impl_->Stats(activity_id);
}

absl::StatusOr<std::map<std::string, int64_t>> DrawEngine::StockLeft(int64_t activity_id) {
  ASSIGN_OR_RETURN(DrawStats s, impl_->Stats(activity_id));
  std::map<std::string, int64_t> out;
  for (const PrizeStats& p : s.prizes) out[p.pool_id + "/" + p.prize_id] = p.stock_left;
  return out;
}

absl::StatusOr<std::vector<PoolFairness>> DrawEngine::Fairness(int64_t activity_id) {
  return impl_->Fairness(activity_id);
}

absl::Status DrawEngine::ForEachDraw(int64_t activity_id, int64_t after_draw_id,
                                     const std::function<bool(const DrawRecord&)>& fn) {
  return impl_->ForEachDraw(activity_id, after_draw_id, fn);
}

void DrawEngine::SetCommitObserver(CommitObserver observer) {
  impl_->SetCommitObserver(std::move(observer));
}

absl::StatusOr<std::string> DrawEngine::DrawLogCsv(int64_t activity_id) {
  std::string out =
      "draw_id,at_ms,uid,terms_version,pool_id,picked_prize_id,prize_id,kind,won,guaranteed,"
      "cost_fen,random_value,channel\n";
  RETURN_IF_ERROR(impl_->ForEachDraw(activity_id, 0, [&](const DrawRecord& r) {
    fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.draw_id,
                   r.at_ms, r.uid, r.terms_version, CsvField(r.pool_id),
                   CsvField(r.picked_prize_id), CsvField(r.prize_id), r.kind, r.won ? 1 : 0,
                   r.guaranteed ? 1 : 0, r.cost_fen, r.random_value, CsvField(r.channel));
    return true;
  }));
  return out;
}

}  // namespace mercator::activity
