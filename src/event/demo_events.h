// The mobile-banking history of a demo customer (customer/demo_bank.h) over the last 90 days,
// so that a demo bank has timelines, behaviour features and journeys to trigger: logins with
// page views up to the customer's last_login, transfers up to last_txn, purchases of the wealth
// products and funds they hold, the opening of their time deposit. Consistent with the tags:
// no event is later than the later of last_login and last_txn, so the lifecycle stage the demo
// computed stays what the default rules compute. Deterministic for (seed, customer index).
#ifndef MERCATOR_EVENT_DEMO_EVENTS_H_
#define MERCATOR_EVENT_DEMO_EVENTS_H_

#include <cstdint>
#include <vector>

#include "customer/customer.h"
#include "event/event_service.h"

namespace mercator::event {

std::vector<EventService::Item> DemoEvents(const CustomerUpsert& customer, uint64_t index,
                                           uint64_t seed, int64_t today_days);

}  // namespace mercator::event

#endif  // MERCATOR_EVENT_DEMO_EVENTS_H_
