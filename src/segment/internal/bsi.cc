#include "segment/internal/bsi.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <utility>

namespace mercator::segment_internal {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Width of the smallest two's complement field holding `v` (0 and -1 need 1 bit).
int BitsFor(int64_t v) {
  const uint64_t magnitude = v < 0 ? ~static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return std::bit_width(magnitude) + 1;
}

// Adds `part` to `*out`, moving instead of merging when `*out` is still empty.
void Accumulate(Roaring* out, Roaring&& part) {
  if (out->isEmpty()) {
    out->swap(part);
  } else {
    *out |= part;
  }
}

// A bitmap that starts as a borrowed reference and becomes owned on the first change, so a
// query over a whole index bitmap does not copy it up front.
class Cursor {
 public:
  explicit Cursor(const Roaring& base) : ptr_(&base) {}
  const Roaring& get() const { return *ptr_; }
  void And(const Roaring& b) {
    if (ptr_ == &owned_) {
      owned_ &= b;
    } else {
      owned_ = *ptr_ & b;
      ptr_ = &owned_;
    }
  }
  void AndNot(const Roaring& b) {
    if (ptr_ == &owned_) {
      owned_ -= b;
    } else {
      owned_ = *ptr_ - b;
      ptr_ = &owned_;
    }
  }
  void Clear() {
    owned_ = Roaring();
    ptr_ = &owned_;
  }
  Roaring Take() && { return ptr_ == &owned_ ? std::move(owned_) : Roaring(*ptr_); }

 private:
  const Roaring* ptr_;
  Roaring owned_;
};

}  // namespace

size_t BitmapMemoryBytes(const Roaring& r) {
  roaring_statistics_t stats;
  roaring_bitmap_statistics(&r.roaring, &stats);
  // Per container: a 16-bit key, a pointer and a type code in the high-low container.
  return sizeof(Roaring) + size_t{stats.n_containers} * (sizeof(uint16_t) + sizeof(void*) + 1) +
         stats.n_bytes_array_containers + stats.n_bytes_run_containers +
         stats.n_bytes_bitset_containers;
}

std::optional<Bsi> Bsi::FromParts(Roaring exists, std::vector<Roaring> slices) {
  if (slices.size() > 64) return std::nullopt;
  if (slices.empty() && !exists.isEmpty()) return std::nullopt;
  for (const Roaring& s : slices) {
    if (!s.isSubset(exists)) return std::nullopt;
  }
  Bsi bsi;
  bsi.exists_ = std::move(exists);
  bsi.slices_ = std::move(slices);
  return bsi;
}

void Bsi::Widen(int bits) {
  while (slice_count() < bits) {
    if (slices_.empty()) {
      slices_.emplace_back();
    } else {
      Roaring sign = slices_.back();
      slices_.push_back(std::move(sign));
    }
  }
}

void Bsi::Set(uint32_t uid, int64_t value) {
  const int need = BitsFor(value);
  if (need > slice_count()) Widen(need);
  const int n = slice_count();
  if (exists_.addChecked(uid)) {
    // A fresh uid is in no slice: only the one bits need touching (the bulk-import path).
    uint64_t bits = static_cast<uint64_t>(value);
    if (n < 64) bits &= (uint64_t{1} << n) - 1;
    while (bits != 0) {
      const int i = std::countr_zero(bits);
      slices_[i].add(uid);
      bits &= bits - 1;
    }
    return;
  }
  // Only the slices whose bit differs from the stored value change: reading a bit is cheaper
  // than writing it, and a counter or a date moves few bits (a tick updating ~100k customers'
  // behaviour tags spends most of its time here).
  for (int i = 0; i < n; ++i) {
    // Arithmetic shift (defined in C++20): bits at and above the width repeat the sign.
    const bool bit = ((value >> i) & 1) != 0;
    Roaring& slice = slices_[i];
    if (slice.contains(uid) == bit) continue;
    if (bit) {
      slice.add(uid);
    } else {
      slice.remove(uid);
    }
  }
}

