// The SQLite implementation of WechatRepository (store/wechat_repository.h; tables of
// migration 0022_outreach_wechat.sql), sharing the connections of a store opened by
// OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_WECHAT_H_
#define MERCATOR_STORE_SQLITE_SQLITE_WECHAT_H_

#include <memory>

#include "store/repository.h"
#include "store/wechat_repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<WechatRepository> NewSqliteWechatRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_WECHAT_H_
