// Fulfilment of lottery awards (reward/fulfilment.h) for operators: the outbox by state and
// activity (rewards:read), one row, and the two hand actions (rewards:write, both audited):
// retry a stuck row after fixing its cause (e.g. codes added to an empty coupon template), and
// complete a manual prize (physical, cash) or a stuck one with a reference such as a courier
// number or a transfer id.
#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "api/fulfilments_api.h"

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/strings.h"
#include "reward/fulfilment.h"

namespace mercator::api {
namespace {

json::value TimeOrNull(int64_t ms) { return ms > 0 ? json::value(IsoTime(ms)) : json::value(); }

json::object RowToJson(const Fulfilment& f, const std::string& external_id) {
  return json::object{
      {"id", f.id},
      {"activity_id", f.activity_id},
      {"draw_id", std::to_string(f.draw_id)},
      {"customer", external_id.empty() ? json::value() : json::value(external_id)},
      {"pool_id", f.pool_id},
      {"prize_id", f.prize_id},
      {"prize_name", f.prize_name},
      {"kind", f.kind},
      {"reward_ref", f.reward_ref},
      {"cost_fen", f.cost_fen},
      {"won_at", IsoTime(f.won_ms)},
      {"state", FulfilmentStateName(f.state)},
      {"attempts", f.attempts},
      {"last_error", f.last_error.empty() ? json::value() : json::value(f.last_error)},
      {"next_attempt_at",
       f.state == FulfilmentState::kPending || f.state == FulfilmentState::kRetrying
           ? TimeOrNull(f.next_attempt_ms)
           : json::value()},
      {"delivered_ref", f.delivered_ref.empty() ? json::value() : json::value(f.delivered_ref)},
      {"completed_by", f.completed_by.empty() ? json::value() : json::value(f.completed_by)},
      {"delivered_at", TimeOrNull(f.delivered_ms)},
      {"created_at", IsoTime(f.created_ms)},
      {"updated_at", IsoTime(f.updated_ms)}};
}

// External ids of the rows' customers, in order ("" if unknown or erased).
std::vector<std::string> CustomersOf(ApiContext& ctx, const std::vector<Fulfilment>& rows) {
  std::vector<uint32_t> uids;
  uids.reserve(rows.size());
  for (const Fulfilment& f : rows) uids.push_back(f.uid);
  auto ids = ctx.store->customers().ExternalIds(uids);
  if (!ids.ok() || ids->size() != rows.size()) return std::vector<std::string>(rows.size());
  return *std::move(ids);
}

absl::StatusOr<int64_t> PositiveQuery(const http::Request& req, std::string_view name,
                                      std::string_view error) {
  int64_t v = 0;
  if (auto q = req.Query(name); q && !q->empty()) {
    auto [p, ec] = std::from_chars(q->data(), q->data() + q->size(), v);
    if (ec != std::errc() || p != q->data() + q->size() || v < 0) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", name, error));
    }
  }
  return v;
}

absl::StatusOr<int64_t> PathId(const http::Request& req) {
  const std::string& text = req.path_params.at("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || p != text.data() + text.size() || id <= 0) {
    return absl::NotFoundError(fmt::format("fulfilment {} not found", text));
  }
  return id;
}

http::Response One(ApiContext& ctx, const Fulfilment& f) {
  std::vector<std::string> ids = CustomersOf(ctx, {f});
  return JsonResponse(200, RowToJson(f, ids[0]));
}

}  // namespace

absl::StatusOr<std::map<int64_t, json::object>> CustomerFulfilments(
    ApiContext& ctx, int64_t activity_id, std::span<const int64_t> draw_ids) {
  std::map<int64_t, json::object> out;
  if (ctx.fulfilments == nullptr) return out;
  auto rows = ctx.fulfilments->ForDraws(activity_id, draw_ids);
  if (!rows.ok()) return rows.status();
  for (int64_t draw_id : draw_ids) {
    json::object o{{"state", "processing"}, {"delivered_at", nullptr}, {"reference", nullptr}};
    if (auto it = rows->find(draw_id); it != rows->end()) {
      const Fulfilment& f = it->second;
      if (f.state == FulfilmentState::kDelivered) {
        o["state"] = "delivered";
        o["delivered_at"] = IsoTime(f.delivered_ms);
        if (!f.completed_by.empty()) o["reference"] = f.delivered_ref;
      } else if (f.state == FulfilmentState::kManual) {
        o["state"] = "awaiting_operator";
      }
    }
    out.emplace(draw_id, std::move(o));
  }
  return out;
}

void RegisterFulfilmentRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.fulfilments == nullptr) return;
  reward::FulfilmentService& svc = *ctx.fulfilments;

  // ?state=pending|retrying|delivered|manual|stuck&activity_id=N&cursor=&limit=1..500 (50).
  router.Add(Method::kGet, "/v1/fulfilments", Auth::kRequired, [&ctx, &svc](http::Request& req) {
    FulfilmentFilter filter;
    if (auto s = req.Query("state"); s && !s->empty()) {
      filter.state = ParseFulfilmentState(*s);
      if (!filter.state) {
        return ErrorResponse(absl::InvalidArgumentError(
            "state: one of pending, retrying, delivered, manual, stuck"));
      }
    }
    auto activity = PositiveQuery(req, "activity_id", "must be an activity id");
    if (!activity.ok()) return ErrorResponse(activity.status());
    filter.activity_id = *activity;
    auto cursor = PositiveQuery(req, "cursor", "not a cursor from this API");
    if (!cursor.ok()) return ErrorResponse(cursor.status());
    auto limit = PositiveQuery(req, "limit", "must be between 1 and 500");
    if (!limit.ok()) return ErrorResponse(limit.status());
    if (*limit == 0 && !req.Query("limit")) *limit = 50;
    if (*limit < 1 || *limit > 500) {
      return ErrorResponse(absl::InvalidArgumentError("limit: must be between 1 and 500"));
    }
    auto page = svc.List(filter, *cursor, static_cast<int>(*limit));
    if (!page.ok()) return ErrorResponse(page.status());
    std::vector<std::string> ids = CustomersOf(ctx, page->rows);
    json::array items;
    items.reserve(page->rows.size());
    for (size_t i = 0; i < page->rows.size(); ++i)
      items.push_back(RowToJson(page->rows[i], ids[i]));
    json::object out{{"fulfilments", std::move(items)}};
    out["next_cursor"] =
        page->next_cursor > 0 ? json::value(std::to_string(page->next_cursor)) : json::value();
    return JsonResponse(200, out);
  });

  router.Add(Method::kGet, "/v1/fulfilments/{id}", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               auto row = svc.Get(*id);
               if (!row.ok()) return ErrorResponse(row.status());
               return One(ctx, *row);
             });

  // A stuck (or retrying) row is tried again now, with its attempts starting again. Audited.
  router.Add(Method::kPost, "/v1/fulfilments/{id}/retry", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               auto row = svc.Retry(*id);
               if (!row.ok()) return ErrorResponse(row.status());
               if (absl::Status s = RecordAudit(
                       ctx, req, "fulfilment.retry", "fulfilment", std::to_string(*id),
                       json::serialize(json::object{{"activity_id", row->activity_id},
                                                    {"draw_id", std::to_string(row->draw_id)},
                                                    {"kind", row->kind},
                                                    {"last_error", row->last_error}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return One(ctx, *row);
             });

  // Body: {"reference": "SF1234567890"}: a manual (physical, cash) or stuck row is done by hand.
  // Audited with the reference.
  router.Add(Method::kPost, "/v1/fulfilments/{id}/complete", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               auto body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto reference = RequiredString(*body, "reference");
               if (!reference.ok()) return ErrorResponse(reference.status());
               auto row = svc.Complete(*id, *reference, req.principal.Actor());
               if (!row.ok()) return ErrorResponse(row.status());
               if (absl::Status s = RecordAudit(
                       ctx, req, "fulfilment.complete", "fulfilment", std::to_string(*id),
                       json::serialize(json::object{{"activity_id", row->activity_id},
                                                    {"draw_id", std::to_string(row->draw_id)},
                                                    {"kind", row->kind},
                                                    {"reference", *reference}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return One(ctx, *row);
             });
}

}  // namespace mercator::api
