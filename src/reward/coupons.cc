#include "reward/coupons.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>

#include "common/status_macros.h"

namespace mercator::reward {
namespace {

constexpr int64_t kDayMs = 24 * 3600 * 1000;
// Crockford-style: no I, L, O, U, 0 or 1, so codes read aloud or typed are not mistaken.
constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int kCodeLength = 16;

absl::Status CheckKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("idempotency_key: is required");
  if (key.size() > 200) return absl::InvalidArgumentError("idempotency_key: at most 200 bytes");
  return absl::OkStatus();
}

absl::Status CheckName(std::string_view name) {
  if (name.empty() || name.size() > 200) {
    return absl::InvalidArgumentError("name: must be 1 to 200 bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckValidity(int64_t days) {
  if (days < 1 || days > 3650) {
    return absl::InvalidArgumentError("validity_days: must be between 1 and 3650");
  }
  return absl::OkStatus();
}

absl::Status CheckUploadedCode(std::string_view code, size_t i) {
  if (code.size() < 4 || code.size() > 64 || !std::all_of(code.begin(), code.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-';
      })) {
    return absl::InvalidArgumentError(
        fmt::format("codes/{}: 4 to 64 characters of A-Z, a-z, 0-9 and -", i));
  }
  return absl::OkStatus();
}

}  // namespace

CouponService::CouponService(CouponRepository* repository, const Clock* clock, Random* random)
    : repository_(repository), clock_(clock), random_(random) {}

absl::StatusOr<CouponTemplate> CouponService::CreateTemplate(CouponTemplate t,
                                                             std::string_view actor) {
  RETURN_IF_ERROR(CheckName(t.name));
  if (t.face_value <= 0 || t.face_value > 1'000'000'000) {
    return absl::InvalidArgumentError("face_value: must be between 1 and 1000000000");
  }
  if (t.kind == CouponKind::kRateBoost && t.face_value > 1000) {
    return absl::InvalidArgumentError(
        "face_value: a rate boost is in hundredths of a percent, at most 1000 (+10%)");
  }
  RETURN_IF_ERROR(CheckValidity(t.validity_days));
  t.created_by = std::string(actor);
  return repository_->CreateTemplate(t, clock_->NowMs());
}

absl::StatusOr<CouponTemplate> CouponService::GetTemplate(int64_t id) {
  ASSIGN_OR_RETURN(std::optional<CouponTemplate> t, repository_->GetTemplate(id));
  if (!t) return absl::NotFoundError(fmt::format("coupon template {} not found", id));
  return *t;
}

absl::StatusOr<std::vector<CouponTemplate>> CouponService::ListTemplates(int64_t after_id,
                                                                         int limit) {
  if (limit < 1 || limit > 501) return absl::InvalidArgumentError("limit: 1 to 500");
  return repository_->ListTemplates(after_id, limit);
}

absl::StatusOr<CouponTemplate> CouponService::UpdateTemplate(int64_t id,
                                                             const CouponTemplateChange& change) {
  ASSIGN_OR_RETURN(CouponTemplate t, GetTemplate(id));
  if (change.name) {
    RETURN_IF_ERROR(CheckName(*change.name));
    t.name = *change.name;
  }
  if (change.validity_days) {
    RETURN_IF_ERROR(CheckValidity(*change.validity_days));
    t.validity_days = *change.validity_days;
  }
  if (change.disabled) t.disabled = *change.disabled;
  RETURN_IF_ERROR(repository_->UpdateTemplate(t, clock_->NowMs()));
  return GetTemplate(id);
}

std::string CouponService::NewCode() {
  std::string code(kCodeLength, ' ');
  for (char& c : code) c = kCodeAlphabet[random_->Uniform(kCodeAlphabet.size())];
  return code;
}

absl::Status CouponService::GenerateCodes(int64_t template_id, int64_t count) {
  if (count < 1 || count > kMaxCodesPerCall) {
    return absl::InvalidArgumentError(
        fmt::format("generate: must be between 1 and {}", kMaxCodesPerCall));
  }
  // 30^16 ~ 4e23 codes: a clash with an existing code is practically impossible, but if one
  // happens the batch is drawn again rather than failing the caller.
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> codes;
    codes.reserve(count);
    {
      absl::MutexLock lock(&mu_);
      std::set<std::string> seen;
      while (static_cast<int64_t>(codes.size()) < count) {
        std::string c = NewCode();
        if (seen.insert(c).second) codes.push_back(std::move(c));
      }
    }
    absl::Status s = repository_->AddCodes(template_id, codes);
    if (!absl::IsAlreadyExists(s) || attempt == 2) return s;
  }
}

absl::Status CouponService::UploadCodes(int64_t template_id, std::vector<std::string> codes) {
  if (codes.empty() || static_cast<int64_t>(codes.size()) > kMaxCodesPerCall) {
    return absl::InvalidArgumentError(
        fmt::format("codes: between 1 and {} codes", kMaxCodesPerCall));
  }
  std::set<std::string_view> seen;
  for (size_t i = 0; i < codes.size(); ++i) {
    RETURN_IF_ERROR(CheckUploadedCode(codes[i], i));
    if (!seen.insert(codes[i]).second) {
      return absl::InvalidArgumentError(fmt::format("codes/{}: appears twice", i));
    }
  }
  return repository_->AddCodes(template_id, codes);
}

absl::StatusOr<CouponCode> CouponService::Grant(int64_t template_id, uint32_t uid,
                                                std::string_view key) {
  RETURN_IF_ERROR(CheckKey(key));
  ASSIGN_OR_RETURN(std::optional<CouponTemplate> t, repository_->GetTemplate(template_id));
  if (!t) {
    return absl::NotFoundError(
        fmt::format("template_id: coupon template {} not found", template_id));
  }
  const int64_t now = clock_->NowMs();
  return repository_->Grant(template_id, uid, now, now + t->validity_days * kDayMs, key,
                            fmt::format("grant:{}:{}", template_id, uid));
}

absl::StatusOr<CouponCode> CouponService::Redeem(std::string_view code, uint32_t uid,
                                                 std::string_view actor, std::string_view key) {
  RETURN_IF_ERROR(CheckKey(key));
  if (code.empty() || code.size() > 64) {
    return absl::InvalidArgumentError("code: 1 to 64 characters");
  }
  return repository_->Redeem(code, uid, clock_->NowMs(), actor, key,
                             fmt::format("redeem:{}:{}", uid, code));
}

absl::StatusOr<int64_t> CouponService::ExpireDue() {
  return repository_->ExpireDue(clock_->NowMs());
}

absl::StatusOr<std::vector<CouponCode>> CouponService::CustomerCoupons(uint32_t uid, int limit) {
  if (limit < 1 || limit > 500) return absl::InvalidArgumentError("limit: 1 to 500");
  return repository_->ListCustomerCodes(uid, limit);
}

}  // namespace mercator::reward
