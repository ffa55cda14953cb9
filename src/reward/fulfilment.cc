#include "reward/fulfilment.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "common/background.h"
#include "common/log.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator::reward {
namespace {

constexpr int64_t kDayMs = 24 * 3600 * 1000;
constexpr std::string_view kActor = "system:fulfilment";
constexpr size_t kMaxReferenceBytes = 200;
constexpr size_t kMaxErrorBytes = 500;
// Delivery batches per RunOnce: a backlog drains over several ticks without starving intake.
constexpr int kMaxBatchesPerRun = 10;
constexpr size_t kMaxFresh = 100'000;

absl::StatusOr<int64_t> PositiveInt(std::string_view text, std::string_view what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v <= 0) {
    return absl::InvalidArgumentError(fmt::format("reward_ref: \"{}\" is not {}", text, what));
  }
  return v;
}

bool Permanent(const absl::Status& s) {
  // The same request can only fail the same way: bad terms, or a key taken by another request.
  return absl::IsInvalidArgument(s) || absl::IsAlreadyExists(s);
}

bool Manual(std::string_view kind) {
  return kind != "points" && kind != "coupon" && kind != "benefit";
}

// Stored and shown to operators: a bank system's message may quote a card or phone number.
std::string Truncated(std::string_view s) {
  return MaskNumbersInText(s.substr(0, std::min(s.size(), kMaxErrorBytes)));
}

}  // namespace

std::string AwardKey(int64_t activity_id, int64_t draw_id) {
  return fmt::format("award:{}:{}", activity_id, draw_id);
}

FulfilmentService::FulfilmentService(FulfilmentRepository* repository, AwardSource* source,
                                     PointsLedger* points, CouponService* coupons,
                                     const Clock* clock, FulfilmentOptions options)
    : repository_(repository),
      source_(source),
      points_(points),
      coupons_(coupons),
      clock_(clock),
      options_(std::move(options)) {}

Fulfilment FulfilmentService::RowOf(const AwardDraw& d) const {
  Fulfilment f;
  f.activity_id = d.activity_id;
  f.draw_id = d.draw_id;
  f.uid = d.uid;
  f.pool_id = d.pool_id;
  f.prize_id = d.prize_id;
  f.prize_name = d.prize_name;
  f.kind = d.kind;
  f.reward_ref = d.reward_ref;
  f.cost_fen = d.cost_fen;
  f.won_ms = d.at_ms;
  if (d.kind == "points") {
    f.points_expires_ms = d.at_ms + std::max(options_.points_validity_days, 1) * kDayMs;
  }
  f.state = Manual(d.kind) ? FulfilmentState::kManual : FulfilmentState::kPending;
  f.next_attempt_ms = 0;
  return f;
}

absl::StatusOr<int64_t> FulfilmentService::TakeIn() {
  absl::MutexLock lock(&run_mu_);
  ASSIGN_OR_RETURN(PassReport r, TakeInAll(/*deliver=*/false));
  return r.taken_in;
}

absl::StatusOr<FulfilmentService::PassReport> FulfilmentService::TakeInAll(bool deliver) {
  ASSIGN_OR_RETURN(std::vector<int64_t> activities, source_->Activities());
  PassReport total;
  for (int64_t id : activities) {
    ASSIGN_OR_RETURN(PassReport r, TakeInActivity(id, deliver));
    total.taken_in += r.taken_in;
    total.delivered += r.delivered;
    total.failed += r.failed;
  }
  return total;
}

