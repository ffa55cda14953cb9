// /v1/h5/... : the customer-facing H5 activity pages (web/h5). An app back-end (a signed API
// client with the "draw" scope) obtains a short-lived token for its customer
// (POST /v1/h5/tokens); the customer's browser calls the other routes with
// `Authorization: Bearer <token>` and acts only for that customer, on the token's channel and,
// if the token names one, only in that activity. The customer side's logic is shared with
// /v1/app/activities (api/customer_activities.h); this file adds where the customer comes from,
// a status view for the page's first call, the rules without odds or stock, and stable codes
// for the page's friendly states. Design: docs/h5.md.
#include "api/h5_api.h"

#include <fmt/format.h>

#include <algorithm>

#include "activity/activity_service.h"
#include "activity/quiz_service.h"
#include "activity/signin_service.h"
#include "api/api.h"
#include "api/audit_util.h"
#include "api/customer_activities.h"
#include "api/json_util.h"
#include "auth/customer_token.h"
#include "auth/request_signing.h"
#include "auth/roles.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator::api {

namespace {

// The channel of a token when the app back-end does not name one.
constexpr std::string_view kDefaultChannel = "h5";

// Members of the rules page that would tell a customer the odds or the stock.
constexpr std::string_view kHiddenPrizeMembers[] = {"probability", "weight", "total_stock",
                                                    "daily_stock", "stock_left"};

// The stable code of a problem the page shows as a friendly state, from the status and the
// detail the activity service gives (activity/activity_service.h); empty for other problems.
std::string_view FriendlyCode(int status, std::string_view detail) {
  if (status == 429 && detail.starts_with("chances:")) return "no_chances_left";
  if (status == 409 && detail.find("has ended") != std::string_view::npos) {
    return "activity_ended";
  }
  if (status == 409 && detail.starts_with("activity: not live")) return "activity_not_live";
  if (status == 403 && detail.find("not eligible") != std::string_view::npos) {
    return "not_eligible";
  }
  if (status == 403 && detail.starts_with("preview:")) return "preview";
  return {};
}

// Adds "code" (and a matching problem type) to a problem the page shows as a friendly state.
http::Response WithCode(http::Response r) {
  if (r.status < 400) return r;
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return r;
  json::object& o = v.as_object();
  const json::value* detail = o.if_contains("detail");
  const std::string_view code = FriendlyCode(r.status, detail != nullptr && detail->is_string()
                                                           ? std::string_view(detail->as_string())
                                                           : std::string_view());
  if (code.empty()) return r;
  o["code"] = code;
  o["type"] = Cat("urn:mercator:problem:", code);
  r.body = json::serialize(o);
  return r;
}

http::Response Error(const absl::Status& s) { return WithCode(ErrorResponse(s)); }

// A staff preview's principal (CustomerTokenVerifierFor): kind customer without a customer,
// via_client this prefix and the staff user name.
constexpr std::string_view kPreviewVia = "preview:user:";

bool IsPreview(const Principal& p) {
  return p.kind == Principal::Kind::kCustomer && p.via_client.starts_with(kPreviewVia);
}

absl::Status PreviewRefused() {
  return absl::PermissionDeniedError(
      "preview: this is a staff preview of the page; it cannot draw, sign in or answer, and "
      "nothing was recorded");
}

// The token's customer, channel and key scope.
CustomerCall H5Call(const http::Request& req) {
  return CustomerCall{.customer = req.principal.id,
                      .channel = req.principal.channel,
                      .key_scope = req.principal.Actor()};
}

// The activity id of the path, which the token must allow.
absl::StatusOr<int64_t> AllowedActivity(const http::Request& req) {
  if (IsPreview(req.principal)) return PreviewRefused();
  ASSIGN_OR_RETURN(int64_t id, PathId(req, "id"));
  if (req.principal.activity_id != 0 && req.principal.activity_id != id) {
    return absl::PermissionDeniedError(
        fmt::format("token: valid for activity {} only", req.principal.activity_id));
  }
  return id;
}

// The published rules as customers may read them: no odds, weights or stock.
json::object PublicRules(json::object rules) {
  if (json::value* pools = rules.if_contains("pools"); pools != nullptr && pools->is_array()) {
    for (json::value& pool : pools->as_array()) {
      json::value* prizes = pool.is_object() ? pool.as_object().if_contains("prizes") : nullptr;
      if (prizes == nullptr || !prizes->is_array()) continue;
      for (json::value& prize : prizes->as_array()) {
        if (!prize.is_object()) continue;
        for (std::string_view m : kHiddenPrizeMembers) prize.as_object().erase(m);
      }
    }
  }
  return rules;
}

// GET /v1/h5/activities/{id}: the activity, whether the customer can take part (status "ok"
// or a friendly code with its detail), chances left and the prizes of their pool (names and
// kinds only), so the page can draw the wheel and pick its state in one call.
json::object StatusJson(const activity::ActivityService::CustomerView& v) {
  const activity::ActivityTerms& t = v.activity->terms;
  json::object out{{"id", v.activity->activity_id},
                   {"name", t.name},
                   {"description", t.description},
                   {"title", t.display.title},
                   {"template", t.display.template_name},
                   {"theme", t.display.theme},
                   {"settings", t.display.settings},
                   {"start", activity::FormatTime(t.eligibility.start_ms)},
                   {"end", activity::FormatTime(t.eligibility.end_ms)},
                   {"points_cost", t.chances.points_cost},
                   {"chances_left", v.chances_left >= 0 ? json::value(v.chances_left) : nullptr}};
  if (v.can_take_part.ok()) {
    out["status"] = "ok";
  } else {
    const http::Response problem = ErrorResponse(v.can_take_part);
    const std::string_view detail = ToStd(v.can_take_part.message());
    const std::string_view code = FriendlyCode(problem.status, detail);
    out["status"] = code.empty() ? std::string_view("unavailable") : code;
    out["detail"] = detail;
  }
  if (v.can_take_part.ok() && v.chances_left == 0) out["status"] = "no_chances_left";
  json::array prizes;
  for (const activity::PoolGroup& g : t.pools) {
    if (g.pool.id != v.pool_id) continue;
    for (const activity::Prize& p : g.pool.prizes) {
      prizes.push_back(json::object{{"id", p.id}, {"name", p.name}, {"kind", p.kind}});
    }
  }
  out["prizes"] = std::move(prizes);
  return out;
}

// The activity of a preview token (the path must name it) with its latest terms, which may be
// a draft, submitted or rejected version: what the wizard shows before anything is approved.
absl::StatusOr<activity::Published> PreviewActivity(ApiContext& ctx, const http::Request& req) {
  ASSIGN_OR_RETURN(int64_t id, PathId(req, "id"));
  if (req.principal.activity_id != id) {
    return absl::PermissionDeniedError(
        fmt::format("token: valid for activity {} only", req.principal.activity_id));
  }
  ASSIGN_OR_RETURN(activity::ActivityView view, ctx.activities->Get(id));
  boost::system::error_code ec;
  json::value terms_json = json::parse(view.latest.terms_json, ec);
  if (ec) return absl::InternalError("activity: stored terms are not JSON");
  ASSIGN_OR_RETURN(activity::ActivityTerms terms, activity::ParseActivityTerms(terms_json));
  activity::Published p;
  p.activity_id = id;
  p.version = view.latest.version;
  p.terms = std::move(terms);
  return p;
}

// A preview's status: the page as a customer of the default pool (else the first) would see
// it, with unlimited chances, "preview": true and the version shown.
json::object PreviewStatusJson(activity::Published p) {
  activity::ActivityService::CustomerView v;
  const int32_t version = p.version;
  for (const activity::PoolGroup& g : p.terms.pools) {
    if (g.kind == activity::PoolGroup::Kind::kDefault) v.pool_id = g.pool.id;
  }
  if (v.pool_id.empty() && !p.terms.pools.empty()) v.pool_id = p.terms.pools.front().pool.id;
  v.activity = std::make_shared<const activity::Published>(std::move(p));
  json::object out = StatusJson(v);
  out["preview"] = true;
  out["version"] = version;
  return out;
}

// A preview's rules page: the latest terms without odds or stock (as PublicRules leaves them).
json::object PreviewRulesJson(const activity::Published& p) {
  const activity::ActivityTerms& t = p.terms;
  json::array pools;
  for (const activity::PoolGroup& g : t.pools) {
    json::array prizes;
    for (const activity::Prize& x : g.pool.prizes) {
      prizes.push_back(json::object{{"id", x.id},
                                    {"name", x.name},
                                    {"kind", x.kind},
                                    {"per_customer_cap", x.per_customer_cap}});
    }
    pools.push_back(
        json::object{{"id", g.pool.id}, {"name", g.pool.name}, {"prizes", std::move(prizes)}});
  }
  return json::object{{"id", p.activity_id},
                      {"version", p.version},
                      {"preview", true},
                      {"name", t.name},
                      {"description", t.description},
                      {"template", t.display.template_name},
                      {"title", t.display.title},
                      {"start", activity::FormatTime(t.eligibility.start_ms)},
                      {"end", activity::FormatTime(t.eligibility.end_ms)},
                      {"chances", json::object{{"free_per_day", t.chances.free_per_day},
                                               {"points_cost", t.chances.points_cost},
                                               {"max_per_day", t.chances.max_per_day},
                                               {"max_total", t.chances.max_total}}},
                      {"pools", std::move(pools)}};
}

absl::StatusOr<json::object> IssuePreviewToken(ApiContext& ctx, http::Request& req) {
  if (req.principal.kind != Principal::Kind::kStaff) {
    return absl::PermissionDeniedError("preview tokens are for staff who edit activities");
  }
  ASSIGN_OR_RETURN(int64_t id, PathId(req, "id"));
  RETURN_IF_ERROR(ctx.activities->Get(id).status());
  ASSIGN_OR_RETURN(auth::CustomerTokenService::IssuedPreview issued,
                   ctx.customer_tokens->IssuePreview(req.principal.id, id));
  const std::string expires_at = IsoTime(issued.claims.expires_ms);
  RETURN_IF_ERROR(RecordAudit(ctx, req, "activity.preview", "activity", std::to_string(id),
                              json::serialize(json::object{{"expires_at", expires_at}})));
  return json::object{{"token", issued.token},
                      {"token_type", "Bearer"},
                      {"expires_at", expires_at},
                      {"expires_in", (issued.claims.expires_ms - issued.claims.issued_ms) / 1000},
                      {"activity", id},
                      {"page", Cat("/h5/?token=", issued.token, "&activity=", std::to_string(id))}};
}

absl::StatusOr<json::object> IssueToken(ApiContext& ctx, http::Request& req) {
  ASSIGN_OR_RETURN(json::object body, ParseObjectBody(req));
  ASSIGN_OR_RETURN(std::string customer, RequiredString(body, "customer"));
  ASSIGN_OR_RETURN(std::optional<int64_t> activity, OptionalInt(body, "activity"));
  ASSIGN_OR_RETURN(std::optional<std::string> channel, OptionalString(body, "channel"));
  if (!channel) channel = std::string(kDefaultChannel);
  if (!activity::IsChannel(*channel)) {
    return absl::InvalidArgumentError("channel: must be one of app, h5, wechat_oa, wecom, branch");
  }
  if (activity && *activity <= 0) {
    return absl::InvalidArgumentError("activity: must be a positive activity id");
  }
  // Issue first: it checks the customer id's form before it is looked up.
  ASSIGN_OR_RETURN(
      auth::CustomerTokenService::Issued issued,
      ctx.customer_tokens->Issue(req.principal.id, customer, *channel, activity.value_or(0)));
  ASSIGN_OR_RETURN(std::optional<uint32_t> uid, ctx.customers->Resolve(customer));
  if (!uid) return absl::NotFoundError(fmt::format("customer: '{}' not found", customer));
  if (activity) {
    if (absl::Status s = ctx.activities->Get(*activity).status(); absl::IsNotFound(s)) {
      return absl::NotFoundError(fmt::format("activity: {} not found", *activity));
    } else if (!s.ok()) {
      return s;
    }
  }
  const std::string expires_at = IsoTime(issued.claims.expires_ms);
  RETURN_IF_ERROR(RecordAudit(
      ctx, req, "h5.token_issue", "customer", customer,
      json::serialize(json::object{{"activity", activity ? json::value(*activity) : nullptr},
                                   {"channel", *channel},
                                   {"expires_at", expires_at}})));
  std::string page = Cat("/h5/?token=", issued.token);
  if (activity) page += Cat("&activity=", std::to_string(*activity));
  return json::object{{"token", issued.token},
                      {"token_type", "Bearer"},
                      {"expires_at", expires_at},
                      {"expires_in", (issued.claims.expires_ms - issued.claims.issued_ms) / 1000},
                      {"customer", customer},
                      {"channel", *channel},
                      {"activity", activity ? json::value(*activity) : nullptr},
                      {"page", page}};
}

// A read of the template services for the token's customer in an allowed activity.
http::Handler CustomerRead(
    std::function<absl::StatusOr<json::object>(int64_t, const std::string&)> read) {
  return [read = std::move(read)](http::Request& req) {
    auto id = AllowedActivity(req);
    if (!id.ok()) return Error(id.status());
    auto out = read(*id, req.principal.id);
    if (!out.ok()) return Error(out.status());
    return JsonResponse(200, *out);
  };
}

// A write of the customer side (api/customer_activities.h) for the token's customer.
using CustomerWriteFn = http::Response (*)(ApiContext&, const http::Request&, int64_t,
                                           const CustomerCall&, const json::object&);
http::Handler CustomerWrite(ApiContext& ctx, CustomerWriteFn write) {
  return [&ctx, write](http::Request& req) {
    auto id = AllowedActivity(req);
    if (!id.ok()) return Error(id.status());
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return Error(body.status());
    return WithCode(write(ctx, req, *id, H5Call(req), *body));
  };
}

}  // namespace

