// The customer side of activities, shared by the two ways a customer reaches them: a signed app
// back-end naming the customer (/v1/app/activities/..., activities_api.cc) and the customer's
// own browser with an H5 token (/v1/h5/..., h5_api.cc). The routes differ only in where the
// customer, the channel and the scope of Idempotency-Keys come from; everything after that is
// here, once.
#ifndef MERCATOR_API_CUSTOMER_ACTIVITIES_H_
#define MERCATOR_API_CUSTOMER_ACTIVITIES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "api/api.h"
#include "api/json_util.h"
#include "http/types.h"

namespace mercator::api {

// Whom a customer-side request acts for.
struct CustomerCall {
  std::string customer;   // external id
  std::string channel;    // app, h5, wechat_oa, wecom, branch
  std::string key_scope;  // prefix of the engine's idempotency keys (the caller's actor)
};

// A positive integer path parameter; NotFound "<name> '<text>' is not a valid id" otherwise.
absl::StatusOr<int64_t> PathId(const http::Request& req, std::string_view name);

// The activities the customer sees on the channel with the chances left (odds never included).
absl::StatusOr<json::array> VisibleActivitiesJson(ApiContext& ctx, const CustomerCall& call);

// Draws in activity `id` (the request's Idempotency-Key and device are read from `req`, the
// rest from `call`); answers 201 with the prize, 200 for a replay, or the service's problem.
void DrawForCustomer(ApiContext& ctx, const http::Request& req, int64_t id,
                     const CustomerCall& call, const json::object& body, http::Responder respond);

// The customer's awards in the activity, each with its fulfilment state.
absl::StatusOr<json::array> MyPrizesJson(ApiContext& ctx, int64_t id, const std::string& customer);

// Sign-in (body: optional make_up_date) and quiz answers (body: answers) for the customer;
// ctx.sign_ins / ctx.quizzes must be set.
http::Response SignInForCustomer(ApiContext& ctx, const http::Request& req, int64_t id,
                                 const CustomerCall& call, const json::object& body);
http::Response QuizAnswersForCustomer(ApiContext& ctx, const http::Request& req, int64_t id,
                                      const CustomerCall& call, const json::object& body);

}  // namespace mercator::api

#endif  // MERCATOR_API_CUSTOMER_ACTIVITIES_H_
