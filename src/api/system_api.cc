// Process endpoints: /livez, /readyz, /metrics, /openapi.json and the rendered /docs page.
#include <fmt/format.h>

#include "api/api.h"
#include "api/json_util.h"

namespace mercator::api {

namespace {

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// A readable, self-contained reference page from the OpenAPI document: no scripts, no
// external assets, so it works on a closed bank network.
std::string RenderDocs(const std::string& openapi_json) {
  boost::system::error_code ec;
  json::value doc = json::parse(openapi_json, ec);
  if (ec || !doc.is_object()) return "<p>The OpenAPI document is not available.</p>";
  const json::object& root = doc.as_object();
  std::string html =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\"><title>Mercator API</title>"
      "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;"
      "padding:0 1em;color:#222}h2{border-bottom:1px solid #ddd;padding-bottom:.3em}"
      ".op{margin:1em 0;padding:.6em 1em;border:1px solid #e3e3e3;border-radius:6px}"
      ".m{display:inline-block;min-width:4.5em;font-weight:600;font-family:monospace}"
      ".get{color:#0a7}.post{color:#06c}.put,.patch{color:#a60}.delete{color:#c22}"
      "code,pre{background:#f6f6f6;padding:.1em .3em;border-radius:3px}"
      "pre{padding:.6em;overflow:auto}</style></head><body>";
  if (const json::value* info = root.if_contains("info"); info && info->is_object()) {
    html += fmt::format(
        "<h1>{} <small>{}</small></h1><p>{}</p>", Escape(Str(info->as_object(), "title")),
        Escape(Str(info->as_object(), "version")), Escape(Str(info->as_object(), "description")));
  }
  html += "<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a></p>";
  const json::value* paths = root.if_contains("paths");
  if (paths && paths->is_object()) {
    for (const auto& [path, item] : paths->as_object()) {
      if (!item.is_object()) continue;
      html += fmt::format("<h2><code>{}</code></h2>", Escape(path));
      for (const auto& [method, op] : item.as_object()) {
        if (!op.is_object()) continue;
        const json::object& o = op.as_object();
        html +=
            fmt::format("<div class=\"op\"><span class=\"m {0}\">{1}</span> <b>{2}</b><p>{3}</p>",
                        Escape(method), Escape(fmt::format("{}", std::string_view(method))),
                        Escape(Str(o, "summary")), Escape(Str(o, "description")));
        if (const json::value* rs = o.if_contains("responses"); rs && rs->is_object()) {
          html += "<p>Responses: ";
          for (const auto& [code, r] : rs->as_object()) {
            html += fmt::format("<code>{}</code> {} ", Escape(code),
                                r.is_object() ? Escape(Str(r.as_object(), "description")) : "");
          }
          html += "</p>";
        }
        html += "</div>";
      }
    }
  }
  html += "</body></html>";
  return html;
}

}  // namespace

void RegisterSystemRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  router.Add(Method::kGet, "/livez", Auth::kPublic, [](http::Request&) {
    return JsonResponse(200, json::object{{"status", "ok"}});
  });

  router.Add(Method::kGet, "/readyz", Auth::kPublic, [&ctx](http::Request&) {
    if (ctx.draining && ctx.draining()) {
      return JsonResponse(503, json::object{{"status", "draining"}});
    }
    if (absl::Status s = ctx.store->Ping(); !s.ok()) {
      return JsonResponse(503, json::object{{"status", "storage unavailable"}});
    }
    return JsonResponse(200, json::object{{"status", "ready"}});
  });

  router.Add(Method::kGet, "/metrics", Auth::kPublic, [&ctx](http::Request&) {
    return http::Response::Text(200, ctx.render_metrics ? ctx.render_metrics() : "",
                                "text/plain; version=0.0.4; charset=utf-8");
  });

  router.Add(Method::kGet, "/openapi.json", Auth::kPublic,
             [&ctx](http::Request&) { return http::Response::Json(200, ctx.openapi_json); });

  const std::string docs = RenderDocs(ctx.openapi_json);
  router.Add(Method::kGet, "/docs", Auth::kPublic, [docs](http::Request&) {
    return http::Response::Text(200, docs, "text/html; charset=utf-8");
  });
}

}  // namespace mercator::api