CustomerTokenVerifier CustomerTokenVerifierFor(auth::CustomerTokenService* tokens,
                                               auth::ApiClientService* clients) {
  return [tokens, clients](std::string_view token) -> absl::StatusOr<Principal> {
    if (token.starts_with(auth::kPreviewTokenPrefix)) {
      ASSIGN_OR_RETURN(auth::PreviewTokenClaims preview, tokens->VerifyPreview(token));
      Principal p;
      p.kind = Principal::Kind::kCustomer;  // no customer: id stays empty
      p.permissions = auth::CustomerPermissions();
      p.via_client = Cat(kPreviewVia, preview.staff_user);
      p.channel = std::string(kDefaultChannel);
      p.activity_id = preview.activity_id;
      return p;
    }
    ASSIGN_OR_RETURN(auth::CustomerTokenClaims claims, tokens->Verify(token));
    absl::StatusOr<ApiClient> client = clients->Get(claims.client_id);
    if (!client.ok() || client->disabled ||
        std::find(client->scopes.begin(), client->scopes.end(), "draw") == client->scopes.end()) {
      if (client.ok() || absl::IsNotFound(client.status())) {
        return absl::UnauthenticatedError(
            "authorization: the customer token's client is disabled or lost the draw scope");
      }
      return client.status();
    }
    Principal p;
    p.kind = Principal::Kind::kCustomer;
    p.id = std::move(claims.customer);
    p.permissions = auth::CustomerPermissions();
    p.via_client = std::move(claims.client_id);
    p.channel = std::move(claims.channel);
    p.activity_id = claims.activity_id;
    return p;
  };
}

