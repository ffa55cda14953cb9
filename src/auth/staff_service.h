// Staff accounts, sign-in and sessions.
//
// Accounts: user names are lower-case ([a-z0-9._@-], 1-64 characters, case-insensitive on
// input); roles come from auth/roles.h. Passwords are argon2id hashes (auth/password.h); the
// service generates one-time passwords for new accounts and resets and never stores or logs a
// password.
//
// Sign-in: Login checks the password and opens a session identified by a random 32-byte token
// (the `mct_session` cookie; only its SHA-256 is stored). Every sign-in gets a new token, and
// a token the caller already had is revoked, so a token planted before sign-in is useless.
// A session ends when revoked (logout, password change or reset, account disabled), after
// `idle_timeout_ms` without use, or `absolute_timeout_ms` after sign-in.
//
// Lock-out: after `lockout_threshold` consecutive failures an account is locked for
// `lockout_base_ms`, and each further failure doubles the lock up to `lockout_max_ms`; a
// successful sign-in resets the count. Unknown user names get the same treatment in memory,
// and the same error (kLoginFailedMessage) as a wrong password, a disabled or a locked
// account, after the same argon2id work, so that neither the answer nor its timing tells
// whether a user exists. Locked sign-ins carry a Retry-After (common/retry_after.h).
//
// Thread safety: safe for concurrent use. Time comes from the injected Clock.
#ifndef MERCATOR_AUTH_STAFF_SERVICE_H_
#define MERCATOR_AUTH_STAFF_SERVICE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/principal.h"
#include "store/staff_repository.h"

namespace mercator::auth {

inline constexpr std::string_view kSessionCookie = "mct_session";
inline constexpr char kLoginFailedMessage[] = "username or password is not correct";

// Whether the session cookie carries the Secure attribute. kSecure is for every deployment
// behind HTTPS (a TLS-terminating proxy); kInsecureLocalHttp only for trying Mercator out
// over plain http on the local machine (`serve --insecure-cookies`, scripts/run.sh).
enum class CookieSecurity { kSecure, kInsecureLocalHttp };

struct StaffOptions {
  int64_t idle_timeout_ms = 30 * 60 * 1000;
  int64_t absolute_timeout_ms = 12 * 60 * 60 * 1000;
  int lockout_threshold = 5;
  int64_t lockout_base_ms = 60 * 1000;
  int64_t lockout_max_ms = 60 * 60 * 1000;
  // A session's last use is written at most this often, so a busy console does not write on
  // every request; idle expiry may therefore come up to this much early.
  int64_t touch_interval_ms = 60 * 1000;
};

// A signed-in session as the middleware and the API see it.
struct SessionInfo {
  Principal principal;  // kind staff, id = user name, user_id, roles, permissions, session_id
  std::string display_name;
  std::string csrf_token;
  bool password_change_required = false;
  int64_t idle_expires_ms = 0;  // when the session ends if not used before
  int64_t expires_ms = 0;       // when it ends regardless
};

struct LoginResult {
  std::string token;  // the cookie value; the only copy
  SessionInfo session;
};

// Why a sign-in failed: for the audit log only; callers are told kLoginFailedMessage.
enum class LoginFailure { kNone, kUnknownUser, kWrongPassword, kDisabled, kLocked };
std::string_view LoginFailureName(LoginFailure failure);

struct NewUser {
  std::string username;
  std::string display_name;
  std::vector<std::string> roles;
};

struct CreatedUser {
  StaffUser user;
  std::string password;  // the one-time password; shown once
};

// Fields to change; nullopt leaves one as it is.
struct UserChange {
  std::optional<std::vector<std::string>> roles;
  std::optional<std::string> display_name;
  std::optional<bool> disabled;
};

class StaffService {
 public:
  // `repo` and `clock` must outlive the service.
  StaffService(StaffRepository* repo, const Clock* clock, StaffOptions options = {});
  StaffService(const StaffService&) = delete;
  StaffService& operator=(const StaffService&) = delete;

  // Lower-cases and checks a user name; InvalidArgument "username: ..." if it is not one.
  static absl::StatusOr<std::string> NormalizeUsername(std::string_view username);

  // Creates an account with a generated one-time password. InvalidArgument for a bad user
  // name, display name or role; AlreadyExists if the name is taken.
  absl::StatusOr<CreatedUser> CreateUser(const NewUser& user, std::string_view created_by);
  absl::StatusOr<std::vector<StaffUser>> ListUsers(int64_t after_id, int limit);
  // NotFound if unknown.
  absl::StatusOr<StaffUser> GetUser(std::string_view username);
  // Disabling an account or removing its admin role fails with FailedPrecondition if it is the
  // last enabled admin. Disabling revokes the account's sessions; role changes apply to its
  // sessions at their next request.
  absl::StatusOr<StaffUser> UpdateUser(std::string_view username, const UserChange& change);
  // Replaces the password with a generated one-time password (returned), clears the lock-out
  // and revokes the account's sessions.
  absl::StatusOr<std::string> ResetPassword(std::string_view username);
  // The signed-in user's own change: needs the current password (a wrong one counts as a
  // failed sign-in: InvalidArgument "current_password: ...", and ResourceExhausted with a
  // Retry-After while locked). Revokes the user's other sessions.
  absl::Status ChangePassword(const Principal& who, std::string_view current_password,
                              std::string_view new_password);
  // Whether an enabled account with the admin role exists.
  absl::StatusOr<bool> HasEnabledAdmin();

  // Signs in. Failures are Unauthenticated(kLoginFailedMessage), with a Retry-After while the
  // account (or unknown name) is locked; `failure`, if given, says why. `previous_token` is
  // the session cookie the caller sent, if any: that session is revoked. `ip` is logged.
  absl::StatusOr<LoginResult> Login(std::string_view username, std::string_view password,
                                    std::string_view ip, std::string_view previous_token = {},
                                    LoginFailure* failure = nullptr);
  // The session of a cookie token: Unauthenticated if unknown, revoked, expired or its account
  // is disabled.
  absl::StatusOr<SessionInfo> Authenticate(std::string_view token);
  // Revokes the principal's session (principal.session_id); OK if there is none.
  absl::Status Logout(const Principal& who);

 private:
  struct LockState {
    int32_t failed = 0;
    int64_t locked_until_ms = 0;
  };
  // The lock after one more failure on top of `failed`.
  LockState NextLock(int32_t failed, int64_t now) const;
  absl::StatusOr<StaffUser> Find(std::string_view username);
  // Records a wrong password for a stored account; returns the status to answer with.
  absl::Status RecordFailure(int64_t user_id, const absl::Status& answer);
  absl::Status PhantomFailure(const std::string& key, int64_t now, bool count)
      ABSL_LOCKS_EXCLUDED(mu_);
  SessionInfo MakeSessionInfo(const StaffUser& user, const StaffSession& session,
                              int64_t last_seen_ms) const;

  StaffRepository* const repo_;
  const Clock* const clock_;
  const StaffOptions options_;
  // Guards the read-modify-write of lock-out counters (stored and in-memory). A leaf lock:
  // never held across password hashing, only across the small repository calls.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, LockState> phantoms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_STAFF_SERVICE_H_
