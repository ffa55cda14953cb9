#include <sqlite3.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_participation.h"

namespace mercator {

std::string_view RewardStateName(RewardState state) {
  switch (state) {
    case RewardState::kNone:
      return "none";
    case RewardState::kPending:
      return "pending";
    case RewardState::kGranted:
      return "granted";
  }
  return "none";
}

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

absl::StatusOr<RewardState> ParseRewardState(std::string_view s) {
  for (RewardState r : {RewardState::kNone, RewardState::kPending, RewardState::kGranted}) {
    if (RewardStateName(r) == s) return r;
  }
  return absl::DataLossError(Cat("unknown reward state '", ToAbsl(s), "'"));
}

#define SIGN_IN_COLUMNS                                                              \
  "activity_id, uid, day, make_up, streak, reward_json, reward_state, reward_note, " \
  "points_spent, idempotency_key, request_digest, at_ms"
#define QUIZ_COLUMNS                                                                \
  "id, activity_id, uid, day, score, passed, rewarded, reward_json, reward_state, " \
  "reward_note, idempotency_key, request_digest, at_ms"
#define TASK_COLUMNS \
  "activity_id, uid, task_id, period, event_id, extra_chances, credit_day, occurred_ms, at_ms"

absl::StatusOr<SignInRecord> ReadSignIn(const Statement& s) {
  SignInRecord r;
  r.activity_id = s.ColumnInt64(0);
  r.uid = static_cast<uint32_t>(s.ColumnInt64(1));
  r.day = s.ColumnInt64(2);
  r.make_up = s.ColumnInt64(3) != 0;
  r.streak = static_cast<int32_t>(s.ColumnInt64(4));
  r.reward_json = std::string(s.ColumnText(5));
  ASSIGN_OR_RETURN(r.reward_state, ParseRewardState(s.ColumnText(6)));
  r.reward_note = std::string(s.ColumnText(7));
  r.points_spent = s.ColumnInt64(8);
  r.idempotency_key = std::string(s.ColumnText(9));
  r.request_digest = std::string(s.ColumnText(10));
  r.at_ms = s.ColumnInt64(11);
  return r;
}

absl::StatusOr<QuizAttemptRecord> ReadQuiz(const Statement& s) {
  QuizAttemptRecord r;
  r.id = s.ColumnInt64(0);
  r.activity_id = s.ColumnInt64(1);
  r.uid = static_cast<uint32_t>(s.ColumnInt64(2));
  r.day = s.ColumnInt64(3);
  r.score = static_cast<int32_t>(s.ColumnInt64(4));
  r.passed = s.ColumnInt64(5) != 0;
  r.rewarded = s.ColumnInt64(6) != 0;
  r.reward_json = std::string(s.ColumnText(7));
  ASSIGN_OR_RETURN(r.reward_state, ParseRewardState(s.ColumnText(8)));
  r.reward_note = std::string(s.ColumnText(9));
  r.idempotency_key = std::string(s.ColumnText(10));
  r.request_digest = std::string(s.ColumnText(11));
  r.at_ms = s.ColumnInt64(12);
  return r;
}

TaskCompletionRecord ReadTask(const Statement& s) {
  TaskCompletionRecord r;
  r.activity_id = s.ColumnInt64(0);
  r.uid = static_cast<uint32_t>(s.ColumnInt64(1));
  r.task_id = std::string(s.ColumnText(2));
  r.period = s.ColumnInt64(3);
  r.event_id = std::string(s.ColumnText(4));
  r.extra_chances = static_cast<int32_t>(s.ColumnInt64(5));
  r.credit_day = s.ColumnInt64(6);
  r.occurred_ms = s.ColumnInt64(7);
  r.at_ms = s.ColumnInt64(8);
  return r;
}

absl::Status KeyReused() {
  return absl::AlreadyExistsError(
      "idempotency_key: already used for a different request (send a new key)");
}

absl::StatusOr<std::optional<SignInRecord>> FindSignInOn(Connection& conn, int64_t activity_id,
                                                         uint32_t uid, std::string_view key) {
  ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT " SIGN_IN_COLUMNS
                                             " FROM activity_sign_ins WHERE activity_id = ? AND"
                                             " uid = ? AND idempotency_key = ?",
                                             "sign-in: finding by key"));
  s.BindInt64(1, activity_id).BindInt64(2, uid).BindText(3, key);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  ASSIGN_OR_RETURN(SignInRecord r, ReadSignIn(s));
  return r;
}

