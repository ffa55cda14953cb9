// Storage of coupon and benefit templates (理财加息券, 信用卡返现, 视频会员月卡, ...) and their
// inventory of unique codes: granted to customers, redeemed, expired. reward::CouponService is
// the only user. The SQLite implementation is in store/sqlite/sqlite_coupons.h.
//
// A code moves available -> granted -> redeemed, or granted -> expired (its expiry passed).
// Grants and redemptions carry caller-supplied idempotency keys: the same key with the same
// request returns the first result; with another request it is AlreadyExists
// "idempotency_key: ...".
//
// Implementations are safe for concurrent use from many threads and processes; a code is
// granted to one customer and redeemed once, whatever the concurrency.
#ifndef MERCATOR_STORE_COUPON_REPOSITORY_H_
#define MERCATOR_STORE_COUPON_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

enum class CouponKind {
  kRateBoost,  // 理财加息券: face value in hundredths of a percent (10 = +0.10%)
  kCashback,   // 返现: face value in fen
  kDiscount,   // 满减/立减: face value in fen
  kBenefit,    // 权益 (video membership, lounge access): face value = cost in fen
};
std::string_view CouponKindName(CouponKind kind);  // rate_boost, cashback, discount, benefit
std::optional<CouponKind> ParseCouponKind(std::string_view name);

struct CouponTemplate {
  int64_t id = 0;
  std::string name;
  CouponKind kind = CouponKind::kCashback;
  int64_t face_value = 0;
  int32_t validity_days = 0;  // a granted code expires this many days after its grant
  bool disabled = false;      // no new grants; granted codes stay redeemable
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  // Inventory, computed when read.
  int64_t codes_available = 0;
  int64_t codes_granted = 0;
  int64_t codes_redeemed = 0;
  int64_t codes_expired = 0;
};

enum class CouponStatus { kAvailable, kGranted, kRedeemed, kExpired };
std::string_view CouponStatusName(CouponStatus status);  // available, granted, ...

struct CouponCode {
  int64_t id = 0;
  int64_t template_id = 0;
  std::string code;
  CouponStatus status = CouponStatus::kAvailable;
  uint32_t uid = 0;  // the holder once granted
  int64_t granted_ms = 0;
  int64_t expires_ms = 0;
  int64_t redeemed_ms = 0;
  std::string redeemed_by;  // Principal::Actor() of the redeeming client
  // Not stored: set when a known idempotency key answered with its first result.
  bool replayed = false;
};

class CouponRepository {
 public:
  virtual ~CouponRepository() = default;

  // Stores a new template (id, created_ms, updated_ms assigned).
  virtual absl::StatusOr<CouponTemplate> CreateTemplate(const CouponTemplate& t,
                                                        int64_t now_ms) = 0;
  // nullopt if unknown.
  virtual absl::StatusOr<std::optional<CouponTemplate>> GetTemplate(int64_t id) = 0;
  // Templates with id > after_id in id order, at most `limit`.
  virtual absl::StatusOr<std::vector<CouponTemplate>> ListTemplates(int64_t after_id,
                                                                    int limit) = 0;
  // Writes name, validity_days and disabled. NotFound if unknown.
  virtual absl::Status UpdateTemplate(const CouponTemplate& t, int64_t now_ms) = 0;

  // Adds available codes to a template's inventory in one transaction. Codes are unique over
  // all templates: a code already present anywhere is AlreadyExists "codes/<i>: ..." and
  // nothing is added. NotFound for an unknown template.
  virtual absl::Status AddCodes(int64_t template_id, std::span<const std::string> codes) = 0;

  // Grants the template's first available code to `uid`, expiring at `expires_ms`.
  // FailedPrecondition when the template is disabled or has no code left.
  virtual absl::StatusOr<CouponCode> Grant(int64_t template_id, uint32_t uid, int64_t now_ms,
                                           int64_t expires_ms, std::string_view key,
                                           std::string_view fingerprint) = 0;

  // Redeems `code` held by `uid`. NotFound if there is no such code held by that customer
  // (the answer does not tell which); FailedPrecondition if it was redeemed already or has
  // expired (expires_ms <= now_ms).
  virtual absl::StatusOr<CouponCode> Redeem(std::string_view code, uint32_t uid, int64_t now_ms,
                                            std::string_view actor, std::string_view key,
                                            std::string_view fingerprint) = 0;

  // Marks granted codes whose expiry has passed as expired; returns how many.
  virtual absl::StatusOr<int64_t> ExpireDue(int64_t now_ms) = 0;

  // The customer's codes, newest grant first, at most `limit`.
  virtual absl::StatusOr<std::vector<CouponCode>> ListCustomerCodes(uint32_t uid, int limit) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_COUPON_REPOSITORY_H_
