#include "segment/dsl.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "common/strings.h"

namespace mercator {
namespace {

constexpr std::string_view kKeywords[] = {"and",     "or",      "not",    "between", "in",   "has",
                                          "has_any", "has_all", "exists", "true",    "false"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsKeyword(std::string_view word) {
  for (std::string_view k : kKeywords) {
    if (EqualsIgnoreCase(word, k)) return true;
  }
  return false;
}

bool IsIdentStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (len > s.size() - i) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

// The 1-based column of byte `offset`: code points before it plus one. Every byte before an
// error offset has been validated as UTF-8, so counting lead bytes counts code points.
size_t ColumnOf(std::string_view text, size_t offset) {
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

// `s` quoted for an error message, cut after a few code points so messages stay short.
std::string Quote(std::string_view s) {
  constexpr size_t kMaxCodePoints = 24;
  size_t i = 0;
  size_t count = 0;
  while (i < s.size() && count < kMaxCodePoints) {
    const size_t len = Utf8SequenceLength(s, i);
    i += len == 0 ? 1 : len;
    ++count;
  }
  return Cat("'", s.substr(0, i), i < s.size() ? "...'" : "'");
}

enum class Tok { kEnd, kIdent, kString, kNumber, kOp, kLParen, kRParen, kComma, kUnknown, kError };

struct Token {
  Tok kind = Tok::kEnd;
  size_t begin = 0;  // byte range in the text
  size_t end = 0;
  std::string value;  // kString: unescaped; kNumber: canonical text
  CompareOp op = CompareOp::kEq;
  // kError: a lexical error at byte `begin`.
  std::string expected;
  std::string found;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token Next() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
    Token t;
    t.begin = pos_;
    if (pos_ == text_.size()) {
      t.kind = Tok::kEnd;
      t.end = pos_;
      return t;
    }
    const char c = text_[pos_];
    if (IsIdentStart(c)) {
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      t.kind = Tok::kIdent;
    } else if (IsDigit(c) || (c == '-' && pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1]))) {
      return LexNumber();
    } else if (c == '"' || c == '\'') {
      return LexString();
    } else if (c == '(' || c == ')' || c == ',') {
      ++pos_;
      t.kind = c == '(' ? Tok::kLParen : c == ')' ? Tok::kRParen : Tok::kComma;
    } else if (c == '=' || c == '<' || c == '>' || (c == '!' && Peek(1) == '=')) {
      LexOperator(&t);
    } else {
      const size_t len = Utf8SequenceLength(text_, pos_);
      if (len == 0) return InvalidUtf8(pos_);
      pos_ += len;
      t.kind = Tok::kUnknown;
    }
    t.end = pos_;
    return t;
  }

