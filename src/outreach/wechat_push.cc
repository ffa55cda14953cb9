#include "outreach/wechat_push.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <charconv>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "auth/audit.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace mercator::outreach {

namespace {

constexpr int64_t kMaxSkewSeconds = 300;
constexpr size_t kMaxXmlBytes = 64 * 1024;

// WeChat's signatures: the hex SHA-1 of the sorted concatenation of the parts.
std::string SortedSha1(std::vector<std::string_view> parts) {
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (std::string_view p : parts) joined += p;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  return HexEncode(digest, sizeof digest);
}

// PermissionDenied naming `field` unless `given` equals `expected` (constant time).
absl::Status SameSignature(std::string_view given, const std::string& expected,
                           std::string_view field) {
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return absl::PermissionDeniedError(
        fmt::format("{}: does not match the configured token", field));
  }
  return absl::OkStatus();
}

}  // namespace

std::string WechatSignature(std::string_view token, std::string_view timestamp,
                            std::string_view nonce) {
  return SortedSha1({token, timestamp, nonce});
}

absl::StatusOr<WechatPush> ParseWechatPush(std::string_view xml) {
  if (xml.size() > kMaxXmlBytes) {
    return absl::InvalidArgumentError(fmt::format("xml: longer than {} bytes", kMaxXmlBytes));
  }
  namespace pt = boost::property_tree;
  pt::ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    pt::read_xml(in, tree, pt::xml_parser::no_comments);
  } catch (const pt::xml_parser_error& e) {
    return absl::InvalidArgumentError(fmt::format("xml: not well-formed ({})", e.message()));
  }
  const auto root = tree.get_child_optional("xml");
  if (!root) return absl::InvalidArgumentError("xml: the root element must be <xml>");
  auto text = [&](const char* name) { return root->get<std::string>(name, ""); };
  WechatPush p;
  p.to_user = text("ToUserName");
  p.from_user = text("FromUserName");
  p.msg_type = text("MsgType");
  p.event = text("Event");
  p.msg_id = text("MsgID");
  if (p.msg_id.empty()) p.msg_id = text("MsgId");
  p.status = text("Status");
  for (const char* required : {"ToUserName", "FromUserName", "MsgType"}) {
    if (text(required).empty()) {
      return absl::InvalidArgumentError(fmt::format("xml.{}: is required", required));
    }
  }
  const std::string created = text("CreateTime");
  auto [end, ec] = std::from_chars(created.data(), created.data() + created.size(), p.create_time);
  if (created.empty() || ec != std::errc() || end != created.data() + created.size()) {
    return absl::InvalidArgumentError("xml.CreateTime: must be Unix seconds");
  }
  if (p.event == "TEMPLATESENDJOBFINISH" && (p.msg_id.empty() || p.status.empty())) {
    return absl::InvalidArgumentError(fmt::format("xml.{}: is required for TEMPLATESENDJOBFINISH",
                                                  p.msg_id.empty() ? "MsgID" : "Status"));
  }
  return p;
}

absl::StatusOr<std::unique_ptr<WechatPushHandler>> WechatPushHandler::Make(
    std::string token, std::string encoding_aes_key, std::string appid, WechatRepository* wechat,
    WebhookRepository* receipts, auth::AuditLog* audit, const Clock* clock) {
  std::string key;
  if (!encoding_aes_key.empty()) {
    if (encoding_aes_key.size() != 43 || !absl::Base64Unescape(encoding_aes_key + "=", &key) ||
        key.size() != 32) {
      return absl::InvalidArgumentError(
          "wechat.oa_encoding_aes_key: must be the account's 43-character EncodingAESKey");
    }
  }
  return std::unique_ptr<WechatPushHandler>(new WechatPushHandler(
      std::move(token), std::move(key), std::move(appid), wechat, receipts, audit, clock));
}

WechatPushHandler::WechatPushHandler(std::string token, std::string aes_key, std::string appid,
                                     WechatRepository* wechat, WebhookRepository* receipts,
                                     auth::AuditLog* audit, const Clock* clock)
    : token_(std::move(token)),
      aes_key_(std::move(aes_key)),
      appid_(std::move(appid)),
      wechat_(wechat),
      receipts_(receipts),
      audit_(audit),
      clock_(clock) {}

absl::Status WechatPushHandler::Verify(std::string_view signature, std::string_view timestamp,
                                       std::string_view nonce) const {
  RETURN_IF_ERROR(CheckTimestamp(timestamp));
  return SameSignature(signature, WechatSignature(token_, timestamp, nonce), "signature");
}

absl::Status WechatPushHandler::CheckTimestamp(std::string_view timestamp) const {
  int64_t ts = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (timestamp.empty() || ec != std::errc() || end != timestamp.data() + timestamp.size()) {
    return absl::PermissionDeniedError("timestamp: must be Unix seconds");
  }
  if (std::llabs(ts - clock_->NowMs() / 1000) > kMaxSkewSeconds) {
    return absl::PermissionDeniedError("timestamp: more than 5 minutes from the server's clock");
  }
  return absl::OkStatus();
}

