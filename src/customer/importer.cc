#include "customer/importer.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "customer/batch_pipeline.h"
#include "customer/internal/id_set.h"
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
  //
  // This thread reads records and copies them into chunks; worker threads parse and check
  // the chunks' rows (ProcessRow); this thread then takes the chunks back in file order to
  // record their errors, check ids for duplicates and hand the rows to the sink. So the report
  // is the same whatever the number of threads.
  absl::Status Scan(CsvReader& reader, int pass, int passes, const UpsertSink* sink) {
    const bool validating = pass == 1;
    int64_t rows = 0;  // consumed so far
    std::vector<CustomerUpsert> batch;
    if (sink != nullptr) batch.reserve(std::min<size_t>(opts_.batch_size, 1 << 16));
    ImportProgress progress{pass, passes, 0, reader.total_bytes(), 0};
    auto report_progress = [&](uint64_t bytes) {
      if (!opts_.progress) return;
      progress.bytes_done = bytes;
      progress.rows = rows;
      opts_.progress(progress);
    };
    const int threads =
        opts_.threads > 0
            ? opts_.threads
            : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
    const size_t rows_per_chunk = std::max<size_t>(opts_.rows_per_task, 1);
    const bool build = sink != nullptr;
    ParallelOrderedWork<std::unique_ptr<RowChunk>> work(
        [&](std::unique_ptr<RowChunk>& c) { ProcessChunk(*c, validating, build); }, threads);
    std::vector<std::unique_ptr<RowChunk>> spare;

    // Records a chunk's outcome in file order.
    auto consume = [&](RowChunk& c) -> absl::Status {
      for (size_t i = 0; i < c.rows.size(); ++i) {
        RowChunk::Row& r = c.rows[i];
        ++rows;
        if (r.skipped) continue;
        bool ok = r.ok;
        if (validating) {
          for (uint32_t e = r.first_error; e < r.end_error; ++e) AddError(std::move(c.errors[e]));
          // Only a row that is otherwise valid claims its id, so a rejected row does not
          // make a later good row with the same id a duplicate.
          if (ok) {
            const std::string_view id(c.ids.data() + r.id_begin, r.id_end - r.id_begin);
            if (const int64_t first = seen_ids_.Claim(id, r.id_hash, r.line); first != 0) {
              AddError(ImportError{r.line, std::string(IdColumn()),
                                   Cat("duplicate id \"", id, "\" (first on line ", first, ")")});
              ok = false;
            }
          }
        }
        if (!ok) {
          if (!validating) {
            return absl::AbortedError(
                Cat("line ", r.line,
                    " was valid in the first pass but not in the second: the file "
                    "changed during the import; ",
                    report_.rows_applied + batch.size(), " rows were applied"));
          }
          ++report_.rows_rejected;
          rejected_lines_.insert(r.line);
        } else if (sink != nullptr) {
          batch.push_back(std::move(c.upserts[r.upsert]));
          // Give the chunk an upsert the sink handed back, whose memory its next row reuses.
          if (!spare_.empty()) {
            c.upserts[r.upsert] = std::move(spare_.back());
            spare_.pop_back();
          }
          if (batch.size() >= opts_.batch_size) RETURN_IF_ERROR(Flush(*sink, batch));
        }
        if (opts_.progress_every_rows > 0 && rows % opts_.progress_every_rows == 0) {
          report_progress(c.bytes_before +
                          (c.bytes_after - c.bytes_before) * (i + 1) / c.rows.size());
        }
      }
      return absl::OkStatus();
    };
    auto consume_oldest = [&]() -> absl::Status {
      std::unique_ptr<RowChunk> done;
      work.Pop(done);
      RETURN_IF_ERROR(consume(*done));
      done->Clear();
      spare.push_back(std::move(done));
      return absl::OkStatus();
    };

    // At the start of the pass too, so that a caller can time each pass.
    report_progress(reader.bytes_consumed());
    CsvRow row;
    int64_t read = 0;
    bool more = true;
    while (more) {
      std::unique_ptr<RowChunk> c;
      if (spare.empty()) {
        c = std::make_unique<RowChunk>();
      } else {
        c = std::move(spare.back());
        spare.pop_back();
      }
      c->bytes_before = reader.bytes_consumed();
      while (c->rows.size() < rows_per_chunk && c->text.size() < kChunkTextBytes) {
        ASSIGN_OR_RETURN(more, reader.Next(row));
        if (!more) break;
        c->Add(row, ++read);
      }
      c->bytes_after = reader.bytes_consumed();
      if (c->rows.empty()) break;
      if (validating && read == static_cast<int64_t>(c->rows.size()) && reader.total_bytes() > 0 &&
          c->bytes_after > c->bytes_before) {
        // Room for the ids of the whole file, as estimated from the first rows: growing the
        // set step by step rehashes it many times.
        const double per_row = static_cast<double>(c->bytes_after - c->bytes_before) /
                               static_cast<double>(c->rows.size());
        seen_ids_.Reserve(static_cast<size_t>(
            std::min(1.1 * static_cast<double>(reader.total_bytes()) / per_row, 1e8)));
      }
      work.Push(c);
      // Enough chunks in flight to keep every worker busy while this thread reads.
      while (work.pending() > static_cast<size_t>(2 * threads)) RETURN_IF_ERROR(consume_oldest());
    }
    while (work.pending() > 0) RETURN_IF_ERROR(consume_oldest());

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
    report_progress(reader.bytes_consumed());
    return absl::OkStatus();
  }

 private:
  // Text of a chunk beyond which no more rows are added (besides the row count).
  static constexpr size_t kChunkTextBytes = size_t{4} << 20;

  // Rows copied out of the reader's buffer for a worker, and what the worker made of them.
  struct RowChunk {
    struct Row {
      int64_t line = 0;
      int64_t number = 0;      // data row number in the file, from 1
      size_t first_field = 0;  // in field_ends; fields begin where the previous one ends
      size_t field_count = 0;
      size_t text_begin = 0;  // in text
      std::string error;      // CsvRow::error
      // Set by the worker:
      bool ok = false;
      bool skipped = false;                     // rejected in pass 1 (pass 2 skips it)
      uint32_t first_error = 0, end_error = 0;  // in errors
      size_t id_begin = 0, id_end = 0;          // in ids
      uint64_t id_hash = 0;                     // IdSet::Hash of the id
      size_t upsert = 0;                        // in upserts, when ok and building
    };
    std::vector<Row> rows;
    std::string text;
    std::vector<size_t> field_ends;              // in text
    uint64_t bytes_before = 0, bytes_after = 0;  // reader position around the chunk
    // Worker output.
    std::vector<ImportError> errors;
    std::string ids;
    std::vector<CustomerUpsert> upserts;

    void Add(const CsvRow& r, int64_t number) {
      Row& row = rows.emplace_back();
      row.line = r.line;
      row.number = number;
      row.first_field = field_ends.size();
      row.text_begin = text.size();
      if (!r.error.empty()) {
        row.error = r.error;
        return;
      }
      row.field_count = r.fields.size();
      for (std::string_view f : r.fields) {
        text.append(f);
        field_ends.push_back(text.size());
      }
    }
    void Clear() {
      rows.clear();
      text.clear();
      field_ends.clear();
      errors.clear();
      ids.clear();
    }
  };

  // A row of a chunk as ProcessRow sees it.
  struct RowView {
    int64_t line = 0;
    int64_t number = 0;
    std::string_view error;
    const std::string_view* fields = nullptr;
  };

  std::string_view IdColumn() const {
    return id_index_ != kNone ? std::string_view(m_.id_column) : "(id template)";
  }

  // Parses and checks the rows of `c` (on a worker thread: reads only state that does not
  // change during a pass).
  void ProcessChunk(RowChunk& c, bool validating, bool build) const {
    std::vector<std::string_view> fields;
    std::string id_buf;
    size_t built = 0;
    if (build) {
      // The chunk keeps its upserts from one use to the next; ProcessRow overwrites them.
      if (c.upserts.size() < c.rows.size()) c.upserts.resize(c.rows.size());
    }
    for (RowChunk::Row& r : c.rows) {
      r.first_error = r.end_error = static_cast<uint32_t>(c.errors.size());
      if (!validating && rejected_lines_.contains(r.line)) {
        r.skipped = true;
        continue;
      }
      fields.clear();
      if (r.error.empty()) {
        size_t begin = r.text_begin;
        for (size_t f = r.first_field; f < r.first_field + r.field_count; ++f) {
          fields.emplace_back(c.text.data() + begin, c.field_ends[f] - begin);
          begin = c.field_ends[f];
        }
      }
      RowView view{r.line, r.number, r.error, fields.data()};
      CustomerUpsert* out = nullptr;
      if (build) {
        out = &c.upserts[built];
      }
      std::string_view id;
      r.ok = ProcessRow(view, validating ? &c.errors : nullptr, out, id_buf, id);
      r.end_error = static_cast<uint32_t>(c.errors.size());
      if (r.ok) {
        r.id_begin = c.ids.size();
        c.ids.append(id);
        r.id_end = c.ids.size();
        if (validating) r.id_hash = import_internal::IdSet::Hash(id);
        if (build) r.upsert = built++;
      }
    }
  }

  absl::Status Flush(const UpsertSink& sink, std::vector<CustomerUpsert>& batch) {
    const size_t n = batch.size();
    absl::Status st = sink(batch);
    if (!st.ok()) {
      return absl::Status(st.code(), Cat("the sink failed after ", report_.rows_applied,
                                         " rows were applied: ", st.message()));
    }
    report_.rows_applied += static_cast<int64_t>(n);
    // What the sink left in the batch (upserts it did not move from, or ones it hands back
    // for reuse: BulkLoader does) keeps its memory for later rows.
    for (CustomerUpsert& u : batch) {
      if (spare_.size() >= 2 * opts_.batch_size) break;
      spare_.push_back(std::move(u));
    }
    batch.clear();
    return absl::OkStatus();
  }

  void AddError(ImportError error) {
    ++report_.error_count;
    if (report_.errors.size() < opts_.max_errors) report_.errors.push_back(std::move(error));
  }

  std::string_view Cell(const RowView& row, size_t i) const {
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

  // Sets `field` to `v`, reusing its string; nullopt when `v` is absent.
  static void SetOptional(std::optional<std::string>& field, std::optional<std::string_view> v) {
    if (!v.has_value()) {
      field.reset();
    } else if (field.has_value()) {
      field->assign(*v);
    } else {
      field.emplace(*v);
    }
  }

  // Whether `tags` holds exactly the plan's keys (in key order, as the plan is sorted).
  bool HasPlanKeys(const TagChanges& tags) const {
    if (tags.size() != plans_.size()) return false;
    auto it = tags.begin();
    for (const ColumnPlan& p : plans_) {
      if ((it++)->first != p.def->key) return false;
    }
    return true;
  }

  static bool IsNull(std::string_view v, const std::vector<std::string>& tokens) {
    for (const std::string& t : tokens) {
      if (v == t) return true;
    }
    return false;
  }

  // Validates one row and, when `out` is set, fills it. Returns false when the row has an
  // error; appends the errors to `errors` when set. Sets `id` to the row's external id (valid
  // until id_buf changes). Thread-safe: reads only state fixed during a pass.
  bool ProcessRow(const RowView& row, std::vector<ImportError>* errors, CustomerUpsert* out,
                  std::string& id_buf, std::string_view& id) const {
    int failures = 0;
    auto fail = [&](std::string_view column, const auto& reason) {
      ++failures;
      if (errors != nullptr)
        errors->push_back(ImportError{row.line, std::string(column), Cat(reason)});
    };
    if (!row.error.empty()) {
      fail("", row.error);
      return false;
    }
    std::string_view id_column = m_.id_column;
    if (id_index_ != kNone) {
      id = Cell(row, id_index_);
    } else {
      id_buf.clear();
      template_->Format(row.line, row.number, id_buf);
      id = id_buf;
      id_column = "(id template)";
    }
    if (absl::Status st = ValidateExternalId(id); !st.ok()) fail(id_column, st.message());
    // An upsert used before (a chunk's, or one the sink handed back) is overwritten; when its
    // tags are the plan's keys, their map nodes and strings are reused instead of rebuilt.
    TagChanges::iterator reuse;
    bool reusing = false;
    if (out != nullptr) {
      out->external_id.assign(id);
      SetOptional(out->name, {});
      SetOptional(out->phone, {});
      SetOptional(out->id_number, {});
      reusing = HasPlanKeys(out->tags);
      if (reusing) {
        reuse = out->tags.begin();
      } else {
        out->tags.clear();
      }
    }
    // Sets the current plan's tag of `out` to `value` (nullopt: removed).
    auto put = [&](const ColumnPlan& p, std::optional<TagValue> value) {
      if (reusing) {
        (reuse++)->second = std::move(value);
      } else {
        out->tags.emplace_hint(out->tags.end(), p.def->key, std::move(value));
      }
    };
    for (const ColumnPlan& p : plans_) {
      std::string_view v = Cell(row, p.index);
      if (IsNull(v, *p.null_tokens)) {
        if (out != nullptr) put(p, std::nullopt);
        continue;
      }
      if (!p.mapping->value_map.empty()) {
        auto it = p.mapping->value_map.find(absl::string_view(v.data(), v.size()));
        if (it != p.mapping->value_map.end()) v = it->second;
      }
      if (out == nullptr) {
        // Validating only: the check without building the value.
        if (absl::Status st = p.parser->Check(v); !st.ok()) fail(p.mapping->column, st.message());
        continue;
      }
      if (reusing) {
        // In place: a multi-enum keeps its vector and strings from the earlier row.
        std::optional<TagValue>& slot = (reuse++)->second;
        if (absl::Status st = p.parser->ParseInto(v, slot); !st.ok()) {
          fail(p.mapping->column, st.message());
          slot.reset();  // the row is rejected; keep the keys
        }
        continue;
      }
      absl::StatusOr<TagValue> value = p.parser->Parse(v);
      if (!value.ok()) {
        fail(p.mapping->column, value.status().message());
        if (out != nullptr) put(p, std::nullopt);  // the row is rejected; keep the keys
      } else if (out != nullptr) {
        put(p, *std::move(value));
      }
    }
    if (name_index_ != kNone && out != nullptr) {
      std::string_view name = Cell(row, name_index_);
      if (!name.empty() && !IsNull(name, m_.null_tokens)) SetOptional(out->name, name);
    }
    // Personal data is checked like the API checks it; the reasons never quote the value.
    if (phone_index_ != kNone) {
      std::string_view phone = Cell(row, phone_index_);
      if (!phone.empty() && !IsNull(phone, m_.null_tokens)) {
        if (!ValidateMobilePhone(phone).ok()) {
          fail(m_.phone_column, "not a mainland mobile number");
        } else if (out != nullptr) {
          SetOptional(out->phone, phone);
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
          SetOptional(out->id_number, id_number);
        }
      }
    }
    return failures == 0;
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
  import_internal::IdSet seen_ids_;
  // Upserts the sink handed back, reused for later rows (on the consuming thread).
  std::vector<CustomerUpsert> spare_;
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
