#include "customer/import_mapping.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "boost/json.hpp"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace mercator {

namespace {

namespace json = boost::json;

template <typename W>
absl::Status Bad(std::string_view member, const W& what) {
  return absl::InvalidArgumentError(Cat(member, ": ", what));
}

absl::StatusOr<std::string> GetString(const json::value& v, std::string_view member) {
  const json::string* s = v.if_string();
  if (s == nullptr) return Bad(member, "must be a string");
  return std::string(s->data(), s->size());
}

absl::StatusOr<std::vector<std::string>> GetStrings(const json::value& v, std::string_view member) {
  const json::array* a = v.if_array();
  if (a == nullptr) return Bad(member, "must be an array of strings");
  std::vector<std::string> out;
  out.reserve(a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    ASSIGN_OR_RETURN(std::string s, GetString((*a)[i], Cat(member, "[", i, "]")));
    out.push_back(std::move(s));
  }
  return out;
}

// Rejects members not in `known`, so a typo ("null_token") is not silently ignored.
absl::Status CheckMembers(const json::object& o, std::string_view where,
                          std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool found = false;
    for (std::string_view k : known) found = found || kv.key() == k;
    if (!found) {
      return Bad(where.empty() ? std::string(kv.key()) : Cat(where, ".", kv.key()),
                 "unknown member");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TagDef> ParseTagDef(const json::value& v, const std::string& at) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad(at, "must be an object");
  RETURN_IF_ERROR(CheckMembers(*o, at,
                               {"key", "name_zh", "name_en", "category", "type", "source", "scale",
                                "values", "description"}));
  TagDef def;
  auto str = [&](std::string_view name, std::string& out, bool required) -> absl::Status {
    const json::value* m = o->if_contains(name);
    if (m == nullptr) {
      return required ? Bad(Cat(at, ".", name), "is required") : absl::OkStatus();
    }
    ASSIGN_OR_RETURN(out, GetString(*m, Cat(at, ".", name)));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(str("key", def.key, true));
  RETURN_IF_ERROR(str("name_zh", def.name_zh, false));
  RETURN_IF_ERROR(str("name_en", def.name_en, false));
  RETURN_IF_ERROR(str("description", def.description, false));
  std::string text;
  RETURN_IF_ERROR(str("type", text, true));
  absl::StatusOr<TagType> type = ParseTagType(text);
  if (!type.ok()) return Bad(Cat(at, ".type"), type.status().message());
  def.type = *type;
  if (o->contains("category")) {
    RETURN_IF_ERROR(str("category", text, true));
    absl::StatusOr<TagCategory> c = ParseTagCategory(text);
    if (!c.ok()) return Bad(Cat(at, ".category"), c.status().message());
    def.category = *c;
  }
  if (o->contains("source")) {
    RETURN_IF_ERROR(str("source", text, true));
    absl::StatusOr<TagSource> s = ParseTagSource(text);
    if (!s.ok()) return Bad(Cat(at, ".source"), s.status().message());
    def.source = *s;
  }
  if (const json::value* m = o->if_contains("scale")) {
    const int64_t* n = m->if_int64();
    if (n == nullptr || *n < 0 || *n > 6) return Bad(Cat(at, ".scale"), "must be 0..6");
    def.scale = static_cast<int32_t>(*n);
  }
  if (const json::value* m = o->if_contains("values")) {
    ASSIGN_OR_RETURN(def.values, GetStrings(*m, Cat(at, ".values")));
  }
  return def;
}

absl::StatusOr<ColumnMapping> ParseColumn(const json::value& v, const std::string& at) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad(at, "must be an object");
  RETURN_IF_ERROR(CheckMembers(*o, at, {"column", "tag", "null_tokens", "value_map"}));
  ColumnMapping c;
  const json::value* m = o->if_contains("column");
  if (m == nullptr) return Bad(Cat(at, ".column"), "is required");
  ASSIGN_OR_RETURN(c.column, GetString(*m, Cat(at, ".column")));
  m = o->if_contains("tag");
  if (m == nullptr) return Bad(Cat(at, ".tag"), "is required");
  ASSIGN_OR_RETURN(c.tag, GetString(*m, Cat(at, ".tag")));
  if ((m = o->if_contains("null_tokens"))) {
    ASSIGN_OR_RETURN(c.null_tokens, GetStrings(*m, Cat(at, ".null_tokens")));
  }
  if ((m = o->if_contains("value_map"))) {
    const json::object* vm = m->if_object();
    if (vm == nullptr) return Bad(Cat(at, ".value_map"), "must be an object");
    for (const auto& kv : *vm) {
      std::string key(kv.key());
      ASSIGN_OR_RETURN(std::string to, GetString(kv.value(), Cat(at, ".value_map.", key)));
      c.value_map.emplace(std::move(key), std::move(to));
    }
  }
  return c;
}

absl::StatusOr<ImportMapping> FromJson(const json::value& root) {
  const json::object* o = root.if_object();
  if (o == nullptr) return Bad("(root)", "must be an object");
  RETURN_IF_ERROR(
      CheckMembers(*o, "",
                   {"description", "csv", "id", "name_column", "phone_column", "id_number_column",
                    "null_tokens", "trim_whitespace", "tags", "columns"}));
  ImportMapping m;
  if (const json::value* v = o->if_contains("description")) {
    ASSIGN_OR_RETURN(m.description, GetString(*v, "description"));
  }
  if (const json::value* v = o->if_contains("csv")) {
    const json::object* csv = v->if_object();
    if (csv == nullptr) return Bad("csv", "must be an object");
    RETURN_IF_ERROR(CheckMembers(*csv, "csv", {"separator", "encoding"}));
    if (const json::value* s = csv->if_contains("separator")) {
      ASSIGN_OR_RETURN(std::string sep, GetString(*s, "csv.separator"));
      if (sep == "auto") {
        m.separator = 0;
      } else if (sep.size() == 1 && sep != "\"" && sep != "\n" && sep != "\r") {
        m.separator = sep[0];
      } else {
        return Bad("csv.separator", "must be one character (not a quote or newline) or \"auto\"");
      }
    }
    if (const json::value* e = csv->if_contains("encoding")) {
      ASSIGN_OR_RETURN(std::string enc, GetString(*e, "csv.encoding"));
      absl::StatusOr<CsvEncoding> parsed = ParseCsvEncoding(enc);
      if (!parsed.ok()) return Bad("csv.encoding", parsed.status().message());
      m.encoding = *parsed;
    }
  }
  const json::value* id = o->if_contains("id");
  if (id == nullptr) return Bad("id", "is required ({\"column\": ...} or {\"template\": ...})");
  const json::object* ido = id->if_object();
  if (ido == nullptr) return Bad("id", "must be an object");
  RETURN_IF_ERROR(CheckMembers(*ido, "id", {"column", "template"}));
  if (const json::value* v = ido->if_contains("column")) {
    ASSIGN_OR_RETURN(m.id_column, GetString(*v, "id.column"));
  }
  if (const json::value* v = ido->if_contains("template")) {
    ASSIGN_OR_RETURN(m.id_template, GetString(*v, "id.template"));
  }
  if (const json::value* v = o->if_contains("name_column")) {
    ASSIGN_OR_RETURN(m.name_column, GetString(*v, "name_column"));
  }
  if (const json::value* v = o->if_contains("phone_column")) {
    ASSIGN_OR_RETURN(m.phone_column, GetString(*v, "phone_column"));
  }
  if (const json::value* v = o->if_contains("id_number_column")) {
    ASSIGN_OR_RETURN(m.id_number_column, GetString(*v, "id_number_column"));
  }
  if (const json::value* v = o->if_contains("null_tokens")) {
    ASSIGN_OR_RETURN(m.null_tokens, GetStrings(*v, "null_tokens"));
  }
  if (const json::value* v = o->if_contains("trim_whitespace")) {
    const bool* b = v->if_bool();
    if (b == nullptr) return Bad("trim_whitespace", "must be true or false");
    m.trim_whitespace = *b;
  }
  if (const json::value* v = o->if_contains("tags")) {
    const json::array* a = v->if_array();
    if (a == nullptr) return Bad("tags", "must be an array");
    for (size_t i = 0; i < a->size(); ++i) {
      ASSIGN_OR_RETURN(TagDef def, ParseTagDef((*a)[i], Cat("tags[", i, "]")));
      m.tags.push_back(std::move(def));
    }
  }
  const json::value* cols = o->if_contains("columns");
  if (cols == nullptr) return Bad("columns", "is required");
  const json::array* a = cols->if_array();
  if (a == nullptr) return Bad("columns", "must be an array");
  for (size_t i = 0; i < a->size(); ++i) {
    ASSIGN_OR_RETURN(ColumnMapping c, ParseColumn((*a)[i], Cat("columns[", i, "]")));
    m.columns.push_back(std::move(c));
  }
  return m;
}

}  // namespace

absl::StatusOr<IdTemplate> IdTemplate::Parse(std::string_view text) {
  IdTemplate t;
  size_t i = 0;
  std::string literal;
  while (i < text.size()) {
    char c = text[i];
    if (c == '}') return absl::InvalidArgumentError("'}' without '{'");
    if (c != '{') {
      literal.push_back(c);
      ++i;
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) return absl::InvalidArgumentError("'{' without '}'");
    std::string_view body = text.substr(i + 1, close - i - 1);
    std::string_view name = body;
    int width = 0;
    if (size_t colon = body.find(':'); colon != std::string_view::npos) {
      name = body.substr(0, colon);
      std::string_view w = body.substr(colon + 1);
      auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), width);
      if (w.empty() || ec != std::errc() || p != w.data() + w.size() || width < 0 || width > 20) {
        return absl::InvalidArgumentError(
            Cat("bad width in {", body, "}: expected a number 0..20, as in {line:06}"));
      }
    }
    Part part;
    if (name == "line") {
      part.kind = Part::Kind::kLine;
    } else if (name == "row") {
      part.kind = Part::Kind::kRow;
    } else {
      return absl::InvalidArgumentError(
          Cat("unknown placeholder {", name, "}: expected {line} or {row}"));
    }
    part.width = width;
    if (!literal.empty()) {
      t.parts_.push_back(Part{std::move(literal), Part::Kind::kLiteral, 0});
      literal.clear();
    }
    t.parts_.push_back(std::move(part));
    i = close + 1;
  }
  if (!literal.empty()) t.parts_.push_back(Part{std::move(literal), Part::Kind::kLiteral, 0});
  bool has_placeholder = false;
  for (const Part& p : t.parts_) has_placeholder |= p.kind != Part::Kind::kLiteral;
  if (!has_placeholder) {
    return absl::InvalidArgumentError("needs {line} or {row}, or every id would be the same");
  }
  return t;
}

