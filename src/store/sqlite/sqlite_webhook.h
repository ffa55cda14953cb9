// The SQLite implementation of WebhookRepository (store/webhook_repository.h; tables of
// migration 0017_outreach_webhook.sql), sharing the connections of a store opened by
// OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_WEBHOOK_H_
#define MERCATOR_STORE_SQLITE_SQLITE_WEBHOOK_H_

#include <memory>

#include "store/repository.h"
#include "store/webhook_repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<WebhookRepository> NewSqliteWebhookRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_WEBHOOK_H_
