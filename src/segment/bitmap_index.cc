#include "segment/bitmap_index.h"

#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "segment/internal/bsi.h"
#include "segment/internal/chunk.h"

namespace mercator {
namespace {

using segment_internal::AppendChunk;
using segment_internal::BitmapMemoryBytes;
using segment_internal::Bsi;
using segment_internal::ChunkBuffer;
using segment_internal::ChunkEnd;
using segment_internal::ChunkWordsOf;
using segment_internal::DenseBits;
using segment_internal::kChunkBytes;
using segment_internal::kChunkWords;
using segment_internal::OrChunkInto;
using segment_internal::ZeroChunk;

constexpr int64_t kMinValue = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxValue = std::numeric_limits<int64_t>::max();
constexpr std::string_view kNoneLabel = "(none)";

bool IsNumeric(TagType t) {
  return t == TagType::kInt || t == TagType::kDecimal || t == TagType::kDate;
}

// The index of one tag. Bool, enum and multi-enum tags keep one bitmap per value (ids in
// order of first appearance; bool has "true" then "false"); int, decimal and date tags keep a
// bit-sliced index.
class TagIndex {
 public:
  explicit TagIndex(TagDef def) : def_(std::move(def)) {
    allowed_.insert(def_.values.begin(), def_.values.end());
    if (def_.type == TagType::kBool) {
      IdFor("true");
      IdFor("false");
    }
  }

  const TagDef& def() const { return def_; }
  void set_def(TagDef def) {
    def_ = std::move(def);
    allowed_.clear();
    allowed_.insert(def_.values.begin(), def_.values.end());
  }
  // Whether an enum value is in the catalog's closed list (always true for open enums).
  bool Allowed(const std::string& v) const {
    return allowed_.empty() || allowed_.contains(absl::string_view(v.data(), v.size()));
  }
  bool numeric() const { return IsNumeric(def_.type); }
  const Roaring& exists() const { return numeric() ? bsi_.exists() : exists_; }
  const Bsi& bsi() const { return bsi_; }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<Roaring>& bitmaps() const { return bitmaps_; }

  // The plain bitset mirroring `b` (one of bitmaps()), or nullptr when it has none.
  const DenseBits* DenseOf(const Roaring* b) const {
    const size_t i = static_cast<size_t>(b - bitmaps_.data());
    return i < dense_.size() ? &dense_[i] : nullptr;
  }

  // The bitmap of a value, or nullptr if no customer ever had it.
  const Roaring* Find(std::string_view value) const {
    auto it = ids_.find(absl::string_view(value.data(), value.size()));
    return it == ids_.end() ? nullptr : &bitmaps_[it->second];
  }

  // `value` was checked by CheckValue.
  void Set(uint32_t uid, const TagValue& value) {
    if (const int64_t* n = std::get_if<int64_t>(&value)) {
      bsi_.Set(uid, *n);
      return;
    }
    if (const auto* many = std::get_if<std::vector<std::string>>(&value)) {
      if (many->empty()) {
        Remove(uid);
        return;
      }
      if (!exists_.addChecked(uid)) ClearValues(uid);
      for (const std::string& v : *many) AddValue(IdFor(v), uid);
      return;
    }
    const uint32_t id = std::holds_alternative<bool>(value)
                            ? IdFor(std::get<bool>(value) ? "true" : "false")
                            : IdFor(std::get<std::string>(value));
    // A fresh uid (the bulk import of new customers) holds no old value to clear.
    if (!exists_.addChecked(uid)) ClearValues(uid);
    AddValue(id, uid);
  }

  // Set for each uids[k] and *values[k], for uids that hold no value of this tag,
  // strictly increasing: one bulk add per bitmap instead of one add per uid and value.
  void SetFresh(std::span<const uint32_t> uids, std::span<const TagValue* const> values) {
    if (numeric()) {
      std::vector<int64_t> numbers;
      numbers.reserve(values.size());
      for (const TagValue* v : values) numbers.push_back(std::get<int64_t>(*v));
      bsi_.SetFresh(uids, numbers);
      return;
    }
    std::vector<uint32_t> holders;
    std::vector<std::vector<uint32_t>> by_id(bitmaps_.size());
    auto add = [&](uint32_t id, uint32_t uid) {
      if (id >= by_id.size()) by_id.resize(id + 1);
      by_id[id].push_back(uid);
    };
    for (size_t k = 0; k < uids.size(); ++k) {
      const TagValue& value = *values[k];
      if (const auto* many = std::get_if<std::vector<std::string>>(&value)) {
        if (many->empty()) continue;  // Set removes: nothing to remove from a fresh uid
        for (const std::string& v : *many) add(IdFor(v), uids[k]);
      } else if (const bool* b = std::get_if<bool>(&value)) {
        add(IdFor(*b ? "true" : "false"), uids[k]);
      } else {
        add(IdFor(std::get<std::string>(value)), uids[k]);
      }
      holders.push_back(uids[k]);
    }
    exists_.addMany(holders.size(), holders.data());
    for (size_t id = 0; id < by_id.size(); ++id) {
      if (by_id[id].empty()) continue;
      bitmaps_[id].addMany(by_id[id].size(), by_id[id].data());
      if (id < dense_.size()) {
        for (uint32_t uid : by_id[id]) dense_[id].Set(uid);
      }
    }
  }

  void Remove(uint32_t uid) {
    if (numeric()) {
      bsi_.Remove(uid);
      return;
    }
    if (exists_.removeChecked(uid)) ClearValues(uid);
  }

  size_t MemoryBytes() const {
    size_t total = bsi_.MemoryBytes() + BitmapMemoryBytes(exists_);
    for (const Roaring& b : bitmaps_) total += BitmapMemoryBytes(b);
    for (const DenseBits& d : dense_) total += d.MemoryBytes();
    return total;
  }

  // Snapshot support: installs stored parts. Returns false when they are inconsistent.
  bool Restore(Roaring exists, std::vector<std::string> names, std::vector<Roaring> bitmaps) {
    if (numeric() || names.size() != bitmaps.size()) return false;
    names_.clear();
    bitmaps_.clear();
    ids_.clear();
    for (size_t i = 0; i < names.size(); ++i) {
      if (!bitmaps[i].isSubset(exists)) return false;
      if (!ids_.emplace(names[i], static_cast<uint32_t>(i)).second) return false;
    }
    if (def_.type == TagType::kBool &&
        (names.size() != 2 || names[0] != "true" || names[1] != "false")) {
      return false;
    }
    exists_ = std::move(exists);
    names_ = std::move(names);
    bitmaps_ = std::move(bitmaps);
    dense_.clear();
    for (size_t i = 0; i < std::min(bitmaps_.size(), kMaxDenseValues); ++i) {
      dense_.push_back(DenseBits::FromRoaring(bitmaps_[i]));
    }
    return true;
  }
  bool RestoreNumeric(Roaring exists, std::vector<Roaring> slices) {
    if (!numeric()) return false;
    std::optional<Bsi> bsi = Bsi::FromParts(std::move(exists), std::move(slices));
    if (!bsi) return false;
    bsi_ = std::move(*bsi);
    return true;
  }

 private:
  uint32_t IdFor(std::string_view value) {
    // Look up before inserting: building a key string per call costs more than the add.
    auto it = ids_.find(absl::string_view(value.data(), value.size()));
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(names_.size());
    ids_.emplace(std::string(value), id);
    names_.emplace_back(value);
    bitmaps_.emplace_back();
    if (id < kMaxDenseValues) dense_.emplace_back();
    return id;
  }

  void AddValue(uint32_t id, uint32_t uid) {
    bitmaps_[id].add(uid);
    if (id < dense_.size()) dense_[id].Set(uid);
  }

  void ClearValues(uint32_t uid) {
    const bool single = def_.type != TagType::kMultiEnum;
    for (size_t i = 0; i < bitmaps_.size(); ++i) {
      if (!bitmaps_[i].removeChecked(uid)) continue;
      if (i < dense_.size()) dense_[i].Clear(uid);
      if (single) return;
    }
  }

  TagDef def_;
  Roaring exists_;
  std::vector<std::string> names_;
  std::vector<Roaring> bitmaps_;
  // Plain bitset mirrors of the first kMaxDenseValues values' bitmaps, by id: queries read
  // them instead of the bitmaps. The bound keeps memory in check for open enums with many
  // values (each mirror costs an eighth of a byte per uid, about 1.2 MiB at 10M).
  static constexpr size_t kMaxDenseValues = 64;
  std::vector<DenseBits> dense_;
  absl::flat_hash_map<std::string, uint32_t> ids_;
  absl::flat_hash_set<std::string> allowed_;  // def_.values; empty: any value
  Bsi bsi_;
};

// Everything the index holds; Load builds a new one and swaps it in.
struct Contents {
  Roaring live;
  std::vector<std::unique_ptr<TagIndex>> tags;  // In definition order.
  absl::flat_hash_map<std::string, TagIndex*> by_key;

