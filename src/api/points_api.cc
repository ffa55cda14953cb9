// Customers' points: balance and statement (rewards:read, staff and app back-ends with the
// "rewards" scope), and staff adjustments with a reason (rewards:write; audited; the
// Idempotency-Key header is required so a double-click or a retry adjusts once).
#include <fmt/format.h>

#include <charconv>

#include "absl/time/time.h"
#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/strings.h"
#include "reward/points_ledger.h"

namespace mercator::api {
namespace {

// Longest Idempotency-Key header accepted (the ledger's key adds the actor to it).
constexpr size_t kMaxIdempotencyKeyBytes = 100;

json::value TimeOrNull(int64_t ms) { return ms > 0 ? json::value(IsoTime(ms)) : json::value(); }

json::object EntryToJson(const PointsEntry& e, const Principal& viewer) {
  json::object o{{"id", e.id},         {"type", PointsEntryTypeName(e.type)},
                 {"amount", e.amount}, {"balance_after", e.balance_after},
                 {"reason", e.reason}, {"created_at", IsoTime(e.created_ms)}};
  if (e.type == PointsEntryType::kEarn || (e.type == PointsEntryType::kAdjust && e.amount > 0)) {
    o["expires_at"] = TimeOrNull(e.expires_ms);
    o["remaining"] = e.remaining;
  }
  if (e.reverses_id != 0) o["reverses"] = e.reverses_id;
  o["reversed_by"] = e.reversed_by != 0 ? json::value(e.reversed_by) : json::value();
  // Staff see who made an entry; app back-ends do not learn staff names.
  if (viewer.kind == Principal::Kind::kStaff) o["actor"] = e.actor;
  return o;
}

absl::StatusOr<int64_t> ParseNonNegative(std::string_view text, std::string_view field,
                                         std::string_view reason) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", field, reason));
  }
  return v;
}

// The customer's uid; NotFound for unknown and erased customers alike.
absl::StatusOr<uint32_t> CustomerUid(ApiContext& ctx, const std::string& external_id) {
  auto found = ctx.store->customers().FindByExternalId(external_id);
  if (!found.ok()) return found.status();
  if (!found->has_value() || (*found)->erased) {
    return absl::NotFoundError(fmt::format("customer {} not found", external_id));
  }
  return (*found)->uid;
}

}  // namespace

void RegisterPointsRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  // ?limit=50&cursor=<next_cursor of the previous page>. The balance counts only points that
  // can be spent now; next_expiry says how many expire soonest and when.
  router.Add(
      Method::kGet, "/v1/customers/{external_id}/points", Auth::kRequired,
      [&ctx](http::Request& req) {
        int64_t cursor = 0, limit = 50;
        if (auto c = req.Query("cursor"); c && !c->empty()) {
          auto v = ParseNonNegative(*c, "cursor", "not a cursor from this API");
          if (!v.ok()) return ErrorResponse(v.status());
          cursor = *v;
        }
        if (auto l = req.Query("limit"); l && !l->empty()) {
          auto v = ParseNonNegative(*l, "limit", "must be between 1 and 500");
          if (!v.ok()) return ErrorResponse(v.status());
          limit = *v;
          if (limit < 1 || limit > 500) {
            return ErrorResponse(absl::InvalidArgumentError("limit: must be between 1 and 500"));
          }
        }
        const std::string& external_id = req.path_params.at("external_id");
        auto uid = CustomerUid(ctx, external_id);
        if (!uid.ok()) return ErrorResponse(uid.status());
        auto balance = ctx.points->Balance(*uid);
        if (!balance.ok()) return ErrorResponse(balance.status());
        auto page = ctx.points->Statement(*uid, cursor, static_cast<int>(limit));
        if (!page.ok()) return ErrorResponse(page.status());
        json::array entries;
        for (const PointsEntry& e : page->entries) {
          entries.push_back(EntryToJson(e, req.principal));
        }
        json::object out{{"external_id", external_id}, {"balance", balance->balance}};
        out["next_expiry"] =
            balance->next_expiry_ms > 0
                ? json::value(json::object{{"at", IsoTime(balance->next_expiry_ms)},
                                           {"amount", balance->next_expiry_amount}})
                : json::value();
        out["entries"] = std::move(entries);
        out["next_cursor"] =
            page->next_cursor != 0 ? json::value(std::to_string(page->next_cursor)) : json::value();
        return JsonResponse(200, out);
      });

  // Body: {"delta": -50 | 200, "reason": "...", "expires_at": "2027-01-01T00:00:00Z"?}.
  // Answers 201 with the entry; a retry with the same Idempotency-Key and body answers 200
  // with the same entry (Idempotent-Replayed: true); the same key with another body is 409.
  router.Add(Method::kPost, "/v1/customers/{external_id}/points/adjustments", Auth::kRequired,
             [&ctx](http::Request& req) {
               const std::string_view key = req.Header("idempotency-key");
               if (key.empty()) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     "Idempotency-Key: the header is required (any unique string per adjustment)"));
               }
               if (key.size() > kMaxIdempotencyKeyBytes) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     fmt::format("Idempotency-Key: at most {} bytes", kMaxIdempotencyKeyBytes)));
               }
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto delta = OptionalInt(*body, "delta");
               if (!delta.ok()) return ErrorResponse(delta.status());
               if (!delta->has_value()) {
                 return ErrorResponse(absl::InvalidArgumentError("delta: is required"));
               }
               auto reason = RequiredString(*body, "reason");
               if (!reason.ok()) return ErrorResponse(reason.status());
               auto expires = OptionalString(*body, "expires_at");
               if (!expires.ok()) return ErrorResponse(expires.status());
               int64_t expires_ms = kPointsNeverExpire;
               if (expires->has_value()) {
                 absl::Time t;
                 std::string err;
                 if (!absl::ParseTime(absl::RFC3339_full, **expires, &t, &err)) {
                   return ErrorResponse(absl::InvalidArgumentError(
                       "expires_at: expected an RFC 3339 time such as 2027-01-01T00:00:00Z"));
                 }
                 expires_ms = absl::ToUnixMillis(t);
               }
               const std::string& external_id = req.path_params.at("external_id");
               auto uid = CustomerUid(ctx, external_id);
               if (!uid.ok()) return ErrorResponse(uid.status());
               // Keys are the caller's own: two staff members may use the same one.
               const std::string actor = req.principal.Actor();
               const std::string ledger_key = Cat("staff-adjust:", actor, ":", key);
               auto entry =
                   ctx.points->Adjust(*uid, **delta, *reason, actor, ledger_key, expires_ms);
               if (!entry.ok()) return ErrorResponse(entry.status());
               if (entry->replayed) {
                 http::Response r = JsonResponse(200, EntryToJson(*entry, req.principal));
                 r.headers["idempotent-replayed"] = "true";
                 return r;
               }
               if (absl::Status s = RecordAudit(
                       ctx, req, "points.adjust", "customer", external_id,
                       json::serialize(json::object{{"entry_id", entry->id},
                                                    {"delta", entry->amount},
                                                    {"reason", entry->reason},
                                                    {"balance_after", entry->balance_after}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(201, EntryToJson(*entry, req.principal));
             });
}

}  // namespace mercator::api