void Bsi::SetFresh(std::span<const uint32_t> uids, std::span<const int64_t> values) {
  if (uids.empty()) return;
  // Widening once to the widest value gives each value the slices that Set's widening step
  // by step would (sign extension).
  int need = 0;
  for (int64_t v : values) need = std::max(need, BitsFor(v));
  if (need > slice_count()) Widen(need);
  const int n = slice_count();
  exists_.addMany(uids.size(), uids.data());
  std::vector<std::vector<uint32_t>> ones(n);
  for (size_t k = 0; k < uids.size(); ++k) {
    uint64_t bits = static_cast<uint64_t>(values[k]);
    if (n < 64) bits &= (uint64_t{1} << n) - 1;
    while (bits != 0) {
      ones[std::countr_zero(bits)].push_back(uids[k]);
      bits &= bits - 1;
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!ones[i].empty()) slices_[i].addMany(ones[i].size(), ones[i].data());
  }
}

void Bsi::Remove(uint32_t uid) {
  if (!exists_.removeChecked(uid)) return;
  for (Roaring& s : slices_) s.remove(uid);
}

std::optional<int64_t> Bsi::Get(uint32_t uid) const {
  if (!exists_.contains(uid)) return std::nullopt;
  const int n = slice_count();
  uint64_t u = slices_[n - 1].contains(uid) ? ~uint64_t{0} : 0;
  for (int i = 0; i < n - 1; ++i) {
    const uint64_t bit = uint64_t{1} << i;
    if (slices_[i].contains(uid)) {
      u |= bit;
    } else {
      u &= ~bit;
    }
  }
  return static_cast<int64_t>(u);
}

// O'Neil's top-down comparison, reading the slices as offset binary: walking from the most
// significant bit, `eq` keeps the members whose prefix equals c's; at each bit the members
// whose bit differs from c's leave `eq` for *lt or *gt for good.
void Bsi::Compare(int64_t c, const Roaring& base, Roaring* lt, Roaring* eq, Roaring* gt) const {
  const int n = slice_count();
  if (n == 0 || base.isEmpty()) return;
  if (n < 64) {
    const int64_t hi = (int64_t{1} << (n - 1)) - 1;
    const int64_t lo = -hi - 1;
    if (c > hi) {
      if (lt != nullptr) *lt = base;
      return;
    }
    if (c < lo) {
      if (gt != nullptr) *gt = base;
      return;
    }
  }
  const uint64_t cu = static_cast<uint64_t>(c);
  Cursor cur(base);
  // One digit (or a run of equal digits, folded into one bitmap `b`): members whose digits
  // equal c's stay in `cur`; the others go to `side` (below c when c's digit is 1, above
  // when it is 0). `keep_and`: the staying members are those in `b`. Returns false once
  // `cur` is empty, which ends the walk.
  auto step = [&](const Roaring& b, bool keep_and, Roaring* side) {
    if (b.isEmpty()) {
      if (!keep_and) return true;
      if (side != nullptr) Accumulate(side, std::move(cur).Take());
      cur.Clear();
      return false;
    }
    if (side != nullptr) Accumulate(side, keep_and ? cur.get() - b : cur.get() & b);
    if (keep_and) {
      cur.And(b);
    } else {
      cur.AndNot(b);
    }
    return !cur.get().isEmpty();
  };
  const bool negative = c < 0;
  // The sign, an inverted digit in offset binary: a set sign bit is a 0 digit.
  bool more = step(slices_[n - 1], /*keep_and=*/negative, negative ? gt : lt);
  // Below it, c's leading digits repeat its sign (zeros for a small positive c, ones for a
  // small negative one). The slices there are sparse, and walking them one by one would cost
  // two operations on the whole of `cur` each; folded they cost one union or intersection.
  int k = n - 2;
  // Written as an integer comparison: GCC 12 at -O1 and above miscompiled the equivalent
  // `(((cu >> k) & 1) != 0) == negative`, leaving k one digit too high (bsi_test caught it).
  const uint64_t sign_digit = negative ? 1 : 0;
  while (k >= 0 && ((cu >> k) & 1) == sign_digit) --k;
  // Without *eq, digits below the lowest one that can still move members to the requested
  // side only refine `cur`, which nobody reads: the walk stops there.
  int stop = 0;
  if (eq == nullptr && (lt == nullptr) != (gt == nullptr)) {
    const uint64_t wanted = lt != nullptr ? cu : ~cu;  // 1 digits feed lt, 0 digits gt.
    const uint64_t below_k = k >= 0 ? (wanted & ((uint64_t{2} << k) - 1)) : 0;
    stop = below_k != 0 ? std::countr_zero(below_k) : k + 1;
  }
  if (more && k < n - 2) {
    // Fold the run only when its slices are smaller than the work it saves on `cur`.
    uint64_t run_size = 0;
    for (int i = k + 1; i <= n - 2; ++i) run_size += slices_[i].cardinality();
    const uint64_t per_slice_cost = static_cast<uint64_t>(n - 2 - k) * cur.get().cardinality();
    if (k == n - 3 || run_size > per_slice_cost) {
      for (int i = n - 2; more && i > k; --i) {
        more = step(slices_[i], /*keep_and=*/negative, negative ? lt : gt);
      }
    } else if (!negative) {
      std::vector<const Roaring*> run;
      for (int i = k + 1; i <= n - 2; ++i) run.push_back(&slices_[i]);
      const Roaring any = Roaring::fastunion(run.size(), run.data());
      more = step(any, /*keep_and=*/false, gt);
    } else {
      Roaring all = slices_[k + 1] & slices_[k + 2];
      for (int i = k + 3; i <= n - 2 && !all.isEmpty(); ++i) all &= slices_[i];
      more = step(all, /*keep_and=*/true, lt);
    }
  }
  for (int i = k; more && i >= stop; --i) {
    const bool cbit = ((cu >> i) & 1) != 0;
    more = step(slices_[i], /*keep_and=*/cbit, cbit ? lt : gt);
  }
  if (eq != nullptr) *eq = std::move(cur).Take();
}