  TagIndex* Find(std::string_view key) const {
    // Debian's Abseil has its own string_view type.
    auto it = by_key.find(absl::string_view(key.data(), key.size()));
    return it == by_key.end() ? nullptr : it->second;
  }
  TagIndex* Add(TagDef def) {
    tags.push_back(std::make_unique<TagIndex>(std::move(def)));
    TagIndex* t = tags.back().get();
    by_key[t->def().key] = t;
    return t;
  }
};

// ---- Applying changes -------------------------------------------------------------------

// Whether `value` has the shape of `def`'s type.
bool TypeMatches(const TagDef& def, const TagValue& value) {
  switch (def.type) {
    case TagType::kBool:
      return std::holds_alternative<bool>(value);
    case TagType::kEnum:
      return std::holds_alternative<std::string>(value);
    case TagType::kMultiEnum:
      return std::holds_alternative<std::vector<std::string>>(value);
    case TagType::kInt:
    case TagType::kDecimal:
    case TagType::kDate:
      return std::holds_alternative<int64_t>(value);
  }
  return false;
}

absl::Status CheckValue(const TagIndex& tag, const TagValue& value) {
  const TagDef& def = tag.def();
  if (!TypeMatches(def, value)) {
    return absl::InvalidArgumentError(
        fmt::format("tag '{}': expected a {} value", def.key, TagTypeName(def.type)));
  }
  auto allowed = [&](const std::string& v) -> absl::Status {
    if (v.empty()) {
      return absl::InvalidArgumentError(fmt::format("tag '{}': empty value", def.key));
    }
    if (!tag.Allowed(v)) {
      return absl::InvalidArgumentError(
          fmt::format("tag '{}': value \"{}\" is not in the catalog", def.key, v));
    }
    return absl::OkStatus();
  };
  if (const std::string* s = std::get_if<std::string>(&value)) return allowed(*s);
  if (const auto* many = std::get_if<std::vector<std::string>>(&value)) {
    for (const std::string& v : *many) RETURN_IF_ERROR(allowed(v));
  }
  return absl::OkStatus();
}

// Resolves the keys of a batch's changes to their tags. The rows of a batch mostly carry the
// same keys in the same (sorted) order, so comparing a key with the tag found at the same
// position of the previous row is cheaper than hashing it. Also remembers which tags'
// values the caller already checked (ApplyBatch's `checked_against`).
class KeyResolver {
 public:
  struct Entry {
    TagIndex* tag = nullptr;
    bool prechecked = false;  // values were checked against this very definition
  };

  KeyResolver(const Contents& c, const std::vector<TagDef>* checked_against)
      : c_(c), checked_against_(checked_against) {}

  // The tag of the `pos`-th key of a change; entry.tag is nullptr for an unknown key.
  Entry Find(size_t pos, const std::string& key) {
    if (pos < cache_.size() && cache_[pos].tag != nullptr && cache_[pos].tag->def().key == key) {
      return cache_[pos];
    }
    Entry e;
    e.tag = c_.Find(key);
    if (e.tag != nullptr && checked_against_ != nullptr) {
      for (const TagDef& def : *checked_against_) {
        if (def.key == key) {
          e.prechecked = def == e.tag->def();
          break;
        }
      }
    }
    if (pos >= cache_.size()) cache_.resize(pos + 1);
    cache_[pos] = e;
    return e;
  }

 private:
  const Contents& c_;
  const std::vector<TagDef>* checked_against_;
  std::vector<Entry> cache_;
};

// Checks one change whose key resolved to `e`.
absl::Status CheckChange(const KeyResolver::Entry& e, const std::string& key,
                         const std::optional<TagValue>& value) {
  if (e.tag == nullptr) return absl::InvalidArgumentError(fmt::format("unknown tag '{}'", key));
  if (!value.has_value()) return absl::OkStatus();
  if (e.prechecked) {
    // Parsed for this definition: the type is all that could still be wrong.
    if (TypeMatches(e.tag->def(), *value)) return absl::OkStatus();
  }
  return CheckValue(*e.tag, *value);
}

absl::Status CheckChanges(KeyResolver& keys, const TagChanges& changes) {
  size_t pos = 0;
  for (const auto& [key, value] : changes) {
    RETURN_IF_ERROR(CheckChange(keys.Find(pos++, key), key, value));
  }
  return absl::OkStatus();
}

// The error of a batch's entry, naming its uid.
absl::Status BatchEntryError(uint32_t uid, const absl::Status& s) {
  return absl::Status(s.code(), fmt::format("uid {}: {}", uid, std::string(s.message())));
}

// `changes` passed CheckChanges.
void ApplyChanges(Contents& c, KeyResolver& keys, uint32_t uid, const TagChanges& changes) {
  c.live.add(uid);
  size_t pos = 0;
  for (const auto& [key, value] : changes) {
    TagIndex* tag = keys.Find(pos++, key).tag;
    if (value.has_value()) {
      tag->Set(uid, *value);
    } else {
      tag->Remove(uid);
    }
  }
}

// Whether every uid of `batch` is new to the index and the uids strictly increase: the
// batches of a bulk import of new customers.
bool AppendsNewUids(const Contents& c, const std::vector<std::pair<uint32_t, TagChanges>>& batch) {
  if (batch.empty()) return false;
  // Every uid holding a tag value is live (ApplyChanges adds it, Erase clears both).
  if (!c.live.isEmpty() && batch.front().first <= c.live.maximum()) return false;
  for (size_t i = 1; i < batch.size(); ++i) {
    if (batch[i].first <= batch[i - 1].first) return false;
  }
  return true;
}

// CheckChanges then ApplyChanges for each entry of a batch that AppendsNewUids, in one
// reading of the batch: the values are checked and gathered by tag, then, when all passed,
// added to each bitmap in bulk. On an error nothing is applied.
absl::Status ApplyNewUids(Contents& c, KeyResolver& keys,
                          const std::vector<std::pair<uint32_t, TagChanges>>& batch) {
  struct Group {
    TagIndex* tag = nullptr;
    std::vector<uint32_t> uids;
    std::vector<const TagValue*> values;
  };
  std::vector<Group> groups;
  absl::flat_hash_map<const TagIndex*, size_t> group_of;
  // The group of the previous row's key at the same position: rows mostly carry the same keys.
  std::vector<size_t> at_pos;
  std::vector<uint32_t> uids;
  uids.reserve(batch.size());
  for (const auto& [uid, changes] : batch) {
    uids.push_back(uid);
    size_t pos = 0;
    for (const auto& [key, value] : changes) {
      const KeyResolver::Entry e = keys.Find(pos, key);
      if (absl::Status s = CheckChange(e, key, value); !s.ok()) return BatchEntryError(uid, s);
      TagIndex* tag = e.tag;
      if (pos >= at_pos.size()) at_pos.resize(pos + 1, groups.size());
      size_t& g = at_pos[pos++];
      if (!value.has_value()) continue;  // removing what a new uid does not hold
      if (g >= groups.size() || groups[g].tag != tag) {
        auto [it, added] = group_of.try_emplace(tag, groups.size());
        if (added) groups.push_back(Group{tag, {}, {}});
        g = it->second;
      }
      groups[g].uids.push_back(uid);
      groups[g].values.push_back(&*value);
    }
  }
  c.live.addMany(uids.size(), uids.data());
  for (const Group& g : groups) g.tag->SetFresh(g.uids, g.values);
  return absl::OkStatus();
}

// ---- Rule compilation -------------------------------------------------------------------

// A rule resolved against the catalog: fields are tag pointers, literals are values, so
// evaluation cannot fail and every error is reported before any bitmap work.
struct Node {
  enum class Kind {
    kAll,
    kNone,
    kAnd,
    kOr,
    kNot,
    kExists,     // The tag has a value.
    kAnyOf,      // Union of `bitmaps`.
    kAllOf,      // Intersection of `bitmaps` (has_all on a multi-enum).
    kExistsBut,  // exists minus `bitmaps` (0 or 1 of them): "!=" on value tags.
    kRange,      // BSI value in [lo, hi].
    kNumNotEqual,
    kNumIn,
  };
  Kind kind = Kind::kAll;
  std::vector<Node> children;
  const TagIndex* tag = nullptr;
  std::vector<const Roaring*> bitmaps;
  int64_t lo = 0;
  int64_t hi = 0;
  std::vector<int64_t> numbers;
  // An upper bound of the result size, and whether it is exact; And evaluates its children
  // smallest first so the large ones only see the survivors.
  uint64_t estimate = 0;
  bool exact = false;
  // Relative cost class to break ties: bitmap lookups before BSI walks before subtrees.
  int cost = 0;
};

class Compiler {
 public:
  explicit Compiler(const Contents& c) : c_(c), live_count_(c.live.cardinality()) {}

