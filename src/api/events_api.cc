// /v1/events (signed back-ends with the "events" scope send events, as a JSON array or NDJSON),
// /v1/events/types (the catalog), /v1/events/stats, /v1/customers/{external_id}/events (a
// customer's timeline), /v1/lifecycle/rules and /v1/lifecycle/stages (event/).
//
// A batch is judged event by event: the response lists each event's status (accepted,
// duplicate with the first event's sequence number, or rejected with the member and the
// reason), and the good events are acknowledged only once durable.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/strings.h"
#include "event/catalog.h"
#include "event/event_service.h"
#include "store/lifecycle_repository.h"

namespace mercator::api {
namespace {

using event::EventService;

// Events per request: a back-end batches (100 is typical); more is a 413-like client error.
constexpr size_t kMaxEventsPerRequest = 1000;

std::string_view FieldOf(std::string_view error) {
  const size_t colon = error.find(": ");
  return colon == std::string_view::npos ? std::string_view() : error.substr(0, colon);
}

std::string_view ReasonOf(std::string_view error) {
  const size_t colon = error.find(": ");
  return colon == std::string_view::npos ? error : error.substr(colon + 2);
}

// Splits the body into one JSON value (or a parse error) per event.
absl::StatusOr<std::vector<EventService::Item>> ParseBatch(const http::Request& req,
                                                           const event::Catalog& catalog,
                                                           int64_t now_ms, int64_t max_future_ms) {
  const std::string_view type = req.Header("content-type");
  const bool ndjson = type.find("ndjson") != std::string_view::npos ||
                      type.find("jsonlines") != std::string_view::npos;
  if (!ndjson && type.find("json") == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "Content-Type: must be application/json (an array of events) or "
        "application/x-ndjson (one event per line)");
  }
  std::vector<EventService::Item> items;
  auto add = [&](absl::StatusOr<event::Event> parsed) {
    EventService::Item item;
    if (parsed.ok()) {
      item.event = *std::move(parsed);
    } else {
      item.error = std::string(parsed.status().message());
    }
    items.push_back(std::move(item));
  };
  if (ndjson) {
    std::string_view rest = req.body;
    size_t line = 0;
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      std::string_view text = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      ++line;
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
      if (items.size() == kMaxEventsPerRequest) {
        return absl::InvalidArgumentError(
            fmt::format("body: at most {} events per request", kMaxEventsPerRequest));
      }
      boost::system::error_code ec;
      json::value v = json::parse(text, ec);
      if (ec) {
        EventService::Item item;
        item.error = fmt::format("line {}: not JSON ({})", line, ec.message());
        items.push_back(std::move(item));
        continue;
      }
      add(event::ParseEventJson(v, catalog, now_ms, max_future_ms));
    }
  } else {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec) return absl::InvalidArgumentError(fmt::format("body: not JSON ({})", ec.message()));
    if (!v.is_array()) {
      return absl::InvalidArgumentError("body: must be a JSON array of events");
    }
    if (v.get_array().size() > kMaxEventsPerRequest) {
      return absl::InvalidArgumentError(
          fmt::format("body: at most {} events per request", kMaxEventsPerRequest));
    }
    for (const json::value& e : v.get_array()) {
      add(event::ParseEventJson(e, catalog, now_ms, max_future_ms));
    }
  }
  if (items.empty()) return absl::InvalidArgumentError("body: holds no event");
  return items;
}

json::object ResultsToJson(const std::vector<EventService::Item>& items,
                           const std::vector<EventService::ItemResult>& results) {
  json::array out;
  size_t accepted = 0, duplicates = 0, rejected = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const EventService::ItemResult& r = results[i];
    json::object o{{"index", i}, {"status", event::ItemStatusName(r.status)}};
    if (!items[i].event.id.empty()) o["id"] = items[i].event.id;
    switch (r.status) {
      case EventService::ItemResult::Status::kAccepted:
        ++accepted;
        o["seq"] = r.seq;
        break;
      case EventService::ItemResult::Status::kDuplicate:
        ++duplicates;
        o["seq"] = r.seq;
        break;
      case EventService::ItemResult::Status::kRejected:
        ++rejected;
        o["field"] = FieldOf(r.error);
        o["reason"] = ReasonOf(r.error);
        break;
    }
    out.push_back(std::move(o));
  }
  return json::object{{"accepted", accepted},
                      {"duplicates", duplicates},
                      {"rejected", rejected},
                      {"results", std::move(out)}};
}

