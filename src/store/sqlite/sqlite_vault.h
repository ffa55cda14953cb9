// Key rotation of the PII vault over a SQLite store: re-sealing every stored personal value
// and API client secret under the cipher's current key (auth/vault.h keyring) and recomputing
// the customers' lookup hashes. `mercator vault rotate-key` (cli/vault_cmd.h) drives it.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_VAULT_H_
#define MERCATOR_STORE_SQLITE_SQLITE_VAULT_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "store/pii_cipher.h"
#include "store/repository.h"

namespace mercator {

struct ResealProgress {
  int64_t customers_scanned = 0;  // rows with personal data looked at so far
  int64_t customers_total = 0;    // rows with personal data when the run started
  int64_t customers_resealed = 0;
  int64_t client_secrets_resealed = 0;
};

// Re-seals, in transactions of `batch` customers, every value of customers.name_sealed,
// phone_sealed and id_number_sealed and api_client_secrets.sealed_secret that is not sealed
// under `cipher`'s current key (PiiCipher::SealedUnderCurrentKey), and writes the lookup
// hashes under the current key in the same update. `cipher` must still hold the keys the
// values were sealed under (DataLoss naming the row otherwise; nothing of that batch is
// written). Resumable: rows done stay done, and a rerun continues with the rest. `progress`
// (may be empty) is called after every batch. `store` must come from OpenSqliteStore.
//
// Writers that seal with another keyring at the same time (a `mercator serve` still holding
// only the old key) would add values under the old key again: stop them first.
absl::StatusOr<ResealProgress> ResealUnderCurrentKey(
    Store& store, const PiiCipher& cipher, int batch,
    const std::function<void(const ResealProgress&)>& progress);

// How many stored sealed values (customers' fields and client secrets) are not sealed under
// `cipher`'s current key.
absl::StatusOr<int64_t> CountSealedUnderOtherKeys(Store& store, const PiiCipher& cipher);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_VAULT_H_
