#include "customer/importer.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace mercator {

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

struct ColumnPlan {
  size_t index = 0;  // in the header
  const ColumnMapping* mapping = nullptr;
  const TagDef* def = nullptr;
  const TagValueParser* parser = nullptr;
  const std::vector<std::string>* null_tokens = nullptr;
};

// State of one import, shared by its passes.
class ImportRun {
 public:
  ImportRun(const ImportMapping& mapping, const ImportOptions& options, ImportReport& report)
      : m_(mapping), opts_(options), report_(report) {}

  // Resolves the mapping against the header and lists the ignored columns.
  absl::Status Plan(const CsvReader& reader) {
    if (!reader.header_error().empty()) {
      return absl::InvalidArgumentError(
          Cat("the header line is malformed: ", reader.header_error()));
    }
    const std::vector<std::string>& header = reader.header();
    header_ = header;
    absl::flat_hash_map<std::string_view, size_t> index;
    absl::flat_hash_set<std::string_view> duplicated;
    for (size_t i = 0; i < header.size(); ++i) {
      if (!index.emplace(header[i], i).second) duplicated.insert(header[i]);
    }
    std::vector<bool> used(header.size(), false);
    auto resolve = [&](const std::string& name, std::string_view member,
                       size_t& out) -> absl::Status {
      if (duplicated.contains(name)) {
        return absl::InvalidArgumentError(
            Cat(member, ": column \"", name, "\" appears more than once in the header"));
      }
      auto it = index.find(name);
      if (it == index.end()) {
        return absl::InvalidArgumentError(
            Cat(member, ": column \"", name, "\" is not in the CSV header"));
      }
      out = it->second;
      used[out] = true;
      return absl::OkStatus();
    };
    if (!m_.id_column.empty()) {
      RETURN_IF_ERROR(resolve(m_.id_column, "id.column", id_index_));
    } else {
      absl::StatusOr<IdTemplate> t = IdTemplate::Parse(m_.id_template);
      if (!t.ok()) return absl::InvalidArgumentError(Cat("id.template: ", t.status().message()));
      template_ = *std::move(t);
    }
    if (!m_.name_column.empty())
      RETURN_IF_ERROR(resolve(m_.name_column, "name_column", name_index_));
    if (!m_.phone_column.empty()) {
      RETURN_IF_ERROR(resolve(m_.phone_column, "phone_column", phone_index_));
    }
    if (!m_.id_number_column.empty()) {
      RETURN_IF_ERROR(resolve(m_.id_number_column, "id_number_column", id_number_index_));
    }
    absl::flat_hash_map<std::string_view, const TagDef*> defs;
    for (const TagDef& d : m_.tags) defs.emplace(d.key, &d);
    for (size_t i = 0; i < m_.columns.size(); ++i) {
      const ColumnMapping& c = m_.columns[i];
      ColumnPlan p;
      RETURN_IF_ERROR(resolve(c.column, Cat("columns[", i, "].column"), p.index));
      p.mapping = &c;
      auto d = defs.find(c.tag);
      if (d == defs.end()) {
        return absl::InvalidArgumentError(
            Cat("columns[", i, "].tag: \"", c.tag, "\" is not defined in \"tags\""));
      }
      p.def = d->second;
      p.parser = &parsers_.emplace_back(*d->second);
      p.null_tokens = c.null_tokens.has_value() ? &*c.null_tokens : &m_.null_tokens;
      plans_.push_back(p);
    }
    // In key order, so each tag is appended at the end of the upsert's map without compares.
    std::sort(plans_.begin(), plans_.end(),
              [](const ColumnPlan& a, const ColumnPlan& b) { return a.def->key < b.def->key; });
    report_.ignored_columns.clear();
    for (size_t i = 0; i < header.size(); ++i) {
      if (used[i]) continue;
      report_.ignored_columns.push_back(header[i].empty() ? Cat("(unnamed column ", i + 1, ")")
                                                          : header[i]);
    }
    return absl::OkStatus();
  }

