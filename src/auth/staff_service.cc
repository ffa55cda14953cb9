#include "auth/staff_service.h"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "auth/password.h"
#include "auth/roles.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/random.h"
#include "common/retry_after.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator::auth {
namespace {

constexpr size_t kTokenBytes = 32;
constexpr size_t kMaxPhantoms = 10000;

bool IsHexToken(std::string_view s) {
  return s.size() == kTokenBytes * 2 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

int64_t SecondsUntil(int64_t until_ms, int64_t now_ms) {
  return std::max<int64_t>(1, (until_ms - now_ms + 999) / 1000);
}

absl::Status LoginFailed() { return absl::UnauthenticatedError(kLoginFailedMessage); }

absl::Status SessionInvalid() {
  return absl::UnauthenticatedError("the session is not valid or has expired; sign in again");
}

absl::StatusOr<std::vector<std::string>> CheckRoles(const std::vector<std::string>& roles) {
  if (roles.empty()) return absl::InvalidArgumentError("roles: at least one role is required");
  std::vector<std::string> out = roles;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!IsRole(out[i])) {
      std::string known;
      for (std::string_view r : AllRoles()) CatAppend(&known, known.empty() ? "" : ", ", r);
      return absl::InvalidArgumentError(
          Cat("roles/", i, ": \"", out[i], "\" is not a role (roles: ", known, ")"));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status CheckDisplayName(std::string_view name) {
  if (name.size() > 200) {
    return absl::InvalidArgumentError("display_name: must be at most 200 bytes long");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("display_name: must not contain control characters");
    }
  }
  return absl::OkStatus();
}

bool HasRole(const StaffUser& u, std::string_view role) {
  return std::find(u.roles.begin(), u.roles.end(), role) != u.roles.end();
}

}  // namespace

std::string_view LoginFailureName(LoginFailure failure) {
  switch (failure) {
    case LoginFailure::kNone:
      return "none";
    case LoginFailure::kUnknownUser:
      return "unknown_user";
    case LoginFailure::kWrongPassword:
      return "wrong_password";
    case LoginFailure::kDisabled:
      return "disabled";
    case LoginFailure::kLocked:
      return "locked";
  }
  return "unknown";
}

StaffService::StaffService(StaffRepository* repo, const Clock* clock, StaffOptions options)
    : repo_(repo), clock_(clock), options_(options) {}

absl::StatusOr<std::string> StaffService::NormalizeUsername(std::string_view username) {
  if (username.empty()) return absl::InvalidArgumentError("username: is required");
  if (username.size() > 64) {
    return absl::InvalidArgumentError("username: must be at most 64 characters long");
  }
  std::string out(username);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '-' || c == '@';
    if (!ok) {
      return absl::InvalidArgumentError(
          "username: may contain only letters a-z, digits and . _ - @");
    }
  }
  if (!((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= '0' && out[0] <= '9'))) {
    return absl::InvalidArgumentError("username: must start with a letter or a digit");
  }
  return out;
}

absl::StatusOr<StaffUser> StaffService::Find(std::string_view username) {
  ASSIGN_OR_RETURN(std::string name, NormalizeUsername(username));
  ASSIGN_OR_RETURN(std::optional<StaffUser> user, repo_->FindUser(name));
  if (!user) return absl::NotFoundError(Cat("user \"", name, "\" not found"));
  return *std::move(user);
}

absl::StatusOr<CreatedUser> StaffService::CreateUser(const NewUser& spec,
                                                     std::string_view created_by) {
  ASSIGN_OR_RETURN(std::string name, NormalizeUsername(spec.username));
  RETURN_IF_ERROR(CheckDisplayName(spec.display_name));
  ASSIGN_OR_RETURN(std::vector<std::string> roles, CheckRoles(spec.roles));
  CreatedUser out;
  out.password = GeneratePassword();
  StaffUser user;
  user.username = std::move(name);
  user.display_name = spec.display_name;
  user.roles = std::move(roles);
  user.must_change_password = true;
  user.created_by = std::string(created_by);
  ASSIGN_OR_RETURN(user.password_hash, HashPassword(out.password));
  ASSIGN_OR_RETURN(out.user, repo_->CreateUser(user));
  return out;
}

