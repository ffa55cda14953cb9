// Storage of staff accounts and their sign-in sessions (auth::StaffService is the only user).
// The SQLite implementation is in store/sqlite/sqlite_staff.h. Implementations are safe for
// concurrent use from many threads and processes (the CLI and the server share the file).
#ifndef MERCATOR_STORE_STAFF_REPOSITORY_H_
#define MERCATOR_STORE_STAFF_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct StaffUser {
  int64_t id = 0;
  // Lower-case; unique regardless of case.
  std::string username;
  std::string display_name;
  // crypto_pwhash_str output (argon2id, parameters included); never the password.
  std::string password_hash;
  std::vector<std::string> roles;  // sorted, unique role names
  bool disabled = false;
  // Set for one-time passwords (new account, reset): the owner should choose their own.
  bool must_change_password = false;
  int32_t failed_logins = 0;    // consecutive failures since the last success
  int64_t locked_until_ms = 0;  // sign-in refused until then; 0: not locked
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t password_changed_ms = 0;
  std::string created_by;  // Principal::Actor() of the creator ("system:cli:init", "user:root")
};

struct StaffSession {
  int64_t id = 0;
  // SHA-256 (hex) of the cookie's token: a stolen database file does not hold usable tokens.
  std::string token_hash;
  std::string csrf_token;  // sent back in X-CSRF-Token on cookie-authenticated writes
  int64_t user_id = 0;
  int64_t created_ms = 0;
  int64_t last_seen_ms = 0;
  bool revoked = false;
};

class StaffRepository {
 public:
  virtual ~StaffRepository() = default;

  // Stores a new user (id, created_ms and updated_ms are assigned) and returns it.
  // AlreadyExists if the user name is taken in any letter case.
  virtual absl::StatusOr<StaffUser> CreateUser(const StaffUser& user) = 0;
  // Case-insensitive; nullopt if unknown.
  virtual absl::StatusOr<std::optional<StaffUser>> FindUser(std::string_view username) = 0;
  virtual absl::StatusOr<std::optional<StaffUser>> GetUserById(int64_t id) = 0;
  // Users with id > after_id in id order, at most `limit`.
  virtual absl::StatusOr<std::vector<StaffUser>> ListUsers(int64_t after_id, int limit) = 0;
  // Writes display_name, roles, disabled, password_hash, must_change_password,
  // password_changed_ms and updated_ms of user.id. NotFound if there is no such user.
  virtual absl::Status UpdateUser(const StaffUser& user) = 0;
  // Writes only the lock-out state (failed_logins, locked_until_ms) of a user.
  virtual absl::Status SetLoginState(int64_t user_id, int32_t failed_logins,
                                     int64_t locked_until_ms) = 0;
  // Enabled users that hold `role`.
  virtual absl::StatusOr<int64_t> CountEnabledWithRole(std::string_view role) = 0;

  // Stores a session (id is assigned) and returns its id.
  virtual absl::StatusOr<int64_t> CreateSession(const StaffSession& session) = 0;
  // The session whose token hashes to `token_hash`, revoked or not; nullopt if none.
  virtual absl::StatusOr<std::optional<StaffSession>> FindSession(std::string_view token_hash) = 0;
  virtual absl::Status TouchSession(int64_t session_id, int64_t last_seen_ms) = 0;
  // Revoking an unknown or already revoked session is not an error.
  virtual absl::Status RevokeSession(int64_t session_id) = 0;
  // Revokes every live session of the user except `except_session_id` (0: none spared).
  virtual absl::Status RevokeUserSessions(int64_t user_id, int64_t except_session_id) = 0;
  // Deletes sessions that were revoked, or created or last seen before the given times.
  virtual absl::Status DeleteStaleSessions(int64_t created_before_ms,
                                           int64_t last_seen_before_ms) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_STAFF_REPOSITORY_H_
