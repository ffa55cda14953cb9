// The quiz template: questions with their correct answers (kept on the server), a pass score,
// a reward for the first pass and the attempts a customer has per day.
//
//   "display": {"template": "quiz", "title": "...", "settings": {
//     "questions": [{"text": "Annual fee of the 金卡?", "type": "single",
//                    "options": ["0", "100 元"], "answers": [0], "score": 10},
//                   {"text": "Which are free?", "type": "multiple",
//                    "options": ["ATM", "Transfer", "SMS"], "answers": [0, 1], "score": 10}],
//     "pass_score": 20, "reward": {"kind": "points", "amount": 50}, "attempts_per_day": 3}}
//
// A question scores its score when the chosen options are exactly its answers. The customer
// sees the questions without answers (PublicQuestions) and, after submitting, the total score
// only: which questions were wrong is not told, so attempts do not reveal the answers.
//
// Thread safety: values and pure functions.
#ifndef MERCATOR_ACTIVITY_QUIZ_TERMS_H_
#define MERCATOR_ACTIVITY_QUIZ_TERMS_H_

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "activity/activity.h"
#include "activity/reward_spec.h"

namespace mercator::activity {

inline constexpr size_t kMaxQuizQuestions = 50;
inline constexpr size_t kMaxQuizOptions = 8;

struct QuizQuestion {
  std::string text;
  enum class Type { kSingle, kMultiple } type = Type::kSingle;
  std::vector<std::string> options;
  std::vector<int32_t> answers;  // sorted option indexes
  int32_t score = 1;
};

struct QuizSettings {
  std::vector<QuizQuestion> questions;
  int32_t pass_score = 1;  // 1..sum of scores
  RewardSpec reward;
  int32_t attempts_per_day = 1;
};

// Parses display.settings of a quiz activity. InvalidArgument "display.settings...: ...".
absl::StatusOr<QuizSettings> ParseQuizSettings(const boost::json::object& settings);
// The registry's validator: no prize pools, valid settings.
absl::Status ValidateQuizTerms(const ActivityTerms& terms);

int32_t MaxScore(const QuizSettings& quiz);
// The questions as customers see them: text, type, options and score, never the answers.
boost::json::array PublicQuestions(const QuizSettings& quiz);

// A customer's answers: one entry per question, each an option index or an array of them
// (empty: not answered). InvalidArgument "answers[i]: ..." for anything else.
absl::StatusOr<std::vector<std::vector<int32_t>>> ParseQuizAnswers(const QuizSettings& quiz,
                                                                   const boost::json::value& v);
int32_t ScoreQuiz(const QuizSettings& quiz, const std::vector<std::vector<int32_t>>& answers);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_QUIZ_TERMS_H_