absl::StatusOr<std::vector<SignInRecord>> SignInsOn(Connection& conn, int64_t activity_id,
                                                    uint32_t uid, int64_t from_day,
                                                    int64_t to_day) {
  ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT " SIGN_IN_COLUMNS
                                             " FROM activity_sign_ins WHERE activity_id = ? AND"
                                             " uid = ? AND day BETWEEN ? AND ? ORDER BY day",
                                             "sign-in: listing"));
  s.BindInt64(1, activity_id).BindInt64(2, uid).BindInt64(3, from_day).BindInt64(4, to_day);
  std::vector<SignInRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(SignInRecord r, ReadSignIn(s));
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::optional<QuizAttemptRecord>> FindQuizOn(Connection& conn, int64_t activity_id,
                                                            uint32_t uid, std::string_view key) {
  ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT " QUIZ_COLUMNS
                                             " FROM activity_quiz_attempts WHERE activity_id = ?"
                                             " AND uid = ? AND idempotency_key = ?",
                                             "quiz attempt: finding by key"));
  s.BindInt64(1, activity_id).BindInt64(2, uid).BindText(3, key);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  ASSIGN_OR_RETURN(QuizAttemptRecord r, ReadQuiz(s));
  return r;
}

absl::StatusOr<QuizHistory> QuizHistoryOn(Connection& conn, int64_t activity_id, uint32_t uid,
                                          int64_t day) {
  ASSIGN_OR_RETURN(Statement s,
                   conn.Prepare("SELECT COALESCE(SUM(day = ?3), 0), COALESCE(MAX(rewarded), 0)"
                                " FROM activity_quiz_attempts WHERE activity_id = ?1 AND uid = ?2",
                                "quiz attempt: history"));
  s.BindInt64(1, activity_id).BindInt64(2, uid).BindInt64(3, day);
  ASSIGN_OR_RETURN(bool row, s.Step());
  QuizHistory h;
  if (row) {
    h.attempts_today = static_cast<int32_t>(s.ColumnInt64(0));
    h.passed_before = s.ColumnInt64(1) != 0;
  }
  return h;
}