  // One read of the file. `validating`: record errors and check duplicates (pass 1 or the
  // single pass). `sink` null: do not build upserts.
  absl::Status Scan(CsvReader& reader, int pass, int passes, const UpsertSink* sink) {
    const bool validating = pass == 1;
    CsvRow row;
    int64_t rows = 0;
    std::vector<CustomerUpsert> batch;
    if (sink != nullptr) batch.reserve(std::min<size_t>(opts_.batch_size, 1 << 16));
    ImportProgress progress{pass, passes, 0, reader.total_bytes(), 0};
    auto report_progress = [&] {
      if (!opts_.progress) return;
      progress.bytes_done = reader.bytes_consumed();
      progress.rows = rows;
      opts_.progress(progress);
    };
    for (;;) {
      ASSIGN_OR_RETURN(bool more, reader.Next(row));
      if (!more) break;
      ++rows;
      if (!validating && rejected_lines_.contains(row.line)) continue;
      CustomerUpsert* out = nullptr;
      if (sink != nullptr) out = &batch.emplace_back();
      const bool ok = ProcessRow(row, rows, validating, out);
      if (!ok) {
        if (out != nullptr) batch.pop_back();
        if (!validating) {
          return absl::AbortedError(
              Cat("line ", row.line,
                  " was valid in the first pass but not in the second: the file "
                  "changed during the import; ",
                  report_.rows_applied + batch.size(), " rows were applied"));
        }
        ++report_.rows_rejected;
        rejected_lines_.insert(row.line);
      }
      if (sink != nullptr && batch.size() >= opts_.batch_size) RETURN_IF_ERROR(Flush(*sink, batch));
      if (opts_.progress_every_rows > 0 && rows % opts_.progress_every_rows == 0) {
        report_progress();
      }
    }
    if (sink != nullptr && !batch.empty()) RETURN_IF_ERROR(Flush(*sink, batch));
    if (validating) {
      report_.rows_read = rows;
    } else if (rows != report_.rows_read) {
      return absl::AbortedError(Cat("the file changed during the import: ", rows,
                                    " rows in the second pass, ", report_.rows_read,
                                    " in the first; ", report_.rows_applied, " rows were applied"));
    }
    report_.separator = reader.separator();
    report_.encoding = reader.encoding();
    report_progress();
    return absl::OkStatus();
  }

 private:
  absl::Status Flush(const UpsertSink& sink, std::vector<CustomerUpsert>& batch) {
    const size_t n = batch.size();
    absl::Status st = sink(batch);
    if (!st.ok()) {
      return absl::Status(st.code(), Cat("the sink failed after ", report_.rows_applied,
                                         " rows were applied: ", st.message()));
    }
    report_.rows_applied += static_cast<int64_t>(n);
    batch.clear();
    return absl::OkStatus();
  }

  template <typename R>
  void AddError(int64_t line, std::string_view column, const R& reason) {
    ++report_.error_count;
    if (report_.errors.size() < opts_.max_errors) {
      report_.errors.push_back(ImportError{line, std::string(column), Cat(reason)});
    }
  }

  std::string_view Cell(const CsvRow& row, size_t i) const {
    std::string_view v = row.fields[i];
    if (!m_.trim_whitespace) return v;
    while (!v.empty() && absl::ascii_isspace(static_cast<unsigned char>(v.front()))) {
      v.remove_prefix(1);
    }
    while (!v.empty() && absl::ascii_isspace(static_cast<unsigned char>(v.back()))) {
      v.remove_suffix(1);
    }
    return v;
  }

  static bool IsNull(std::string_view v, const std::vector<std::string>& tokens) {
    for (const std::string& t : tokens) {
      if (v == t) return true;
    }
    return false;
  }

  // Validates one row and, when `out` is set, fills it. Returns false when the row has an
  // error; records the errors when `record`.
  bool ProcessRow(const CsvRow& row, int64_t row_number, bool record, CustomerUpsert* out) {
    int errors = 0;
    auto fail = [&](std::string_view column, const auto& reason) {
      ++errors;
      if (record) AddError(row.line, column, reason);
    };
    if (!row.error.empty()) {
      fail("", row.error);
      return false;
    }
    std::string_view id;
    std::string_view id_column = m_.id_column;
    if (id_index_ != kNone) {
      id = Cell(row, id_index_);
    } else {
      id_buf_.clear();
      template_->Format(row.line, row_number, id_buf_);
      id = id_buf_;
      id_column = "(id template)";
    }
    const bool id_ok = [&] {
      absl::Status st = ValidateExternalId(id);
      if (!st.ok()) fail(id_column, st.message());
      return st.ok();
    }();
    if (out != nullptr) out->external_id.assign(id);
    for (const ColumnPlan& p : plans_) {
      std::string_view v = Cell(row, p.index);
      if (IsNull(v, *p.null_tokens)) {
        if (out != nullptr) out->tags.emplace_hint(out->tags.end(), p.def->key, std::nullopt);
        continue;
      }
      if (!p.mapping->value_map.empty()) {
        auto it = p.mapping->value_map.find(absl::string_view(v.data(), v.size()));
        if (it != p.mapping->value_map.end()) v = it->second;
      }
      absl::StatusOr<TagValue> value = p.parser->Parse(v);
      if (!value.ok()) {
        fail(p.mapping->column, value.status().message());
      } else if (out != nullptr) {
        out->tags.emplace_hint(out->tags.end(), p.def->key, *std::move(value));
      }
    }
    if (name_index_ != kNone && out != nullptr) {
      std::string_view name = Cell(row, name_index_);
      if (!name.empty() && !IsNull(name, m_.null_tokens)) out->name.emplace(name);
    }
    // Personal data is checked like the API checks it; the reasons never quote the value.
    if (phone_index_ != kNone) {
      std::string_view phone = Cell(row, phone_index_);
      if (!phone.empty() && !IsNull(phone, m_.null_tokens)) {
        if (!ValidateMobilePhone(phone).ok()) {
          fail(m_.phone_column, "not a mainland mobile number");
        } else if (out != nullptr) {
          out->phone.emplace(phone);
        }
      }
    }
    if (id_number_index_ != kNone) {
      std::string_view id_number = Cell(row, id_number_index_);
      if (!id_number.empty() && !IsNull(id_number, m_.null_tokens)) {
        // A trailing 'x' becomes 'X' without a temporary string per row.
        char normalized[18];
        if (id_number.size() == sizeof normalized) {
          std::memcpy(normalized, id_number.data(), sizeof normalized);
          if (normalized[17] == 'x') normalized[17] = 'X';
          id_number = std::string_view(normalized, sizeof normalized);
        }
        if (!ValidateIdNumber(id_number).ok()) {
          fail(m_.id_number_column, "not a valid ID number (GB 11643)");
        } else if (out != nullptr) {
          out->id_number.emplace(id_number);
        }
      }
    }
    // Only a row that is otherwise valid claims its id, so a rejected row does not make a
    // later good row with the same id a duplicate.
    if (record && id_ok && errors == 0) {
      auto [it, inserted] = seen_ids_.try_emplace(std::string(id), row.line);
      if (!inserted) {
        fail(id_column, Cat("duplicate id \"", id, "\" (first on line ", it->second, ")"));
      }
    }
    return errors == 0;
  }

