#include <sqlite3.h>

#include <functional>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/internal/rows.h"
#include "store/sqlite/sqlite_outreach.h"

namespace mercator {
namespace {

using sqlite_internal::CollectRows;
using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

constexpr char kTaskColumns[] =
    "id, dedupe_key, uid, customer, manager_id, kind, title, reason, priority, due_ms, origin, "
    "status, outcome, created_ms, closed_ms, closed_by";

TaskRow ReadTask(const Statement& s) {
  TaskRow t;
  t.id = s.ColumnInt64(0);
  t.dedupe_key = std::string(s.ColumnText(1));
  t.uid = static_cast<uint32_t>(s.ColumnInt64(2));
  t.customer = std::string(s.ColumnText(3));
  t.manager_id = std::string(s.ColumnText(4));
  t.kind = std::string(s.ColumnText(5));
  t.title = std::string(s.ColumnText(6));
  t.reason = std::string(s.ColumnText(7));
  t.priority = static_cast<int>(s.ColumnInt64(8));
  t.due_ms = s.ColumnInt64(9);
  t.origin = std::string(s.ColumnText(10));
  t.status = std::string(s.ColumnText(11));
  t.outcome = std::string(s.ColumnText(12));
  t.created_ms = s.ColumnInt64(13);
  t.closed_ms = s.ColumnInt64(14);
  t.closed_by = std::string(s.ColumnText(15));
  return t;
}

absl::StatusOr<std::optional<TaskRow>> FindTaskOn(Connection& conn, std::string_view where,
                                                  const std::function<void(Statement&)>& bind) {
  const std::string sql = Cat("SELECT ", kTaskColumns, " FROM workbench_tasks WHERE ", where);
  ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql, "workbench: reading a task"));
  bind(s);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  return ReadTask(s);
}

absl::StatusOr<TaskRow> CloseTaskOn(Connection& conn, int64_t id, std::string_view status,
                                    std::string_view outcome, std::string_view by, int64_t now) {
  ASSIGN_OR_RETURN(Statement s,
                   conn.Prepare("UPDATE workbench_tasks SET status = ?, outcome = ?, "
                                "closed_ms = ?, closed_by = ? WHERE id = ? AND status = 'open'",
                                "workbench: closing a task"));
  s.BindText(1, status).BindText(2, outcome).BindInt64(3, now).BindText(4, by).BindInt64(5, id);
  RETURN_IF_ERROR(s.Run());
  const bool changed = sqlite3_changes(conn.raw()) > 0;
  ASSIGN_OR_RETURN(std::optional<TaskRow> t,
                   FindTaskOn(conn, "id = ?", [id](Statement& st) { st.BindInt64(1, id); }));
  if (!t) return absl::NotFoundError(Cat("task ", id, " not found"));
  if (!changed) {
    return absl::FailedPreconditionError(Cat("status: task ", id, " is ", t->status, ", not open"));
  }
  return *t;
}

FollowUpRow ReadFollowUp(const Statement& s) {
  FollowUpRow f;
  f.id = s.ColumnInt64(0);
  f.uid = static_cast<uint32_t>(s.ColumnInt64(1));
  f.customer = std::string(s.ColumnText(2));
  f.manager_id = std::string(s.ColumnText(3));
  f.channel = std::string(s.ColumnText(4));
  f.outcome = std::string(s.ColumnText(5));
  f.note = std::string(s.ColumnText(6));
  f.next_step = std::string(s.ColumnText(7));
  f.task_id = s.ColumnInt64(8);
  f.created_by = std::string(s.ColumnText(9));
  f.created_ms = s.ColumnInt64(10);
  return f;
}

class SqliteWorkbenchRepository final : public WorkbenchRepository {
 public:
  explicit SqliteWorkbenchRepository(Db& db) : db_(db) {}

