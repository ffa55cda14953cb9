// Imports customers and their tags from a data-warehouse CSV export.
//
// By default the file is read twice. Pass 1 parses and validates every row (tag values with
// ParseTagValue against the mapping's TagDefs, ids with ValidateExternalId, an id repeated in
// the file) without applying anything. With ImportMode::kAllOrNothing any error stops there:
// nothing is applied and the report lists the errors. Otherwise pass 2 reads the file again
// and hands batches of CustomerUpsert to the sink, skipping the rows pass 1 rejected
// (ImportMode::kSkipBadRows). ImportPasses::kSinglePass validates and applies in one read
// (for kSkipBadRows only; it halves the work when partial imports are acceptable).
//
// The caller defines the mapping's catalog entries (ImportMapping::tags) before importing;
// the importer only uses them to parse values.
//
// Errors: row problems go into the report. The returned Status is not OK when the import
// could not run: the file or mapping cannot be used (NotFound, InvalidArgument: empty file,
// no header, a mapped column missing from the header, a duplicate header name), a read error,
// the sink failing (its status, with the count of rows already applied; those stay applied),
// or the file changing between passes (Aborted).
//
// An Importer may be used for several imports but not concurrently.
#ifndef MERCATOR_CUSTOMER_IMPORTER_H_
#define MERCATOR_CUSTOMER_IMPORTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "customer/csv_reader.h"
#include "customer/customer.h"
#include "customer/import_mapping.h"

namespace mercator {

// kValidateOnly runs the first pass alone: a dry run that reports what an import would do.
enum class ImportMode { kAllOrNothing, kSkipBadRows, kValidateOnly };
enum class ImportPasses { kValidateFirst, kSinglePass };

struct ImportError {
  int64_t line = 0;    // physical line of the record in the file
  std::string column;  // header name; empty for a problem with the whole row
  std::string reason;

  bool operator==(const ImportError&) const = default;
};

struct ImportProgress {
  int pass = 1;              // 1 = validating, 2 = applying (single pass: 1 and applying)
  int passes = 2;            // how many passes this import makes
  uint64_t bytes_done = 0;   // of this pass
  uint64_t bytes_total = 0;  // file size; 0 when unknown
  int64_t rows = 0;          // data rows read in this pass
};

struct ImportReport {
  int64_t rows_read = 0;                     // data rows in the file
  int64_t rows_applied = 0;                  // rows handed to the sink
  int64_t rows_rejected = 0;                 // rows with at least one error
  int64_t error_count = 0;                   // all errors, including those not kept in `errors`
  std::vector<ImportError> errors;           // the first ImportOptions::max_errors
  std::vector<std::string> ignored_columns;  // header columns the mapping does not use
  char separator = ',';
  CsvEncoding encoding = CsvEncoding::kAuto;  // kAuto: the file was pure ASCII
  int64_t elapsed_ms = 0;
  double rows_per_second = 0;  // rows_read per second over the whole import
};

// Receives each batch; may move from it. A non-OK status stops the import.
using UpsertSink = std::function<absl::Status(std::vector<CustomerUpsert>& batch)>;
using ImportProgressCallback = std::function<void(const ImportProgress&)>;

struct ImportOptions {
  ImportMode mode = ImportMode::kAllOrNothing;
  ImportPasses passes = ImportPasses::kValidateFirst;
  size_t batch_size = 10000;
  size_t max_errors = 1000;
  // Called at the start of each pass, every progress_every_rows rows and at its end.
  ImportProgressCallback progress;
  int64_t progress_every_rows = 65536;
  // Overrides of the mapping's csv settings (0 / kAuto: keep the mapping's).
  char separator = 0;
  CsvEncoding encoding = CsvEncoding::kAuto;
  size_t chunk_bytes = size_t{1} << 20;
  // Threads that parse and check rows (the calling thread reads the file and hands rows to
  // the sink); 0: one per core. The report does not depend on it.
  int threads = 0;
  // Rows handed to a parsing thread at a time.
  size_t rows_per_task = 1024;
};

class Importer {
 public:
  // `clock` measures elapsed time; not owned, must outlive the importer. The mapping must be
  // valid (ParseImportMapping / ValidateImportMapping); otherwise imports return its error.
  Importer(ImportMapping mapping, ImportOptions options, const Clock* clock);
  Importer(const Importer&) = delete;
  Importer& operator=(const Importer&) = delete;

  [[nodiscard]] absl::StatusOr<ImportReport> ImportFile(const std::string& path,
                                                        const UpsertSink& sink);
  // The same on data in memory (uploads, tests, fuzzing).
  [[nodiscard]] absl::StatusOr<ImportReport> ImportString(std::string_view data,
                                                          const UpsertSink& sink);

  // The definitions the sink's batches were checked against: every external id passed
  // ValidateExternalId and every tag value was parsed by TagValueParser for the definition
  // with its key (see BulkLoader::Push, which then skips checking them again).
  const std::shared_ptr<const std::vector<TagDef>>& validated_tags() const {
    return validated_tags_;
  }

 private:
  using OpenFn = std::function<absl::StatusOr<std::unique_ptr<CsvReader>>(const CsvOptions&)>;
  absl::StatusOr<ImportReport> Run(const OpenFn& open, const UpsertSink& sink);

  ImportMapping mapping_;
  ImportOptions options_;
  const Clock* clock_;
  // After mapping_, from which it is copied.
  std::shared_ptr<const std::vector<TagDef>> validated_tags_ =
      std::make_shared<const std::vector<TagDef>>(mapping_.tags);
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_IMPORTER_H_
