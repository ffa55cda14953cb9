// The bridge between `Authorization: Bearer <token>` and auth::CustomerTokenService: what the
// authentication middleware (api/auth_middleware.h) calls for a customer token of the H5
// activity pages (routes in h5_api.cc, design in docs/h5.md).
#ifndef MERCATOR_API_H5_API_H_
#define MERCATOR_API_H5_API_H_

#include "api/auth_middleware.h"

namespace mercator::auth {
class ApiClientService;
class CustomerTokenService;
}  // namespace mercator::auth

namespace mercator::api {

// Verifies a customer token and returns its principal: kind customer, id the customer's
// external id, permissions auth::CustomerPermissions(), via_client, channel and activity_id
// from the token. The issuing client must still exist, be enabled and hold the "draw" scope,
// so disabling a client revokes its customers' tokens at once. Neither pointer is owned; both
// must outlive the returned function.
CustomerTokenVerifier CustomerTokenVerifierFor(auth::CustomerTokenService* tokens,
                                               auth::ApiClientService* clients);

}  // namespace mercator::api

#endif  // MERCATOR_API_H5_API_H_
