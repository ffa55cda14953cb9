#include "activity/quiz_terms.h"

#include <gtest/gtest.h>

#include <string>

namespace mercator::activity {
namespace {

namespace json = boost::json;

constexpr const char* kQuiz = R"({
  "questions": [
    {"text": "Annual fee of the 金卡?", "options": ["0", "100 元"], "answers": [0], "score": 10},
    {"text": "Which are free?", "type": "multiple", "options": ["ATM", "Transfer", "SMS"],
     "answers": [1, 0], "score": 10}],
  "pass_score": 20, "reward": {"kind": "points", "amount": 50}, "attempts_per_day": 2})";

QuizSettings Quiz() {
  absl::StatusOr<QuizSettings> q = ParseQuizSettings(json::parse(kQuiz).as_object());
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? *q : QuizSettings{};
}

std::string Error(const char* text) {
  absl::StatusOr<QuizSettings> q = ParseQuizSettings(json::parse(text).as_object());
  return q.ok() ? "ok" : std::string(q.status().message());
}

int32_t Score(const QuizSettings& q, const char* answers) {
  absl::StatusOr<std::vector<std::vector<int32_t>>> a = ParseQuizAnswers(q, json::parse(answers));
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? ScoreQuiz(q, *a) : -1;
}

TEST(QuizTerms, ParsesQuestionsWithSortedAnswers) {
  QuizSettings q = Quiz();
  ASSERT_EQ(q.questions.size(), 2u);
  EXPECT_EQ(q.questions[1].answers, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(MaxScore(q), 20);
  EXPECT_EQ(q.attempts_per_day, 2);
}

TEST(QuizTerms, PublicQuestionsCarryNoAnswers) {
  const std::string text = json::serialize(PublicQuestions(Quiz()));
  EXPECT_EQ(text.find("answer"), std::string::npos) << text;
  EXPECT_NE(text.find("Which are free?"), std::string::npos) << text;
  EXPECT_NE(text.find("\"type\":\"multiple\""), std::string::npos) << text;
}

TEST(QuizTerms, ScoresExactMatchesOnly) {
  QuizSettings q = Quiz();
  EXPECT_EQ(Score(q, "[0, [0, 1]]"), 20);
  EXPECT_EQ(Score(q, "[[0], [1, 0]]"), 20);  // order of choices does not matter
  EXPECT_EQ(Score(q, "[0, [0]]"), 10);       // a partial multiple choice scores nothing
  EXPECT_EQ(Score(q, "[1, [0, 1, 2]]"), 0);
  EXPECT_EQ(Score(q, "[[], []]"), 0);
}

TEST(QuizTerms, RefusesMalformedAnswers) {
  QuizSettings q = Quiz();
  auto error = [&](const char* text) {
    auto a = ParseQuizAnswers(q, json::parse(text));
    return a.ok() ? std::string("ok") : std::string(a.status().message());
  };
  EXPECT_EQ(error("[0]"), "answers: must be an array with one entry per question (2)");
  EXPECT_EQ(error("[[0, 1], [0]]"), "answers[0]: a single-choice question takes one option");
  EXPECT_EQ(error("[0, [3]]"), "answers[1][0]: must be an option index from 0 to 2");
  EXPECT_EQ(error("[0, [1, 1]]"), "answers[1]: an option is chosen twice");
}

TEST(QuizTerms, RefusesBadSettings) {
  EXPECT_EQ(
      Error(R"({"questions": [], "pass_score": 1, "reward": {"kind": "points", "amount": 1}})"),
      "display.settings.questions: must be an array of 1 to 50 questions");
  EXPECT_EQ(Error(R"({"questions": [{"text": "q", "options": ["a", "b"], "answers": [0, 1]}],
                      "pass_score": 1, "reward": {"kind": "points", "amount": 1}})"),
            "display.settings.questions[0].answers: a single-choice question has exactly one "
            "correct option");
  EXPECT_EQ(Error(R"({"questions": [{"text": "q", "options": ["a", "b"], "answers": [0]}],
                      "pass_score": 2, "reward": {"kind": "points", "amount": 1}})"),
            "display.settings.pass_score: must be between 1 and 1");
  EXPECT_EQ(Error(R"({"questions": [{"text": "q", "options": ["a", "b"], "answers": [0]}],
                      "pass_score": 1})"),
            "display.settings.reward: is required");
}

}  // namespace
}  // namespace mercator::activity