Roaring Bsi::Equal(int64_t value, const Roaring& base) const {
  Roaring eq;
  Compare(value, base, nullptr, &eq, nullptr);
  return eq;
}

Roaring Bsi::Range(int64_t lo, int64_t hi, const Roaring& base) const {
  if (lo > hi || base.isEmpty()) return Roaring();
  if (lo == hi) return Equal(lo, base);
  if (lo == kMin && hi == kMax) return base;
  // Strict comparisons only: "v >= lo" is "v > lo - 1", which needs no final union with eq.
  if (lo == kMin) {
    Roaring lt;
    Compare(hi + 1, base, &lt, nullptr, nullptr);
    return lt;
  }
  Roaring gt;
  Compare(lo - 1, base, nullptr, nullptr, &gt);
  if (hi == kMax) return gt;
  Roaring lt;
  Compare(hi + 1, gt, &lt, nullptr, nullptr);
  return lt;
}

std::optional<int64_t> Bsi::Min(const Roaring& set) const {
  if (set.isEmpty() || slices_.empty()) return std::nullopt;
  const int n = slice_count();
  Cursor cur(set);
  uint64_t u = 0;
  if (cur.get().intersect(slices_[n - 1])) {
    cur.And(slices_[n - 1]);
    u = ~uint64_t{0};
  }
  for (int i = n - 2; i >= 0; --i) {
    const uint64_t bit = uint64_t{1} << i;
    if (!cur.get().isSubset(slices_[i])) {
      cur.AndNot(slices_[i]);
      u &= ~bit;
    } else {
      u |= bit;
    }
  }
  return static_cast<int64_t>(u);
}

std::optional<int64_t> Bsi::Max(const Roaring& set) const {
  if (set.isEmpty() || slices_.empty()) return std::nullopt;
  const int n = slice_count();
  Cursor cur(set);
  uint64_t u = 0;
  if (cur.get().isSubset(slices_[n - 1])) {
    u = ~uint64_t{0};
  } else {
    cur.AndNot(slices_[n - 1]);
  }
  for (int i = n - 2; i >= 0; --i) {
    const uint64_t bit = uint64_t{1} << i;
    if (cur.get().intersect(slices_[i])) {
      cur.And(slices_[i]);
      u |= bit;
    } else {
      u &= ~bit;
    }
  }
  return static_cast<int64_t>(u);
}

size_t Bsi::MemoryBytes() const {
  size_t total = BitmapMemoryBytes(exists_);
  for (const Roaring& s : slices_) total += BitmapMemoryBytes(s);
  return total;
}

}  // namespace mercator::segment_internal
