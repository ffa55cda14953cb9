// Coupons and benefits: templates (理财加息券 +0.10%, 信用卡返现 10 元, 视频会员月卡, ...), an
// inventory of unique codes per template (generated here or uploaded), grants to customers
// and redemption, both idempotent by caller-supplied keys, and expiry. Storage is a
// CouponRepository (store/coupon_repository.h, which states the code lifecycle).
//
// Errors: InvalidArgument "<field>: <reason>"; NotFound for unknown templates and for codes
// the customer does not hold; FailedPrecondition for a disabled or empty template, a code
// already redeemed or expired; AlreadyExists "idempotency_key: ..." for a key reused with a
// different request.
//
// Thread safety: safe for concurrent use. `random` is used under an internal mutex.
#ifndef MERCATOR_REWARD_COUPONS_H_
#define MERCATOR_REWARD_COUPONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/random.h"
#include "store/coupon_repository.h"

namespace mercator::reward {

// At most this many codes per generate or upload call.
inline constexpr int64_t kMaxCodesPerCall = 100'000;

struct CouponTemplateChange {
  std::optional<std::string> name;
  std::optional<int32_t> validity_days;
  std::optional<bool> disabled;
};

class CouponService {
 public:
  // None owned; all must outlive the service.
  CouponService(CouponRepository* repository, const Clock* clock, Random* random);
  CouponService(const CouponService&) = delete;
  CouponService& operator=(const CouponService&) = delete;

  // name 1..200 bytes; face_value > 0 (rate_boost: hundredths of a percent, at most 1000 =
  // +10%); validity_days 1..3650.
  absl::StatusOr<CouponTemplate> CreateTemplate(CouponTemplate t, std::string_view actor);
  absl::StatusOr<CouponTemplate> GetTemplate(int64_t id);
  absl::StatusOr<std::vector<CouponTemplate>> ListTemplates(int64_t after_id, int limit);
  absl::StatusOr<CouponTemplate> UpdateTemplate(int64_t id, const CouponTemplateChange& change);

  // Adds `count` new random codes (16 characters of an unambiguous alphabet) to the inventory.
  absl::Status GenerateCodes(int64_t template_id, int64_t count);
  // Adds uploaded codes (4..64 of [A-Za-z0-9-], unique in the batch and overall).
  absl::Status UploadCodes(int64_t template_id, std::vector<std::string> codes);

  // Grants one code of the template to `uid`, valid for the template's validity_days.
  absl::StatusOr<CouponCode> Grant(int64_t template_id, uint32_t uid, std::string_view key);
  // Redeems a code the customer holds.
  absl::StatusOr<CouponCode> Redeem(std::string_view code, uint32_t uid, std::string_view actor,
                                    std::string_view key);
  // Marks granted codes past their expiry as expired; returns how many.
  absl::StatusOr<int64_t> ExpireDue();
  absl::StatusOr<std::vector<CouponCode>> CustomerCoupons(uint32_t uid, int limit);

 private:
  std::string NewCode() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  CouponRepository* const repository_;
  const Clock* const clock_;
  absl::Mutex mu_;
  Random* const random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mercator::reward

#endif  // MERCATOR_REWARD_COUPONS_H_