void RegisterH5Routes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.customer_tokens == nullptr || ctx.activities == nullptr) return;

  // --- the app back-end -----------------------------------------------------------------

  router.Add(Method::kPost, "/v1/h5/tokens", Auth::kRequired, [&ctx](http::Request& req) {
    if (req.principal.kind != Principal::Kind::kClient) {
      return ErrorResponse(absl::PermissionDeniedError(
          "customer tokens are obtained by the app back-end (a signed API client)"));
    }
    auto out = IssueToken(ctx, req);
    if (!out.ok()) return ErrorResponse(out.status());
    http::Response r = JsonResponse(201, *out);
    r.headers["cache-control"] = "no-store";
    return r;
  });

  // A staff member who edits activities previews a draft's page (the wizard's preview).
  router.Add(Method::kPost, "/v1/activities/{id}/preview-token", Auth::kRequired,
             [&ctx](http::Request& req) {
               auto out = IssuePreviewToken(ctx, req);
               if (!out.ok()) return ErrorResponse(out.status());
               http::Response r = JsonResponse(201, *out);
               r.headers["cache-control"] = "no-store";
               return r;
             });

  // --- the customer's browser ------------------------------------------------------------
  // A preview token gets the activity, its rules and an empty prize list; everything else
  // (draws, sign-in, quiz) is refused by AllowedActivity with the code "preview".

  router.Add(Method::kGet, "/v1/h5/me", Auth::kRequired, [](http::Request& req) {
    const Principal& p = req.principal;
    if (IsPreview(p)) {
      return JsonResponse(200, json::object{{"customer", nullptr},
                                            {"channel", p.channel},
                                            {"activity", p.activity_id},
                                            {"preview", true}});
    }
    return JsonResponse(
        200, json::object{{"customer", p.id},
                          {"channel", p.channel},
                          {"activity", p.activity_id != 0 ? json::value(p.activity_id) : nullptr}});
  });

  router.Add(Method::kGet, "/v1/h5/activities", Auth::kRequired, [&ctx](http::Request& req) {
    if (IsPreview(req.principal)) {
      auto view = ctx.activities->Get(req.principal.activity_id);
      if (!view.ok()) return Error(view.status());
      return JsonResponse(
          200,
          json::object{{"activities", json::array{json::object{{"id", req.principal.activity_id},
                                                               {"name", view->record.name},
                                                               {"title", view->record.name},
                                                               {"chances_left", nullptr},
                                                               {"preview", true}}}}});
    }
    auto items = VisibleActivitiesJson(ctx, H5Call(req));
    if (!items.ok()) return Error(items.status());
    if (const int64_t only = req.principal.activity_id; only != 0) {
      json::array kept;
      for (json::value& a : *items) {
        if (a.as_object().at("id").as_int64() == only) kept.push_back(std::move(a));
      }
      *items = std::move(kept);
    }
    return JsonResponse(200, json::object{{"activities", *std::move(items)}});
  });

  router.Add(Method::kGet, "/v1/h5/activities/{id}", Auth::kRequired, [&ctx](http::Request& req) {
    if (IsPreview(req.principal)) {
      auto p = PreviewActivity(ctx, req);
      if (!p.ok()) return Error(p.status());
      return JsonResponse(200, PreviewStatusJson(*std::move(p)));
    }
    auto id = AllowedActivity(req);
    if (!id.ok()) return Error(id.status());
    auto view = ctx.activities->ViewFor(*id, req.principal.id, req.principal.channel);
    if (!view.ok()) return Error(view.status());
    return JsonResponse(200, StatusJson(*view));
  });

  router.Add(Method::kGet, "/v1/h5/activities/{id}/rules", Auth::kRequired,
             [&ctx](http::Request& req) {
               if (IsPreview(req.principal)) {
                 auto p = PreviewActivity(ctx, req);
                 if (!p.ok()) return Error(p.status());
                 return JsonResponse(200, PreviewRulesJson(*p));
               }
               auto id = AllowedActivity(req);
               if (!id.ok()) return Error(id.status());
               auto rules = ctx.activities->Rules(*id);
               if (!rules.ok()) return Error(rules.status());
               return JsonResponse(200, PublicRules(*std::move(rules)));
             });

  // On the I/O thread, like the app's draw (activities_api.cc).
  router.AddInline(Method::kPost, "/v1/h5/activities/{id}/draw", Auth::kRequired,
                   [&ctx](http::Request& req, http::Responder respond) {
                     auto id = AllowedActivity(req);
                     if (!id.ok()) return respond(Error(id.status()));
                     absl::StatusOr<json::object> body = ParseObjectBody(req);
                     if (!body.ok()) return respond(Error(body.status()));
                     auto inner = std::make_shared<http::Responder>(std::move(respond));
                     DrawForCustomer(ctx, req, *id, H5Call(req), *body,
                                     http::Responder([inner](http::Response r) {
                                       (*inner)(WithCode(std::move(r)));
                                     }));
                   });

  router.Add(Method::kGet, "/v1/h5/activities/{id}/prizes", Auth::kRequired,
             [&ctx](http::Request& req) {
               if (IsPreview(req.principal)) {  // nobody's prizes: a preview draws nothing
                 auto p = PreviewActivity(ctx, req);
                 if (!p.ok()) return Error(p.status());
                 return JsonResponse(200, json::object{{"prizes", json::array()}});
               }
               auto id = AllowedActivity(req);
               if (!id.ok()) return Error(id.status());
               auto items = MyPrizesJson(ctx, *id, req.principal.id);
               if (!items.ok()) return Error(items.status());
               return JsonResponse(200, json::object{{"prizes", *std::move(items)}});
             });

  if (ctx.sign_ins != nullptr) {
    activity::SignInService* sign_ins = ctx.sign_ins;
    router.Add(Method::kGet, "/v1/h5/activities/{id}/sign-in", Auth::kRequired,
               CustomerRead([sign_ins](int64_t id, const std::string& customer) {
                 return sign_ins->Calendar(id, customer);
               }));
    router.Add(Method::kPost, "/v1/h5/activities/{id}/sign-in", Auth::kRequired,
               CustomerWrite(ctx, &SignInForCustomer));
  }

  if (ctx.quizzes != nullptr) {
    activity::QuizService* quizzes = ctx.quizzes;
    router.Add(Method::kGet, "/v1/h5/activities/{id}/quiz", Auth::kRequired,
               CustomerRead([quizzes](int64_t id, const std::string& customer) {
                 return quizzes->Questions(id, customer);
               }));
    router.Add(Method::kPost, "/v1/h5/activities/{id}/quiz/answers", Auth::kRequired,
               CustomerWrite(ctx, &QuizAnswersForCustomer));
  }
}

}  // namespace mercator::api