  absl::StatusOr<Node> Compile(const Rule& rule) const {
    switch (rule.kind) {
      case RuleKind::kAll: {
        Node n;
        n.kind = Node::Kind::kAll;
        n.estimate = live_count_;
        n.exact = true;
        return n;
      }
      case RuleKind::kAnd:
      case RuleKind::kOr:
        return CompileGroup(rule);
      case RuleKind::kNot: {
        if (rule.children.size() != 1) {
          return absl::InvalidArgumentError("not needs exactly one operand");
        }
        ASSIGN_OR_RETURN(Node child, Compile(rule.children[0]));
        Node n;
        n.kind = Node::Kind::kNot;
        n.exact = child.exact;
        n.estimate =
            child.exact ? live_count_ - std::min(live_count_, child.estimate) : live_count_;
        n.cost = 3;
        n.children.push_back(std::move(child));
        return n;
      }
      default:
        return CompileLeaf(rule);
    }
  }

 private:
  absl::StatusOr<Node> CompileGroup(const Rule& rule) const {
    const bool is_and = rule.kind == RuleKind::kAnd;
    Node n;
    n.kind = is_and ? Node::Kind::kAnd : Node::Kind::kOr;
    n.cost = 3;
    for (const Rule& r : rule.children) {
      ASSIGN_OR_RETURN(Node child, Compile(r));
      n.children.push_back(std::move(child));
    }
    if (n.children.empty()) {
      n.kind = is_and ? Node::Kind::kAll : Node::Kind::kNone;
      n.estimate = is_and ? live_count_ : 0;
      n.exact = true;
      return n;
    }
    if (n.children.size() == 1) return std::move(n.children[0]);
    if (is_and) {
      n.estimate = live_count_;
      for (const Node& c : n.children) n.estimate = std::min(n.estimate, c.estimate);
      // Smallest first; the order is fixed here, once per query.
      std::stable_sort(n.children.begin(), n.children.end(), [](const Node& a, const Node& b) {
        return std::tie(a.estimate, a.cost) < std::tie(b.estimate, b.cost);
      });
    } else {
      uint64_t sum = 0;
      for (const Node& c : n.children) sum += c.estimate;
      n.estimate = std::min(sum, live_count_);
    }
    return n;
  }

  static absl::Status FieldError(const Rule& rule, std::string_view what) {
    return absl::InvalidArgumentError(fmt::format("field '{}': {}", rule.field, what));
  }
  static absl::Status OperatorError(const Rule& rule, const TagDef& def, std::string_view op) {
    return FieldError(
        rule, fmt::format("operator {} is not defined for {} tags", op, TagTypeName(def.type)));
  }
  static std::string_view OperatorName(const Rule& rule) {
    switch (rule.kind) {
      case RuleKind::kCompare:
        return CompareOpSymbol(rule.op);
      case RuleKind::kBetween:
        return "between";
      case RuleKind::kIn:
        return "in";
      case RuleKind::kHas:
        return "has";
      default:
        return "exists";
    }
  }

  absl::StatusOr<TagValue> ParseLiteral(const Rule& rule, const TagDef& def,
                                        const Literal& lit) const {
    if (lit.kind == Literal::Kind::kBool && def.type != TagType::kBool) {
      return FieldError(rule, fmt::format("{} is not a {} value", lit.text, TagTypeName(def.type)));
    }
    absl::StatusOr<TagValue> v = ParseTagValue(def, lit.text);
    if (!v.ok()) return FieldError(rule, std::string(v.status().message()));
    return v;
  }

  // The value names a literal stands for on a bool / enum / multi-enum tag.
  absl::StatusOr<std::vector<std::string>> ValueNames(const Rule& rule, const TagDef& def,
                                                      const Literal& lit) const {
    ASSIGN_OR_RETURN(TagValue v, ParseLiteral(rule, def, lit));
    if (const bool* b = std::get_if<bool>(&v))
      return std::vector<std::string>{*b ? "true" : "false"};
    if (std::string* s = std::get_if<std::string>(&v)) return std::vector<std::string>{*s};
    auto many = std::get<std::vector<std::string>>(std::move(v));
    if (many.empty()) return FieldError(rule, "empty value");
    return many;
  }

  absl::StatusOr<int64_t> Number(const Rule& rule, const TagDef& def, const Literal& lit) const {
    ASSIGN_OR_RETURN(TagValue v, ParseLiteral(rule, def, lit));
    return std::get<int64_t>(v);
  }

