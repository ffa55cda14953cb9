// The importer's duplicate-id check: the external ids seen so far and the line of each.
//
// Millions of ids, one insert per row on the thread that consumes rows in file order, so the
// ids are kept in one buffer and found by a 64-bit hash that the parsing threads computed
// (Hash). Ids whose hash equals another id's go to a plain map, so the answer is exact.
//
// Not thread-safe; Hash is.
#ifndef MERCATOR_CUSTOMER_INTERNAL_ID_SET_H_
#define MERCATOR_CUSTOMER_INTERNAL_ID_SET_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace mercator::import_internal {

class IdSet {
 public:
  static uint64_t Hash(std::string_view id) {
    return absl::HashOf(absl::string_view(id.data(), id.size()));
  }

  void Reserve(size_t ids) { by_hash_.reserve(ids); }

  // Records that `id` (whose Hash is `hash`) is on `line` (> 0); returns 0, or the line it
  // was first recorded on.
  int64_t Claim(std::string_view id, uint64_t hash, int64_t line) {
    auto [it, inserted] = by_hash_.try_emplace(hash, Entry{text_.size(), id.size(), line});
    if (inserted) {
      text_.append(id);
      return 0;
    }
    const Entry& e = it->second;
    if (std::string_view(text_).substr(e.offset, e.size) == id) return e.line;
    auto [other, added] = colliding_.try_emplace(std::string(id), line);
    return added ? 0 : other->second;
  }

 private:
  struct Entry {
    size_t offset;  // in text_
    size_t size;
    int64_t line;
  };
  absl::flat_hash_map<uint64_t, Entry> by_hash_;
  std::string text_;
  absl::flat_hash_map<std::string, int64_t> colliding_;
};

}  // namespace mercator::import_internal

#endif  // MERCATOR_CUSTOMER_INTERNAL_ID_SET_H_