absl::StatusOr<WechatPush> WechatPushHandler::Open(const WechatPushRequest& r) const {
  if (r.encrypt_type.empty() || r.encrypt_type == "raw") {
    RETURN_IF_ERROR(Verify(r.signature, r.timestamp, r.nonce));
    return ParseWechatPush(r.body);
  }
  if (r.encrypt_type != "aes") {
    return absl::InvalidArgumentError("encrypt_type: must be aes or raw");
  }
  if (aes_key_.empty()) {
    return absl::PermissionDeniedError(
        "encrypt_type: safe mode needs the account's EncodingAESKey configured");
  }
  // The envelope: <xml><ToUserName/><Encrypt/></xml>.
  namespace pt = boost::property_tree;
  pt::ptree tree;
  try {
    std::istringstream in{std::string(r.body.substr(0, kMaxXmlBytes))};
    pt::read_xml(in, tree, pt::xml_parser::no_comments);
  } catch (const pt::xml_parser_error& e) {
    return absl::InvalidArgumentError(fmt::format("xml: not well-formed ({})", e.message()));
  }
  const std::string encrypted = tree.get<std::string>("xml.Encrypt", "");
  if (encrypted.empty()) return absl::InvalidArgumentError("xml.Encrypt: is required");
  // msg_signature covers the ciphertext too.
  RETURN_IF_ERROR(CheckTimestamp(r.timestamp));
  RETURN_IF_ERROR(SameSignature(
      r.msg_signature, SortedSha1({token_, r.timestamp, r.nonce, encrypted}), "msg_signature"));
  std::string cipher;
  if (!absl::Base64Unescape(encrypted, &cipher) || cipher.empty() || cipher.size() % 16 != 0) {
    return absl::InvalidArgumentError("xml.Encrypt: not base64 AES ciphertext");
  }
  std::string plain(cipher.size(), '\0');
  {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    const auto* key = reinterpret_cast<const unsigned char*>(aes_key_.data());
    const bool ok =
        ctx != nullptr && EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key, key) == 1 &&
        EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
        EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(plain.data()), &n1,
                          reinterpret_cast<const unsigned char*>(cipher.data()),
                          static_cast<int>(cipher.size())) == 1 &&
        EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(plain.data()) + n1, &n2) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) return absl::InvalidArgumentError("xml.Encrypt: cannot be decrypted");
    plain.resize(static_cast<size_t>(n1 + n2));
  }
  // PKCS#7 to a 32-byte block, then 16 random bytes, a 4-byte length, the message, the appid.
  const unsigned pad = plain.empty() ? 0 : static_cast<unsigned char>(plain.back());
  if (pad < 1 || pad > 32 || pad > plain.size()) {
    return absl::InvalidArgumentError("xml.Encrypt: bad padding");
  }
  plain.resize(plain.size() - pad);
  if (plain.size() < 20) return absl::InvalidArgumentError("xml.Encrypt: too short");
  const auto* b = reinterpret_cast<const unsigned char*>(plain.data()) + 16;
  const size_t len = (size_t{b[0]} << 24) | (size_t{b[1]} << 16) | (size_t{b[2]} << 8) | b[3];
  if (len > plain.size() - 20) return absl::InvalidArgumentError("xml.Encrypt: bad length");
  const std::string_view message = std::string_view(plain).substr(20, len);
  const std::string_view appid = std::string_view(plain).substr(20 + len);
  if (appid != appid_) {
    return absl::PermissionDeniedError("xml.Encrypt: for another account (appid)");
  }
  return ParseWechatPush(message);
}

absl::StatusOr<std::string> WechatPushHandler::Apply(const WechatPush& push) {
  const int64_t now = clock_->NowMs();
  if (push.msg_type != "event") return std::string("ignored");
  if (push.event == "TEMPLATESENDJOBFINISH") {
    ASSIGN_OR_RETURN(std::optional<int64_t> message,
                     wechat_->FindByGateway("wechat_oa", push.msg_id));
    if (!message) return std::string("unknown_message");
    ReceiptRow r;
    r.message_id = *message;
    if (push.status == "success") {
      r.status = "delivered";
    } else {
      r.status = "failed";
      // "failed:user block" -> "user_block", "failed: system failed" -> "system_failed".
      std::string reason = push.status.starts_with("failed:") ? push.status.substr(7) : push.status;
      reason.erase(0, reason.find_first_not_of(' '));
      std::replace(reason.begin(), reason.end(), ' ', '_');
      r.reason = reason.empty() ? "failed" : reason;
    }
    r.occurred_ms = push.create_time * 1000;
    r.recorded_by = "wechat:push";
    r.recorded_ms = now;
    RETURN_IF_ERROR(receipts_->RecordReceipt(r).status());
    return r.status;
  }
  if (push.event == "unsubscribe") {
    // The customer unfollowed: the account can no longer reach them, so the openid is unbound
    // and a send to wechat_oa is refused at once (a campaign falls back to its next channel)
    // instead of failing at WeChat with 43004.
    ASSIGN_OR_RETURN(std::vector<std::string> customers, wechat_->FindByOpenid(push.from_user));
    for (const std::string& customer : customers) {
      ASSIGN_OR_RETURN(std::optional<WechatBinding> b, wechat_->GetBinding(customer));
      if (!b || b->openid != push.from_user) continue;
      b->openid.clear();
      b->updated_by = "wechat:push";
      b->updated_ms = now;
      RETURN_IF_ERROR(wechat_->PutBinding(*b));
      auth::AuditEvent e;
      e.actor = b->updated_by;
      e.action = "wechat.unfollow";
      e.object_type = "customer";
      e.object_id = customer;
      e.detail = R"({"channel":"wechat_oa","openid":"unbound"})";
      RETURN_IF_ERROR(audit_->Append(e));
    }
    return std::string(customers.empty() ? "ignored" : "unbound");
  }
  return std::string("ignored");
}

}  // namespace mercator::outreach