  absl::Status CheckArity(const Rule& rule) const {
    const size_t n = rule.values.size();
    switch (rule.kind) {
      case RuleKind::kCompare:
        if (n != 1)
          return FieldError(rule,
                            fmt::format("operator {} needs exactly one value", OperatorName(rule)));
        break;
      case RuleKind::kBetween:
        if (n != 2) return FieldError(rule, "operator between needs two values");
        break;
      case RuleKind::kIn:
      case RuleKind::kHas:
        if (n == 0)
          return FieldError(
              rule, fmt::format("operator {} needs at least one value", OperatorName(rule)));
        break;
      default:
        break;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Node> CompileLeaf(const Rule& rule) const {
    const TagIndex* tag = c_.Find(rule.field);
    if (tag == nullptr) return FieldError(rule, "unknown tag");
    RETURN_IF_ERROR(CheckArity(rule));
    const TagDef& def = tag->def();
    const uint64_t exists_count = tag->exists().cardinality();
    Node n;
    n.tag = tag;
    n.estimate = exists_count;
    if (rule.kind == RuleKind::kExists) {
      n.kind = Node::Kind::kExists;
      n.exact = true;
      return n;
    }
    if (tag->numeric()) {
      n.cost = 2;
      return CompileNumeric(rule, def, std::move(n));
    }
    n.cost = 1;
    const bool multi = def.type == TagType::kMultiEnum;
    std::vector<std::string> names;
    switch (rule.kind) {
      case RuleKind::kCompare: {
        if (rule.op != CompareOp::kEq && rule.op != CompareOp::kNe) {
          return OperatorError(rule, def, OperatorName(rule));
        }
        ASSIGN_OR_RETURN(names, ValueNames(rule, def, rule.values[0]));
        if (names.size() != 1) {
          return FieldError(rule,
                            fmt::format("operator {} needs a single value", OperatorName(rule)));
        }
        if (rule.op == CompareOp::kNe) {
          n.kind = Node::Kind::kExistsBut;
          n.exact = true;
          if (const Roaring* b = tag->Find(names[0])) {
            n.bitmaps.push_back(b);
            n.estimate = exists_count - std::min(exists_count, b->cardinality());
          }
          return n;
        }
        break;
      }
      case RuleKind::kBetween:
        return OperatorError(rule, def, "between");
      case RuleKind::kIn:
        break;
      case RuleKind::kHas:
        if (def.type == TagType::kBool) return OperatorError(rule, def, "has");
        break;
      default:
        return absl::InvalidArgumentError("unknown rule kind");
    }
    if (names.empty()) {
      for (const Literal& lit : rule.values) {
        ASSIGN_OR_RETURN(std::vector<std::string> more, ValueNames(rule, def, lit));
        names.insert(names.end(), more.begin(), more.end());
      }
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    const bool all_of = multi && rule.kind == RuleKind::kHas && rule.has_mode == HasMode::kAll;
    n.kind = all_of ? Node::Kind::kAllOf : Node::Kind::kAnyOf;
    uint64_t sum = 0;
    uint64_t smallest = exists_count;
    for (const std::string& name : names) {
      const Roaring* b = tag->Find(name);
      if (b == nullptr) {
        if (all_of) return None();
        continue;
      }
      const uint64_t count = b->cardinality();
      sum += count;
      smallest = std::min(smallest, count);
      n.bitmaps.push_back(b);
    }
    if (n.bitmaps.empty()) return None();
    if (all_of) {
      std::sort(n.bitmaps.begin(), n.bitmaps.end(), [](const Roaring* a, const Roaring* b) {
        return a->cardinality() < b->cardinality();
      });
      n.estimate = smallest;
      n.exact = n.bitmaps.size() == 1;
    } else {
      n.estimate = std::min(sum, exists_count);
      n.exact = !multi || n.bitmaps.size() == 1;  // Single-value tags: values are disjoint.
    }
    return n;
  }

  absl::StatusOr<Node> CompileNumeric(const Rule& rule, const TagDef& def, Node n) const {
    n.kind = Node::Kind::kRange;
    switch (rule.kind) {
      case RuleKind::kCompare: {
        ASSIGN_OR_RETURN(const int64_t c, Number(rule, def, rule.values[0]));
        switch (rule.op) {
          case CompareOp::kEq:
            n.lo = n.hi = c;
            break;
          case CompareOp::kNe:
            n.kind = Node::Kind::kNumNotEqual;
            n.numbers = {c};
            break;
          case CompareOp::kLt:
            if (c == kMinValue) return None();
            n.lo = kMinValue;
            n.hi = c - 1;
            break;
          case CompareOp::kLe:
            n.lo = kMinValue;
            n.hi = c;
            break;
          case CompareOp::kGt:
            if (c == kMaxValue) return None();
            n.lo = c + 1;
            n.hi = kMaxValue;
            break;
          case CompareOp::kGe:
            n.lo = c;
            n.hi = kMaxValue;
            break;
        }
        return n;
      }
      case RuleKind::kBetween: {
        ASSIGN_OR_RETURN(n.lo, Number(rule, def, rule.values[0]));
        ASSIGN_OR_RETURN(n.hi, Number(rule, def, rule.values[1]));
        if (n.lo > n.hi) return None();
        return n;
      }
      case RuleKind::kIn: {
        n.kind = Node::Kind::kNumIn;
        for (const Literal& lit : rule.values) {
          ASSIGN_OR_RETURN(const int64_t v, Number(rule, def, lit));
          n.numbers.push_back(v);
        }
        std::sort(n.numbers.begin(), n.numbers.end());
        n.numbers.erase(std::unique(n.numbers.begin(), n.numbers.end()), n.numbers.end());
        return n;
      }
      case RuleKind::kHas:
        return OperatorError(rule, def, "has");
      default:
        return absl::InvalidArgumentError("unknown rule kind");
    }
  }

  static Node None() {
    Node n;
    n.kind = Node::Kind::kNone;
    n.exact = true;
    return n;
  }

  const Contents& c_;
  const uint64_t live_count_;
};

// ---- Evaluation -------------------------------------------------------------------------

// A rule is evaluated one chunk (one CRoaring container, 65536 uids) at a time: every term
// reads the words of that chunk and narrows a 1024-word buffer, so the working set stays in
// cache, no bitmap is built per term, and a comparison only looks at the words that still
// hold candidates.
//
// Buffers are taken from a pool in stack order (Mark / Release) and reused from chunk to
// chunk, so a query allocates only while the pool grows on its first chunk.
class BufferPool {
 public:
  ChunkBuffer* Take() {
    if (used_ == buffers_.size()) buffers_.push_back(std::make_unique<ChunkBuffer>());
    return buffers_[used_++].get();
  }
  size_t Mark() const { return used_; }
  void Release(size_t mark) { used_ = mark; }

 private:
  std::vector<std::unique_ptr<ChunkBuffer>> buffers_;
  size_t used_ = 0;
};

// out = a & b; returns whether any bit is set. `out` may alias `a`.
bool AndWords(const uint64_t* a, const uint64_t* b, uint64_t* out) {
  if (b == ZeroChunk()) {
    std::memset(out, 0, kChunkBytes);
    return false;
  }
  uint64_t any = 0;
  for (size_t w = 0; w < kChunkWords; ++w) {
    out[w] = a[w] & b[w];
    any |= out[w];
  }
  return any != 0;
}

// out = a & ~b; `out` may alias `a`.
bool AndNotWords(const uint64_t* a, const uint64_t* b, uint64_t* out) {
  uint64_t any = 0;
  for (size_t w = 0; w < kChunkWords; ++w) {
    out[w] = a[w] & ~b[w];
    any |= out[w];
  }
  return any != 0;
}

bool AnyWords(const uint64_t* a) {
  uint64_t any = 0;
  for (size_t w = 0; w < kChunkWords; ++w) any |= a[w];
  return any != 0;
}

enum class Side { kLess, kEqual, kGreater };

// One digit of a BSI comparison over a chunk, against up to two constants (a range's
// bounds): x = words ^ flip[b] is 1 where a member's digit differs from constant b's, and
// want[b] keeps the differing digits that put a member on bound b's requested side.
struct Digit {
  const uint64_t* words;
  uint64_t flip[2];
  uint64_t want[2];
};

// Runs the digits (most significant first) over the candidates in `io` and stops a group of
// words once all its members are decided for every bound. Keeps in `io` the members on the
// requested side of each bound (with keep_equal[b], those equal to constant b throughout).
// With one bound, the second one is absent (bound 1 starts with no members).
template <bool kTwo>
bool CompareDigitsScalar(const Digit* digits, int nd, const bool* keep_equal, uint64_t* io) {
  uint64_t any = 0;
  for (size_t w = 0; w < kChunkWords; ++w) {
    uint64_t eq0 = io[w];
    if (eq0 == 0) continue;
    uint64_t eq1 = kTwo ? eq0 : 0;
    uint64_t d0 = 0;
    uint64_t d1 = 0;
    for (int j = 0; j < nd; ++j) {
      const uint64_t x0 = digits[j].words[w] ^ digits[j].flip[0];
      d0 |= eq0 & x0 & digits[j].want[0];
      eq0 &= ~x0;
      if constexpr (kTwo) {
        const uint64_t x1 = digits[j].words[w] ^ digits[j].flip[1];
        d1 |= eq1 & x1 & digits[j].want[1];
        eq1 &= ~x1;
      }
      if ((eq0 | eq1) == 0) break;
    }
    uint64_t result = keep_equal[0] ? eq0 : d0;
    if constexpr (kTwo) result &= keep_equal[1] ? eq1 : d1;
    io[w] = result;
    any |= result;
  }
  return any != 0;
}

#if defined(__x86_64__) && defined(__GNUC__)
// Prefetch distance of the group kernel: four groups of eight words ahead.
constexpr size_t kPrefetchWords = 32;

// The same, eight words (512 members, one cache line per digit) at a time with AVX2: the
// early exit is taken per group, which costs far fewer mispredicted branches than per word.
template <bool kTwo>
__attribute__((target("avx2"))) bool CompareDigitsAvx2(const Digit* digits, int nd,
                                                       const bool* keep_equal, uint64_t* io) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i any = zero;
  // How many digits the last group read: the next groups likely need as many, and their
  // cache lines are requested ahead, since early exits defeat the hardware prefetcher.
  int depth = nd;
  for (size_t w = 0; w < kChunkWords; w += 8) {
    if (w + kPrefetchWords < kChunkWords) {
      for (int j = 0; j < depth; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(digits[j].words + w + kPrefetchWords),
                     _MM_HINT_T0);
      }
    }
    auto* p = reinterpret_cast<__m256i*>(io + w);
    __m256i a0 = _mm256_loadu_si256(p);
    __m256i a1 = _mm256_loadu_si256(p + 1);
    __m256i live = _mm256_or_si256(a0, a1);
    if (_mm256_testz_si256(live, live)) continue;
    __m256i b0 = kTwo ? a0 : zero;
    __m256i b1 = kTwo ? a1 : zero;
    __m256i da0 = zero, da1 = zero, db0 = zero, db1 = zero;
    int j = 0;
    for (; j < nd; ++j) {
      const Digit& d = digits[j];
      const auto* q = reinterpret_cast<const __m256i*>(d.words + w);
      const __m256i w0 = _mm256_loadu_si256(q);
      const __m256i w1 = _mm256_loadu_si256(q + 1);
      {
        const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(d.flip[0]));
        const __m256i want = _mm256_set1_epi64x(static_cast<long long>(d.want[0]));
        const __m256i x0 = _mm256_xor_si256(w0, flip);
        const __m256i x1 = _mm256_xor_si256(w1, flip);
        da0 = _mm256_or_si256(da0, _mm256_and_si256(_mm256_and_si256(a0, x0), want));
        da1 = _mm256_or_si256(da1, _mm256_and_si256(_mm256_and_si256(a1, x1), want));
        a0 = _mm256_andnot_si256(x0, a0);
        a1 = _mm256_andnot_si256(x1, a1);
      }
      live = _mm256_or_si256(a0, a1);
      if constexpr (kTwo) {
        const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(d.flip[1]));
        const __m256i want = _mm256_set1_epi64x(static_cast<long long>(d.want[1]));
        const __m256i x0 = _mm256_xor_si256(w0, flip);
        const __m256i x1 = _mm256_xor_si256(w1, flip);
        db0 = _mm256_or_si256(db0, _mm256_and_si256(_mm256_and_si256(b0, x0), want));
        db1 = _mm256_or_si256(db1, _mm256_and_si256(_mm256_and_si256(b1, x1), want));
        b0 = _mm256_andnot_si256(x0, b0);
        b1 = _mm256_andnot_si256(x1, b1);
        live = _mm256_or_si256(live, _mm256_or_si256(b0, b1));
      }
      if (_mm256_testz_si256(live, live)) break;
    }
    depth = std::min(nd, j + 1);
    __m256i r0 = keep_equal[0] ? a0 : da0;
    __m256i r1 = keep_equal[0] ? a1 : da1;
    if constexpr (kTwo) {
      r0 = _mm256_and_si256(r0, keep_equal[1] ? b0 : db0);
      r1 = _mm256_and_si256(r1, keep_equal[1] ? b1 : db1);
    }
    _mm256_storeu_si256(p, r0);
    _mm256_storeu_si256(p + 1, r1);
    any = _mm256_or_si256(any, _mm256_or_si256(r0, r1));
  }
  return !_mm256_testz_si256(any, any);
}
#endif

bool CompareDigits(const Digit* digits, int nd, int bounds, const bool* keep_equal, uint64_t* io) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2) {
    return bounds == 2 ? CompareDigitsAvx2<true>(digits, nd, keep_equal, io)
                       : CompareDigitsAvx2<false>(digits, nd, keep_equal, io);
  }