  const ImportMapping& m_;
  const ImportOptions& opts_;
  ImportReport& report_;
  std::vector<std::string> header_;
  std::deque<TagValueParser> parsers_;  // stable addresses for plans_
  std::vector<ColumnPlan> plans_;
  size_t id_index_ = kNone;
  size_t name_index_ = kNone;
  size_t phone_index_ = kNone;
  size_t id_number_index_ = kNone;
  std::optional<IdTemplate> template_;
  std::string id_buf_;
  absl::flat_hash_map<std::string, int64_t> seen_ids_;
  absl::flat_hash_set<int64_t> rejected_lines_;
};

}  // namespace

Importer::Importer(ImportMapping mapping, ImportOptions options, const Clock* clock)
    : mapping_(std::move(mapping)), options_(std::move(options)), clock_(clock) {}

absl::StatusOr<ImportReport> Importer::ImportFile(const std::string& path, const UpsertSink& sink) {
  return Run([&path](const CsvOptions& o) { return CsvReader::Open(path, o); }, sink);
}

absl::StatusOr<ImportReport> Importer::ImportString(std::string_view data, const UpsertSink& sink) {
  return Run([data](const CsvOptions& o) { return CsvReader::FromString(data, o); }, sink);
}

absl::StatusOr<ImportReport> Importer::Run(const OpenFn& open, const UpsertSink& sink) {
  const int64_t start_ms = clock_->NowMs();
  RETURN_IF_ERROR(ValidateImportMapping(mapping_));
  if (options_.batch_size == 0) return absl::InvalidArgumentError("batch_size must be positive");
  const bool single = options_.passes == ImportPasses::kSinglePass;
  if (single && options_.mode != ImportMode::kSkipBadRows) {
    return absl::InvalidArgumentError(
        "all-or-nothing imports validate the whole file before applying; use two passes");
  }
  CsvOptions csv;
  csv.separator = options_.separator != 0 ? options_.separator : mapping_.separator;
  csv.encoding = options_.encoding != CsvEncoding::kAuto ? options_.encoding : mapping_.encoding;
  csv.chunk_bytes = options_.chunk_bytes;

  ImportReport report;
  ImportRun run(mapping_, options_, report);
  ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, open(csv));
  RETURN_IF_ERROR(run.Plan(*reader));
  if (single) {
    RETURN_IF_ERROR(run.Scan(*reader, 1, 1, &sink));
  } else {
    const uint64_t size = reader->total_bytes();
    RETURN_IF_ERROR(run.Scan(*reader, 1, 2, nullptr));
    reader.reset();
    const bool apply = options_.mode == ImportMode::kSkipBadRows ||
                       (options_.mode == ImportMode::kAllOrNothing && report.error_count == 0);
    if (apply && report.rows_rejected < report.rows_read) {
      ASSIGN_OR_RETURN(reader, open(csv));
      if (reader->total_bytes() != size) {
        return absl::AbortedError("the file changed between the validation and the import");
      }
      RETURN_IF_ERROR(run.Scan(*reader, 2, 2, &sink));
    }
  }
  report.elapsed_ms = clock_->NowMs() - start_ms;
  if (report.elapsed_ms > 0) {
    report.rows_per_second =
        static_cast<double>(report.rows_read) * 1000.0 / static_cast<double>(report.elapsed_ms);
  }
  return report;
}

}  // namespace mercator
