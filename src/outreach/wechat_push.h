// What WeChat pushes to the bank's official-account server URL (消息推送, plaintext mode),
// turned into receipts and opt-outs (docs/outreach-wechat.md):
//   - URL verification: GET ?signature&timestamp&nonce&echostr, answered with echostr;
//   - TEMPLATESENDJOBFINISH: the template message's final outcome, keyed by the msgid that
//     /cgi-bin/message/template/send returned: Status "success" -> a "delivered" receipt,
//     "failed:user block" -> failed "user_block", "failed: system failed" -> failed
//     "system_failed";
//   - unsubscribe (the customer unfollowed the account): the openid is unbound from every
//     customer bound to it (audited as wechat.unfollow), so wechat_oa refuses them at send and
//     a campaign falls back to its next channel at once.
// Every push carries signature = SHA-1 of the sorted concatenation of the configured token,
// timestamp and nonce; a wrong signature or a timestamp more than 5 minutes from the clock is
// refused. WeChat retries a push it got no answer to: receipts and opt-outs are idempotent.
//
// Safe mode (安全模式, encrypt_type=aes), with the account's EncodingAESKey configured: the body
// is <xml><Encrypt>base64</Encrypt></xml>, msg_signature = SHA-1 of the sorted token,
// timestamp, nonce and that ciphertext; the plaintext is AES-256-CBC (key = the 43-character
// EncodingAESKey base64-decoded, IV = its first 16 bytes, PKCS#7 padding to 32 bytes) of
// 16 random bytes, the message length (4 bytes, network order), the message XML and the appid,
// which must be the account's.
//
// Thread safety: WechatPushHandler is safe for concurrent use.
#ifndef MERCATOR_OUTREACH_WECHAT_PUSH_H_
#define MERCATOR_OUTREACH_WECHAT_PUSH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "store/webhook_repository.h"
#include "store/wechat_repository.h"

namespace mercator::auth {
class AuditLog;
}  // namespace mercator::auth

namespace mercator::outreach {

struct WechatPush {
  std::string to_user;    // the official account's id
  std::string from_user;  // the customer's openid
  int64_t create_time = 0;
  std::string msg_type;  // "event", "text", ...
  std::string event;     // "TEMPLATESENDJOBFINISH", "unsubscribe", ...
  std::string msg_id;    // TEMPLATESENDJOBFINISH: the template message's msgid
  std::string status;    // TEMPLATESENDJOBFINISH: "success", "failed:user block", ...
};

// The hex SHA-1 of the sorted concatenation of token, timestamp and nonce.
std::string WechatSignature(std::string_view token, std::string_view timestamp,
                            std::string_view nonce);

// Parses a push's XML body; InvalidArgument names what is wrong ("xml: not well-formed",
// "xml.FromUserName: is required").
absl::StatusOr<WechatPush> ParseWechatPush(std::string_view xml);

// A push as it arrives: the query parameters and the body.
struct WechatPushRequest {
  std::string_view signature;
  std::string_view timestamp;
  std::string_view nonce;
  std::string_view encrypt_type;   // "aes" in safe mode, else empty or "raw"
  std::string_view msg_signature;  // safe mode
  std::string_view body;
};

class WechatPushHandler {
 public:
  // None of the pointers is owned. `encoding_aes_key`: the account's EncodingAESKey (43
  // characters) for safe mode, or empty (plaintext mode only); `appid` the account's.
  // InvalidArgument naming the key when it is not 43 base64 characters.
  static absl::StatusOr<std::unique_ptr<WechatPushHandler>> Make(
      std::string token, std::string encoding_aes_key, std::string appid, WechatRepository* wechat,
      WebhookRepository* receipts, auth::AuditLog* audit, const Clock* clock);

  // PermissionDenied unless `signature` is right for timestamp and nonce and the timestamp is
  // within 5 minutes of the clock.
  absl::Status Verify(std::string_view signature, std::string_view timestamp,
                      std::string_view nonce) const;
  // Verifies a push (plaintext or safe mode), decrypts it and parses it. PermissionDenied for
  // a signature, timestamp or appid that does not match; InvalidArgument for a body that is
  // not a push ("xml...", "Encrypt: ...").
  absl::StatusOr<WechatPush> Open(const WechatPushRequest& request) const;

  // Applies a verified push. Returns what it did: "delivered", "failed", "unbound",
  // "unknown_message" (a msgid Mercator never sent), "ignored" (other pushes).
  absl::StatusOr<std::string> Apply(const WechatPush& push);

 private:
  // PermissionDenied unless `timestamp` is Unix seconds within 5 minutes of the clock.
  absl::Status CheckTimestamp(std::string_view timestamp) const;

  WechatPushHandler(std::string token, std::string aes_key, std::string appid,
                    WechatRepository* wechat, WebhookRepository* receipts, auth::AuditLog* audit,
                    const Clock* clock);

  const std::string token_;
  const std::string aes_key_;  // 32 bytes, or empty: no safe mode
  const std::string appid_;
  WechatRepository* const wechat_;
  WebhookRepository* const receipts_;
  auth::AuditLog* const audit_;
  const Clock* const clock_;
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_WECHAT_PUSH_H_
