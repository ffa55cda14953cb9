#include "segment/rule.h"

namespace mercator {

std::string_view CompareOpSymbol(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "?";
}

Rule Normalize(Rule rule) {
  if (rule.kind != RuleKind::kAnd && rule.kind != RuleKind::kOr && rule.kind != RuleKind::kNot) {
    return rule;
  }
  std::vector<Rule> out;
  for (Rule& c : rule.children) {
    Rule n = Normalize(std::move(c));
    if (rule.kind != RuleKind::kNot && n.kind == rule.kind) {
      for (Rule& g : n.children) out.push_back(std::move(g));
    } else {
      out.push_back(std::move(n));
    }
  }
  if (rule.kind != RuleKind::kNot && out.size() == 1) return std::move(out[0]);
  rule.children = std::move(out);
  return rule;
}

int CountTerms(const Rule& rule) {
  if (rule.children.empty()) return rule.kind == RuleKind::kAll ? 0 : 1;
  int n = 0;
  for (const Rule& c : rule.children) n += CountTerms(c);
  return n;
}

}  // namespace mercator