void IdTemplate::Format(int64_t line, int64_t row, std::string& out) const {
  for (const Part& p : parts_) {
    if (p.kind == Part::Kind::kLiteral) {
      out += p.literal;
      continue;
    }
    char digits[24];
    int64_t n = p.kind == Part::Kind::kLine ? line : row;
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
    size_t len = static_cast<size_t>(end - digits);
    if (static_cast<size_t>(p.width) > len) out.append(p.width - len, '0');
    out.append(digits, len);
  }
}

absl::Status ValidateImportMapping(const ImportMapping& m) {
  if (m.id_column.empty() == m.id_template.empty()) {
    return Bad("id", "set exactly one of \"column\" and \"template\"");
  }
  if (!m.id_template.empty()) {
    absl::StatusOr<IdTemplate> t = IdTemplate::Parse(m.id_template);
    if (!t.ok()) return Bad("id.template", t.status().message());
  }
  absl::flat_hash_set<std::string_view> keys;
  for (size_t i = 0; i < m.tags.size(); ++i) {
    absl::Status st = ValidateTagDef(m.tags[i]);
    // ValidateTagDef names the field first ("key: ..."), so this reads "tags[0].key: ...".
    if (!st.ok()) return absl::InvalidArgumentError(Cat("tags[", i, "].", st.message()));
    if (!keys.insert(m.tags[i].key).second) {
      return Bad(Cat("tags[", i, "].key"), Cat("\"", m.tags[i].key, "\" is defined twice"));
    }
  }
  // Each CSV column feeds one thing, so a report line names one target.
  absl::flat_hash_set<std::string_view> used;
  if (!m.id_column.empty()) used.insert(m.id_column);
  if (!m.name_column.empty() && !used.insert(m.name_column).second) {
    return Bad("name_column", Cat("\"", m.name_column, "\" is already the id column"));
  }
  if (!m.phone_column.empty() && !used.insert(m.phone_column).second) {
    return Bad("phone_column", Cat("\"", m.phone_column, "\" is already used by id or name"));
  }
  if (!m.id_number_column.empty() && !used.insert(m.id_number_column).second) {
    return Bad("id_number_column",
               Cat("\"", m.id_number_column, "\" is already used by id, name or phone"));
  }
  absl::flat_hash_set<std::string_view> targets;
  for (size_t i = 0; i < m.columns.size(); ++i) {
    const ColumnMapping& c = m.columns[i];
    const std::string at = Cat("columns[", i, "]");
    if (c.column.empty()) return Bad(at + ".column", "must not be empty");
    if (!used.insert(c.column).second) {
      return Bad(at + ".column", Cat("\"", c.column, "\" is mapped twice"));
    }
    if (!keys.contains(c.tag)) {
      return Bad(at + ".tag", Cat("\"", c.tag, "\" is not defined in \"tags\""));
    }
    if (!targets.insert(c.tag).second) {
      return Bad(at + ".tag", Cat("\"", c.tag, "\" is the target of two columns"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ImportMapping> ParseImportMapping(std::string_view text) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return absl::InvalidArgumentError(Cat("mapping is not JSON: ", ec.message()));
  ASSIGN_OR_RETURN(ImportMapping m, FromJson(root));
  RETURN_IF_ERROR(ValidateImportMapping(m));
  return m;
}

absl::StatusOr<ImportMapping> LoadImportMapping(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(Cat("cannot read mapping ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<ImportMapping> m = ParseImportMapping(ss.str());
  if (!m.ok()) {
    return absl::Status(m.status().code(), Cat(path, ": ", m.status().message()));
  }
  return m;
}

}  // namespace mercator
