#include "outreach/channel.h"

#include "common/status_macros.h"

namespace mercator::outreach {

absl::StatusOr<Delivery> SandboxChannel::Deliver(const OutboundMessage& m) {
  OutboxRow row;
  row.message_id = m.message_id;
  row.channel = m.channel;
  row.customer = m.customer;
  row.body = m.body;
  row.created_ms = clock_->NowMs();
  ASSIGN_OR_RETURN(int64_t id, repo_->AppendOutbox(row));
  Delivery d;
  d.gateway_id = "sandbox:" + std::to_string(id);
  return d;
}

}  // namespace mercator::outreach
