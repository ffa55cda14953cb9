// The customer data model shared by storage, the importer, the segment engine and the API:
// tag definitions (the catalog) and tag values.
#ifndef MERCATOR_CUSTOMER_TAG_H_
#define MERCATOR_CUSTOMER_TAG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace mercator {

enum class TagType { kBool, kEnum, kMultiEnum, kInt, kDecimal, kDate };
enum class TagCategory { kBasic, kProduct, kPersona, kBehaviour, kLifecycle, kModel };
enum class TagSource { kImported, kRuleComputed, kModel };

// Wire names ("bool", "multi_enum", "behaviour", "rule_computed", ...). Parse* return
// InvalidArgument naming the accepted values.
std::string_view TagTypeName(TagType t);
std::string_view TagCategoryName(TagCategory c);
std::string_view TagSourceName(TagSource s);
absl::StatusOr<TagType> ParseTagType(std::string_view s);
absl::StatusOr<TagCategory> ParseTagCategory(std::string_view s);
absl::StatusOr<TagSource> ParseTagSource(std::string_view s);

// One entry of the tag catalog.
struct TagDef {
  std::string key;  // [a-z][a-z0-9_]{0,63}; the name used in rules.
  std::string name_zh;
  std::string name_en;
  TagCategory category = TagCategory::kBasic;
  TagType type = TagType::kEnum;
  TagSource source = TagSource::kImported;
  // kDecimal only: digits after the point kept in the stored integer. AUM in yuan with
  // scale 2 is stored in fen: 50000.00 -> 5000000.
  int32_t scale = 0;
  // kEnum / kMultiEnum: the allowed values, in display order. Empty means open (any value).
  std::vector<std::string> values;
  std::string description;

  bool operator==(const TagDef&) const = default;
};

// Checks key syntax, names and scale (0..6). Returns InvalidArgument naming the field.
absl::Status ValidateTagDef(const TagDef& def);

// A stored tag value:
//   kBool      -> bool
//   kEnum      -> std::string
//   kMultiEnum -> std::vector<std::string> (sorted, unique)
//   kInt       -> int64_t
//   kDecimal   -> int64_t, the value times 10^scale
//   kDate      -> int64_t, days since 1970-01-01
using TagValue = std::variant<bool, std::string, std::vector<std::string>, int64_t>;

// Tags of one customer, by key. A B-tree rather than std::map: a customer carries a few dozen
// tags and imports build millions of these, so one allocation per node of many entries
// instead of one per entry is what keeps bulk import fast. Same interface as std::map.
using TagMap = absl::btree_map<std::string, TagValue, std::less<>>;
// A change to a customer's tags: a value sets the tag, nullopt removes it.
using TagChanges = absl::btree_map<std::string, std::optional<TagValue>, std::less<>>;

// Parses the text form of a value for `def` ("true"/"false"/"1"/"0"/"yes"/"no"/"是"/"否";
// enum value; multi-enum values separated by '|' or ','; integer; decimal "50000.5" scaled
// exactly, no rounding; date "YYYY-MM-DD" or "YYYYMMDD"). Returns InvalidArgument with a
// reason such as "not a decimal with at most 2 places" or "value \"x\" is not one of ...".
absl::StatusOr<TagValue> ParseTagValue(const TagDef& def, std::string_view text);

// ParseTagValue for one tag, prepared for many values: enum membership is a hash lookup
// instead of a scan of the allowed values (a manager or branch tag lists hundreds).
// Immutable after construction; safe for concurrent use.
class TagValueParser {
 public:
  explicit TagValueParser(TagDef def);
  absl::StatusOr<TagValue> Parse(std::string_view text) const;
  // The same into `out`, reusing the strings and the vector of what it holds (an importer
  // overwrites the values of earlier rows). On error `out` is left unspecified.
  absl::Status ParseInto(std::string_view text, std::optional<TagValue>& out) const;
  // Parse's status without building the value (no strings allocated): an import's
  // validation pass.
  absl::Status Check(std::string_view text) const;
  const TagDef& def() const { return def_; }

 private:
  TagDef def_;
  absl::flat_hash_set<std::string> allowed_;  // empty: any value
};

// The text form of a value, which ParseTagValue accepts back: decimals with `scale` places
// ("50000.00"), dates "YYYY-MM-DD", multi-enum joined with '|'.
std::string FormatTagValue(const TagDef& def, const TagValue& value);

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d);

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_TAG_H_
