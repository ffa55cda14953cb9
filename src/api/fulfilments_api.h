// What the customers' "my prizes" (activities_api.cc) shows of each award's fulfilment.
#ifndef MERCATOR_API_FULFILMENTS_API_H_
#define MERCATOR_API_FULFILMENTS_API_H_

#include <cstdint>
#include <map>
#include <span>

#include "absl/status/statusor.h"
#include "api/api.h"
#include "api/json_util.h"

namespace mercator::api {

// By draw id, for the customer: {"state": "processing" | "delivered" | "awaiting_operator",
// "delivered_at": time or null, "reference": the operator's reference (courier number) or
// null}. Awards not taken in yet, pending, retrying and stuck ones are all "processing": the
// customer is owed the prize either way, and operators see the detail. Empty without a
// fulfilment service.
absl::StatusOr<std::map<int64_t, json::object>> CustomerFulfilments(
    ApiContext& ctx, int64_t activity_id, std::span<const int64_t> draw_ids);

}  // namespace mercator::api

#endif  // MERCATOR_API_FULFILMENTS_API_H_