// Runs `body` in a write transaction committed with synchronous=FULL, so what it wrote is on
// disk when this returns (the connection's own setting is restored afterwards).
template <typename T, typename Body>
absl::StatusOr<T> DurableWrite(Db& db, std::string_view what, Body&& body) {
  Db::WriterLease writer(db);
  Connection& conn = writer.conn();
  int64_t synchronous = 1;
  {
    ASSIGN_OR_RETURN(Statement s, conn.Prepare("PRAGMA synchronous", "reading synchronous"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) synchronous = s.ColumnInt64(0);
  }
  RETURN_IF_ERROR(conn.Exec("PRAGMA synchronous=FULL", "participation: synchronous=FULL"));
  absl::StatusOr<T> result = [&]() -> absl::StatusOr<T> {
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(T out, body(conn));
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }();
  // Restoring can only fail on a broken connection, which the next statement reports; the
  // write is committed (or not) either way.
  (void)conn.Exec(synchronous >= 2 ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                  "participation: restoring synchronous");
  (void)what;
  return result;
}

class SqliteParticipationRepository final : public ParticipationRepository {
 public:
  explicit SqliteParticipationRepository(Db& db) : db_(db) {}

  absl::StatusOr<SignInWriteResult> SignIn(int64_t activity_id, uint32_t uid,
                                           std::string_view idempotency_key,
                                           std::string_view request_digest, int64_t from_day,
                                           int64_t to_day, const SignInDecision& decide) override {
    return DurableWrite<SignInWriteResult>(
        db_, "sign-in", [&](Connection& conn) -> absl::StatusOr<SignInWriteResult> {
          ASSIGN_OR_RETURN(std::optional<SignInRecord> first,
                           FindSignInOn(conn, activity_id, uid, idempotency_key));
          if (first) {
            if (first->request_digest != request_digest) return KeyReused();
            return SignInWriteResult{*std::move(first), true};
          }
          ASSIGN_OR_RETURN(std::vector<SignInRecord> earlier,
                           SignInsOn(conn, activity_id, uid, from_day, to_day));
          ASSIGN_OR_RETURN(SignInRecord r, decide(earlier));
          r.activity_id = activity_id;
          r.uid = uid;
          r.idempotency_key = std::string(idempotency_key);
          r.request_digest = std::string(request_digest);
          ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("INSERT INTO activity_sign_ins (" SIGN_IN_COLUMNS
                                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                        "sign-in: inserting"));
          s.BindInt64(1, r.activity_id)
              .BindInt64(2, r.uid)
              .BindInt64(3, r.day)
              .BindInt64(4, r.make_up ? 1 : 0)
              .BindInt64(5, r.streak)
              .BindText(6, r.reward_json)
              .BindText(7, RewardStateName(r.reward_state))
              .BindText(8, r.reward_note)
              .BindInt64(9, r.points_spent)
              .BindText(10, r.idempotency_key)
              .BindText(11, r.request_digest)
              .BindInt64(12, r.at_ms);
          absl::Status inserted = s.Run();
          if (absl::IsAlreadyExists(inserted)) {
            return absl::AlreadyExistsError("sign_in: already signed in on that day");
          }
          RETURN_IF_ERROR(inserted);
          return SignInWriteResult{std::move(r), false};
        });
  }

  absl::StatusOr<std::optional<SignInRecord>> FindSignIn(int64_t activity_id, uint32_t uid,
                                                         std::string_view key) override {
    Db::ReaderLease reader(db_);
    return FindSignInOn(reader.conn(), activity_id, uid, key);
  }

  absl::StatusOr<std::vector<SignInRecord>> SignIns(int64_t activity_id, uint32_t uid,
                                                    int64_t from_day, int64_t to_day) override {
    Db::ReaderLease reader(db_);
    return SignInsOn(reader.conn(), activity_id, uid, from_day, to_day);
  }

  absl::Status SetSignInReward(int64_t activity_id, uint32_t uid, int64_t day, RewardState state,
                               std::string_view note) override {
    return DurableWrite<bool>(db_, "sign-in reward",
                              [&](Connection& conn) -> absl::StatusOr<bool> {
                                ASSIGN_OR_RETURN(
                                    Statement s,
                                    conn.Prepare("UPDATE activity_sign_ins SET reward_state = ?,"
                                                 " reward_note = ? WHERE activity_id = ? AND"
                                                 " uid = ? AND day = ?",
                                                 "sign-in: reward state"));
                                s.BindText(1, RewardStateName(state))
                                    .BindText(2, note)
                                    .BindInt64(3, activity_id)
                                    .BindInt64(4, uid)
                                    .BindInt64(5, day);
                                RETURN_IF_ERROR(s.Run());
                                return sqlite3_changes(conn.raw()) == 1;
                              })
        .status();
  }

  absl::StatusOr<SignInStats> SignInStatsOf(int64_t activity_id) override {
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kRead));
    SignInStats st;
    {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT day, COUNT(*), SUM(make_up) FROM"
                                                 " activity_sign_ins WHERE activity_id = ?"
                                                 " GROUP BY day ORDER BY day",
                                                 "sign-in: stats per day"));
      s.BindInt64(1, activity_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        st.per_day[s.ColumnInt64(0)] = s.ColumnInt64(1);
        st.make_ups += s.ColumnInt64(2);
      }
    }
    {
      // SQLite takes the bare column (streak) from the row holding MAX(day).
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT streak, MAX(day) FROM activity_sign_ins"
                                                 " WHERE activity_id = ? GROUP BY uid",
                                                 "sign-in: stats streaks"));
      s.BindInt64(1, activity_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        ++st.current_streaks[static_cast<int32_t>(s.ColumnInt64(0))];
        ++st.customers;
      }
    }
    return st;
  }

  absl::StatusOr<QuizWriteResult> RecordQuizAttempt(int64_t activity_id, uint32_t uid,
                                                    std::string_view idempotency_key,
                                                    std::string_view request_digest, int64_t day,
                                                    const QuizDecision& decide) override {
    return DurableWrite<QuizWriteResult>(
        db_, "quiz attempt", [&](Connection& conn) -> absl::StatusOr<QuizWriteResult> {
          ASSIGN_OR_RETURN(std::optional<QuizAttemptRecord> first,
                           FindQuizOn(conn, activity_id, uid, idempotency_key));
          if (first) {
            if (first->request_digest != request_digest) return KeyReused();
            return QuizWriteResult{*std::move(first), true};
          }
          ASSIGN_OR_RETURN(QuizHistory history, QuizHistoryOn(conn, activity_id, uid, day));
          ASSIGN_OR_RETURN(QuizAttemptRecord r, decide(history));
          r.activity_id = activity_id;
          r.uid = uid;
          r.day = day;
          r.idempotency_key = std::string(idempotency_key);
          r.request_digest = std::string(request_digest);
          ASSIGN_OR_RETURN(Statement s, conn.Prepare("INSERT INTO activity_quiz_attempts"
                                                     " (activity_id, uid, day, score, passed,"
                                                     " rewarded, reward_json, reward_state,"
                                                     " reward_note, idempotency_key,"
                                                     " request_digest, at_ms)"
                                                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                                     "quiz attempt: inserting"));
          s.BindInt64(1, r.activity_id)
              .BindInt64(2, r.uid)
              .BindInt64(3, r.day)
              .BindInt64(4, r.score)
              .BindInt64(5, r.passed ? 1 : 0)
              .BindInt64(6, r.rewarded ? 1 : 0)
              .BindText(7, r.reward_json)
              .BindText(8, RewardStateName(r.reward_state))
              .BindText(9, r.reward_note)
              .BindText(10, r.idempotency_key)
              .BindText(11, r.request_digest)
              .BindInt64(12, r.at_ms);
          RETURN_IF_ERROR(s.Run());
          r.id = sqlite3_last_insert_rowid(conn.raw());
          return QuizWriteResult{std::move(r), false};
        });
  }

  absl::StatusOr<std::optional<QuizAttemptRecord>> FindQuizAttempt(int64_t activity_id,
                                                                   uint32_t uid,
                                                                   std::string_view key) override {
    Db::ReaderLease reader(db_);
    return FindQuizOn(reader.conn(), activity_id, uid, key);
  }

  absl::StatusOr<QuizHistory> QuizHistoryOf(int64_t activity_id, uint32_t uid,
                                            int64_t day) override {
    Db::ReaderLease reader(db_);
    return QuizHistoryOn(reader.conn(), activity_id, uid, day);
  }

  absl::Status SetQuizReward(int64_t attempt_id, RewardState state,
                             std::string_view note) override {
    return DurableWrite<bool>(
               db_, "quiz reward",
               [&](Connection& conn) -> absl::StatusOr<bool> {
                 ASSIGN_OR_RETURN(Statement s, conn.Prepare("UPDATE activity_quiz_attempts SET"
                                                            " reward_state = ?, reward_note = ?"
                                                            " WHERE id = ?",
                                                            "quiz attempt: reward state"));
                 s.BindText(1, RewardStateName(state)).BindText(2, note).BindInt64(3, attempt_id);
                 RETURN_IF_ERROR(s.Run());
                 return true;
               })
        .status();
  }

  absl::StatusOr<QuizStats> QuizStatsOf(int64_t activity_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT COUNT(*), COALESCE(SUM(passed), 0),"
                                           " COUNT(DISTINCT uid),"
                                           " COUNT(DISTINCT CASE WHEN passed = 1 THEN uid END)"
                                           " FROM activity_quiz_attempts WHERE activity_id = ?",
                                           "quiz attempt: stats"));
    s.BindInt64(1, activity_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    QuizStats st;
    if (row) {
      st.attempts = s.ColumnInt64(0);
      st.passed_attempts = s.ColumnInt64(1);
      st.customers = s.ColumnInt64(2);
      st.customers_passed = s.ColumnInt64(3);
    }
    return st;
  }

  absl::StatusOr<TaskWriteResult> CompleteTask(const TaskCompletionRecord& record) override {
    return DurableWrite<TaskWriteResult>(
        db_, "task completion", [&](Connection& conn) -> absl::StatusOr<TaskWriteResult> {
          {
            ASSIGN_OR_RETURN(
                Statement s,
                conn.Prepare("SELECT " TASK_COLUMNS " FROM activity_task_completions WHERE"
                             " activity_id = ? AND uid = ? AND task_id = ? AND"
                             " event_id = ?",
                             "task completion: finding by event"));
            s.BindInt64(1, record.activity_id)
                .BindInt64(2, record.uid)
                .BindText(3, record.task_id)
                .BindText(4, record.event_id);
            ASSIGN_OR_RETURN(bool row, s.Step());
            if (row) return TaskWriteResult{TaskWriteResult::Outcome::kReplayed, ReadTask(s)};
          }
          {
            ASSIGN_OR_RETURN(
                Statement s,
                conn.Prepare("SELECT " TASK_COLUMNS " FROM activity_task_completions WHERE"
                             " activity_id = ? AND uid = ? AND task_id = ? AND"
                             " period = ?",
                             "task completion: finding by period"));
            s.BindInt64(1, record.activity_id)
                .BindInt64(2, record.uid)
                .BindText(3, record.task_id)
                .BindInt64(4, record.period);
            ASSIGN_OR_RETURN(bool row, s.Step());
            if (row) {
              return TaskWriteResult{TaskWriteResult::Outcome::kAlreadyCompleted, ReadTask(s)};
            }
          }
          ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("INSERT INTO activity_task_completions (" TASK_COLUMNS
                                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                        "task completion: inserting"));
          s.BindInt64(1, record.activity_id)
              .BindInt64(2, record.uid)
              .BindText(3, record.task_id)
              .BindInt64(4, record.period)
              .BindText(5, record.event_id)
              .BindInt64(6, record.extra_chances)
              .BindInt64(7, record.credit_day)
              .BindInt64(8, record.occurred_ms)
              .BindInt64(9, record.at_ms);
          RETURN_IF_ERROR(s.Run());
          return TaskWriteResult{TaskWriteResult::Outcome::kCredited, record};
        });
  }

  absl::StatusOr<int32_t> ExtraChances(int64_t activity_id, uint32_t uid,
                                       int64_t credit_day) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT COALESCE(SUM(extra_chances), 0) FROM"
                                           " activity_task_completions WHERE activity_id = ? AND"
                                           " uid = ? AND credit_day = ?",
                                           "task completion: extra chances"));
    s.BindInt64(1, activity_id).BindInt64(2, uid).BindInt64(3, credit_day);
    ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? static_cast<int32_t>(s.ColumnInt64(0)) : 0;
  }

  absl::StatusOr<std::vector<TaskStats>> TaskStatsOf(int64_t activity_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT task_id, COUNT(*), COUNT(DISTINCT uid),"
                                           " SUM(extra_chances) FROM activity_task_completions"
                                           " WHERE activity_id = ? GROUP BY task_id"
                                           " ORDER BY task_id",
                                           "task completion: stats"));
    s.BindInt64(1, activity_id);
    std::vector<TaskStats> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      TaskStats t;
      t.task_id = std::string(s.ColumnText(0));
      t.completions = s.ColumnInt64(1);
      t.customers = s.ColumnInt64(2);
      t.chances_credited = s.ColumnInt64(3);
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<ParticipationRepository> NewSqliteParticipationRepository(Store& store) {
  return std::make_unique<SqliteParticipationRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
