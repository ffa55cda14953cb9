// /v1/segments: ad-hoc audience queries (count, breakdown, sample, export) and rule
// conversion between the DSL and the JSON tree.
#include <fmt/format.h>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/random.h"

namespace mercator::api {

namespace {

// Reads the "rule" member (DSL string or JSON tree); absent means every customer.
absl::StatusOr<Rule> RuleMember(const json::object& body) {
  const json::value* v = body.if_contains("rule");
  if (!v || v->is_null()) return absl::InvalidArgumentError("rule: is required");
  return RuleFromInput(*v, "rule");
}

}  // namespace

void RegisterSegmentRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  router.Add(Method::kPost, "/v1/segments/count", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<Rule> rule = RuleMember(*body);
    if (!rule.ok()) return ErrorResponse(rule.status());
    auto result = ctx.audiences->Count(*rule);
    if (!result.ok()) return ErrorResponse(result.status());
    const double share =
        result->live ? static_cast<double>(result->count) / static_cast<double>(result->live) : 0;
    return JsonResponse(200, json::object{{"count", result->count},
                                          {"total", result->live},
                                          {"share", share},
                                          {"took_ms", result->took_ms},
                                          {"rule", RuleToOutput(*rule)}});
  });

  // {"rule", "by": tag, "boundaries": [..]?} -> {"by", "buckets": [{"label", "count"}]}
  router.Add(Method::kPost, "/v1/segments/breakdown", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<Rule> rule = RuleMember(*body);
    if (!rule.ok()) return ErrorResponse(rule.status());
    absl::StatusOr<std::string> by = RequiredString(*body, "by");
    if (!by.ok()) return ErrorResponse(by.status());
    std::vector<int64_t> boundaries;
    if (const json::value* b = body->if_contains("boundaries"); b && !b->is_null()) {
      if (!b->is_array()) {
        return ErrorResponse(
            absl::InvalidArgumentError("boundaries: must be an ascending array of integers"));
      }
      for (const json::value& e : b->as_array()) {
        if (!e.is_int64() || (!boundaries.empty() && e.as_int64() <= boundaries.back())) {
          return ErrorResponse(
              absl::InvalidArgumentError("boundaries: must be an ascending array of integers"));
        }
        boundaries.push_back(e.as_int64());
      }
    }
    auto buckets = ctx.audiences->Breakdown(*rule, *by, boundaries);
    if (!buckets.ok()) {
      if (absl::IsInvalidArgument(buckets.status()) &&
          buckets.status().message().find("'" + *by + "'") != std::string::npos &&
          !ctx.customers->index().FindTag(*by)) {
        return ErrorResponse(absl::InvalidArgumentError(fmt::format("by: unknown tag '{}'", *by)));
      }
      return ErrorResponse(buckets.status());
    }
    json::array out;
    for (const auto& bucket : *buckets) {
      out.push_back(json::object{{"label", bucket.label}, {"count", bucket.count}});
    }
    return JsonResponse(200, json::object{{"by", *by}, {"buckets", std::move(out)}});
  });

  // {"rule", "limit": 1..1000 (default 20)} -> {"count", "external_ids": [...]}
  router.Add(Method::kPost, "/v1/segments/sample", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<Rule> rule = RuleMember(*body);
    if (!rule.ok()) return ErrorResponse(rule.status());
    absl::StatusOr<std::optional<int64_t>> limit = OptionalInt(*body, "limit");
    if (!limit.ok()) return ErrorResponse(limit.status());
    const int64_t n = limit->value_or(20);
    if (n < 1 || n > 1000) {
      return ErrorResponse(absl::InvalidArgumentError("limit: must be between 1 and 1000"));
    }
    auto ids = ctx.audiences->Sample(*rule, static_cast<size_t>(n), *SecureRandom::Get());
    if (!ids.ok()) return ErrorResponse(ids.status());
    json::array out;
    for (const std::string& id : *ids) out.emplace_back(id);
    return JsonResponse(200, json::object{{"external_ids", std::move(out)}});
  });

  // Streams the members' external ids as CSV.
  router.Add(Method::kPost, "/v1/segments/export", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<Rule> rule = RuleMember(*body);
    if (!rule.ok()) return ErrorResponse(rule.status());
    absl::StatusOr<Roaring> members = ctx.customers->index().Evaluate(*rule);
    if (!members.ok()) return ErrorResponse(members.status());
    // Recorded before the first byte leaves: an export that is not in the log does not happen.
    if (absl::Status s =
            RecordAudit(ctx, req, "segment.export", "segment", "",
                        json::serialize(json::object{{"rule", RuleToOutput(*rule).at("dsl")},
                                                     {"count", members->cardinality()}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r;
    r.headers["content-type"] = "text/csv; charset=utf-8";
    r.headers["content-disposition"] = "attachment; filename=\"segment.csv\"";
    r.headers["x-total-count"] = std::to_string(members->cardinality());
    r.stream = ctx.audiences->ExportCsv(*std::move(members));
    return r;
  });

  // {"rule": dsl or tree} -> {"dsl", "tree", "terms"}: the console's builder uses it to
  // switch between text and visual editing.
  router.Add(Method::kPost, "/v1/segments/convert", Auth::kRequired, [](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<Rule> rule = RuleMember(*body);
    if (!rule.ok()) return ErrorResponse(rule.status());
    return JsonResponse(200, RuleToOutput(*rule));
  });
}

}  // namespace mercator::api