#endif
  return bounds == 2 ? CompareDigitsScalar<true>(digits, nd, keep_equal, io)
                     : CompareDigitsScalar<false>(digits, nd, keep_equal, io);
}

// A comparison of BSI values with a constant.
struct Bound {
  int64_t c;
  Side side;
};

class ChunkEvaluator {
 public:
  explicit ChunkEvaluator(const Roaring& live) : live_(live) {}

  void set_key(uint16_t key) { key_ = key; }

  // out = the members of `care` (words of the current chunk, a subset of live customers)
  // that match `n`. `out` may alias `care`. Returns whether any bit of `out` is set.
  bool Eval(const Node& n, const uint64_t* care, uint64_t* out) {
    const size_t mark = pool_.Mark();
    const bool any = EvalNode(n, care, out);
    pool_.Release(mark);
    return any;
  }

 private:
  const uint64_t* Words(const Roaring& r) { return ChunkWordsOf(r, key_, pool_.Take()); }
  // A value bitmap of `n`'s tag, from its plain mirror when it has one.
  const uint64_t* ValueWords(const Node& n, const Roaring* b) {
    if (const DenseBits* d = n.tag->DenseOf(b)) return d->Chunk(key_);
    return Words(*b);
  }

  bool EvalNode(const Node& n, const uint64_t* care, uint64_t* out) {
    switch (n.kind) {
      case Node::Kind::kAll:
        return AndWords(care, Words(live_), out);
      case Node::Kind::kNone:
        std::memset(out, 0, kChunkBytes);
        return false;
      case Node::Kind::kExists:
        return AndWords(care, Words(n.tag->exists()), out);
      case Node::Kind::kAnyOf: {
        if (n.bitmaps.size() == 1) return AndWords(care, ValueWords(n, n.bitmaps[0]), out);
        uint64_t* any_of = pool_.Take()->w;
        std::memset(any_of, 0, kChunkBytes);
        for (const Roaring* b : n.bitmaps) {
          if (const DenseBits* d = n.tag->DenseOf(b)) {
            const uint64_t* words = d->Chunk(key_);
            for (size_t w = 0; w < kChunkWords; ++w) any_of[w] |= words[w];
          } else {
            OrChunkInto(*b, key_, any_of);
          }
        }
        return AndWords(care, any_of, out);
      }
      case Node::Kind::kAllOf: {
        bool any = AndWords(care, ValueWords(n, n.bitmaps[0]), out);
        for (size_t i = 1; any && i < n.bitmaps.size(); ++i) {
          any = AndWords(out, ValueWords(n, n.bitmaps[i]), out);
        }
        return any;
      }
      case Node::Kind::kExistsBut: {
        const bool any = AndWords(care, Words(n.tag->exists()), out);
        if (!any || n.bitmaps.empty()) return any;
        return AndNotWords(out, ValueWords(n, n.bitmaps[0]), out);
      }
      case Node::Kind::kRange: {
        if (!AndWords(care, Words(n.tag->exists()), out)) return false;
        const Bsi& bsi = n.tag->bsi();
        if (n.lo == n.hi) return Compare(bsi, n.lo, Side::kEqual, out);
        Bound bounds[2];
        int count = 0;
        if (n.lo != kMinValue) bounds[count++] = {n.lo - 1, Side::kGreater};
        if (n.hi != kMaxValue) bounds[count++] = {n.hi + 1, Side::kLess};
        if (count == 0) return true;
        return Compare(bsi, bounds, count, out);
      }
      case Node::Kind::kNumNotEqual: {
        if (!AndWords(care, Words(n.tag->exists()), out)) return false;
        uint64_t* equal = pool_.Take()->w;
        std::memcpy(equal, out, kChunkBytes);
        if (!Compare(n.tag->bsi(), n.numbers[0], Side::kEqual, equal)) return true;
        return AndNotWords(out, equal, out);
      }
      case Node::Kind::kNumIn: {
        if (!AndWords(care, Words(n.tag->exists()), out)) return false;
        uint64_t* candidates = pool_.Take()->w;
        uint64_t* equal = pool_.Take()->w;
        std::memcpy(candidates, out, kChunkBytes);
        std::memset(out, 0, kChunkBytes);
        bool any = false;
        for (int64_t v : n.numbers) {
          std::memcpy(equal, candidates, kChunkBytes);
          if (!Compare(n.tag->bsi(), v, Side::kEqual, equal)) continue;
          any = true;
          for (size_t w = 0; w < kChunkWords; ++w) out[w] |= equal[w];
          // Values are distinct, so a member matches at most one of them.
          AndNotWords(candidates, equal, candidates);
        }
        return any;
      }
      case Node::Kind::kNot: {
        uint64_t* inner = pool_.Take()->w;
        EvalNode(n.children[0], care, inner);
        const uint64_t* live = Words(live_);
        uint64_t any = 0;
        for (size_t w = 0; w < kChunkWords; ++w) {
          out[w] = care[w] & live[w] & ~inner[w];
          any |= out[w];
        }
        return any != 0;
      }
      case Node::Kind::kAnd: {
        // Children are ordered smallest first, so the later (often costlier) ones see only
        // the survivors.
        bool any = EvalNode(n.children[0], care, out);
        for (size_t i = 1; any && i < n.children.size(); ++i) {
          any = EvalNode(n.children[i], out, out);
        }
        return any;
      }
      case Node::Kind::kOr: {
        // Each child only looks at the members not matched yet.
        uint64_t* matched = pool_.Take()->w;
        uint64_t* rest = pool_.Take()->w;
        uint64_t* part = pool_.Take()->w;
        EvalNode(n.children[0], care, matched);
        for (size_t i = 1; i < n.children.size(); ++i) {
          if (!AndNotWords(care, matched, rest)) break;
          if (!EvalNode(n.children[i], rest, part)) continue;
          for (size_t w = 0; w < kChunkWords; ++w) matched[w] |= part[w];
        }
        std::memcpy(out, matched, kChunkBytes);
        return AnyWords(out);
      }
    }
    std::memset(out, 0, kChunkBytes);
    return false;
  }

  bool Compare(const Bsi& bsi, int64_t c, Side side, uint64_t* io) {
    const Bound bound{c, side};
    return Compare(bsi, &bound, 1, io);
  }

