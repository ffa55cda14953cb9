// The SQLite implementation of CouponRepository (tables of migration 0010_coupons.sql),
// sharing the connections of a Store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_COUPONS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_COUPONS_H_

#include <memory>

#include "store/coupon_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must be a SQLite store and outlive the repository.
std::unique_ptr<CouponRepository> NewSqliteCouponRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_COUPONS_H_
