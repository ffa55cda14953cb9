// Fuzz target for the customer CSV reader and importer (customer/csv_reader.h, importer.h).
//
// The first input byte picks the reader options (separator, encoding, a tiny chunk size so
// records straddle chunk boundaries); the rest is the file. Invariants checked: reading ends
// without crashing, lines never go backwards, well-formed records have the header's field
// count, bytes consumed never exceed the input, and an import accounts for every row.
//
// With clang and MERCATOR_FUZZ=ON it links libFuzzer; otherwise (replay_main.cc) it is
// a plain program that replays the files named on its command line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "customer/csv_reader.h"
#include "customer/importer.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "csv_fuzz: %s\n", what);
  std::abort();
}

const mercator::ImportMapping& Mapping() {
  static const mercator::ImportMapping* m = [] {
    absl::StatusOr<mercator::ImportMapping> parsed = mercator::ParseImportMapping(R"({
      "id": {"template": "F{line:06}"},
      "null_tokens": ["", "unknown"],
      "tags": [{"key": "a", "name_en": "A", "type": "int"},
               {"key": "b", "name_en": "B", "type": "enum"},
               {"key": "c", "name_en": "C", "type": "decimal", "scale": 2}],
      "columns": [{"column": "a", "tag": "a"}, {"column": "b", "tag": "b"},
                  {"column": "c", "tag": "c", "value_map": {"x": "1.5"}}]
    })");
    Check(parsed.ok(), "the fuzz mapping does not parse");
    return new mercator::ImportMapping(*std::move(parsed));
  }();
  return *m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  static constexpr char kSeparators[] = {0, ',', ';', '\t'};
  static constexpr mercator::CsvEncoding kEncodings[] = {
      mercator::CsvEncoding::kAuto, mercator::CsvEncoding::kUtf8, mercator::CsvEncoding::kGb18030,
      mercator::CsvEncoding::kAuto};
  mercator::CsvOptions options;
  options.separator = kSeparators[flags & 3];
  options.encoding = kEncodings[(flags >> 2) & 3];
  options.chunk_bytes = (flags & 0x10) ? 1 + (flags >> 5) : 4096;
  options.max_record_bytes = 1 << 16;

  absl::StatusOr<std::unique_ptr<mercator::CsvReader>> reader =
      mercator::CsvReader::FromString(input, options);
  if (reader.ok()) {
    mercator::CsvReader& r = **reader;
    const size_t columns = r.header().size();
    int64_t last_line = 0;
    mercator::CsvRow row;
    for (;;) {
      absl::StatusOr<bool> more = r.Next(row);
      if (!more.ok() || !*more) break;
      Check(row.line > last_line, "line numbers must increase");
      last_line = row.line;
      if (row.error.empty()) Check(row.fields.size() == columns, "field count");
      Check(r.bytes_consumed() <= input.size(), "bytes consumed beyond the input");
    }
  }

  mercator::FakeClock clock(0);
  mercator::ImportOptions io;
  io.mode = mercator::ImportMode::kSkipBadRows;
  io.passes =
      (flags & 0x80) ? mercator::ImportPasses::kSinglePass : mercator::ImportPasses::kValidateFirst;
  io.separator = options.separator;
  io.encoding = options.encoding;
  io.chunk_bytes = options.chunk_bytes;
  io.batch_size = 3;
  mercator::Importer importer(Mapping(), io, &clock);
  int64_t received = 0;
  absl::StatusOr<mercator::ImportReport> report =
      importer.ImportString(input, [&](std::vector<mercator::CustomerUpsert>& batch) {
        received += static_cast<int64_t>(batch.size());
        return absl::OkStatus();
      });
  if (report.ok()) {
    Check(report->rows_applied == received, "rows applied vs rows received");
    Check(report->rows_applied + report->rows_rejected == report->rows_read, "row accounting");
    Check(report->error_count >= report->rows_rejected, "error count");
  }
  return 0;
}