  // Keeps the members of `io` (a subset of the BSI's exists()) whose value compares to each
  // of the `count` (1 or 2) bounds as requested: O'Neil's top-down comparison in offset
  // binary (the sign digit inverted), run a few words at a time so a group stops as soon as
  // its members are decided, with both bounds of a range in one pass over the slices.
  bool Compare(const Bsi& bsi, const Bound* bounds_in, int count, uint64_t* io) {
    const int n = bsi.slice_count();
    Bound bounds[2];
    int nb = 0;
    for (int b = 0; b < count; ++b) {
      const Bound& bound = bounds_in[b];
      if (n < 64) {
        const int64_t hi = (int64_t{1} << (n - 1)) - 1;
        const int64_t lo = -hi - 1;
        const bool above = bound.c > hi;
        if (above || bound.c < lo) {
          // Every stored value is on one side of c: the bound keeps all or nothing.
          if (bound.side == (above ? Side::kLess : Side::kGreater)) continue;
          std::memset(io, 0, kChunkBytes);
          return false;
        }
      }
      bounds[nb++] = bound;
    }
    if (nb == 0) return AnyWords(io);
    const std::vector<Roaring>& slices = bsi.slices();
    Digit digits[66];
    int nd = 0;
    // c_digit(b): constant b's digit at this position.
    auto add = [&](const uint64_t* words, bool inverted, auto c_digit) {
      Digit& d = digits[nd++];
      d.words = words;
      for (int b = 0; b < 2; ++b) {
        const bool cd = b < nb && c_digit(b);
        d.flip[b] = (cd ? ~uint64_t{0} : 0) ^ (inverted ? ~uint64_t{0} : 0);
        // A member above c has a 1 digit where c has 0; below, a 0 where c has 1.
        const Side side = b < nb ? bounds[b].side : Side::kEqual;
        d.want[b] =
            (side == Side::kGreater && !cd) || (side == Side::kLess && cd) ? ~uint64_t{0} : 0;
      }
    };
    auto bit = [&](int b, int i) { return ((static_cast<uint64_t>(bounds[b].c) >> i) & 1) != 0; };
    add(Words(slices[n - 1]), /*inverted=*/true, [&](int b) { return bounds[b].c >= 0; });
    // Below the sign, a constant's leading digits repeat its sign bit. For c >= 0 they are
    // zeros: a member of c's sign with a one anywhere in that run is above c, whatever the
    // order, so the run (whose high slices are mostly sparse) folds into one union.
    int top = -1;  // The highest digit below the sign where some constant leaves its run.
    bool all_non_negative = true;
    for (int b = 0; b < nb; ++b) {
      const bool negative = bounds[b].c < 0;
      all_non_negative = all_non_negative && !negative;
      int k = n - 2;
      while (k >= 0 && bit(b, k) == negative) --k;
      top = std::max(top, k);
    }
    if (all_non_negative && top < n - 3) {
      uint64_t* any_high = pool_.Take()->w;
      std::memset(any_high, 0, kChunkBytes);
      for (int i = top + 1; i <= n - 2; ++i) OrChunkInto(slices[i], key_, any_high);
      add(any_high, /*inverted=*/false, [](int) { return false; });
    } else {
      for (int i = n - 2; i > top; --i) {
        add(Words(slices[i]), false, [&](int b) { return bit(b, i); });
      }
    }
    // Digits below the lowest one that can move members to a bound's side only refine its
    // equal set, which a strict comparison does not read.
    int stop = top + 1;
    for (int b = 0; b < nb; ++b) {
      if (bounds[b].side == Side::kEqual) {
        stop = 0;
        break;
      }
      const uint64_t cu = static_cast<uint64_t>(bounds[b].c);
      const uint64_t wanted = bounds[b].side == Side::kLess ? cu : ~cu;  // 1s feed kLess.
      const uint64_t below = top >= 0 ? (wanted & ((uint64_t{2} << top) - 1)) : 0;
      if (below != 0) stop = std::min(stop, std::countr_zero(below));
    }
    for (int i = top; i >= stop; --i) {
      add(Words(slices[i]), false, [&](int b) { return bit(b, i); });
    }
    const bool keep_equal[2] = {bounds[0].side == Side::kEqual,
                                nb == 2 && bounds[1].side == Side::kEqual};
    return CompareDigits(digits, nd, nb, keep_equal, io);
  }

  const Roaring& live_;
  uint16_t key_ = 0;
  BufferPool pool_;
};

// Numeric terms are compiled with the size of their tag as the estimate, which orders them
// after the bitmap terms but not among themselves. A comparison reading its slices costs
// about the same whatever it keeps, and the next one only reads the words still holding
// candidates, so the most selective should run first: their share of one sample chunk
// (the middle one) gives an estimate for a tenth of a percent of the work at 10M.
class EstimateRefiner {
 public:
  explicit EstimateRefiner(const Roaring& live) : live_(live), ev_(live) {
    key_ = static_cast<uint16_t>(ChunkEnd(live) / 2);
    ev_.set_key(key_);
  }

  void Refine(Node* n) {
    switch (n->kind) {
      case Node::Kind::kRange:
      case Node::Kind::kNumNotEqual:
      case Node::Kind::kNumIn: {
        ChunkBuffer scratch;
        const uint64_t* exists = ChunkWordsOf(n->tag->exists(), key_, &scratch);
        const uint64_t in_sample = segment_internal::PopCount(exists, kChunkWords);
        if (in_sample == 0) return;
        ev_.Eval(*n, exists, out_.w);
        const uint64_t kept = segment_internal::PopCount(out_.w, kChunkWords);
        // Rounded up, so a term is not taken for empty from one chunk.
        n->estimate = std::min(n->estimate, (kept * n->estimate + in_sample - 1) / in_sample);
        n->exact = false;
        return;
      }
      case Node::Kind::kAnd:
      case Node::Kind::kOr:
      case Node::Kind::kNot: {
        for (Node& c : n->children) Refine(&c);
        if (n->kind == Node::Kind::kAnd) {
          n->estimate = live_.cardinality();
          for (const Node& c : n->children) n->estimate = std::min(n->estimate, c.estimate);
          // Bitmap terms still go first: they cost one read of a chunk whatever they keep,
          // while a comparison over dense candidates reads many slices.
          auto numeric = [](const Node& c) {
            return c.kind == Node::Kind::kRange || c.kind == Node::Kind::kNumNotEqual ||
                   c.kind == Node::Kind::kNumIn;
          };
          std::stable_sort(n->children.begin(), n->children.end(),
                           [&](const Node& a, const Node& b) {
                             return std::make_tuple(numeric(a), a.estimate, a.cost) <
                                    std::make_tuple(numeric(b), b.estimate, b.cost);
                           });
        } else if (n->kind == Node::Kind::kOr) {
          uint64_t sum = 0;
          for (const Node& c : n->children) sum += c.estimate;
          n->estimate = std::min(sum, live_.cardinality());
        }
        return;
      }
      default:
        return;
    }
  }

 private:
  const Roaring& live_;
  ChunkEvaluator ev_;
  uint16_t key_ = 0;
  ChunkBuffer out_;
};

// With this many chunks or more (half a million uids) a query offers its chunks to one
// helper thread too: starting it costs tens of microseconds, which a chunk's work repays.
constexpr uint32_t kMinChunksToShare = 8;

// The chunks of one query, claimed one at a time by the calling thread and a helper. When
// the machine is busy the helper may be scheduled late, even after the query returned: it
// touches the index only for a chunk it claimed, and the caller waits until every claimed
// chunk is finished, so everything else the helper reads lives here (shared ownership).
struct ChunkQueue {
  explicit ChunkQueue(uint32_t e) : end(e) {}
  const uint32_t end;
  std::atomic<uint32_t> next{0};
  std::atomic<uint32_t> finished{0};
  // The helper's results, complete once `finished` reaches `end`.
  uint64_t helper_count = 0;
  Roaring helper_bits;
};

enum class Want { kCount, kBitmap };

// Evaluates the chunks this thread claims from `q`, adding to *count or *bits.
void ClaimChunks(const Roaring& live, const Node& root, Want want, ChunkQueue& q, uint64_t* count,
                 Roaring* bits) {
  std::optional<ChunkEvaluator> ev;
  std::unique_ptr<ChunkBuffer> care_buf;
  std::unique_ptr<ChunkBuffer> out_buf;
  for (uint32_t key; (key = q.next.fetch_add(1, std::memory_order_relaxed)) < q.end;) {
    if (!ev.has_value()) {
      ev.emplace(live);
      care_buf = std::make_unique<ChunkBuffer>();
      out_buf = std::make_unique<ChunkBuffer>();
    }
    const auto k = static_cast<uint16_t>(key);
    segment_internal::ChunkForm form;
    const uint64_t* care = ChunkWordsOf(live, k, care_buf.get(), &form);
    if (form != segment_internal::ChunkForm::kEmpty) {
      ev->set_key(k);
      if (ev->Eval(root, care, out_buf->w)) {
        if (want == Want::kCount) {
          *count += segment_internal::PopCount(out_buf->w, kChunkWords);
        } else {
          // Each thread claims increasing keys, so its appends stay in order.
          AppendChunk(bits, k, out_buf->w);
        }
      }
    }
    q.finished.fetch_add(1, std::memory_order_release);
  }
}

struct QueryResult {
  uint64_t count = 0;
  Roaring bits;
};

QueryResult RunQuery(const Roaring& live, const Node& root, Want want) {
  auto q = std::make_shared<ChunkQueue>(ChunkEnd(live));
  if (q->end >= kMinChunksToShare) {
    std::thread([q, &live, &root, want] {
      ClaimChunks(live, root, want, *q, &q->helper_count, &q->helper_bits);
    }).detach();
  }
  QueryResult r;
  ClaimChunks(live, root, want, *q, &r.count, &r.bits);
  // A chunk the helper claimed is being evaluated right now: wait for it (microseconds).
  while (q->finished.load(std::memory_order_acquire) < q->end) std::this_thread::yield();
  r.count += q->helper_count;
  // The two halves hold disjoint chunks, so the union only moves containers.
  if (want == Want::kBitmap && !q->helper_bits.isEmpty()) r.bits |= q->helper_bits;
  return r;
}

uint64_t CountMatches(const Roaring& live, const Node& root) {
  return RunQuery(live, root, Want::kCount).count;
}

Roaring Matches(const Roaring& live, const Node& root) {
  return std::move(RunQuery(live, root, Want::kBitmap).bits);
}

// ---- Snapshots --------------------------------------------------------------------------

constexpr char kMagic[8] = {'M', 'R', 'C', 'S', 'E', 'G', 'I', 'X'};
constexpr uint32_t kVersion = 1;

