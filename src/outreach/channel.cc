#include "outreach/channel.h"

#include "common/status_macros.h"

namespace mercator::outreach {

absl::StatusOr<Delivery> SandboxChannel::Deliver(const OutboundMessage& m) {
  return std::move(DeliverBatch({&m, 1}).front());
}

std::vector<absl::StatusOr<Delivery>> SandboxChannel::DeliverBatch(
    std::span<const OutboundMessage> messages) {
  const int64_t now = clock_->NowMs();
  std::vector<OutboxRow> rows(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    rows[i].message_id = messages[i].message_id;
    rows[i].channel = messages[i].channel;
    rows[i].customer = messages[i].customer;
    rows[i].body = messages[i].body;
    rows[i].created_ms = now;
  }
  absl::StatusOr<std::vector<int64_t>> ids = repo_->AppendOutboxBatch(rows);
  std::vector<absl::StatusOr<Delivery>> out;
  out.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!ids.ok()) {
      out.emplace_back(ids.status());
      continue;
    }
    Delivery d;
    d.gateway_id = "sandbox:" + std::to_string((*ids)[i]);
    out.emplace_back(std::move(d));
  }
  return out;
}

}  // namespace mercator::outreach
