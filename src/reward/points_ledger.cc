#include "reward/points_ledger.h"

#include <fmt/format.h>

#include <utility>

#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "reward/coupons.h"

namespace mercator::reward {
namespace {

absl::Status CheckAmount(int64_t amount, std::string_view field) {
  if (amount <= 0 || amount > kMaxPointsAmount) {
    return absl::InvalidArgumentError(
        fmt::format("{}: must be between 1 and {}", field, kMaxPointsAmount));
  }
  return absl::OkStatus();
}

bool HasControlCharacters(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::Status CheckKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("idempotency_key: is required");
  if (key.size() > kMaxPointsKeyBytes || HasControlCharacters(key)) {
    return absl::InvalidArgumentError(fmt::format(
        "idempotency_key: at most {} bytes without control characters", kMaxPointsKeyBytes));
  }
  // The expiry job's own keys ("expire:<lot>:<n>") cannot be taken by callers.
  if (key.starts_with("expire:")) {
    return absl::InvalidArgumentError("idempotency_key: the prefix \"expire:\" is reserved");
  }
  return absl::OkStatus();
}

absl::Status CheckText(std::string_view text, std::string_view field) {
  if (text.empty()) return absl::InvalidArgumentError(fmt::format("{}: is required", field));
  if (text.size() > kMaxPointsTextBytes || HasControlCharacters(text)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: at most {} bytes without control characters", field, kMaxPointsTextBytes));
  }
  return absl::OkStatus();
}

}  // namespace

PointsLedger::PointsLedger(PointsRepository* repository, const Clock* clock)
    : repository_(repository), clock_(clock) {}

absl::StatusOr<PointsEntry> PointsLedger::Apply(PointsWrite write) {
  RETURN_IF_ERROR(CheckKey(write.idempotency_key));
  write.now_ms = clock_->NowMs();
  return repository_->Apply(write);
}

// Fingerprints list the numbers first and the one free text last, so no two requests share
// one.
absl::StatusOr<PointsWrite> PointsLedger::EarnWrite(uint32_t uid, int64_t amount,
                                                    int64_t expires_ms, std::string_view source,
                                                    std::string_view key,
                                                    std::string_view actor) const {
  RETURN_IF_ERROR(CheckAmount(amount, "amount"));
  RETURN_IF_ERROR(CheckText(source, "source"));
  RETURN_IF_ERROR(CheckKey(key));
  PointsWrite w;
  w.type = PointsEntryType::kEarn;
  w.uid = uid;
  w.amount = amount;
  w.expires_ms = expires_ms;
  w.reason = std::string(source);
  w.actor = std::string(actor);
  w.idempotency_key = std::string(key);
  w.fingerprint = fmt::format("earn:{}:{}:{}:{}", uid, amount, expires_ms, source);
  w.now_ms = clock_->NowMs();
  // Checked by the repository after the key: a retry after the date has passed still gets
  // its first result.
  if (expires_ms <= w.now_ms) {
    w.refuse_if_new = absl::InvalidArgumentError("expires_ms: must be in the future");
  }
  return w;
}

// Fingerprints list the numbers first and the one free text last, so no two requests share
// one.
absl::StatusOr<PointsEntry> PointsLedger::Earn(uint32_t uid, int64_t amount, int64_t expires_ms,
                                               std::string_view source, std::string_view key,
                                               std::string_view actor) {
  ASSIGN_OR_RETURN(PointsWrite w, EarnWrite(uid, amount, expires_ms, source, key, actor));
  return Apply(std::move(w));
}

absl::StatusOr<std::vector<absl::StatusOr<PointsEntry>>> PointsLedger::EarnBatch(
    std::span<const EarnRequest> earns) {
  std::vector<absl::StatusOr<PointsEntry>> out(earns.size(),
                                               absl::InternalError("points: not applied"));
  std::vector<PointsWrite> writes;
  std::vector<size_t> where;  // writes[k] answers out[where[k]]
  writes.reserve(earns.size());
  where.reserve(earns.size());
  for (size_t i = 0; i < earns.size(); ++i) {
    const EarnRequest& e = earns[i];
    absl::StatusOr<PointsWrite> w =
        EarnWrite(e.uid, e.amount, e.expires_ms, e.source, e.key, e.actor);
    if (!w.ok()) {
      out[i] = w.status();
      continue;
    }
    writes.push_back(*std::move(w));
    where.push_back(i);
  }
  ASSIGN_OR_RETURN(std::vector<absl::StatusOr<PointsEntry>> applied,
                   repository_->ApplyBatch(writes));
  for (size_t k = 0; k < applied.size(); ++k) out[where[k]] = std::move(applied[k]);
  return out;
}

absl::StatusOr<PointsEntry> PointsLedger::Spend(uint32_t uid, int64_t amount,
                                                std::string_view reason, std::string_view key,
                                                std::string_view actor) {
  RETURN_IF_ERROR(CheckAmount(amount, "amount"));
  RETURN_IF_ERROR(CheckText(reason, "reason"));
  PointsWrite w;
  w.type = PointsEntryType::kSpend;
  w.uid = uid;
  w.amount = amount;
  w.reason = std::string(reason);
  w.actor = std::string(actor);
  w.idempotency_key = std::string(key);
  w.fingerprint = fmt::format("spend:{}:{}:{}", uid, amount, reason);
  return Apply(std::move(w));
}

absl::StatusOr<PointsEntry> PointsLedger::Reverse(int64_t entry_id, std::string_view key,
                                                  std::string_view actor) {
  if (entry_id <= 0) return absl::InvalidArgumentError("entry_id: must be positive");
  PointsWrite w;
  w.type = PointsEntryType::kReverse;
  w.reverses_id = entry_id;
  w.reason = fmt::format("reversal of entry {}", entry_id);
  w.actor = std::string(actor);
  w.idempotency_key = std::string(key);
  w.fingerprint = fmt::format("reverse:{}", entry_id);
  return Apply(std::move(w));
}

absl::StatusOr<PointsEntry> PointsLedger::Adjust(uint32_t uid, int64_t delta,
                                                 std::string_view reason, std::string_view actor,
                                                 std::string_view key, int64_t expires_ms) {
  if (delta == 0) return absl::InvalidArgumentError("delta: must not be zero");
  RETURN_IF_ERROR(CheckAmount(delta > 0 ? delta : -delta, "delta"));
  RETURN_IF_ERROR(CheckText(reason, "reason"));
  if (expires_ms != kPointsNeverExpire && delta < 0) {
    return absl::InvalidArgumentError("expires_at: only for positive adjustments");
  }
  if (expires_ms != kPointsNeverExpire && expires_ms <= clock_->NowMs()) {
    return absl::InvalidArgumentError("expires_at: must be in the future");
  }
  PointsWrite w;
  w.type = PointsEntryType::kAdjust;
  w.uid = uid;
  w.amount = delta;
  w.expires_ms = expires_ms;
  w.reason = std::string(reason);
  w.actor = std::string(actor);
  w.idempotency_key = std::string(key);
  w.fingerprint = fmt::format("adjust:{}:{}:{}:{}", uid, delta, expires_ms, reason);
  return Apply(std::move(w));
}

absl::StatusOr<int64_t> PointsLedger::ExpireDue() {
  // Batches keep each write transaction short, so draws are not held up behind a large
  // expiry.
  constexpr int kBatch = 500;
  const int64_t now = clock_->NowMs();
  int64_t total = 0;
  for (;;) {
    ASSIGN_OR_RETURN(int64_t n, repository_->ExpireDue(now, kBatch));
    total += n;
    if (n < kBatch) return total;
  }
}

absl::StatusOr<PointsBalance> PointsLedger::Balance(uint32_t uid) {
  return repository_->Balance(uid, clock_->NowMs());
}

absl::StatusOr<PointsLedger::StatementPage> PointsLedger::Statement(uint32_t uid, int64_t cursor,
                                                                    int limit) {
  if (limit < 1 || limit > 500) {
    return absl::InvalidArgumentError("limit: must be between 1 and 500");
  }
  if (cursor < 0) return absl::InvalidArgumentError("cursor: not a cursor from this API");
  ASSIGN_OR_RETURN(std::vector<PointsEntry> entries,
                   repository_->ListEntries(uid, cursor, limit + 1));
  StatementPage page;
  if (entries.size() > static_cast<size_t>(limit)) {
    entries.pop_back();
    page.next_cursor = entries.back().id;
  }
  page.entries = std::move(entries);
  return page;
}

absl::StatusOr<PointsEntry> PointsLedger::GetEntry(int64_t id) {
  ASSIGN_OR_RETURN(std::optional<PointsEntry> entry, repository_->GetEntry(id));
  if (!entry) return absl::NotFoundError(fmt::format("points entry {} not found", id));
  return *entry;
}

RewardsExpiryJob::RewardsExpiryJob(PointsLedger* points, CouponService* coupons,
                                   int64_t interval_ms)
    : points_(points), coupons_(coupons), interval_ms_(interval_ms), thread_([this] { Run(); }) {}

RewardsExpiryJob::~RewardsExpiryJob() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void RewardsExpiryJob::Run() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Milliseconds(interval_ms_));
    if (stop_) return;
    mu_.Unlock();
    if (points_ != nullptr) {
      absl::StatusOr<int64_t> n = points_->ExpireDue();
      if (!n.ok()) {
        Log(Severity::kError, "points expiry failed", {{"error", ToStd(n.status().message())}});
      } else if (*n > 0) {
        Log(Severity::kInfo, "points expired", {{"lots", std::to_string(*n)}});
      }
    }
    if (coupons_ != nullptr) {
      absl::StatusOr<int64_t> n = coupons_->ExpireDue();
      if (!n.ok()) {
        Log(Severity::kError, "coupon expiry failed", {{"error", ToStd(n.status().message())}});
      } else if (*n > 0) {
        Log(Severity::kInfo, "coupons expired", {{"codes", std::to_string(*n)}});
      }
    }
    mu_.Lock();
  }
}

}  // namespace mercator::reward
