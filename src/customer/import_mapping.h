// How the columns of a data-warehouse CSV export become customers and tags.
//
// A mapping is a JSON document:
//
//   {
//     "description": "free text",
//     "csv": {"separator": ";", "encoding": "auto"},      // optional; default: detect both
//     "id": {"column": "cif_no"},                          // or {"template": "UCI{line:06}"}
//     "name_column": "name", "phone_column": "mobile",     // optional, personal data:
//     "id_number_column": "id_card",                       // stored encrypted
//     "null_tokens": ["", "NA"],                           // optional default for all columns
//     "trim_whitespace": true,                             // optional, default true
//     "tags": [ {"key": "age", "name_zh": "年龄", "name_en": "Age", "category": "basic",
//                "type": "int", "source": "imported", "scale": 0, "values": [],
//                "description": ""} ],
//     "columns": [ {"column": "age", "tag": "age"},
//                  {"column": "y", "tag": "subscribed", "null_tokens": ["unknown"],
//                   "value_map": {"yes": "true", "no": "false"}} ]
//   }
//
// "tags" are the catalog entries the caller defines before importing; every column's "tag"
// must be one of them. A cell equal to one of the column's null tokens (its own list, else
// the top-level one, else none) removes the tag (absent). Otherwise the cell is replaced by
// its value_map entry, if any, and parsed with ParseTagValue. Id templates contain literal
// text and the placeholders {line} (physical line of the record) and {row} (1-based data row),
// optionally zero-padded: {line:06}. Header columns that no entry uses are reported as ignored
// by the importer.
#ifndef MERCATOR_CUSTOMER_IMPORT_MAPPING_H_
#define MERCATOR_CUSTOMER_IMPORT_MAPPING_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "customer/csv_reader.h"
#include "customer/tag.h"

namespace mercator {

struct ColumnMapping {
  std::string column;  // header name in the CSV
  std::string tag;     // key of one of ImportMapping::tags
  // nullopt: use ImportMapping::null_tokens.
  std::optional<std::vector<std::string>> null_tokens;
  absl::flat_hash_map<std::string, std::string> value_map;
};

struct ImportMapping {
  std::string description;
  // Forced CSV settings; 0 / kAuto detect.
  char separator = 0;
  CsvEncoding encoding = CsvEncoding::kAuto;
  // Exactly one of id_column and id_template is set.
  std::string id_column;
  std::string id_template;
  std::string name_column;       // optional
  std::string phone_column;      // optional
  std::string id_number_column;  // optional: 居民身份证号
  std::vector<std::string> null_tokens;
  bool trim_whitespace = true;
  std::vector<TagDef> tags;
  std::vector<ColumnMapping> columns;
};

// Parses and validates a mapping. Errors are InvalidArgument naming the JSON member, such as
// "columns[3].value_map.yes: must be a string" or "tags[0].type: ...".
absl::StatusOr<ImportMapping> ParseImportMapping(std::string_view json);
// Reads the file and parses it; NotFound when it cannot be read.
absl::StatusOr<ImportMapping> LoadImportMapping(const std::string& path);

// Checks a mapping built in code the same way ParseImportMapping does: one id source, a valid
// template, valid TagDefs with unique keys, every column's tag defined, no column used twice.
absl::Status ValidateImportMapping(const ImportMapping& mapping);

// A compiled id template.
class IdTemplate {
 public:
  // InvalidArgument for an unknown placeholder, a bad width or an unbalanced brace.
  static absl::StatusOr<IdTemplate> Parse(std::string_view text);
  // Appends the id of the record on physical line `line`, data row `row` to `out`.
  void Format(int64_t line, int64_t row, std::string& out) const;

 private:
  struct Part {
    std::string literal;
    enum class Kind { kLiteral, kLine, kRow } kind = Kind::kLiteral;
    int width = 0;
  };
  std::vector<Part> parts_;
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_IMPORT_MAPPING_H_