absl::StatusOr<FulfilmentService::PassReport> FulfilmentService::TakeInActivity(int64_t activity_id,
                                                                                bool deliver) {
  PassReport report;
  absl::StatusOr<int64_t> decided = source_->AwardsDecided(activity_id);
  if (absl::IsNotFound(decided.status())) return report;  // never drawn in (or not loaded yet)
  RETURN_IF_ERROR(decided.status());
  auto [it, first] = progress_.try_emplace(activity_id);
  Progress& progress = it->second;
  // Awards decided == awards durable and seen: nothing new (the journal is not read). The
  // first pass in a process always reads, to count what is already in the journal.
  if (!first && *decided == progress.durable_awards) return report;

  ASSIGN_OR_RETURN(int64_t cursor, repository_->Cursor(activity_id));
  std::vector<Fulfilment> batch;
  int64_t batch_last = progress.scanned_to;  // last draw id looked at, not yet committed
  int64_t batch_awards = 0;
  absl::Status failed;
  const auto flush = [&]() -> absl::Status {
    if (batch_last > cursor) {
      // In customer order, so that each transaction below touches the pages of one range of
      // customers (their ledger account, their entries in the ledger's per-customer indexes)
      // and a page is written about once per round rather than once per transaction: the
      // ledger's awards arrive at random customers.
      std::stable_sort(batch.begin(), batch.end(),
                       [](const Fulfilment& a, const Fulfilment& b) { return a.uid < b.uid; });
      const size_t per_txn = static_cast<size_t>(std::max(options_.intake_transaction, 1));
      size_t at = 0;
      do {
        const size_t end = std::min(batch.size(), at + per_txn);
        const std::span<Fulfilment> part(batch.data() + at, end - at);
        if (deliver) {
          // Delivered before the row is written, so a delivered award is written once, as
          // delivered, instead of pending and then again. A crash between the delivery and
          // the write leaves the cursor where it was: the award is read from the journal
          // again and its delivery replays by its key (AwardKey), as a retry's would.
          const PassReport attempted = Attempt(part);
          report.delivered += attempted.delivered;
          report.failed += attempted.failed;
        }
        // The cursor moves with the round's last transaction only: a crash before it reads
        // the whole round again, and the rows already written are kept (TakeIn inserts a
        // draw's row once).
        const int64_t last = end == batch.size() ? batch_last : cursor;
        ASSIGN_OR_RETURN(int64_t n, repository_->TakeIn(activity_id, last, part, clock_->NowMs()));
        report.taken_in += n;
        at = end;
      } while (at < batch.size());
      for (Fulfilment& f : batch) {
        if (f.id > 0 && f.state == FulfilmentState::kStuck) LogStuck(f);
        // Bounded: past it (deliveries failing pass after pass) rows wait in the store, which
        // ListDue reads, rather than in memory.
        if (f.id > 0 && f.state == FulfilmentState::kPending && fresh_.size() < kMaxFresh) {
          fresh_.push_back(std::move(f));
        }
      }
      cursor = batch_last;
    }
    progress.scanned_to = batch_last;
    progress.durable_awards += batch_awards;
    batch.clear();
    batch_awards = 0;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(source_->ForEachDraw(activity_id, progress.scanned_to, [&](const AwardDraw& d) {
    batch_last = d.draw_id;
    if (d.won) {
      ++batch_awards;
      if (d.draw_id > cursor) batch.push_back(RowOf(d));
    }
    if (batch.size() >= static_cast<size_t>(std::max(options_.intake_batch, 1))) {
      failed = flush();
      if (!failed.ok()) return false;
    }
    return true;
  }));
  RETURN_IF_ERROR(failed);
  RETURN_IF_ERROR(flush());
  if (report.taken_in > 0) {
    Log(Severity::kInfo, "awards taken in for fulfilment",
        {{"activity_id", std::to_string(activity_id)},
         {"rows", std::to_string(report.taken_in)},
         {"delivered", std::to_string(report.delivered)}});
  }
  return report;
}

int64_t FulfilmentService::BackoffMs(int32_t attempts) const {
  int64_t backoff = std::max<int64_t>(options_.first_backoff_ms, 1);
  for (int32_t i = 1; i < attempts && backoff < options_.max_backoff_ms; ++i) backoff *= 2;
  return std::min(backoff, std::max<int64_t>(options_.max_backoff_ms, 1));
}

absl::StatusOr<std::string> FulfilmentService::Deliver(const Fulfilment& row) {
  const std::string key = AwardKey(row.activity_id, row.draw_id);
  if (row.kind == "coupon" || row.kind == "benefit") {
    if (coupons_ == nullptr) return absl::UnavailableError("coupons: not available here");
    ASSIGN_OR_RETURN(int64_t template_id, PositiveInt(row.reward_ref, "a coupon template id"));
    ASSIGN_OR_RETURN(CouponCode code, coupons_->Grant(template_id, row.uid, key));
    return fmt::format("coupon_code:{}", code.id);
  }
  return absl::InternalError(fmt::format("kind: {} is delivered by an operator", row.kind));
}

std::vector<Fulfilment> FulfilmentService::TakeFresh() {
  const size_t n =
      std::min(fresh_.size(), static_cast<size_t>(std::max(options_.delivery_batch, 1)));
  std::vector<Fulfilment> due(std::make_move_iterator(fresh_.begin()),
                              std::make_move_iterator(fresh_.begin() + static_cast<ptrdiff_t>(n)));
  fresh_.erase(fresh_.begin(), fresh_.begin() + static_cast<ptrdiff_t>(n));
  return due;
}

absl::StatusOr<FulfilmentService::PassReport> FulfilmentService::DeliverDue() {
  absl::MutexLock lock(&run_mu_);
  if (!fresh_.empty()) return DeliverRows(TakeFresh());
  return DeliverListed();
}

absl::StatusOr<FulfilmentService::PassReport> FulfilmentService::DeliverListed() {
  ASSIGN_OR_RETURN(std::vector<Fulfilment> due,
                   repository_->ListDue(clock_->NowMs(), std::max(options_.delivery_batch, 1)));
  return DeliverRows(std::move(due));
}

FulfilmentService::PassReport FulfilmentService::Attempt(std::span<Fulfilment> rows) {
  PassReport report;
  std::vector<absl::StatusOr<std::string>> refs(rows.size(),
                                                absl::InternalError("fulfilment: not delivered"));
  // Points awards go to the ledger in one transaction (one commit for the batch, not one per
  // award); the others one by one.
  std::vector<PointsLedger::EarnRequest> earns;
  std::vector<size_t> earn_rows;  // earns[k] is rows[earn_rows[k]]
  for (size_t i = 0; i < rows.size(); ++i) {
    const Fulfilment& row = rows[i];
    if (row.state == FulfilmentState::kManual) continue;
    if (row.kind != "points") {
      refs[i] = Deliver(row);
      continue;
    }
    absl::StatusOr<int64_t> amount = PositiveInt(row.reward_ref, "a number of points");
    if (!amount.ok()) {
      refs[i] = amount.status();
      continue;
    }
    earns.push_back({.uid = row.uid,
                     .amount = *amount,
                     .expires_ms = row.points_expires_ms,
                     .source = fmt::format("draw:{}:{}", row.activity_id, row.draw_id),
                     .key = AwardKey(row.activity_id, row.draw_id),
                     .actor = std::string(kActor)});
    earn_rows.push_back(i);
  }
  if (!earns.empty()) {
    absl::StatusOr<std::vector<absl::StatusOr<PointsEntry>>> earned = points_->EarnBatch(earns);
    for (size_t k = 0; k < earn_rows.size(); ++k) {
      absl::StatusOr<std::string>& ref = refs[earn_rows[k]];
      if (!earned.ok()) {
        ref = earned.status();
      } else if (!(*earned)[k].ok()) {
        ref = (*earned)[k].status();
      } else {
        ref = fmt::format("points_entry:{}", (*earned)[k]->id);
      }
    }
  }

  for (size_t i = 0; i < rows.size(); ++i) {
    Fulfilment& row = rows[i];
    if (row.state == FulfilmentState::kManual) continue;
    const absl::StatusOr<std::string>& ref = refs[i];
    const int64_t at = clock_->NowMs();
    row.attempts += 1;
    row.updated_ms = at;
    if (ref.ok()) {
      row.state = FulfilmentState::kDelivered;
      row.delivered_ref = *ref;
      row.delivered_ms = at;
      row.last_error.clear();
      row.next_attempt_ms = 0;
      ++report.delivered;
    } else {
      row.last_error = Truncated(ref.status().ToString());
      if (Permanent(ref.status()) || row.attempts >= options_.max_attempts) {
        row.state = FulfilmentState::kStuck;
        row.next_attempt_ms = 0;
      } else {
        row.state = FulfilmentState::kRetrying;
        row.next_attempt_ms = at + BackoffMs(row.attempts);
      }
      ++report.failed;
    }
  }
  return report;
}

void FulfilmentService::LogStuck(const Fulfilment& row) {
  Log(Severity::kError, "fulfilment stuck",
      {{"fulfilment_id", std::to_string(row.id)},
       {"activity_id", std::to_string(row.activity_id)},
       {"draw_id", std::to_string(row.draw_id)},
       {"attempts", std::to_string(row.attempts)},
       {"error", row.last_error}});
}

absl::StatusOr<FulfilmentService::PassReport> FulfilmentService::DeliverRows(
    std::vector<Fulfilment> due) {
  struct Before {
    FulfilmentState state;
    int32_t attempts;
  };
  std::vector<Before> before;
  before.reserve(due.size());
  for (const Fulfilment& row : due) before.push_back({row.state, row.attempts});
  const PassReport report = Attempt(due);

  std::vector<FulfilmentRepository::RowUpdate> updates;
  updates.reserve(due.size());
  for (size_t i = 0; i < due.size(); ++i) {
    if (due[i].state == FulfilmentState::kStuck) LogStuck(due[i]);
    updates.push_back({.row = &due[i],
                       .expected_state = before[i].state,
                       .expected_attempts = before[i].attempts});
  }
  ASSIGN_OR_RETURN(std::vector<absl::Status> updated, repository_->UpdateBatch(updates));
  for (const absl::Status& s : updated) {
    // FailedPrecondition: an operator moved the row meanwhile; their state stands (a
    // delivery made here is replayed by its key if the row is delivered again).
    if (!s.ok() && !absl::IsFailedPrecondition(s)) return s;
  }
  return report;
}

absl::StatusOr<FulfilmentService::PassReport> FulfilmentService::RunOnce() {
  absl::MutexLock lock(&run_mu_);
  ASSIGN_OR_RETURN(PassReport total, TakeInAll(/*deliver=*/true));
  const auto add = [&total](const PassReport& r) {
    total.delivered += r.delivered;
    total.failed += r.failed;
  };
  // What was just taken in, whole (it is in memory already), then the store's due rows: at
  // least one listing a pass, so retries come due under any load of new awards.
  while (!fresh_.empty()) {
    ASSIGN_OR_RETURN(PassReport r, DeliverRows(TakeFresh()));
    add(r);
  }
  for (int i = 0; i < kMaxBatchesPerRun; ++i) {
    ASSIGN_OR_RETURN(PassReport r, DeliverListed());
    add(r);
    if (r.delivered + r.failed < std::max(options_.delivery_batch, 1)) break;
  }
  return total;
}

absl::StatusOr<Fulfilment> FulfilmentService::Get(int64_t id) {
  ASSIGN_OR_RETURN(std::optional<Fulfilment> row, repository_->Get(id));
  if (!row) return absl::NotFoundError(fmt::format("fulfilment {} not found", id));
  return *std::move(row);
}

absl::StatusOr<FulfilmentService::Page> FulfilmentService::List(const FulfilmentFilter& filter,
                                                                int64_t cursor, int limit) {
  if (limit < 1 || limit > 500) return absl::InvalidArgumentError("limit: 1 to 500");
  if (cursor < 0) return absl::InvalidArgumentError("cursor: not a cursor from this API");
  Page page;
  ASSIGN_OR_RETURN(page.rows, repository_->List(filter, cursor, limit + 1));
  if (page.rows.size() > static_cast<size_t>(limit)) {
    page.rows.pop_back();
    page.next_cursor = page.rows.back().id;
  }
  return page;
}

absl::StatusOr<Fulfilment> FulfilmentService::Retry(int64_t id) {
  ASSIGN_OR_RETURN(Fulfilment row, Get(id));
  if (row.state != FulfilmentState::kStuck && row.state != FulfilmentState::kRetrying) {
    return absl::FailedPreconditionError(
        fmt::format("state: fulfilment {} is {}; only stuck or retrying ones can be retried", id,
                    FulfilmentStateName(row.state)));
  }
  const FulfilmentState was = row.state;
  const int32_t attempts = row.attempts;
  row.state = FulfilmentState::kPending;
  row.attempts = 0;
  row.next_attempt_ms = clock_->NowMs();
  row.updated_ms = row.next_attempt_ms;
  RETURN_IF_ERROR(repository_->Update(row, was, attempts));
  std::function<void()> wake;
  {
    absl::MutexLock lock(&hook_mu_);
    wake = wake_;
  }
  if (wake) wake();
  return row;
}

absl::StatusOr<Fulfilment> FulfilmentService::Complete(int64_t id, std::string_view reference,
                                                       std::string_view actor) {
  if (reference.empty() || reference.size() > kMaxReferenceBytes ||
      std::any_of(reference.begin(), reference.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return absl::InvalidArgumentError(fmt::format(
        "reference: 1 to {} bytes without control characters (courier number, transfer id)",
        kMaxReferenceBytes));
  }
  ASSIGN_OR_RETURN(Fulfilment row, Get(id));
  if (row.state != FulfilmentState::kManual && row.state != FulfilmentState::kStuck) {
    return absl::FailedPreconditionError(
        fmt::format("state: fulfilment {} is {}; only manual or stuck ones are completed by hand",
                    id, FulfilmentStateName(row.state)));
  }
  const FulfilmentState was = row.state;
  const int32_t attempts = row.attempts;
  row.state = FulfilmentState::kDelivered;
  row.delivered_ref = std::string(reference);
  row.completed_by = std::string(actor);
  row.delivered_ms = row.updated_ms = clock_->NowMs();
  row.next_attempt_ms = 0;
  RETURN_IF_ERROR(repository_->Update(row, was, attempts));
  return row;
}

absl::StatusOr<std::map<int64_t, Fulfilment>> FulfilmentService::ForDraws(
    int64_t activity_id, std::span<const int64_t> draw_ids) {
  ASSIGN_OR_RETURN(std::vector<Fulfilment> rows, repository_->ForDraws(activity_id, draw_ids));
  std::map<int64_t, Fulfilment> out;
  for (Fulfilment& f : rows) {
    const int64_t draw_id = f.draw_id;
    out.emplace(draw_id, std::move(f));
  }
  return out;
}

absl::StatusOr<std::map<FulfilmentState, int64_t>> FulfilmentService::CountOpen() {
  return repository_->CountOpen();
}

void FulfilmentService::SetWakeHook(std::function<void()> hook) {
  absl::MutexLock lock(&hook_mu_);
  wake_ = std::move(hook);
}

FulfilmentWorker::FulfilmentWorker(FulfilmentService* service, int64_t interval_ms,
                                   std::function<void()> after_pass)
    : service_(service),
      interval_ms_(std::max<int64_t>(interval_ms, 1)),
      after_pass_(std::move(after_pass)),
      thread_([this] { Run(); }) {
  service_->SetWakeHook([this] { Wake(); });
}

FulfilmentWorker::~FulfilmentWorker() {
  service_->SetWakeHook({});
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void FulfilmentWorker::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void FulfilmentWorker::Run() {
  BecomeBackgroundThread("mct-fulfilment");
  absl::MutexLock lock(&mu_);
  for (;;) {
    const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || woken_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(interval_ms_));
    if (stop_) return;
    woken_ = false;
    mu_.Unlock();
    absl::StatusOr<FulfilmentService::PassReport> r = service_->RunOnce();
    if (!r.ok()) {
      Log(Severity::kError, "fulfilment pass failed", {{"error", ToStd(r.status().message())}});
    } else if (r->delivered > 0 || r->failed > 0) {
      Log(Severity::kInfo, "fulfilment pass",
          {{"taken_in", std::to_string(r->taken_in)},
           {"delivered", std::to_string(r->delivered)},
           {"failed", std::to_string(r->failed)}});
    }
    if (after_pass_) after_pass_();
    mu_.Lock();
  }
}

}  // namespace mercator::reward
