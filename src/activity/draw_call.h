// One customer's draw as the API received it: who, where from, and the retry key. The
// activity service, the draw guard (rate limits, risk check) and the verification hook all
// read it. A plain value.
#ifndef MERCATOR_ACTIVITY_DRAW_CALL_H_
#define MERCATOR_ACTIVITY_DRAW_CALL_H_

#include <cstdint>
#include <functional>
#include <string>

namespace mercator::activity {

struct DrawCall {
  int64_t activity_id = 0;
  std::string external_id;      // the customer, as the bank knows them
  std::string channel;          // app, h5, wechat_oa, wecom, branch
  std::string idempotency_key;  // already scoped to the API client by the caller
  std::string device_id;        // X-Device-Id header or body "device_id"; empty: not given
  std::string peer_ip;          // the TCP peer's address
  // The X-Forwarded-For header as received (may be empty). Only a guard configured to trust
  // a proxy in front of the server reads it; otherwise the peer is the client.
  std::string forwarded_for;
  // Set when the caller's thread must not block (an HTTP I/O thread): runs work on a thread
  // that may. A draw whose terms need a blocking step (the bank's verification hook, a
  // points spend, task chances; audiences without the membership cache) is moved there
  // whole. Empty: the caller's thread may block.
  std::function<void(std::function<void()>)> offload;
};

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_DRAW_CALL_H_