  absl::Status LinkManager(int64_t user_id, std::string_view manager_id) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "INSERT OR REPLACE INTO workbench_manager_links (user_id, "
                                      "manager_id) SELECT id, ? FROM staff_users WHERE id = ?",
                                      "workbench: linking a manager"));
    s.BindText(1, manager_id).BindInt64(2, user_id);
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(writer.conn().raw()) == 0) {
      return absl::NotFoundError(Cat("user ", user_id, " not found"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> ManagerOf(int64_t user_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT manager_id FROM workbench_manager_links WHERE "
                                           "user_id = ?",
                                           "workbench: reading a manager link"));
    s.BindInt64(1, user_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    return std::string(s.ColumnText(0));
  }

  absl::StatusOr<Created> CreateTask(const TaskRow& t) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(
        std::optional<TaskRow> first,
        FindTaskOn(conn, "dedupe_key = ?", [&t](Statement& s) { s.BindText(1, t.dedupe_key); }));
    if (first) return Created{*std::move(first), false};
    ASSIGN_OR_RETURN(Statement s,
                     conn.Prepare("INSERT INTO workbench_tasks (dedupe_key, uid, customer, "
                                  "manager_id, kind, title, reason, priority, due_ms, origin, "
                                  "status, outcome, created_ms) VALUES "
                                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', '', ?)",
                                  "workbench: creating a task"));
    s.BindText(1, t.dedupe_key)
        .BindInt64(2, t.uid)
        .BindText(3, t.customer)
        .BindText(4, t.manager_id)
        .BindText(5, t.kind)
        .BindText(6, t.title)
        .BindText(7, t.reason)
        .BindInt64(8, t.priority)
        .BindInt64(9, t.due_ms)
        .BindText(10, t.origin)
        .BindInt64(11, t.created_ms);
    RETURN_IF_ERROR(s.Run());
    TaskRow out = t;
    out.id = sqlite3_last_insert_rowid(conn.raw());
    out.status = "open";
    out.outcome.clear();
    RETURN_IF_ERROR(tx.Commit());
    return Created{std::move(out), true};
  }

  absl::StatusOr<TaskRow> GetTask(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(
        std::optional<TaskRow> t,
        FindTaskOn(reader.conn(), "id = ?", [id](Statement& s) { s.BindInt64(1, id); }));
    if (!t) return absl::NotFoundError(Cat("task ", id, " not found"));
    return *t;
  }

  absl::StatusOr<std::vector<TaskRow>> ListTasks(const TaskQuery& q) override {
    static const std::string sql =
        Cat("SELECT ", kTaskColumns,
            " FROM workbench_tasks WHERE manager_id = ? AND (? = '' OR status = ?) AND "
            "(? = '' OR customer = ?) AND id > ? ORDER BY id LIMIT ?");
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "workbench: listing tasks"));
    s.BindText(1, q.manager_id)
        .BindText(2, q.status)
        .BindText(3, q.status)
        .BindText(4, q.customer)
        .BindText(5, q.customer)
        .BindInt64(6, q.after_id)
        .BindInt64(7, q.limit);
    return CollectRows<TaskRow>(s, ReadTask);
  }

  absl::StatusOr<TaskRow> CloseTask(int64_t id, std::string_view status, std::string_view outcome,
                                    std::string_view by, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(TaskRow t, CloseTaskOn(conn, id, status, outcome, by, now_ms));
    RETURN_IF_ERROR(tx.Commit());
    return t;
  }

  absl::StatusOr<FollowUpRow> AddFollowUp(const FollowUpRow& f, bool close_task) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(Statement s,
                     conn.Prepare("INSERT INTO workbench_followups (uid, customer, manager_id, "
                                  "channel, outcome, note, next_step, task_id, created_by, "
                                  "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                  "workbench: recording a follow-up"));
    s.BindInt64(1, f.uid)
        .BindText(2, f.customer)
        .BindText(3, f.manager_id)
        .BindText(4, f.channel)
        .BindText(5, f.outcome)
        .BindText(6, f.note)
        .BindText(7, f.next_step)
        .BindInt64(8, f.task_id)
        .BindText(9, f.created_by)
        .BindInt64(10, f.created_ms);
    RETURN_IF_ERROR(s.Run());
    FollowUpRow out = f;
    out.id = sqlite3_last_insert_rowid(conn.raw());
    if (close_task && f.task_id != 0) {
      ASSIGN_OR_RETURN(TaskRow t,
                       CloseTaskOn(conn, f.task_id, "done", f.outcome, f.created_by, f.created_ms));
      (void)t;
    }
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  absl::StatusOr<std::vector<FollowUpRow>> ListFollowUps(std::string_view manager_id,
                                                         std::string_view customer,
                                                         int limit) override {
    Db::ReaderLease reader(db_);
    // One statement per filter, so each reads through its index (an "? = '' OR column = ?"
    // filter cannot use one and stepped through every follow-up).
#define FOLLOWUP_COLUMNS                                                               \
  "SELECT id, uid, customer, manager_id, channel, outcome, note, next_step, task_id, " \
  "created_by, created_ms FROM workbench_followups "
    const char* sql = FOLLOWUP_COLUMNS "ORDER BY id DESC LIMIT ?3";
    if (!customer.empty()) {
      sql = FOLLOWUP_COLUMNS
          "WHERE customer = ?2 AND (?1 = '' OR manager_id = ?1) "
          "ORDER BY id DESC LIMIT ?3";
    } else if (!manager_id.empty()) {
      sql = FOLLOWUP_COLUMNS "WHERE manager_id = ?1 ORDER BY id DESC LIMIT ?3";
    }
#undef FOLLOWUP_COLUMNS
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "workbench: listing follow-ups"));
    s.BindText(1, manager_id).BindText(2, customer).BindInt64(3, limit);
    return CollectRows<FollowUpRow>(s, ReadFollowUp);
  }

  absl::StatusOr<ManagerKpis> Kpis(std::string_view manager_id, int64_t from_ms,
                                   int64_t to_ms) override {
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kRead));
    ManagerKpis k;
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("SELECT count(*), coalesce(sum(status = 'done'), 0), "
                                    "coalesce(sum(status = 'done' AND closed_ms <= due_ms), 0) "
                                    "FROM workbench_tasks WHERE manager_id = ? AND due_ms >= ? "
                                    "AND due_ms < ?",
                                    "workbench: task figures"));
      s.BindText(1, manager_id).BindInt64(2, from_ms).BindInt64(3, to_ms);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        k.tasks_due = s.ColumnInt64(0);
        k.tasks_done = s.ColumnInt64(1);
        k.tasks_done_on_time = s.ColumnInt64(2);
      }
    }
    {
      ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("SELECT count(*), count(DISTINCT CASE WHEN outcome <> 'no_answer' THEN "
                       "customer END), count(DISTINCT CASE WHEN outcome = 'converted' THEN "
                       "customer END) FROM workbench_followups WHERE manager_id = ? AND "
                       "created_ms >= ? AND created_ms < ?",
                       "workbench: follow-up figures"));
      s.BindText(1, manager_id).BindInt64(2, from_ms).BindInt64(3, to_ms);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        k.follow_ups = s.ColumnInt64(0);
        k.customers_reached = s.ColumnInt64(1);
        k.customers_converted = s.ColumnInt64(2);
      }
    }
    return k;
  }

  absl::StatusOr<std::vector<TaskRuleRow>> ListRules() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT id, kind, title, reason, dsl, priority, due_days, "
                                      "due_tag, period, enabled, updated_by, updated_ms FROM "
                                      "workbench_rules ORDER BY id",
                                      "workbench: listing rules"));
    return CollectRows<TaskRuleRow>(s, [](const Statement& s) {
      TaskRuleRow r;
      r.id = std::string(s.ColumnText(0));
      r.kind = std::string(s.ColumnText(1));
      r.title = std::string(s.ColumnText(2));
      r.reason = std::string(s.ColumnText(3));
      r.dsl = std::string(s.ColumnText(4));
      r.priority = static_cast<int>(s.ColumnInt64(5));
      r.due_days = s.ColumnInt64(6);
      r.due_tag = std::string(s.ColumnText(7));
      r.period = std::string(s.ColumnText(8));
      r.enabled = s.ColumnInt64(9) != 0;
      r.updated_by = std::string(s.ColumnText(10));
      r.updated_ms = s.ColumnInt64(11);
      return r;
    });
  }

  absl::Status PutRule(const TaskRuleRow& r) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "INSERT OR REPLACE INTO workbench_rules (id, kind, title, "
                                      "reason, dsl, priority, due_days, due_tag, period, "
                                      "enabled, updated_by, updated_ms) VALUES "
                                      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                      "workbench: writing a rule"));
    s.BindText(1, r.id)
        .BindText(2, r.kind)
        .BindText(3, r.title)
        .BindText(4, r.reason)
        .BindText(5, r.dsl)
        .BindInt64(6, r.priority)
        .BindInt64(7, r.due_days)
        .BindText(8, r.due_tag)
        .BindText(9, r.period)
        .BindInt64(10, r.enabled ? 1 : 0)
        .BindText(11, r.updated_by)
        .BindInt64(12, r.updated_ms);
    return s.Run();
  }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<WorkbenchRepository> NewSqliteWorkbenchRepository(Store& store) {
  return std::make_unique<SqliteWorkbenchRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