// 64-bit FNV-1a over little-endian 8-byte words (the tail zero-padded): a change to any one
// word always changes the sum, since every step is a bijection of the state.
class Checksum {
 public:
  void Update(const char* data, size_t n) {
    while (n > 0) {
      const size_t take = std::min(n, size_t{8} - fill_);
      std::memcpy(word_ + fill_, data, take);
      fill_ += take;
      data += take;
      n -= take;
      if (fill_ == 8) Flush();
    }
  }
  uint64_t Finish() {
    if (fill_ > 0) {
      std::memset(word_ + fill_, 0, 8 - fill_);
      Flush();
    }
    return h_;
  }

 private:
  void Flush() {
    uint64_t w = 0;
    for (int i = 7; i >= 0; --i) w = (w << 8) | static_cast<unsigned char>(word_[i]);
    h_ = (h_ ^ w) * 0x100000001b3ULL;
    fill_ = 0;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
  char word_[8] = {};
  size_t fill_ = 0;
};

class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::FILE* f) : f_(f) {}
  void Bytes(const void* p, size_t n) {
    if (n == 0) return;
    sum_.Update(static_cast<const char*>(p), n);
    if (std::fwrite(p, 1, n, f_) != n) ok_ = false;
  }
  void U8(uint8_t v) { Bytes(&v, 1); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    Bytes(s.data(), s.size());
  }
  void Bitmap(const Roaring& r) {
    const size_t n = r.getSizeInBytes(/*portable=*/true);
    buf_.resize(n);
    r.write(buf_.data(), /*portable=*/true);
    U64(n);
    Bytes(buf_.data(), n);
  }
  void FinishWithChecksum() {
    uint64_t total = sum_.Finish();
    char out[8];
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(total >> (8 * i));
    if (std::fwrite(out, 1, 8, f_) != 8) ok_ = false;
  }
  bool ok() const { return ok_; }

 private:
  void Le(uint64_t v, int n) {
    char b[8];
    for (int i = 0; i < n; ++i) b[i] = static_cast<char>(v >> (8 * i));
    Bytes(b, n);
  }
  std::FILE* f_;
  Checksum sum_;
  std::vector<char> buf_;
  bool ok_ = true;
};

// Bounds-checked reading of a verified payload; any failure means the file is damaged.
class SnapshotReader {
 public:
  SnapshotReader(const char* p, size_t n) : p_(p), end_(p + n) {}
  bool U8(uint8_t* v) {
    uint64_t x;
    if (!Le(&x, 1)) return false;
    *v = static_cast<uint8_t>(x);
    return true;
  }
  bool U32(uint32_t* v) {
    uint64_t x;
    if (!Le(&x, 4)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool U64(uint64_t* v) { return Le(v, 8); }
  bool Str(std::string* s) {
    uint32_t n;
    if (!U32(&n) || Left() < n) return false;
    s->assign(p_, n);
    p_ += n;
    return true;
  }
  bool Bitmap(Roaring* r) {
    uint64_t n;
    if (!U64(&n) || Left() < n) return false;
    if (roaring_bitmap_portable_deserialize_size(p_, n) != n) return false;
    try {
      *r = Roaring::readSafe(p_, n);
    } catch (const std::exception&) {
      return false;
    }
    p_ += n;
    return true;
  }
  size_t Left() const { return static_cast<size_t>(end_ - p_); }

 private:
  bool Le(uint64_t* v, int n) {
    if (Left() < static_cast<size_t>(n)) return false;
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; --i) x = (x << 8) | static_cast<unsigned char>(p_[i]);
    p_ += n;
    *v = x;
    return true;
  }
  const char* p_;
  const char* end_;
};

void WriteContents(const Contents& c, SnapshotWriter& w) {
  w.Bitmap(c.live);
  w.U32(static_cast<uint32_t>(c.tags.size()));
  for (const auto& t : c.tags) {
    const TagDef& d = t->def();
    w.Str(d.key);
    w.Str(d.name_zh);
    w.Str(d.name_en);
    w.U8(static_cast<uint8_t>(d.category));
    w.U8(static_cast<uint8_t>(d.type));
    w.U8(static_cast<uint8_t>(d.source));
    w.U32(static_cast<uint32_t>(d.scale));
    w.U32(static_cast<uint32_t>(d.values.size()));
    for (const std::string& v : d.values) w.Str(v);
    w.Str(d.description);
    if (t->numeric()) {
      w.Bitmap(t->bsi().exists());
      w.U32(static_cast<uint32_t>(t->bsi().slices().size()));
      for (const Roaring& s : t->bsi().slices()) w.Bitmap(s);
    } else {
      w.Bitmap(t->exists());
      w.U32(static_cast<uint32_t>(t->names().size()));
      for (size_t i = 0; i < t->names().size(); ++i) {
        w.Str(t->names()[i]);
        w.Bitmap(t->bitmaps()[i]);
      }
    }
  }
}

bool ReadContents(SnapshotReader& r, Contents* c) {
  if (!r.Bitmap(&c->live)) return false;
  uint32_t n_tags;
  if (!r.U32(&n_tags)) return false;
  for (uint32_t i = 0; i < n_tags; ++i) {
    TagDef d;
    uint8_t category, type, source;
    uint32_t scale, n_values;
    if (!r.Str(&d.key) || !r.Str(&d.name_zh) || !r.Str(&d.name_en) || !r.U8(&category) ||
        !r.U8(&type) || !r.U8(&source) || !r.U32(&scale) || !r.U32(&n_values)) {
      return false;
    }
    if (category > static_cast<uint8_t>(TagCategory::kModel) ||
        type > static_cast<uint8_t>(TagType::kDate) ||
        source > static_cast<uint8_t>(TagSource::kModel) || n_values > r.Left()) {
      return false;
    }
    d.category = static_cast<TagCategory>(category);
    d.type = static_cast<TagType>(type);
    d.source = static_cast<TagSource>(source);
    d.scale = static_cast<int32_t>(scale);
    d.values.resize(n_values);
    for (std::string& v : d.values) {
      if (!r.Str(&v)) return false;
    }
    if (!r.Str(&d.description)) return false;
    if (!ValidateTagDef(d).ok() || c->Find(d.key) != nullptr) return false;
    TagIndex* t = c->Add(std::move(d));
    Roaring exists;
    uint32_t n;
    if (!r.Bitmap(&exists) || !exists.isSubset(c->live) || !r.U32(&n) || n > r.Left()) {
      return false;
    }
    std::vector<Roaring> bitmaps(n);
    std::vector<std::string> names(t->numeric() ? 0 : n);
    for (uint32_t k = 0; k < n; ++k) {
      if (!t->numeric() && !r.Str(&names[k])) return false;
      if (!r.Bitmap(&bitmaps[k])) return false;
    }
    const bool ok = t->numeric()
                        ? t->RestoreNumeric(std::move(exists), std::move(bitmaps))
                        : t->Restore(std::move(exists), std::move(names), std::move(bitmaps));
    if (!ok) return false;
  }
  return r.Left() == 0;
}

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(errno, fmt::format("{} {}", what, path));
}

}  // namespace

// ---- SegmentIndex -----------------------------------------------------------------------

struct SegmentIndex::State {
  // The only lock of the index; queries hold it shared, updates and Load exclusively.
  mutable absl::Mutex mu;
  Contents data ABSL_GUARDED_BY(mu);
};

SegmentIndex::SegmentIndex() : state_(std::make_unique<State>()) {}
SegmentIndex::~SegmentIndex() = default;

absl::Status SegmentIndex::DefineTag(const TagDef& def) {
  RETURN_IF_ERROR(ValidateTagDef(def));
  absl::MutexLock lock(&state_->mu);
  Contents& c = state_->data;
  TagIndex* t = c.Find(def.key);
  if (t == nullptr) {
    c.Add(def);
    return absl::OkStatus();
  }
  const TagDef& old = t->def();
  const bool reshaped =
      old.type != def.type || (def.type == TagType::kDecimal && old.scale != def.scale);
  if (!reshaped) {
    t->set_def(def);
    return absl::OkStatus();
  }
  if (!t->exists().isEmpty()) {
    return absl::FailedPreconditionError(
        fmt::format("tag '{}' holds values; its type ({}, scale {}) cannot change", def.key,
                    TagTypeName(old.type), old.scale));
  }
  *t = TagIndex(def);
  return absl::OkStatus();
}

std::optional<TagDef> SegmentIndex::FindTag(std::string_view key) const {
  absl::ReaderMutexLock lock(&state_->mu);
  const TagIndex* t = state_->data.Find(key);
  if (t == nullptr) return std::nullopt;
  return t->def();
}

std::vector<TagDef> SegmentIndex::Tags() const {
  absl::ReaderMutexLock lock(&state_->mu);
  std::vector<TagDef> out;
  for (const auto& t : state_->data.tags) out.push_back(t->def());
  return out;
}

