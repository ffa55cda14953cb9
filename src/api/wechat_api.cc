// The WeChat channels' configuration routes (docs/outreach-wechat.md):
// - PUT/GET /v1/customers/{external_id}/wechat (contacts:write / contacts:read): where the
//   customer is reached on WeChat (openid under the bank's official account) and WeCom (the
//   external contact id and the WeCom userid of the staff member who has the customer as a
//   contact); audited as wechat.binding;
// - PUT/GET /v1/templates/{id}/wechat (templates:write / templates:read): the official-account
//   template behind a wechat_oa service template (WeChat template id, data field keys filled
//   by the body's lines, default H5 link); audited as wechat.template;
// - GET/POST /wechat/oa/push (public, verified by WeChat's signature with the configured token;
//   outreach/wechat_push.h): the account's server URL. GET answers WeChat's URL check with
//   echostr; POST takes a push (XML) and answers "success" as WeChat expects.
#include <fmt/format.h>

#include <algorithm>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "api/outreach_api.h"
#include "outreach/templates.h"
#include "outreach/wechat_push.h"
#include "store/wechat_repository.h"

namespace mercator::api {
namespace {

constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxFields = 20;
constexpr size_t kMaxUrlBytes = 1000;

// WeChat and WeCom ids: letters, digits and - _ @ . (openids, external_userids, userids).
bool IsWechatId(std::string_view s) {
  return !s.empty() && s.size() <= kMaxIdBytes && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '@' ||
           c == '.';
  });
}

// An optional id field: absent or "" means none.
absl::StatusOr<std::string> OptionalId(const json::object& body, std::string_view field) {
  auto v = OptionalString(body, field);
  if (!v.ok()) return v.status();
  if (!v->has_value() || (*v)->empty()) return std::string();
  if (!IsWechatId(**v)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: must be 1 to {} letters, digits or - _ @ . (or \"\" for none)", field, kMaxIdBytes));
  }
  return **v;
}

json::object BindingToJson(const WechatBinding& b) {
  return json::object{{"customer", b.customer},
                      {"openid", b.openid},
                      {"wecom_external_userid", b.wecom_external_userid},
                      {"wecom_sender", b.wecom_sender},
                      {"updated_by", b.updated_by},
                      {"updated_at", IsoTime(b.updated_ms)}};
}

json::object TemplateToJson(const WechatTemplateRow& t) {
  json::array fields;
  for (const std::string& f : t.fields) fields.emplace_back(f);
  return json::object{{"template_id", t.template_id},
                      {"wechat_template_id", t.wechat_template_id},
                      {"kind", t.kind},
                      {"fields", std::move(fields)},
                      {"url", t.url},
                      {"updated_by", t.updated_by},
                      {"updated_at", IsoTime(t.updated_ms)}};
}

}  // namespace

void RegisterWechatRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.wechat_repository == nullptr || ctx.templates == nullptr) return;

  if (ctx.wechat_push != nullptr) {
    outreach::WechatPushHandler& push = *ctx.wechat_push;
    auto verify = [&push](const http::Request& req) {
      return push.Verify(req.Query("signature").value_or(""), req.Query("timestamp").value_or(""),
                         req.Query("nonce").value_or(""));
    };
    router.Add(Method::kGet, "/wechat/oa/push", Auth::kPublic, [verify](http::Request& req) {
      if (absl::Status s = verify(req); !s.ok()) return ErrorResponse(s);
      return http::Response::Text(200, std::string(req.Query("echostr").value_or("")),
                                  "text/plain; charset=utf-8");
    });
    router.Add(Method::kPost, "/wechat/oa/push", Auth::kPublic, [&push](http::Request& req) {
      absl::StatusOr<outreach::WechatPush> p =
          push.Open({.signature = req.Query("signature").value_or(""),
                     .timestamp = req.Query("timestamp").value_or(""),
                     .nonce = req.Query("nonce").value_or(""),
                     .encrypt_type = req.Query("encrypt_type").value_or(""),
                     .msg_signature = req.Query("msg_signature").value_or(""),
                     .body = req.body});
      if (!p.ok()) return ErrorResponse(p.status());
      absl::StatusOr<std::string> done = push.Apply(*p);
      if (!done.ok()) return ErrorResponse(done.status());
      http::Response r = http::Response::Text(200, "success", "text/plain; charset=utf-8");
      r.headers["x-mercator-push"] = *done;
      return r;
    });
  }

  // Body: {"openid", "wecom_external_userid", "wecom_sender"} (each optional, "" clears it;
  // the external contact and its sender go together). 200 with the binding.
  router.Add(
      Method::kPut, "/v1/customers/{external_id}/wechat", Auth::kRequired,
      [&ctx](http::Request& req) {
        const std::string& customer = req.path_params.at("external_id");
        if (absl::StatusOr<CustomerRecord> c = ctx.customers->Get(customer); !c.ok()) {
          return ErrorResponse(c.status());
        }
        absl::StatusOr<json::object> body = ParseObjectBody(req);
        if (!body.ok()) return ErrorResponse(body.status());
        WechatBinding b;
        b.customer = customer;
        for (auto [field, out] : {std::pair{"openid", &b.openid},
                                  std::pair{"wecom_external_userid", &b.wecom_external_userid},
                                  std::pair{"wecom_sender", &b.wecom_sender}}) {
          absl::StatusOr<std::string> v = OptionalId(*body, field);
          if (!v.ok()) return ErrorResponse(v.status());
          *out = *v;
        }
        if (b.wecom_external_userid.empty() != b.wecom_sender.empty()) {
          return ErrorResponse(absl::InvalidArgumentError(
              "wecom_sender: is required with wecom_external_userid (the WeCom userid that has "
              "the customer as a contact), and only with it"));
        }
        b.updated_by = req.principal.Actor();
        b.updated_ms = ctx.clock->NowMs();
        if (absl::Status s = ctx.wechat_repository->PutBinding(b); !s.ok()) {
          return ErrorResponse(s);
        }
        // No ids in clear in the audit log: which addresses are bound is enough.
        if (absl::Status s = RecordAudit(
                ctx, req, "wechat.binding", "customer", customer,
                json::serialize(json::object{{"openid", !b.openid.empty()},
                                             {"wecom", !b.wecom_external_userid.empty()},
                                             {"wecom_sender", b.wecom_sender}}));
            !s.ok()) {
          return ErrorResponse(s);
        }
        return JsonResponse(200, BindingToJson(b));
      });

  router.Add(Method::kGet, "/v1/customers/{external_id}/wechat", Auth::kRequired,
             [&ctx](http::Request& req) {
               const std::string& customer = req.path_params.at("external_id");
               auto b = ctx.wechat_repository->GetBinding(customer);
               if (!b.ok()) return ErrorResponse(b.status());
               if (!b->has_value()) {
                 return ErrorResponse(absl::NotFoundError(
                     fmt::format("customer {} has no WeChat binding", customer)));
               }
               return JsonResponse(200, BindingToJson(**b));
             });

  // Body: {"wechat_template_id", "fields": ["thing1", ...], "url"}. The template must be a
  // wechat_oa service template whose body has one line per field.
  router.Add(
      Method::kPut, "/v1/templates/{id}/wechat", Auth::kRequired, [&ctx](http::Request& req) {
        absl::StatusOr<int64_t> id = PathId(req, "id", "template");
        if (!id.ok()) return ErrorResponse(id.status());
        absl::StatusOr<TemplateRow> tmpl = ctx.templates->Get(*id);
        if (!tmpl.ok()) return ErrorResponse(tmpl.status());
        if (tmpl->channel != "wechat_oa") {
          return ErrorResponse(absl::InvalidArgumentError(fmt::format(
              "template_id: template {} is for {}, not wechat_oa", *id, tmpl->channel)));
        }
        if (tmpl->purpose == "marketing") {
          return ErrorResponse(absl::InvalidArgumentError(
              "template_id: WeChat forbids marketing in template messages"));
        }
        absl::StatusOr<json::object> body = ParseObjectBody(req);
        if (!body.ok()) return ErrorResponse(body.status());
        WechatTemplateRow t;
        t.template_id = *id;
        auto wid = RequiredString(*body, "wechat_template_id");
        if (!wid.ok()) return ErrorResponse(wid.status());
        if (!IsWechatId(*wid)) {
          return ErrorResponse(absl::InvalidArgumentError(fmt::format(
              "wechat_template_id: must be 1 to {} letters, digits or - _ @ .", kMaxIdBytes)));
        }
        t.wechat_template_id = *wid;
        const json::value* fields = body->if_contains("fields");
        if (fields == nullptr || !fields->is_array() || fields->as_array().empty() ||
            fields->as_array().size() > kMaxFields) {
          return ErrorResponse(absl::InvalidArgumentError(
              fmt::format("fields: must be an array of 1 to {} data keys", kMaxFields)));
        }
        for (size_t i = 0; i < fields->as_array().size(); ++i) {
          const json::value& f = fields->as_array()[i];
          if (!f.is_string() || !IsWechatId(f.as_string()) ||
              std::string_view(f.as_string()).find_first_of("@,") != std::string_view::npos) {
            return ErrorResponse(absl::InvalidArgumentError(
                fmt::format("fields[{}]: must be a data key such as thing1", i)));
          }
          t.fields.emplace_back(f.as_string());
        }
        const size_t lines = std::count(tmpl->body.begin(), tmpl->body.end(), '\n') + 1;
        if (lines != t.fields.size()) {
          return ErrorResponse(absl::InvalidArgumentError(fmt::format(
              "fields: template {} has {} body lines; give one data key per line", *id, lines)));
        }
        auto kind = OptionalString(*body, "kind");
        if (!kind.ok()) return ErrorResponse(kind.status());
        t.kind = kind->value_or("template");
        if (t.kind != "template" && t.kind != "subscribe") {
          return ErrorResponse(absl::InvalidArgumentError(
              "kind: must be template (a template message) or subscribe (a subscribe message)"));
        }
        auto url = OptionalString(*body, "url");
        if (!url.ok()) return ErrorResponse(url.status());
        t.url = url->value_or("");
        if (!t.url.empty() && (t.url.size() > kMaxUrlBytes ||
                               !(t.url.starts_with("https://") || t.url.starts_with("http://")) ||
                               t.url.find_first_of(" \t\r\n<>\"") != std::string::npos)) {
          return ErrorResponse(absl::InvalidArgumentError(fmt::format(
              "url: must be an http(s) URL of at most {} bytes without spaces", kMaxUrlBytes)));
        }
        t.updated_by = req.principal.Actor();
        t.updated_ms = ctx.clock->NowMs();
        if (absl::Status s = ctx.wechat_repository->PutTemplate(t); !s.ok()) {
          return ErrorResponse(s);
        }
        const json::object out = TemplateToJson(t);
        if (absl::Status s = RecordAudit(ctx, req, "wechat.template", "outreach_template",
                                         std::to_string(*id), json::serialize(out));
            !s.ok()) {
          return ErrorResponse(s);
        }
        return JsonResponse(200, out);
      });

  router.Add(Method::kGet, "/v1/templates/{id}/wechat", Auth::kRequired,
             [&ctx](http::Request& req) {
               absl::StatusOr<int64_t> id = PathId(req, "id", "template");
               if (!id.ok()) return ErrorResponse(id.status());
               auto t = ctx.wechat_repository->GetTemplate(*id);
               if (!t.ok()) return ErrorResponse(t.status());
               if (!t->has_value()) {
                 return ErrorResponse(
                     absl::NotFoundError(fmt::format("template {} has no WeChat template", *id)));
               }
               return JsonResponse(200, TemplateToJson(**t));
             });
}

}  // namespace mercator::api
