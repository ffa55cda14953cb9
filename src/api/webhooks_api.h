// The delivery state of a recorded message as the contact history shows it (webhooks_api.cc).
#ifndef MERCATOR_API_WEBHOOKS_API_H_
#define MERCATOR_API_WEBHOOKS_API_H_

#include "api/api.h"
#include "api/json_util.h"
#include "store/outreach_repository.h"

namespace mercator::api {

// {"webhook": {"state", "attempts", "last_error"} | null, "receipt": {"status", "reason",
// "occurred_at"} | null}; null when the context has no webhook repository or the message has
// neither.
json::value DeliveryToJson(ApiContext& ctx, const MessageRow& message);

}  // namespace mercator::api

#endif  // MERCATOR_API_WEBHOOKS_API_H_
