#include "activity/quiz_terms.h"

#include <fmt/format.h>

#include <algorithm>

#include "activity/internal/settings_json.h"
#include "common/status_macros.h"

namespace mercator::activity {

namespace json = boost::json;
using namespace settings_json;  // NOLINT(build/namespaces): the helpers of this module

namespace {

constexpr std::string_view kPath = "display.settings";

// Option indexes from a number or an array of numbers, sorted, each in [0, options).
absl::StatusOr<std::vector<int32_t>> Indexes(const json::value& v, size_t options,
                                             std::string_view path) {
  std::vector<int32_t> out;
  auto one = [&](const json::value& x, std::string_view p) -> absl::Status {
    if (!x.is_int64() || x.as_int64() < 0 || x.as_int64() >= static_cast<int64_t>(options)) {
      return Bad(p, fmt::format("must be an option index from 0 to {}", options - 1));
    }
    out.push_back(static_cast<int32_t>(x.as_int64()));
    return absl::OkStatus();
  };
  if (v.is_array()) {
    if (v.as_array().size() > options) return Bad(path, "more choices than options");
    for (size_t i = 0; i < v.as_array().size(); ++i) {
      RETURN_IF_ERROR(one(v.as_array()[i], Index(path, i)));
    }
  } else {
    RETURN_IF_ERROR(one(v, path));
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    return Bad(path, "an option is chosen twice");
  }
  return out;
}

}  // namespace

absl::StatusOr<QuizSettings> ParseQuizSettings(const json::object& s) {
  RETURN_IF_ERROR(OnlyMembers(s, kPath, {"questions", "pass_score", "reward", "attempts_per_day"}));
  QuizSettings out;
  const std::string qp = Path(kPath, "questions");
  const json::value* qs = s.if_contains("questions");
  if (qs == nullptr || !qs->is_array() || qs->as_array().empty() ||
      qs->as_array().size() > kMaxQuizQuestions) {
    return Bad(qp, fmt::format("must be an array of 1 to {} questions", kMaxQuizQuestions));
  }
  int64_t max_score = 0;
  for (size_t i = 0; i < qs->as_array().size(); ++i) {
    const std::string ip = Index(qp, i);
    ASSIGN_OR_RETURN(const json::object* q, Object(qs->as_array()[i], ip));
    RETURN_IF_ERROR(OnlyMembers(*q, ip, {"text", "type", "options", "answers", "score"}));
    QuizQuestion question;
    ASSIGN_OR_RETURN(question.text, String(*q, "text", ip, std::nullopt, 1000));
    ASSIGN_OR_RETURN(std::string type, String(*q, "type", ip, std::string("single"), 16));
    if (type == "single") {
      question.type = QuizQuestion::Type::kSingle;
    } else if (type == "multiple") {
      question.type = QuizQuestion::Type::kMultiple;
    } else {
      return Bad(Path(ip, "type"), "must be single or multiple");
    }
    const std::string op = Path(ip, "options");
    const json::value* options = q->if_contains("options");
    if (options == nullptr || !options->is_array() || options->as_array().size() < 2 ||
        options->as_array().size() > kMaxQuizOptions) {
      return Bad(op, fmt::format("needs 2 to {} options", kMaxQuizOptions));
    }
    for (size_t j = 0; j < options->as_array().size(); ++j) {
      const json::value& o = options->as_array()[j];
      if (!o.is_string() || o.as_string().empty() || o.as_string().size() > 200) {
        return Bad(Index(op, j), "must be a string of 1 to 200 bytes");
      }
      question.options.emplace_back(o.as_string());
    }
    const std::string ap = Path(ip, "answers");
    const json::value* answers = q->if_contains("answers");
    if (answers == nullptr || !answers->is_array()) {
      return Bad(ap, "must be an array of the correct option indexes");
    }
    ASSIGN_OR_RETURN(question.answers, Indexes(*answers, question.options.size(), ap));
    if (question.answers.empty()) return Bad(ap, "needs at least one correct option");
    if (question.type == QuizQuestion::Type::kSingle && question.answers.size() != 1) {
      return Bad(ap, "a single-choice question has exactly one correct option");
    }
    ASSIGN_OR_RETURN(int64_t score, Int(*q, "score", ip, 1, 1, 1000));
    question.score = static_cast<int32_t>(score);
    max_score += score;
    out.questions.push_back(std::move(question));
  }
  ASSIGN_OR_RETURN(int64_t pass, Int(s, "pass_score", kPath, std::nullopt, 1, max_score));
  out.pass_score = static_cast<int32_t>(pass);
  const json::value* reward = s.if_contains("reward");
  if (reward == nullptr || reward->is_null()) return Bad(Path(kPath, "reward"), "is required");
  ASSIGN_OR_RETURN(out.reward, ParseRewardSpec(*reward, Path(kPath, "reward")));
  ASSIGN_OR_RETURN(int64_t attempts, Int(s, "attempts_per_day", kPath, 1, 1, 100));
  out.attempts_per_day = static_cast<int32_t>(attempts);
  return out;
}

absl::Status ValidateQuizTerms(const ActivityTerms& t) {
  if (!t.pools.empty()) return Bad("pools", "quiz does not use prize pools");
  return ParseQuizSettings(t.display.settings).status();
}

int32_t MaxScore(const QuizSettings& quiz) {
  int32_t sum = 0;
  for (const QuizQuestion& q : quiz.questions) sum += q.score;
  return sum;
}

json::array PublicQuestions(const QuizSettings& quiz) {
  json::array out;
  for (size_t i = 0; i < quiz.questions.size(); ++i) {
    const QuizQuestion& q = quiz.questions[i];
    json::array options;
    for (const std::string& o : q.options) options.emplace_back(o);
    out.push_back(
        json::object{{"index", i},
                     {"text", q.text},
                     {"type", q.type == QuizQuestion::Type::kSingle ? "single" : "multiple"},
                     {"options", std::move(options)},
                     {"score", q.score}});
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> ParseQuizAnswers(const QuizSettings& quiz,
                                                                   const json::value& v) {
  if (!v.is_array() || v.as_array().size() != quiz.questions.size()) {
    return Bad("answers", fmt::format("must be an array with one entry per question ({})",
                                      quiz.questions.size()));
  }
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < quiz.questions.size(); ++i) {
    const QuizQuestion& q = quiz.questions[i];
    ASSIGN_OR_RETURN(std::vector<int32_t> chosen,
                     Indexes(v.as_array()[i], q.options.size(), Index("answers", i)));
    if (q.type == QuizQuestion::Type::kSingle && chosen.size() > 1) {
      return Bad(Index("answers", i), "a single-choice question takes one option");
    }
    out.push_back(std::move(chosen));
  }
  return out;
}

int32_t ScoreQuiz(const QuizSettings& quiz, const std::vector<std::vector<int32_t>>& answers) {
  int32_t score = 0;
  for (size_t i = 0; i < quiz.questions.size() && i < answers.size(); ++i) {
    if (answers[i] == quiz.questions[i].answers) score += quiz.questions[i].score;
  }
  return score;
}

}  // namespace mercator::activity