 private:
  char Peek(size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  void LexOperator(Token* t) {
    const char c = text_[pos_];
    const char n = Peek(1);
    t->kind = Tok::kOp;
    size_t len = 1;
    if (c == '=') {
      t->op = CompareOp::kEq;
      if (n == '=') len = 2;
    } else if (c == '!') {
      t->op = CompareOp::kNe;
      len = 2;
    } else if (c == '<') {
      if (n == '=') {
        t->op = CompareOp::kLe;
        len = 2;
      } else if (n == '>') {
        t->op = CompareOp::kNe;
        len = 2;
      } else {
        t->op = CompareOp::kLt;
      }
    } else {
      t->op = n == '=' ? CompareOp::kGe : CompareOp::kGt;
      if (n == '=') len = 2;
    }
    pos_ += len;
  }

  Token LexNumber() {
    const size_t begin = pos_;
    if (text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (pos_ == text_.size() || !IsDigit(text_[pos_])) {
        return Error(pos_, "a digit after '.'", FoundAt(pos_));
      }
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    const size_t end = pos_;
    if (pos_ < text_.size() && (IsIdentChar(text_[pos_]) || text_[pos_] == '.')) {
      while (pos_ < text_.size() && (IsIdentChar(text_[pos_]) || text_[pos_] == '.')) ++pos_;
      return Error(begin, "a number (-?digits[.digits])", Quote(text_.substr(begin, pos_ - begin)));
    }
    std::optional<std::string> canonical = CanonicalNumber(text_.substr(begin, end - begin));
    if (!canonical) {
      return Error(begin, "a number within the range of a double",
                   Quote(text_.substr(begin, end - begin)));
    }
    Token t;
    t.kind = Tok::kNumber;
    t.begin = begin;
    t.end = end;
    t.value = *std::move(canonical);
    return t;
  }

  Token LexString() {
    const size_t begin = pos_;
    const char quote = text_[pos_++];
    std::string value;
    while (true) {
      if (pos_ == text_.size()) {
        return Error(pos_,
                     Cat(std::string_view(&quote, 1), " to close the string at column ",
                         ColumnOf(text_, begin)),
                     "end of input");
      }
      const char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c == '\\') {
        const char e = Peek(1);
        char unescaped;
        switch (e) {
          case '"':
          case '\'':
          case '\\':
            unescaped = e;
            break;
          case 'n':
            unescaped = '\n';
            break;
          case 'r':
            unescaped = '\r';
            break;
          case 't':
            unescaped = '\t';
            break;
          default: {
            if (pos_ + 1 == text_.size()) {
              ++pos_;
              continue;  // Reports the unterminated string above.
            }
            const size_t len = Utf8SequenceLength(text_, pos_ + 1);
            if (len == 0) return InvalidUtf8(pos_ + 1);
            return Error(pos_, "an escape sequence (\\\", \\', \\\\, \\n, \\r or \\t)",
                         Quote(text_.substr(pos_, 1 + len)));
          }
        }
        value.push_back(unescaped);
        pos_ += 2;
        continue;
      }
      const size_t len = Utf8SequenceLength(text_, pos_);
      if (len == 0) return InvalidUtf8(pos_);
      value.append(text_.substr(pos_, len));
      pos_ += len;
    }
    Token t;
    t.kind = Tok::kString;
    t.begin = begin;
    t.end = pos_;
    t.value = std::move(value);
    return t;
  }

  std::string FoundAt(size_t offset) const {
    if (offset >= text_.size()) return "end of input";
    const size_t len = Utf8SequenceLength(text_, offset);
    return Quote(text_.substr(offset, len == 0 ? 1 : len));
  }

  Token InvalidUtf8(size_t offset) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const auto byte = static_cast<unsigned char>(text_[offset]);
    const char digits[] = {kHex[byte >> 4], kHex[byte & 0xF]};
    return Error(offset, "valid UTF-8", Cat("byte 0x", std::string_view(digits, 2)));
  }