absl::StatusOr<std::vector<StaffUser>> StaffService::ListUsers(int64_t after_id, int limit) {
  return repo_->ListUsers(after_id, limit);
}

absl::StatusOr<StaffUser> StaffService::GetUser(std::string_view username) {
  return Find(username);
}

absl::StatusOr<StaffUser> StaffService::UpdateUser(std::string_view username,
                                                   const UserChange& change) {
  ASSIGN_OR_RETURN(StaffUser user, Find(username));
  StaffUser next = user;
  if (change.roles) {
    ASSIGN_OR_RETURN(next.roles, CheckRoles(*change.roles));
  }
  if (change.display_name) {
    RETURN_IF_ERROR(CheckDisplayName(*change.display_name));
    next.display_name = *change.display_name;
  }
  if (change.disabled) next.disabled = *change.disabled;

  const bool was_admin = !user.disabled && HasRole(user, "admin");
  const bool is_admin = !next.disabled && HasRole(next, "admin");
  if (was_admin && !is_admin) {
    ASSIGN_OR_RETURN(int64_t admins, repo_->CountEnabledWithRole("admin"));
    if (admins <= 1) {
      return absl::FailedPreconditionError(
          Cat(change.disabled.value_or(false) ? "disabled" : "roles",
              ": this is the last enabled admin; make another admin first"));
    }
  }
  RETURN_IF_ERROR(repo_->UpdateUser(next));
  if (next.disabled && !user.disabled) RETURN_IF_ERROR(repo_->RevokeUserSessions(user.id, 0));
  return Find(username);
}

absl::StatusOr<std::string> StaffService::ResetPassword(std::string_view username) {
  ASSIGN_OR_RETURN(StaffUser user, Find(username));
  std::string password = GeneratePassword();
  ASSIGN_OR_RETURN(user.password_hash, HashPassword(password));
  user.must_change_password = true;
  user.password_changed_ms = clock_->NowMs();
  RETURN_IF_ERROR(repo_->UpdateUser(user));
  RETURN_IF_ERROR(repo_->SetLoginState(user.id, 0, 0));
  RETURN_IF_ERROR(repo_->RevokeUserSessions(user.id, 0));
  return password;
}

absl::Status StaffService::ChangePassword(const Principal& who, std::string_view current_password,
                                          std::string_view new_password) {
  if (who.kind != Principal::Kind::kStaff || who.user_id == 0) {
    return absl::PermissionDeniedError("only a signed-in staff member can change a password");
  }
  ASSIGN_OR_RETURN(std::optional<StaffUser> found, repo_->GetUserById(who.user_id));
  if (!found || found->disabled) return SessionInvalid();
  StaffUser user = *std::move(found);
  const int64_t now = clock_->NowMs();
  if (user.locked_until_ms > now) {
    return WithRetryAfter(
        absl::ResourceExhaustedError(
            "current_password: too many wrong passwords; the account is locked for a while"),
        SecondsUntil(user.locked_until_ms, now));
  }
  if (!VerifyPassword(user.password_hash, current_password)) {
    return RecordFailure(user.id, absl::InvalidArgumentError("current_password: is not correct"));
  }
  RETURN_IF_ERROR(CheckPasswordPolicy(new_password, user.username, "new_password"));
  if (new_password == current_password) {
    return absl::InvalidArgumentError("new_password: must differ from the current password");
  }
  ASSIGN_OR_RETURN(user.password_hash, HashPassword(new_password));
  user.must_change_password = false;
  user.password_changed_ms = now;
  RETURN_IF_ERROR(repo_->UpdateUser(user));
  RETURN_IF_ERROR(repo_->SetLoginState(user.id, 0, 0));
  int64_t keep = 0;
  std::from_chars(who.session_id.data(), who.session_id.data() + who.session_id.size(), keep);
  return repo_->RevokeUserSessions(user.id, keep);
}