absl::Status SegmentIndex::Apply(uint32_t uid, const TagChanges& changes) {
  absl::MutexLock lock(&state_->mu);
  KeyResolver keys(state_->data, nullptr);
  RETURN_IF_ERROR(CheckChanges(keys, changes));
  ApplyChanges(state_->data, keys, uid, changes);
  return absl::OkStatus();
}

absl::Status SegmentIndex::ApplyBatch(const std::vector<std::pair<uint32_t, TagChanges>>& batch,
                                      const std::vector<TagDef>* checked_against) {
  absl::MutexLock lock(&state_->mu);
  KeyResolver keys(state_->data, checked_against);
  if (AppendsNewUids(state_->data, batch)) return ApplyNewUids(state_->data, keys, batch);
  for (const auto& [uid, changes] : batch) {
    absl::Status s = CheckChanges(keys, changes);
    if (!s.ok()) return BatchEntryError(uid, s);
  }
  for (const auto& [uid, changes] : batch) ApplyChanges(state_->data, keys, uid, changes);
  return absl::OkStatus();
}

void SegmentIndex::Erase(uint32_t uid) {
  absl::MutexLock lock(&state_->mu);
  Contents& c = state_->data;
  if (!c.live.removeChecked(uid)) return;
  for (auto& t : c.tags) t->Remove(uid);
}

absl::StatusOr<Roaring> SegmentIndex::Evaluate(const Rule& rule) const {
  absl::ReaderMutexLock lock(&state_->mu);
  const Contents& c = state_->data;
  ASSIGN_OR_RETURN(Node root, Compiler(c).Compile(rule));
  EstimateRefiner(c.live).Refine(&root);
  return Matches(c.live, root);
}

absl::StatusOr<uint64_t> SegmentIndex::Count(const Rule& rule) const {
  absl::ReaderMutexLock lock(&state_->mu);
  const Contents& c = state_->data;
  ASSIGN_OR_RETURN(Node root, Compiler(c).Compile(rule));
  EstimateRefiner(c.live).Refine(&root);
  return CountMatches(c.live, root);
}

absl::StatusOr<std::vector<SegmentIndex::Bucket>> SegmentIndex::Breakdown(
    const Roaring& members, std::string_view tag_key,
    const std::vector<int64_t>& boundaries) const {
  absl::ReaderMutexLock lock(&state_->mu);
  const TagIndex* tag = state_->data.Find(tag_key);
  if (tag == nullptr) {
    return absl::InvalidArgumentError(fmt::format("field '{}': unknown tag", tag_key));
  }
  const TagDef& def = tag->def();
  std::vector<Bucket> out;
  if (!tag->numeric()) {
    if (!boundaries.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "field '{}': boundaries apply to numeric tags, not {}", tag_key, TagTypeName(def.type)));
    }
    // Catalog order first, then values outside the catalog in order of first appearance.
    std::vector<size_t> order;
    std::vector<bool> placed(tag->names().size(), false);
    auto place = [&](std::string_view name) {
      for (size_t i = 0; i < tag->names().size(); ++i) {
        if (!placed[i] && tag->names()[i] == name) {
          placed[i] = true;
          order.push_back(i);
        }
      }
    };
    for (const std::string& v : def.values) place(v);
    for (size_t i = 0; i < placed.size(); ++i) {
      if (!placed[i]) order.push_back(i);
    }
    for (size_t i : order) {
      const uint64_t n = members.and_cardinality(tag->bitmaps()[i]);
      if (n > 0) out.push_back({tag->names()[i], n});
    }
    const uint64_t none = members.andnot_cardinality(tag->exists());
    if (none > 0) out.push_back({std::string(kNoneLabel), none});
    return out;
  }

  const Bsi& bsi = tag->bsi();
  const Roaring base = members & bsi.exists();
  std::vector<int64_t> edges = boundaries;
  if (edges.empty()) {
    const std::optional<int64_t> lo = bsi.Min(base);
    const std::optional<int64_t> hi = bsi.Max(base);
    if (!lo.has_value()) return out;
    // Ten buckets of equal width covering [lo, hi]; fewer when the range is narrower.
    const __int128 span = static_cast<__int128>(*hi) - *lo + 1;
    const __int128 width = (span + 9) / 10;
    for (__int128 e = *lo; e <= static_cast<__int128>(*hi); e += width) {
      edges.push_back(static_cast<int64_t>(e));
    }
    const __int128 last = static_cast<__int128>(edges.back()) + width;
    // The top edge is exclusive; saturating at int64 max drops at most a value at the maximum,
    // which is then counted by an inclusive last bucket below.
    edges.push_back(last > kMaxValue ? kMaxValue : static_cast<int64_t>(last));
  } else {
    if (edges.size() < 2 || !std::is_sorted(edges.begin(), edges.end(), std::less_equal<>())) {
      return absl::InvalidArgumentError(fmt::format(
          "field '{}': boundaries must be two or more strictly increasing values", tag_key));
    }
  }
  // count(v < e) for every edge, then differences: one range walk per edge.
  std::vector<uint64_t> below(edges.size());
  for (size_t i = 0; i < edges.size(); ++i) {
    below[i] = edges[i] == kMinValue ? 0 : bsi.Range(kMinValue, edges[i] - 1, base).cardinality();
  }
  for (size_t i = 0; i + 1 < edges.size(); ++i) {
    uint64_t n = below[i + 1] - below[i];
    const bool open_top = boundaries.empty() && i + 2 == edges.size() && edges[i + 1] == kMaxValue;
    if (open_top) n = base.cardinality() - below[i];
    std::string label =
        fmt::format("{}-{}", FormatTagValue(def, TagValue(edges[i])),
                    FormatTagValue(def, TagValue(open_top ? edges[i + 1] : edges[i + 1] - 1)));
    out.push_back({std::move(label), n});
  }
  return out;
}

Roaring SegmentIndex::Live() const {
  absl::ReaderMutexLock lock(&state_->mu);
  return state_->data.live;
}

bool SegmentIndex::IsLive(uint32_t uid) const {
  absl::ReaderMutexLock lock(&state_->mu);
  return state_->data.live.contains(uid);
}

uint64_t SegmentIndex::LiveCount() const {
  absl::ReaderMutexLock lock(&state_->mu);
  return state_->data.live.cardinality();
}

size_t SegmentIndex::MemoryBytes() const {
  absl::ReaderMutexLock lock(&state_->mu);
  size_t total = BitmapMemoryBytes(state_->data.live);
  for (const auto& t : state_->data.tags) total += t->MemoryBytes();
  return total;
}

absl::Status SegmentIndex::Save(const std::string& path, uint64_t watermark) const {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return ErrnoError("cannot create", tmp);
  bool ok;
  {
    // Writers wait while the snapshot is written; queries go on.
    absl::ReaderMutexLock lock(&state_->mu);
    SnapshotWriter w(f);
    w.Bytes(kMagic, sizeof(kMagic));
    w.U32(kVersion);
    w.U64(watermark);
    WriteContents(state_->data, w);
    w.FinishWithChecksum();
    ok = w.ok();
  }
  ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int saved_errno = errno;
  if (std::fclose(f) != 0) ok = false;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) errno = saved_errno;
    absl::Status s = ErrnoError("cannot write snapshot", path);
    std::remove(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SegmentIndex::Load(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError(fmt::format("no snapshot at {}", path));
    return ErrnoError("cannot open", path);
  }
  std::string bytes;
  char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), f)) > 0) bytes.append(chunk, got);
  const bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (read_error) return ErrnoError("cannot read", path);
  const auto damaged = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("snapshot {} is damaged: {}", path, why));
  };
  constexpr size_t kHeader = sizeof(kMagic) + 4 + 8;
  if (bytes.size() < kHeader + 8) return damaged("too short");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return damaged("bad magic");
  const size_t body_end = bytes.size() - 8;
  Checksum sum;
  sum.Update(bytes.data(), body_end);
  SnapshotReader trailer(bytes.data() + body_end, 8);
  uint64_t stored_sum;
  trailer.U64(&stored_sum);
  if (sum.Finish() != stored_sum) return damaged("checksum mismatch");

  SnapshotReader r(bytes.data() + sizeof(kMagic), body_end - sizeof(kMagic));
  uint32_t version;
  uint64_t watermark;
  r.U32(&version);
  r.U64(&watermark);
  if (version != kVersion) {
    return absl::FailedPreconditionError(
        fmt::format("snapshot {} has version {}; this build reads {}", path, version, kVersion));
  }
  Contents fresh;
  if (!ReadContents(r, &fresh)) return damaged("inconsistent contents");
  {
    absl::MutexLock lock(&state_->mu);
    std::swap(state_->data, fresh);
  }
  return watermark;  // The old contents are freed here, outside the lock.
}

}  // namespace mercator