json::object EventToJson(const event::Event& e) {
  json::object props;
  const event::EventType* type = event::Catalog::Builtin().Find(e.type);
  for (const auto& [key, value] : e.properties) {
    const event::FieldDef* field = nullptr;
    if (type != nullptr) {
      for (const event::FieldDef& f : type->fields) {
        if (f.name == key) field = &f;
      }
    }
    if (const auto* b = std::get_if<bool>(&value)) {
      props[key] = *b;
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      props[key] = *s;
    } else if (field != nullptr && (field->type == event::FieldType::kMoney ||
                                    field->type == event::FieldType::kDate)) {
      props[key] = event::FormatProperty(*field, value);
    } else {
      props[key] = std::get<int64_t>(value);
    }
  }
  return json::object{{"seq", e.seq},
                      {"id", e.id},
                      {"type", e.type},
                      {"customer", e.customer},
                      {"occurred_at", IsoTime(e.occurred_ms)},
                      {"received_at", IsoTime(e.received_ms)},
                      {"source", e.source},
                      {"properties", std::move(props)}};
}

json::object TypeToJson(const event::EventType& t) {
  json::array fields;
  for (const event::FieldDef& f : t.fields) {
    json::object o{{"name", f.name},
                   {"type", event::FieldTypeName(f.type)},
                   {"required", f.required},
                   {"description", f.description}};
    if (!f.values.empty()) {
      json::array values;
      for (const std::string& v : f.values) values.push_back(json::string(v));
      o["values"] = std::move(values);
    }
    fields.push_back(std::move(o));
  }
  return json::object{
      {"name", t.name},         {"name_zh", t.name_zh},         {"name_en", t.name_en},
      {"internal", t.internal}, {"description", t.description}, {"fields", std::move(fields)}};
}

}  // namespace

void RegisterEventRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.events == nullptr) return;
  EventService& events = *ctx.events;

  // Asynchronous: the answer waits for the batch's group commit without holding a worker.
  router.AddAsync(
      Method::kPost, "/v1/events", Auth::kRequired,
      [&events, &ctx](http::Request& req, http::Responder respond) {
        absl::StatusOr<std::vector<EventService::Item>> items =
            ParseBatch(req, events.catalog(), ctx.clock->NowMs(), 5 * 60 * 1000);
        if (!items.ok()) return respond(ErrorResponse(items.status()));
        // Event ids are per sender: two clients never collide.
        const std::string source = req.principal.id;
        auto responder = std::make_shared<http::Responder>(std::move(respond));
        auto kept = std::make_shared<std::vector<EventService::Item>>();
        kept->reserve(items->size());
        for (const EventService::Item& item : *items) {
          EventService::Item copy;
          copy.event.id = item.event.id;
          kept->push_back(std::move(copy));
        }
        events.Submit(
            *std::move(items), source,
            [responder, kept](absl::StatusOr<std::vector<EventService::ItemResult>> results) {
              if (!results.ok()) return (*responder)(ErrorResponse(results.status()));
              (*responder)(JsonResponse(200, ResultsToJson(*kept, *results)));
            });
      });

  router.Add(Method::kGet, "/v1/events/types", Auth::kRequired, [&events](http::Request&) {
    json::array types;
    for (const event::EventType& t : events.catalog().types()) types.push_back(TypeToJson(t));
    return JsonResponse(200, json::object{{"types", std::move(types)}});
  });

  router.Add(Method::kGet, "/v1/events/stats", Auth::kRequired, [&events](http::Request&) {
    const EventService::Stats s = events.stats();
    return JsonResponse(200, json::object{{"events", s.events},
                                          {"customers_with_events", s.customers_with_events},
                                          {"journal_bytes", s.journal_bytes}});
  });

  // A customer's timeline, newest first; page with ?before=<seq of the last event seen>.
  router.Add(Method::kGet, "/v1/customers/{external_id}/events", Auth::kRequired,
             [&events, &ctx](http::Request& req) {
               const std::string& id = req.path_params.at("external_id");
               auto record = ctx.store->customers().FindByExternalId(id);
               if (!record.ok()) return ErrorResponse(record.status());
               if (!record->has_value() || (*record)->erased) {
                 return ErrorResponse(
                     absl::NotFoundError(fmt::format("customer \"{}\" does not exist", id)));
               }
               int64_t limit = 50;
               uint64_t before = 0;
               if (auto l = req.Query("limit")) {
                 if (!absl::SimpleAtoi(ToAbsl(*l), &limit) || limit < 1 || limit > 500) {
                   return ErrorResponse(
                       absl::InvalidArgumentError("limit: must be a whole number from 1 to 500"));
                 }
               }
               if (auto b = req.Query("before")) {
                 if (!absl::SimpleAtoi(ToAbsl(*b), &before) || before == 0) {
                   return ErrorResponse(
                       absl::InvalidArgumentError("before: must be a sequence number above 0"));
                 }
               }
               const std::string type(req.Query("type").value_or(""));
               if (!type.empty() && events.catalog().Find(type) == nullptr) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     fmt::format("type: \"{}\" is not an event type of the catalog", type)));
               }
               json::array items;
               uint64_t last = 0;
               absl::Status st =
                   events.CustomerEvents((*record)->uid, type, before, static_cast<size_t>(limit),
                                         [&](const event::Event& e) {
                                           items.push_back(EventToJson(e));
                                           last = e.seq;
                                           return true;
                                         });
               if (!st.ok()) return ErrorResponse(st);
               json::object out{{"customer", id}, {"events", std::move(items)}};
               if (static_cast<int64_t>(out["events"].as_array().size()) == limit) {
                 out["next_before"] = last;
               }
               return JsonResponse(200, out);
             });

  router.Add(Method::kGet, "/v1/lifecycle/rules", Auth::kRequired, [&events](http::Request&) {
    return JsonResponse(200, event::LifecycleRulesToJson(events.lifecycle_rules()));
  });

  router.Add(Method::kGet, "/v1/lifecycle/stages", Auth::kRequired, [&events](http::Request&) {
    const event::LifecycleRules rules = events.lifecycle_rules();
    const auto counts = events.LifecycleCounts();
    json::array stages;
    for (const event::LifecycleStage& s : rules.stages) {
      auto it = counts.find(s.name);
      stages.push_back(json::object{{"name", s.name},
                                    {"name_zh", s.name_zh},
                                    {"customers", it == counts.end() ? 0 : it->second}});
    }
    return JsonResponse(200,
                        json::object{{"version", rules.version}, {"stages", std::move(stages)}});
  });

  // Replaces the rules (a new version), runs them at once and audits the change.
  if (ctx.lifecycle_rules != nullptr) {
    router.Add(
        Method::kPut, "/v1/lifecycle/rules", Auth::kRequired, [&events, &ctx](http::Request& req) {
          boost::system::error_code ec;
          json::value body = json::parse(req.body, ec);
          if (ec) {
            return ErrorResponse(
                absl::InvalidArgumentError(fmt::format("body: not JSON ({})", ec.message())));
          }
          absl::StatusOr<event::LifecycleRules> rules = event::LifecycleRulesFromJson(body);
          if (!rules.ok()) return ErrorResponse(rules.status());
          // Rules must evaluate against the catalog before they are saved.
          absl::Status st = events.CheckLifecycleRules(*rules);
          if (!st.ok()) return ErrorResponse(st);
          rules->version = 0;
          const std::string text = json::serialize(event::LifecycleRulesToJson(*rules));
          auto version =
              ctx.lifecycle_rules->Append(text, req.principal.Actor(), ctx.clock->NowMs());
          if (!version.ok()) return ErrorResponse(version.status());
          rules->version = *version;
          st = events.SetLifecycleRules(*rules);
          if (!st.ok()) return ErrorResponse(st);
          st = RecordAudit(ctx, req, "lifecycle.rules.update", "lifecycle_rules",
                           std::to_string(*version), text);
          if (!st.ok()) return ErrorResponse(st);
          return JsonResponse(200, event::LifecycleRulesToJson(*rules));
        });
  }
}

}  // namespace mercator::api
