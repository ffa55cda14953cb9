// Storage of API clients (app and channel back-ends that sign their requests) and their
// secrets. auth::ApiClientService is the only user; the SQLite implementation is in
// store/sqlite/sqlite_api_clients.h. Implementations are safe for concurrent use from many
// threads and processes (the CLI and the server share the file).
//
// Secrets are needed in clear to verify HMAC signatures, so they cannot be hashed like
// passwords: the repository holds them only as PiiCipher::Seal output (context
// kApiClientSecretContext), sealed and opened by the service. A client has one current secret
// (expires_ms 0) and, after a rotation, at most one previous secret that stops working at its
// expires_ms.
#ifndef MERCATOR_STORE_API_CLIENT_REPOSITORY_H_
#define MERCATOR_STORE_API_CLIENT_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

// The PiiCipher context secrets are sealed under.
inline constexpr std::string_view kApiClientSecretContext = "api_clients.secret";

struct ApiClientSecret {
  int64_t id = 0;
  std::string sealed;  // PiiCipher::Seal(secret, kApiClientSecretContext); never the secret
  int64_t created_ms = 0;
  int64_t expires_ms = 0;  // 0: the current secret; else refused from this time on
};

struct ApiClient {
  int64_t id = 0;      // storage order, used as the listing cursor
  std::string key_id;  // "ck_" + 16 hex characters; unique
  std::string name;
  std::vector<std::string> scopes;  // sorted, unique scope names (auth/roles.h)
  bool disabled = false;
  std::string created_by;  // Principal::Actor() of the creator
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

class ApiClientRepository {
 public:
  virtual ~ApiClientRepository() = default;

  // Stores a new client (id, created_ms and updated_ms are assigned) with its first secret,
  // atomically, and returns the client. AlreadyExists if the key id is taken.
  virtual absl::StatusOr<ApiClient> CreateClient(const ApiClient& client,
                                                 std::string_view sealed_secret) = 0;
  // nullopt if unknown.
  virtual absl::StatusOr<std::optional<ApiClient>> GetClient(std::string_view key_id) = 0;
  // Clients with id > after_id in id order, at most `limit`.
  virtual absl::StatusOr<std::vector<ApiClient>> ListClients(int64_t after_id, int limit) = 0;
  // Writes name, scopes and disabled of client.key_id and stamps updated_ms.
  // NotFound if there is no such client.
  virtual absl::Status UpdateClient(const ApiClient& client) = 0;

  // The client's secrets that still work at `now_ms` (current first, then the previous one if
  // it has not expired). Empty for an unknown key id.
  virtual absl::StatusOr<std::vector<ApiClientSecret>> ActiveSecrets(std::string_view key_id,
                                                                     int64_t now_ms) = 0;
  // Atomically: forgets any earlier previous secret, makes the current secret the previous one
  // expiring at `previous_expires_ms`, and stores `sealed_secret` as the current one. So a
  // client never has more than two secrets. NotFound if there is no such client.
  virtual absl::Status RotateSecret(std::string_view key_id, std::string_view sealed_secret,
                                    int64_t previous_expires_ms) = 0;

  // A nonce that `key_id` used, remembered until `expires_ms` (its request's timestamp plus
  // the allowed clock skew; after that the request is refused as stale anyway).
  struct NonceRecord {
    std::string key_id;
    std::string nonce;
    int64_t expires_ms = 0;
  };
  // Whether the pair is recorded and unexpired at `now_ms`. A read: cheap, and it sees what
  // every process on the same store has recorded.
  virtual absl::StatusOr<bool> NonceRecorded(std::string_view key_id, std::string_view nonce,
                                             int64_t now_ms) = 0;
  // Up to `limit` pairs unexpired at `now_ms`, recorded by either method below, those expiring
  // last first (a process loads them at start, so a replay after a restart is refused without
  // reading the store per request).
  virtual absl::StatusOr<std::vector<NonceRecord>> UnexpiredNonces(int64_t now_ms,
                                                                   size_t limit) = 0;
  // For a store only this process serves from: appends `nonces` in one transaction, without a
  // check against those recorded (the caller's cache made it), and purges up to
  // `purge_limit` of the oldest appended pairs expired at `now_ms`.
  virtual absl::Status AppendNonces(const std::vector<NonceRecord>& nonces, int64_t now_ms,
                                    int purge_limit) = 0;
  // Records `nonces` in one transaction and purges up to `purge_limit` pairs expired at
  // `now_ms`. Returns one flag per record: true if it was recorded now, false if the pair was
  // already recorded and unexpired (another process or an earlier call took it first: a
  // replay). Shared by every process using the same store.
  virtual absl::StatusOr<std::vector<bool>> RecordNonces(const std::vector<NonceRecord>& nonces,
                                                         int64_t now_ms, int purge_limit) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_API_CLIENT_REPOSITORY_H_
