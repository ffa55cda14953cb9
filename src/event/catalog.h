// The event catalog: which event types Mercator accepts and the schema of each one's
// properties. An event of an unknown type, a missing required property, a property of the
// wrong type, an unknown property or a value out of range is rejected with the property named
// ("properties.amount: must be a positive amount in yuan with at most 2 decimals").
//
// The built-in catalog covers the mobile-banking events banks send (login, page_view,
// transfer, purchase, deposit_open, app_register, card_bind, feedback, ...) plus the internal
// events Mercator emits itself (lifecycle_changed), which clients may not send.
//
// Immutable after construction; safe for concurrent use.
#ifndef MERCATOR_EVENT_CATALOG_H_
#define MERCATOR_EVENT_CATALOG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "event/event.h"

namespace boost::json {
class object;
}  // namespace boost::json

namespace mercator::event {

enum class FieldType {
  kString,  // UTF-8 text, at most max_length bytes
  kInt,     // integer in [min, max]
  kMoney,   // yuan in the API ("100.50" or 100.5), int64 fen inside
  kDate,    // "YYYY-MM-DD" in the API, days since 1970-01-01 inside
  kBool,
  kEnum,  // one of `values`
};
std::string_view FieldTypeName(FieldType type);

struct FieldDef {
  std::string name;
  FieldType type = FieldType::kString;
  bool required = false;
  std::vector<std::string> values;  // kEnum
  int64_t min = INT64_MIN;          // kInt, kMoney (fen)
  int64_t max = INT64_MAX;
  size_t max_length = 256;  // kString
  std::string description;
};

struct EventType {
  std::string name;  // "purchase"
  std::string name_zh;
  std::string name_en;
  std::vector<FieldDef> fields;
  // The field whose sum per window is a behaviour feature ("amount"), or empty.
  std::string amount_field;
  bool internal = false;  // emitted by Mercator only; clients may not send it
  std::string description;
};

class Catalog {
 public:
  explicit Catalog(std::vector<EventType> types);
  // The built-in catalog (see the file comment).
  static const Catalog& Builtin();

  const EventType* Find(std::string_view name) const;
  const std::vector<EventType>& types() const { return types_; }

  // Parses the JSON properties of an event of `type` into typed values, checking the schema.
  // The error (InvalidArgument) names the property: "properties.amount: is required".
  // Money: a JSON number or string of yuan with at most 2 decimals ("100.50"); dates:
  // "YYYY-MM-DD".
  static absl::StatusOr<Properties> Parse(const EventType& type, const boost::json::object& json);

 private:
  std::vector<EventType> types_;
};

// The JSON form of a property value, as Parse accepts it back (money as "100.50", dates as
// "YYYY-MM-DD").
std::string FormatProperty(const FieldDef& field, const PropertyValue& value);

}  // namespace mercator::event

#endif  // MERCATOR_EVENT_CATALOG_H_