absl::StatusOr<bool> StaffService::HasEnabledAdmin() {
  ASSIGN_OR_RETURN(int64_t n, repo_->CountEnabledWithRole("admin"));
  return n > 0;
}

StaffService::LockState StaffService::NextLock(int32_t failed, int64_t now) const {
  LockState s;
  s.failed = failed + 1;
  if (s.failed >= options_.lockout_threshold) {
    int64_t ms = options_.lockout_base_ms;
    for (int i = options_.lockout_threshold; i < s.failed && ms < options_.lockout_max_ms; ++i) {
      ms *= 2;
    }
    s.locked_until_ms = now + std::min(ms, options_.lockout_max_ms);
  }
  return s;
}

absl::Status StaffService::RecordFailure(int64_t user_id, const absl::Status& answer) {
  const int64_t now = clock_->NowMs();
  LockState next;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::optional<StaffUser> fresh, repo_->GetUserById(user_id));
    if (!fresh) return answer;
    next = NextLock(fresh->failed_logins, now);
    RETURN_IF_ERROR(repo_->SetLoginState(user_id, next.failed, next.locked_until_ms));
  }
  if (next.locked_until_ms > now) {
    Log(Severity::kWarn, "staff account locked after failed sign-ins",
        {{"user.id", std::to_string(user_id)},
         {"failures", std::to_string(next.failed)},
         {"locked_seconds", std::to_string(SecondsUntil(next.locked_until_ms, now))}});
    return WithRetryAfter(answer, SecondsUntil(next.locked_until_ms, now));
  }
  return answer;
}

absl::Status StaffService::PhantomFailure(const std::string& key, int64_t now, bool count) {
  absl::MutexLock lock(&mu_);
  auto it = phantoms_.find(key);
  if (it != phantoms_.end() && it->second.locked_until_ms > now) {
    return WithRetryAfter(LoginFailed(), SecondsUntil(it->second.locked_until_ms, now));
  }
  if (!count) return LoginFailed();
  if (it == phantoms_.end()) {
    if (phantoms_.size() >= kMaxPhantoms) {
      // Forget the names that are not locked: they only lose their count of failures.
      absl::erase_if(phantoms_, [now](const auto& kv) { return kv.second.locked_until_ms <= now; });
      if (phantoms_.size() >= kMaxPhantoms) phantoms_.clear();
    }
    it = phantoms_.emplace(key, LockState{}).first;
  }
  it->second = NextLock(it->second.failed, now);
  if (it->second.locked_until_ms > now) {
    return WithRetryAfter(LoginFailed(), SecondsUntil(it->second.locked_until_ms, now));
  }
  return LoginFailed();
}

SessionInfo StaffService::MakeSessionInfo(const StaffUser& user, const StaffSession& session,
                                          int64_t last_seen_ms) const {
  SessionInfo info;
  info.principal.kind = Principal::Kind::kStaff;
  info.principal.id = user.username;
  info.principal.user_id = user.id;
  info.principal.roles = user.roles;
  info.principal.permissions = PermissionsOfRoles(user.roles);
  info.principal.session_id = std::to_string(session.id);
  info.display_name = user.display_name;
  info.csrf_token = session.csrf_token;
  info.password_change_required = user.must_change_password;
  info.expires_ms = session.created_ms + options_.absolute_timeout_ms;
  info.idle_expires_ms = std::min(info.expires_ms, last_seen_ms + options_.idle_timeout_ms);
  return info;
}

