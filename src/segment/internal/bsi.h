// A bit-sliced index (BSI): a map from uid to int64_t kept as one CRoaring bitmap per bit of
// the value, so a range comparison costs a few bitmap operations per slice and never a scan of
// customers (O'Neil & Quass, "Improved query performance with variant indexes", 1997).
//
// Encoding: values are stored in N-bit two's complement. Slice N-1 is the sign; N is the
// smallest width that holds every value ever set, so ages take 8 slices and amounts in fen
// ~35. Widening copies the sign slice (sign extension), so no stored value is rewritten.
// Comparisons read the slices as offset binary (the sign slice inverted), which orders
// negative values before non-negative ones.
//
// Thread safety: none; the owner synchronises (SegmentIndex holds its mutex).
#ifndef MERCATOR_SEGMENT_INTERNAL_BSI_H_
#define MERCATOR_SEGMENT_INTERNAL_BSI_H_

#include <roaring/roaring.hh>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace mercator::segment_internal {

class Bsi {
 public:
  Bsi() = default;
  // Builds from stored parts (snapshot load). `slices` must hold at least one slice and every
  // slice must be a subset of `exists`; returns nullopt otherwise.
  static std::optional<Bsi> FromParts(Roaring exists, std::vector<Roaring> slices);

  // Sets the value of `uid`, replacing any previous value.
  void Set(uint32_t uid, int64_t value);
  // Sets values[i] for uids[i], for uids that hold no value yet (not in exists()), strictly
  // increasing: the same as Set for each, with one bulk add per slice (a bulk import).
  void SetFresh(std::span<const uint32_t> uids, std::span<const int64_t> values);
  // Removes `uid`'s value, if any.
  void Remove(uint32_t uid);
  std::optional<int64_t> Get(uint32_t uid) const;

  // Uids that have a value.
  const Roaring& exists() const { return exists_; }
  // Slices, least significant first; the last one is the sign.
  const std::vector<Roaring>& slices() const { return slices_; }
  int slice_count() const { return static_cast<int>(slices_.size()); }

  // The members of `base` whose value lies in [lo, hi] (empty when lo > hi). `base` must be a
  // subset of exists(); callers pass exists() itself or its intersection with a filter, so
  // the cost of every operation is bounded by the size of `base`.
  Roaring Range(int64_t lo, int64_t hi, const Roaring& base) const;
  // The members of `base` whose value equals `value`.
  Roaring Equal(int64_t value, const Roaring& base) const;

  // Smallest / largest value among the members of `set` (a subset of exists()); nullopt when
  // `set` is empty.
  std::optional<int64_t> Min(const Roaring& set) const;
  std::optional<int64_t> Max(const Roaring& set) const;

  // Bytes held by the bitmaps.
  size_t MemoryBytes() const;

 private:
  // Splits `base` by comparison with `c`: members below go to *lt, equal to *eq, above to
  // *gt. A null output is not computed, which saves work (a ">=" query needs no *lt).
  void Compare(int64_t c, const Roaring& base, Roaring* lt, Roaring* eq, Roaring* gt) const;
  // Widens to at least `bits` slices by sign extension.
  void Widen(int bits);

  Roaring exists_;
  // Invariant: never empty once a value was set; each slice is a subset of exists_.
  std::vector<Roaring> slices_;
};

// Bytes held by one bitmap in memory (CRoaring's container accounting plus its key arrays).
size_t BitmapMemoryBytes(const Roaring& r);

}  // namespace mercator::segment_internal

#endif  // MERCATOR_SEGMENT_INTERNAL_BSI_H_