  Token Error(size_t offset, std::string expected, std::string found) {
    Token t;
    t.kind = Tok::kError;
    t.begin = t.end = offset;
    t.expected = std::move(expected);
    t.found = std::move(found);
    // Lexing stops here: the parser reports this token when it reaches it.
    pos_ = text_.size();
    return t;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

constexpr std::string_view kLiteralExpected = "a literal (string, number, true or false)";

// Recursive descent over the grammar in dsl.h. Every Parse* method returns nullopt after
// recording the first error; nothing after the first error is looked at.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), lexer_(text) { Advance(); }

  std::optional<Rule> Parse() {
    if (tok_.kind == Tok::kEnd) return Rule::All();
    std::optional<Rule> rule = ParseOr();
    if (!rule) return std::nullopt;
    if (tok_.kind != Tok::kEnd) return Fail("'and', 'or' or end of input");
    return rule;
  }

  const DslError& error() const { return error_; }

 private:
  void Advance() { tok_ = lexer_.Next(); }

  bool IsKeywordToken(std::string_view keyword) const {
    return tok_.kind == Tok::kIdent && EqualsIgnoreCase(TokenText(), keyword);
  }

  std::string_view TokenText() const { return text_.substr(tok_.begin, tok_.end - tok_.begin); }

  std::nullopt_t Fail(std::string_view expected) {
    error_.offset = tok_.begin;
    error_.column = ColumnOf(text_, tok_.begin);
    if (tok_.kind == Tok::kError) {
      error_.expected = tok_.expected;
      error_.found = tok_.found;
    } else {
      error_.expected = std::string(expected);
      error_.found = Describe();
    }
    return std::nullopt;
  }

  std::string Describe() const {
    if (tok_.kind == Tok::kEnd) return "end of input";
    if (tok_.kind == Tok::kIdent && IsKeyword(TokenText())) {
      return Cat("keyword ", Quote(TokenText()));
    }
    return Quote(TokenText());
  }

  // Flattens `child` into `out` if it is a group of `kind`, as Normalize does.
  static void Append(RuleKind kind, Rule child, std::vector<Rule>* out) {
    if (child.kind == kind) {
      for (Rule& c : child.children) out->push_back(std::move(c));
    } else {
      out->push_back(std::move(child));
    }
  }

  std::optional<Rule> ParseOr() {
    std::vector<Rule> children;
    do {
      if (!children.empty()) Advance();
      std::optional<Rule> r = ParseAnd();
      if (!r) return std::nullopt;
      Append(RuleKind::kOr, *std::move(r), &children);
    } while (IsKeywordToken("or"));
    if (children.size() == 1) return std::move(children[0]);
    return Rule::Or(std::move(children));
  }

  std::optional<Rule> ParseAnd() {
    std::vector<Rule> children;
    do {
      if (!children.empty()) Advance();
      std::optional<Rule> r = ParseUnary();
      if (!r) return std::nullopt;
      Append(RuleKind::kAnd, *std::move(r), &children);
    } while (IsKeywordToken("and"));
    if (children.size() == 1) return std::move(children[0]);
    return Rule::And(std::move(children));
  }

  std::optional<Rule> ParseUnary() {
    const bool is_not = IsKeywordToken("not");
    if (!is_not && tok_.kind != Tok::kLParen) return ParseTerm();
    if (nesting_ == kMaxDslNesting) {
      return Fail(Cat("at most ", kMaxDslNesting, " levels of nesting (parentheses and not)"));
    }
    ++nesting_;
    Advance();
    std::optional<Rule> rule;
    if (is_not) {
      rule = ParseUnary();
      if (rule) rule = Rule::Not(*std::move(rule));
    } else if (tok_.kind == Tok::kRParen) {
      return Fail("a condition");
    } else {
      rule = ParseOr();
      if (!rule) return std::nullopt;
      if (tok_.kind != Tok::kRParen) return Fail("'and', 'or' or ')'");
      Advance();
    }
    --nesting_;
    return rule;
  }

  std::optional<Rule> ParseTerm() {
    if (tok_.kind != Tok::kIdent) return Fail("a condition");
    if (IsKeywordToken("has") || IsKeywordToken("has_any")) return ParseHas(HasMode::kAny);
    if (IsKeywordToken("has_all")) return ParseHas(HasMode::kAll);
    if (IsKeywordToken("exists")) return ParseExists();
    std::optional<std::string> field = ParseField();
    if (!field) return std::nullopt;
    if (tok_.kind == Tok::kOp) {
      const CompareOp op = tok_.op;
      Advance();
      std::optional<Literal> value = ParseLiteral();
      if (!value) return std::nullopt;
      return Rule::Compare(*std::move(field), op, *std::move(value));
    }
    if (IsKeywordToken("between")) {
      Advance();
      std::optional<Literal> low = ParseLiteral();
      if (!low) return std::nullopt;
      if (!IsKeywordToken("and")) return Fail("'and'");
      Advance();
      std::optional<Literal> high = ParseLiteral();
      if (!high) return std::nullopt;
      return Rule::Between(*std::move(field), *std::move(low), *std::move(high));
    }
    if (IsKeywordToken("in")) {
      Advance();
      std::optional<std::vector<Literal>> values = ParseList();
      if (!values) return std::nullopt;
      return Rule::In(*std::move(field), *std::move(values));
    }
    if (IsKeywordToken("not")) {
      Advance();
      if (!IsKeywordToken("in")) return Fail("'in'");
      Advance();
      std::optional<std::vector<Literal>> values = ParseList();
      if (!values) return std::nullopt;
      return Rule::Not(Rule::In(*std::move(field), *std::move(values)));
    }
    return Fail("an operator (=, !=, <, <=, >, >=), between, in or not in");
  }

  std::optional<Rule> ParseHas(HasMode mode) {
    std::string name(TokenText());
    for (char& c : name) c = absl::ascii_tolower(static_cast<unsigned char>(c));
    Advance();
    if (tok_.kind != Tok::kLParen) return Fail(Cat("'(' after ", name));
    Advance();
    std::optional<std::string> field = ParseField();
    if (!field) return std::nullopt;
    if (tok_.kind != Tok::kComma) return Fail("','");
    std::vector<Literal> values;
    while (tok_.kind == Tok::kComma) {
      Advance();
      std::optional<Literal> value = ParseLiteral();
      if (!value) return std::nullopt;
      values.push_back(*std::move(value));
    }
    if (tok_.kind != Tok::kRParen) return Fail("',' or ')'");
    Advance();
    return Rule::Has(*std::move(field), mode, std::move(values));
  }

  std::optional<Rule> ParseExists() {
    Advance();
    if (tok_.kind != Tok::kLParen) return Fail("'(' after exists");
    Advance();
    std::optional<std::string> field = ParseField();
    if (!field) return std::nullopt;
    if (tok_.kind != Tok::kRParen) return Fail("')'");
    Advance();
    return Rule::Exists(*std::move(field));
  }

  std::optional<std::string> ParseField() {
    if (tok_.kind != Tok::kIdent || IsKeyword(TokenText())) return Fail("a field name");
    std::string field(TokenText());
    Advance();
    return field;
  }

  std::optional<std::vector<Literal>> ParseList() {
    if (tok_.kind != Tok::kLParen) return Fail("'('");
    std::vector<Literal> values;
    do {
      Advance();
      std::optional<Literal> value = ParseLiteral();
      if (!value) return std::nullopt;
      values.push_back(*std::move(value));
    } while (tok_.kind == Tok::kComma);
    if (tok_.kind != Tok::kRParen) return Fail("',' or ')'");
    Advance();
    return values;
  }

  std::optional<Literal> ParseLiteral() {
    std::optional<Literal> literal;
    if (tok_.kind == Tok::kString) {
      literal = Literal::String(std::move(tok_.value));
    } else if (tok_.kind == Tok::kNumber) {
      literal = Literal::Number(std::move(tok_.value));
    } else if (IsKeywordToken("true") || IsKeywordToken("false")) {
      literal = Literal::Bool(IsKeywordToken("true"));
    } else {
      return Fail(kLiteralExpected);
    }
    Advance();
    return literal;
  }

  std::string_view text_;
  Lexer lexer_;
  Token tok_;
  int nesting_ = 0;
  DslError error_;
};

// Binding strength, loosest first; a child is parenthesised when it binds looser than its
// context requires.
enum Precedence { kPrecOr = 1, kPrecAnd = 2, kPrecNot = 3, kPrecTerm = 4 };

void PrintLiteral(const Literal& literal, std::string* out) {
  if (literal.kind != Literal::Kind::kString) {
    out->append(literal.text);
    return;
  }
  out->push_back('"');
  for (char c : literal.text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('"');
}

// values[i], or an empty string literal when a hand-built rule has too few values; ToDsl
// never fails, and such a rule has no faithful text anyway.
const Literal& ValueAt(const Rule& rule, size_t i) {
  static const Literal* const kMissing = new Literal();
  return i < rule.values.size() ? rule.values[i] : *kMissing;
}

void PrintList(const Rule& rule, std::string* out) {
  for (size_t i = 0; i < rule.values.size(); ++i) {
    if (i > 0) out->append(", ");
    PrintLiteral(rule.values[i], out);
  }
}

// A one-child group prints as its child; see through it so that a rule and its Normalize
// print the same.
const Rule& Unwrap(const Rule& rule) {
  const Rule* r = &rule;
  while ((r->kind == RuleKind::kAnd || r->kind == RuleKind::kOr) && r->children.size() == 1) {
    r = &r->children[0];
  }
  return *r;
}

void Print(const Rule& rule, int context, std::string* out) {
  switch (rule.kind) {
    case RuleKind::kAll:
      return;
    case RuleKind::kAnd:
    case RuleKind::kOr: {
      if (rule.children.size() == 1) return Print(rule.children[0], context, out);
      const int prec = rule.kind == RuleKind::kAnd ? kPrecAnd : kPrecOr;
      const bool parens = prec < context;
      if (parens) out->push_back('(');
      for (size_t i = 0; i < rule.children.size(); ++i) {
        if (i > 0) out->append(rule.kind == RuleKind::kAnd ? " and " : " or ");
        Print(rule.children[i], prec, out);
      }
      if (parens) out->push_back(')');
      return;
    }
    case RuleKind::kNot: {
      if (rule.children.size() == 1 && Unwrap(rule.children[0]).kind == RuleKind::kIn) {
        const Rule& in = Unwrap(rule.children[0]);
        CatAppend(out, in.field, " not in (");
        PrintList(in, out);
        out->push_back(')');
        return;
      }
      out->append("not ");
      if (!rule.children.empty()) Print(rule.children[0], kPrecNot, out);
      return;
    }
    case RuleKind::kCompare:
      CatAppend(out, rule.field, " ", CompareOpSymbol(rule.op), " ");
      PrintLiteral(ValueAt(rule, 0), out);
      return;
    case RuleKind::kBetween:
      CatAppend(out, rule.field, " between ");
      PrintLiteral(ValueAt(rule, 0), out);
      out->append(" and ");
      PrintLiteral(ValueAt(rule, 1), out);
      return;
    case RuleKind::kIn:
      CatAppend(out, rule.field, " in (");
      PrintList(rule, out);
      out->push_back(')');
      return;
    case RuleKind::kHas:
      CatAppend(out, rule.has_mode == HasMode::kAll ? "has_all(" : "has(", rule.field);
      for (const Literal& v : rule.values) {
        out->append(", ");
        PrintLiteral(v, out);
      }
      out->push_back(')');
      return;
    case RuleKind::kExists:
      CatAppend(out, "exists(", rule.field, ")");
      return;
  }
}

}  // namespace

absl::StatusOr<Rule> ParseDsl(std::string_view text, DslError* error) {
  Parser parser(text);
  std::optional<Rule> rule = parser.Parse();
  if (rule) return *std::move(rule);
  const DslError& e = parser.error();
  if (error != nullptr) *error = e;
  return absl::InvalidArgumentError(
      Cat("column ", e.column, ": expected ", e.expected, ", found ", e.found));
}

std::string ToDsl(const Rule& rule) {
  std::string out;
  Print(rule, kPrecOr, &out);
  return out;
}

bool IsDslIdentifier(std::string_view name) {
  if (name.empty() || !IsIdentStart(name[0])) return false;
  for (char c : name) {
    if (!IsIdentChar(c)) return false;
  }
  return !IsKeyword(name);
}

std::optional<std::string> CanonicalNumber(std::string_view text) {
  // Check the shape first: from_chars alone would also take "+1", "1e5", "inf" or "0x1".
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  const size_t int_begin = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  if (i == int_begin) return std::nullopt;
  const bool has_fraction = i < text.size() && text[i] == '.';
  if (has_fraction) {
    const size_t frac_begin = ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == frac_begin) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;

  const char* const first = text.data();
  const char* const last = text.data() + text.size();
  if (!has_fraction) {
    int64_t n;
    if (auto [p, ec] = std::from_chars(first, last, n); ec == std::errc() && p == last) {
      return std::to_string(n);
    }
    uint64_t u;
    if (auto [p, ec] = std::from_chars(first, last, u); ec == std::errc() && p == last) {
      return std::to_string(u);
    }
  }
  double d;
  if (auto [p, ec] = std::from_chars(first, last, d); ec != std::errc() || p != last) {
    return std::nullopt;
  }
  if (!std::isfinite(d)) return std::nullopt;
  if (d == 0) return "0";  // Also folds -0.0, which has no integer spelling.
  // Keep 15 significant digits (DBL_DIG): every such decimal survives a trip through a double,
  // even through a JSON parser that is off by an ulp, as Boost.JSON 1.81's is.
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific, 14);
  if (ec != std::errc()) return std::nullopt;
  // buf is "-d.ddddddddddddddde+XX"; print it in fixed notation, as the grammar has no exponent.
  const std::string_view sci(buf, p - buf);
  const size_t e = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (IsDigit(c)) digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int exponent = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
  std::string out = negative ? "-" : "";
  const int n = static_cast<int>(digits.size());
  if (exponent < 0) {
    out.append("0.").append(-exponent - 1, '0').append(digits);
  } else if (exponent >= n - 1) {
    out.append(digits).append(exponent - (n - 1), '0');
  } else {
    out.append(digits, 0, exponent + 1).append(".").append(digits, exponent + 1);
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace mercator