absl::StatusOr<LoginResult> StaffService::Login(std::string_view username,
                                                std::string_view password, std::string_view ip,
                                                std::string_view previous_token,
                                                LoginFailure* failure) {
  LoginFailure ignored;
  LoginFailure& why = failure != nullptr ? *failure : ignored;
  why = LoginFailure::kNone;
  const int64_t now = clock_->NowMs();

  absl::StatusOr<std::string> name = NormalizeUsername(username);
  std::optional<StaffUser> user;
  if (name.ok()) {
    ASSIGN_OR_RETURN(user, repo_->FindUser(*name));
  }
  if (!user) {
    // The same work as for a real account, so timing does not reveal which names exist.
    why = LoginFailure::kUnknownUser;
    const std::string key = name.ok() ? *name : std::string(username.substr(0, 64));
    absl::Status locked = PhantomFailure(key, now, /*count=*/false);
    VerifyPassword(DummyHash(), password);
    if (RetryAfterOf(locked)) {
      why = LoginFailure::kLocked;
      return locked;
    }
    return PhantomFailure(key, now, /*count=*/true);
  }

  if (user->locked_until_ms > now) {
    why = LoginFailure::kLocked;
    VerifyPassword(user->password_hash, password);
    return WithRetryAfter(LoginFailed(), SecondsUntil(user->locked_until_ms, now));
  }
  if (!VerifyPassword(user->password_hash, password)) {
    why = LoginFailure::kWrongPassword;
    Log(Severity::kInfo, "staff sign-in failed",
        {{"user.id", std::to_string(user->id)}, {"client.address", std::string(ip)}});
    return RecordFailure(user->id, LoginFailed());
  }
  if (user->disabled) {
    why = LoginFailure::kDisabled;
    return LoginFailed();
  }

  if (user->failed_logins != 0 || user->locked_until_ms != 0) {
    RETURN_IF_ERROR(repo_->SetLoginState(user->id, 0, 0));
  }
  if (NeedsRehash(user->password_hash)) {
    // Parameters were raised since this hash was made: store a new hash of the same password.
    if (absl::StatusOr<std::string> rehash = HashPassword(password); rehash.ok()) {
      StaffUser updated = *user;
      updated.password_hash = *rehash;
      RETURN_IF_ERROR(repo_->UpdateUser(updated));
    }
  }
  // Old sessions are cleaned up here, where a write happens anyway.
  RETURN_IF_ERROR(repo_->DeleteStaleSessions(now - options_.absolute_timeout_ms,
                                             now - options_.idle_timeout_ms));
  if (IsHexToken(previous_token)) {
    ASSIGN_OR_RETURN(std::optional<StaffSession> old,
                     repo_->FindSession(Sha256Hex(previous_token)));
    if (old) RETURN_IF_ERROR(repo_->RevokeSession(old->id));
  }

  LoginResult result;
  result.token = SecureRandom::HexToken(kTokenBytes);
  StaffSession session;
  session.token_hash = Sha256Hex(result.token);
  session.csrf_token = SecureRandom::HexToken(kTokenBytes);
  session.user_id = user->id;
  session.created_ms = now;
  session.last_seen_ms = now;
  ASSIGN_OR_RETURN(session.id, repo_->CreateSession(session));
  result.session = MakeSessionInfo(*user, session, now);
  return result;
}

absl::StatusOr<SessionInfo> StaffService::Authenticate(std::string_view token) {
  if (!IsHexToken(token)) return SessionInvalid();
  ASSIGN_OR_RETURN(std::optional<StaffSession> session, repo_->FindSession(Sha256Hex(token)));
  if (!session || session->revoked) return SessionInvalid();
  const int64_t now = clock_->NowMs();
  if (now - session->created_ms >= options_.absolute_timeout_ms ||
      now - session->last_seen_ms >= options_.idle_timeout_ms) {
    RETURN_IF_ERROR(repo_->RevokeSession(session->id));
    return SessionInvalid();
  }
  ASSIGN_OR_RETURN(std::optional<StaffUser> user, repo_->GetUserById(session->user_id));
  if (!user || user->disabled) return SessionInvalid();
  int64_t last_seen = session->last_seen_ms;
  if (now - last_seen >= options_.touch_interval_ms) {
    RETURN_IF_ERROR(repo_->TouchSession(session->id, now));
    last_seen = now;
  }
  return MakeSessionInfo(*user, *session, last_seen);
}

absl::Status StaffService::Logout(const Principal& who) {
  int64_t id = 0;
  auto [p, ec] =
      std::from_chars(who.session_id.data(), who.session_id.data() + who.session_id.size(), id);
  if (ec != std::errc() || id <= 0) return absl::OkStatus();
  return repo_->RevokeSession(id);
}

}  // namespace mercator::auth
