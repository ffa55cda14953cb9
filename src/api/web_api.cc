// The web apps' built files: the operator console at /console/ and the customers' H5 activity
// pages at /h5/ (web/README.md). Each app is a single-page application built by Vite into
// <web root>/<app>/dist; a path that names no file and has no extension is one of the app's
// client-side routes and gets its index.html. Files are read per request, so a rebuilt app is
// served without a restart.
#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "api/api.h"
#include "common/log.h"

namespace mercator::api {

namespace {

namespace fs = std::filesystem;

struct WebApp {
  std::string_view name;   // URL prefix and folder under the web root
  std::string_view title;  // for the log line
};
constexpr std::array<WebApp, 2> kApps = {
    {{"console", "operator console"}, {"h5", "H5 activity pages"}}};

std::string_view ContentType(std::string_view ext) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  };
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return type;
  }
  return "application/octet-stream";
}

// A relative path inside an app's dist folder, or empty if it could leave it or name a hidden
// file: no "..", no ".", no segment starting with a dot, no backslash or NUL.
bool SafeRelativePath(std::string_view rel) {
  if (rel.find('\\') != std::string_view::npos || rel.find('\0') != std::string_view::npos) {
    return false;
  }
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string_view::npos) slash = rel.size();
    std::string_view seg = rel.substr(start, slash - start);
    if (!seg.empty() && seg.front() == '.') return false;
    start = slash + 1;
  }
  return true;
}

bool ReadFile(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  out = std::move(buf).str();
  return true;
}

http::Response NotFound() {
  http::Problem p;
  p.status = 404;
  p.title = "Not Found";
  p.detail = "No file at this path.";
  return http::ProblemResponse(p);
}

http::Response Redirect(std::string location) {
  http::Response res;
  res.status = 308;
  res.headers["location"] = std::move(location);
  return res;
}

http::Response ServeFile(const fs::path& dist, std::string_view rel) {
  if (!SafeRelativePath(rel)) return NotFound();
  fs::path file = dist / fs::path(std::string(rel));
  std::error_code ec;
  const bool is_route =
      !rel.empty() && rel.back() != '/' && fs::path(std::string(rel)).extension().empty();
  if (rel.empty() || rel.back() == '/' || (is_route && !fs::is_regular_file(file, ec))) {
    file = dist / "index.html";  // the app's own router shows the page
  }
  if (!fs::is_regular_file(file, ec)) return NotFound();
  std::string body;
  if (!ReadFile(file, body)) return NotFound();
  const std::string ext = file.extension().string();
  http::Response res = http::Response::Text(200, std::move(body), std::string(ContentType(ext)));
  res.headers["x-content-type-options"] = "nosniff";
  res.headers["referrer-policy"] = "same-origin";
  if (ext == ".html") {
    // The page itself is never cached (it names the current hashed assets); scripts only from
    // this origin; antd and ECharts set inline styles; canvases draw to data: and blob: URLs.
    res.headers["cache-control"] = "no-cache";
    res.headers["content-security-policy"] =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'self'";
  } else if (rel.starts_with("assets/")) {
    res.headers["cache-control"] = "public, max-age=31536000, immutable";  // content-hashed
  } else {
    res.headers["cache-control"] = "no-cache";
  }
  return res;
}

}  // namespace

void RegisterWebRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.web_root.empty()) return;
  bool console = false;
  for (const WebApp& app : kApps) {
    const fs::path dist = fs::path(ctx.web_root) / std::string(app.name) / "dist";
    std::error_code ec;
    if (!fs::is_regular_file(dist / "index.html", ec)) {
      Log(Severity::kInfo, "web app not built; run scripts/web.sh build",
          {{"app", std::string(app.title)}, {"dir", dist.string()}});
      continue;
    }
    console = console || app.name == "console";
    const std::string prefix = fmt::format("/{}", app.name);
    router.Add(Method::kGet, prefix, Auth::kPublic, [prefix](http::Request& req) {
      const size_t q = req.target.find('?');
      return Redirect(prefix + "/" + (q == std::string::npos ? "" : req.target.substr(q)));
    });
    router.Add(Method::kGet, prefix + "/{path...}", Auth::kPublic,
               [dist](http::Request& req) { return ServeFile(dist, req.path_params["path"]); });
  }
  if (console) {
    router.Add(Method::kGet, "/", Auth::kPublic,
               [](http::Request&) { return Redirect("/console/"); });
  }
}

}  // namespace mercator::api
