// The bridge between HTTP requests and auth::ApiClientService's verifier: what the
// authentication middleware (api/auth_middleware.h) calls for `Authorization: MCT-HMAC-SHA256`.
#ifndef MERCATOR_API_CLIENTS_API_H_
#define MERCATOR_API_CLIENTS_API_H_

#include <functional>

#include "absl/status/statusor.h"
#include "auth/request_signing.h"
#include "common/principal.h"
#include "http/types.h"

namespace mercator::api {

// Verifies a request signed by an API client: method, target (path and query exactly as
// received), body and the Authorization header go to clients->Verify. `clients` must outlive
// the returned function.
std::function<absl::StatusOr<Principal>(const http::Request&)> SignedRequestVerifierFor(
    auth::ApiClientService* clients);

}  // namespace mercator::api

#endif  // MERCATOR_API_CLIENTS_API_H_
