#include "auth/request_signing.h"

#include <sodium.h>
#include <chrono>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <string>
#include <tuple>

#include "auth/roles.h"
#include "common/background.h"
#include "common/log.h"
#include "common/random.h"
#include "common/retry_after.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator::auth {
namespace {

constexpr size_t kMinNonce = 16;
constexpr size_t kMaxNonce = 64;
constexpr size_t kMaxKeyId = 64;
constexpr size_t kMaxName = 100;

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool AllTokenChars(std::string_view s) { return std::all_of(s.begin(), s.end(), IsTokenChar); }

// Auth schemes are case-insensitive (RFC 9110 11.1).
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

absl::Status Malformed(std::string_view reason) {
  return absl::UnauthenticatedError(Cat("authorization: ", reason));
}

std::string NewKeyId() { return "ck_" + SecureRandom::HexToken(8); }
std::string NewSecret() { return "cs_" + SecureRandom::HexToken(32); }

}  // namespace

// ---- The canonical request ----

std::string CanonicalQuery(std::string_view raw_query) {
  struct Piece {
    std::string_view name, value, whole;
  };
  std::vector<Piece> pieces;
  while (!raw_query.empty()) {
    const size_t amp = raw_query.find('&');
    const std::string_view piece = raw_query.substr(0, amp);
    if (!piece.empty()) {
      const size_t eq = piece.find('=');
      pieces.push_back(
          Piece{piece.substr(0, eq),
                eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1), piece});
    }
    if (amp == std::string_view::npos) break;
    raw_query.remove_prefix(amp + 1);
  }
  // std::string_view compares bytes as unsigned char (char_traits<char>::compare uses memcmp
  // semantics), matching `LC_ALL=C sort` in scripts/mct-sign.
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return std::tie(a.name, a.value, a.whole) < std::tie(b.name, b.value, b.whole);
  });
  std::string out;
  for (const Piece& p : pieces) CatAppend(&out, out.empty() ? "" : "&", p.whole);
  return out;
}

std::string StringToSign(std::string_view method, std::string_view target, std::string_view body,
                         int64_t timestamp_ms, std::string_view nonce) {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  return Cat(kSigningScheme, "\n", method, "\n", path, "\n", CanonicalQuery(query), "\n",
             timestamp_ms, "\n", nonce, "\n", Sha256Hex(body));
}

std::string SignatureHex(std::string_view secret, std::string_view string_to_sign) {
  const Sha256Digest mac = HmacSha256(secret).Mac(string_to_sign);
  return HexEncode(mac.data(), mac.size());
}

std::string SignRequest(std::string_view key_id, std::string_view secret, std::string_view method,
                        std::string_view target, std::string_view body, int64_t timestamp_ms,
                        std::string_view nonce) {
  const std::string signature =
      SignatureHex(secret, StringToSign(method, target, body, timestamp_ms, nonce));
  return Cat(kSigningScheme, " Credential=", key_id, ", Timestamp=", timestamp_ms,
             ", Nonce=", nonce, ", Signature=", signature);
}

std::string RandomNonce() { return SecureRandom::HexToken(16); }

absl::StatusOr<SignatureHeader> ParseSignatureHeader(std::string_view value) {
  value = Trim(value);
  if (value.size() <= kSigningScheme.size() ||
      !EqualsIgnoreCase(value.substr(0, kSigningScheme.size()), kSigningScheme) ||
      (value[kSigningScheme.size()] != ' ' && value[kSigningScheme.size()] != '\t')) {
    return Malformed(Cat("the scheme must be ", kSigningScheme));
  }
  value.remove_prefix(kSigningScheme.size());
  std::optional<std::string_view> credential, timestamp, nonce, signature;
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view part = Trim(value.substr(0, comma));
    const size_t eq = part.find('=');
    if (part.empty() || eq == std::string_view::npos || eq == 0) {
      return Malformed("parts must be Name=value, separated by commas");
    }
    const std::string_view name = part.substr(0, eq);
    std::optional<std::string_view>* slot = nullptr;
    if (name == "Credential") {
      slot = &credential;
    } else if (name == "Timestamp") {
      slot = &timestamp;
    } else if (name == "Nonce") {
      slot = &nonce;
    } else if (name == "Signature") {
      slot = &signature;
    } else {
      // Only token characters are echoed back.
      return Malformed(AllTokenChars(name) && name.size() <= 32 ? Cat("unknown part ", name)
                                                                : std::string("unknown part"));
    }
    if (slot->has_value()) return Malformed(Cat(name, " is given twice"));
    *slot = part.substr(eq + 1);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  if (!credential) return Malformed("Credential is missing");
  if (!timestamp) return Malformed("Timestamp is missing");
  if (!nonce) return Malformed("Nonce is missing");
  if (!signature) return Malformed("Signature is missing");

  SignatureHeader h;
  if (credential->empty() || credential->size() > kMaxKeyId || !AllTokenChars(*credential)) {
    return Malformed("Credential must be a key id (\"ck_\" and 16 hex characters)");
  }
  h.key_id = std::string(*credential);
  {
    const std::string_view t = *timestamp;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), h.timestamp_ms);
    if (t.empty() || t.size() > 16 || ec != std::errc() || end != t.data() + t.size() ||
        h.timestamp_ms <= 0 || t.front() == '-' || t.front() == '+') {
      return Malformed("Timestamp must be Unix time in milliseconds");
    }
  }
  if (nonce->size() < kMinNonce || nonce->size() > kMaxNonce || !AllTokenChars(*nonce)) {
    return Malformed("Nonce must be 16-64 characters of A-Z a-z 0-9 _ -");
  }
  h.nonce = std::string(*nonce);
  if (signature->size() != 2 * crypto_auth_hmacsha256_BYTES ||
      !std::all_of(signature->begin(), signature->end(),
                   [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; })) {
    return Malformed("Signature must be 64 hex characters");
  }
  h.signature_hex = std::string(*signature);
  return h;
}

// ---- NonceCache ----

NonceCache::NonceCache(size_t max_entries, int64_t bucket_ms)
    : max_entries_(max_entries), bucket_ms_(std::max<int64_t>(bucket_ms, 1)) {}

uint64_t NonceCache::DigestOf(std::string_view key_id, std::string_view nonce) const {
  // Length-prefixed so ("ab", "c...") and ("a", "bc...") differ.
  return digest_(Cat(key_id.size(), ":", key_id, nonce));
}

NonceCache::Result NonceCache::Record(std::string_view key_id, std::string_view nonce,
                                      int64_t expires_ms, int64_t now_ms) {
  const uint64_t d = DigestOf(key_id, nonce);
  // Floor division: a bucket's span starts at a multiple of bucket_ms, negative times included.
  const int64_t index = expires_ms / bucket_ms_ - (expires_ms % bucket_ms_ < 0 ? 1 : 0);
  std::vector<Bucket> dropped;  // freed after the lock is released
  absl::MutexLock lock(&mu_);
  size_t live = 0;
  while (live < buckets_.size() && (buckets_[live].index + 1) * bucket_ms_ <= now_ms) ++live;
  if (live > 0) {
    for (size_t i = 0; i < live; ++i) {
      size_ -= buckets_[i].digests.size();
      dropped.push_back(std::move(buckets_[i]));
    }
    buckets_.erase(buckets_.begin(), buckets_.begin() + static_cast<ptrdiff_t>(live));
  }
  for (const Bucket& b : buckets_) {
    if (b.digests.contains(d)) return Result::kReplay;
  }
  if (size_ >= max_entries_) return Result::kFull;
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                             [](const Bucket& b, int64_t i) { return b.index < i; });
  if (it == buckets_.end() || it->index != index) {
    // Sized like the largest bucket so far: under a steady load the new one never rehashes
    // (a rehash of millions of digests would stall the caller's I/O thread).
    size_t expected = 0;
    for (const Bucket& b : buckets_) expected = std::max(expected, b.digests.size());
    it = buckets_.insert(it, Bucket{.index = index, .digests = {}});
    it->digests.reserve(std::min(expected, max_entries_ - size_));
  }
  it->digests.insert(d);
  ++size_;
  return Result::kRecorded;
}

size_t NonceCache::size() const {
  absl::MutexLock lock(&mu_);
  return size_;
}

// ---- Validation ----

absl::Status ValidateClientName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("name: is required");
  if (name.size() > kMaxName) {
    return absl::InvalidArgumentError(Cat("name: at most ", kMaxName, " bytes"));
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("name: must not contain control characters");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> NormalizeScopes(std::vector<std::string> scopes) {
  if (scopes.empty()) return absl::InvalidArgumentError("scopes: at least one scope is required");
  for (const std::string& s : scopes) {
    if (!IsScope(s)) {
      std::string known;
      for (std::string_view k : AllScopes()) CatAppend(&known, known.empty() ? "" : ", ", k);
      return absl::InvalidArgumentError(Cat("scopes: \"", s.size() <= 32 ? s : s.substr(0, 32),
                                            "\" is not a scope (", known, ")"));
    }
  }
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  return scopes;
}

// ---- ApiClientService ----

ApiClientService::ApiClientService(ApiClientRepository* repo, const PiiCipher* cipher,
                                   const Clock* clock, ApiClientOptions options)
    : repo_(repo),
      cipher_(cipher),
      clock_(clock),
      options_(options),
      rate_limiter_(options.rate_limit, clock),
      // A quarter of the window a bucket: a nonce is kept at most a quarter longer than needed,
      // and a request looks in about five buckets.
      nonces_(options.max_nonces, std::max<int64_t>(options.max_clock_skew_ms / 4, 1)) {
  if (options_.nonce_flush_ms > 0) flusher_ = std::thread([this] { FlushLoop(); });
}

ApiClientService::~ApiClientService() {
  if (flusher_.joinable()) {
    {
      absl::MutexLock lock(&pending_mu_);
      stopping_ = true;
    }
    flusher_.join();
  }
  if (absl::Status s = FlushNonces(); !s.ok()) {
    Log(Severity::kError, "nonces of accepted requests could not be stored at shutdown",
        {{"error", std::string(s.message())}});
  }
}

void ApiClientService::FlushLoop() {
  BecomeBackgroundThread("mct-nonces");
  for (;;) {
    {
      absl::MutexLock lock(&pending_mu_);
      pending_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                   absl::Milliseconds(options_.nonce_flush_ms));
      if (stopping_) return;
      if (pending_.empty()) continue;
    }
    // A failure is logged and remembered by FlushNonces; the next round tries again.
    FlushNonces().IgnoreError();
  }
}

namespace {

// AppendNonces's answer as RecordNonces's: every nonce recorded now.
absl::StatusOr<std::vector<bool>> RecordedAll(absl::Status appended, size_t n) {
  if (!appended.ok()) return appended;
  return std::vector<bool>(n, true);
}

}  // namespace

absl::Status ApiClientService::FlushNonces() {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<ApiClientRepository::NonceRecord> batch;
  {
    absl::MutexLock lock(&pending_mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return absl::OkStatus();
  // Expired pairs are purged along the way, a bounded number per flush (the table holds about
  // the window's traffic). A store only this process serves from takes them without the
  // check between processes (the cache made it): appended, not looked up.
  const int64_t now = clock_->NowMs();
  const int purge_limit = static_cast<int>(2 * batch.size() + 64);
  absl::StatusOr<std::vector<bool>> recorded =
      options_.nonce_store_shared
          ? repo_->RecordNonces(batch, now, purge_limit)
          : RecordedAll(repo_->AppendNonces(batch, now, purge_limit), batch.size());
  absl::MutexLock lock(&pending_mu_);
  if (!recorded.ok()) {
    // Keep them, oldest first, and refuse new signed requests until the store takes them.
    batch.insert(batch.end(), std::make_move_iterator(pending_.begin()),
                 std::make_move_iterator(pending_.end()));
    pending_.swap(batch);
    flush_status_ = recorded.status();
    Log(Severity::kError,
        "nonces of accepted requests could not be stored; refusing signed requests",
        {{"error", std::string(recorded.status().message())}, {"nonces", Cat(pending_.size())}});
    return recorded.status();
  }
  flush_status_ = absl::OkStatus();
  for (size_t i = 0; i < batch.size(); ++i) {
    if ((*recorded)[i]) continue;
    late_replays_.fetch_add(1, std::memory_order_relaxed);
    Log(Severity::kWarn,
        "a request was accepted whose nonce another process had already accepted (a replay "
        "within the nonce flush interval)",
        {{"client.key_id", batch[i].key_id}});
  }
  return absl::OkStatus();
}

absl::Status ApiClientService::StoreNonce(const SignatureHeader& h, int64_t now) {
  const int64_t expires = h.timestamp_ms + options_.max_clock_skew_ms;
  if (options_.nonce_flush_ms <= 0) {
    std::vector<ApiClientRepository::NonceRecord> one = {{h.key_id, h.nonce, expires}};
    ASSIGN_OR_RETURN(std::vector<bool> recorded,
                     options_.nonce_store_shared
                         ? repo_->RecordNonces(one, now, 64)
                         : RecordedAll(repo_->AppendNonces(one, now, 64), one.size()));
    if (!recorded.front()) return Malformed("Nonce was already used (replayed request)");
    return absl::OkStatus();
  }
  // Another process may have taken the nonce: its flushed nonces are in the store. What it
  // accepted in the last flush interval is not there yet; such a replay is caught, logged and
  // counted when this process flushes. (This process's own, from before a restart, are in
  // the cache: LoadNonces.)
  if (options_.nonce_store_shared) {
    ASSIGN_OR_RETURN(bool seen, repo_->NonceRecorded(h.key_id, h.nonce, now));
    if (seen) return Malformed("Nonce was already used (replayed request)");
  }
  absl::MutexLock lock(&pending_mu_);
  if (!flush_status_.ok()) {
    return absl::UnavailableError(
        Cat("the nonce store is failing; retry later (", flush_status_.message(), ")"));
  }
  if (pending_.size() >= options_.max_pending_nonces) {
    return WithRetryAfter(absl::UnavailableError("the nonce store is behind; retry later"), 1);
  }
  pending_.push_back({h.key_id, h.nonce, expires});
  return absl::OkStatus();
}

absl::Status ApiClientService::LoadNonces() {
  const int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(std::vector<ApiClientRepository::NonceRecord> stored,
                   repo_->UnexpiredNonces(now, options_.max_nonces));
  for (const ApiClientRepository::NonceRecord& n : stored) {
    (void)nonces_.Record(n.key_id, n.nonce, n.expires_ms, now);
  }
  return absl::OkStatus();
}

absl::StatusOr<CreatedClient> ApiClientService::Create(std::string_view name,
                                                       std::vector<std::string> scopes,
                                                       std::string_view created_by) {
  RETURN_IF_ERROR(ValidateClientName(name));
  ASSIGN_OR_RETURN(std::vector<std::string> normalized, NormalizeScopes(std::move(scopes)));
  ApiClient c;
  c.name = std::string(name);
  c.scopes = std::move(normalized);
  c.created_by = std::string(created_by);
  CreatedClient out;
  out.secret = NewSecret();
  const std::string sealed = cipher_->Seal(out.secret, kApiClientSecretContext);
  // 64 random bits: a collision is practically impossible, but cheap to retry.
  for (int attempt = 0;; ++attempt) {
    c.key_id = NewKeyId();
    absl::StatusOr<ApiClient> created = repo_->CreateClient(c, sealed);
    if (created.ok()) {
      out.client = *std::move(created);
      return out;
    }
    if (!absl::IsAlreadyExists(created.status()) || attempt >= 3) return created.status();
  }
}

absl::StatusOr<std::vector<ApiClient>> ApiClientService::List(int64_t after_id, int limit) {
  return repo_->ListClients(after_id, limit);
}

absl::StatusOr<ApiClient> ApiClientService::Get(std::string_view key_id) {
  ASSIGN_OR_RETURN(std::optional<ApiClient> c, repo_->GetClient(key_id));
  if (!c) return absl::NotFoundError(Cat("api client ", key_id, " not found"));
  return *std::move(c);
}

absl::StatusOr<std::vector<ApiClientSecret>> ApiClientService::Secrets(std::string_view key_id) {
  return repo_->ActiveSecrets(key_id, clock_->NowMs());
}

absl::StatusOr<ApiClient> ApiClientService::Update(std::string_view key_id,
                                                   const ClientChange& change) {
  ASSIGN_OR_RETURN(ApiClient c, Get(key_id));
  if (change.name) {
    RETURN_IF_ERROR(ValidateClientName(*change.name));
    c.name = *change.name;
  }
  if (change.scopes) {
    ASSIGN_OR_RETURN(c.scopes, NormalizeScopes(*change.scopes));
  }
  if (change.disabled) c.disabled = *change.disabled;
  RETURN_IF_ERROR(repo_->UpdateClient(c));
  Forget(key_id);
  return Get(key_id);
}

absl::StatusOr<RotatedSecret> ApiClientService::Rotate(std::string_view key_id,
                                                       std::optional<int64_t> grace_ms) {
  const int64_t grace = grace_ms.value_or(options_.default_grace_ms);
  if (grace < 0 || grace > options_.max_grace_ms) {
    return absl::InvalidArgumentError(
        Cat("grace_seconds: must be between 0 and ", options_.max_grace_ms / 1000));
  }
  RotatedSecret out;
  out.secret = NewSecret();
  out.previous_expires_ms = clock_->NowMs() + grace;
  RETURN_IF_ERROR(repo_->RotateSecret(key_id, cipher_->Seal(out.secret, kApiClientSecretContext),
                                      out.previous_expires_ms));
  Forget(key_id);
  ASSIGN_OR_RETURN(out.client, Get(key_id));
  return out;
}

absl::StatusOr<Principal> ApiClientService::Verify(const SignedRequest& request) {
  ASSIGN_OR_RETURN(SignatureHeader h, ParseSignatureHeader(request.authorization));
  const int64_t now = clock_->NowMs();
  if (h.timestamp_ms < now - options_.max_clock_skew_ms ||
      h.timestamp_ms > now + options_.max_clock_skew_ms) {
    return Malformed(Cat("Timestamp is more than ", options_.max_clock_skew_ms / 1000,
                         " s away from the server time (", now, ")"));
  }

  unsigned char given[crypto_auth_hmacsha256_BYTES];
  if (sodium_hex2bin(given, sizeof given, h.signature_hex.data(), h.signature_hex.size(), nullptr,
                     nullptr, nullptr) != 0) {
    return Malformed("Signature must be 64 hex characters");
  }
  const std::string to_sign =
      StringToSign(request.method, request.target, request.body, h.timestamp_ms, h.nonce);

  // Every active secret is tried (no early exit), so timing does not tell which matched.
  auto matches = [&](const CachedClient& c) {
    bool match = false;
    for (const std::unique_ptr<const HmacSha256>& keyed : c.keyed) {
      const Sha256Digest expected = keyed->Mac(to_sign);
      if (sodium_memcmp(expected.data(), given, sizeof given) == 0) match = true;
    }
    if (c.secrets.empty()) {
      // Unknown or disabled: do the work of one check anyway, so the answer's timing matches.
      static const HmacSha256 unknown("cs_unknown");
      const Sha256Digest unused = unknown.Mac(to_sign);
      if (sodium_memcmp(unused.data(), given, sizeof given) == 0) match = false;
    }
    return match;
  };
  std::shared_ptr<const CachedClient> client = Cached(h.key_id, now);
  bool match = client != nullptr && matches(*client);
  if (!match) {
    // Not cached, or the cached secrets do not reproduce it: a rotation elsewhere? Read again.
    ASSIGN_OR_RETURN(client, Load(h.key_id, now));
    match = matches(*client);
  }
  if (!match) return absl::UnauthenticatedError(ToAbsl(kBadSignatureMessage));

  if (RateLimiter::Decision d = rate_limiter_.Take(h.key_id); !d.allowed) {
    return WithRetryAfter(
        absl::ResourceExhaustedError("too many requests from this client; retry later"),
        d.retry_after_seconds);
  }
  switch (nonces_.Record(h.key_id, h.nonce, h.timestamp_ms + options_.max_clock_skew_ms, now)) {
    case NonceCache::Result::kRecorded:
      break;
    case NonceCache::Result::kReplay:
      return Malformed("Nonce was already used (replayed request)");
    case NonceCache::Result::kFull:
      Log(Severity::kWarn, "nonce cache full: refusing signed requests",
          {{"client.key_id", h.key_id}});
      return WithRetryAfter(absl::ResourceExhaustedError("too many signed requests; retry later"),
                            1);
  }
  // The in-memory cache catches a replay to this process cheaply; the store catches one sent
  // to another process on the same database, or to this one after a restart. If the store
  // cannot record the nonce the request is refused: a nonce that is not remembered could be
  // replayed.
  RETURN_IF_ERROR(StoreNonce(h, now));

  Principal p;
  p.kind = Principal::Kind::kClient;
  p.id = client->client.key_id;
  p.permissions = PermissionsOfScopes(client->client.scopes);
  return p;
}

ApiClientService::CachedClient::~CachedClient() {
  for (std::string& secret : secrets) sodium_memzero(secret.data(), secret.size());
}

namespace {
int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

absl::StatusOr<std::shared_ptr<const ApiClientService::CachedClient>> ApiClientService::Load(
    const std::string& key_id, int64_t now) {
  auto entry = std::make_shared<CachedClient>();
  entry->loaded_steady_ms = SteadyMs();
  entry->valid_until_ms = INT64_MAX;
  ASSIGN_OR_RETURN(std::optional<ApiClient> client, repo_->GetClient(key_id));
  if (client) entry->client = *client;
  if (client && !client->disabled) {
    ASSIGN_OR_RETURN(std::vector<ApiClientSecret> secrets, repo_->ActiveSecrets(key_id, now));
    for (const ApiClientSecret& s : secrets) {
      absl::StatusOr<std::string> secret = cipher_->Open(s.sealed, kApiClientSecretContext);
      if (!secret.ok()) {
        // Sealed under another vault key, or tampered with: the client cannot sign in until the
        // secret is rotated. Logged without the value.
        Log(Severity::kError, "api client secret does not open",
            {{"client.key_id", key_id}, {"error", ToStd(secret.status().message())}});
        continue;
      }
      entry->keyed.push_back(std::make_unique<const HmacSha256>(*secret));
      entry->secrets.push_back(*std::move(secret));
      if (s.expires_ms != 0) entry->valid_until_ms = std::min(entry->valid_until_ms, s.expires_ms);
    }
  }
  if (options_.client_cache_ms > 0 && client) {
    absl::MutexLock lock(&cache_mu_);
    // Bounded: a flood of unknown or many key ids must not grow it without end.
    if (cache_.size() >= 10000) cache_.clear();
    cache_[key_id] = entry;
  }
  return std::shared_ptr<const CachedClient>(std::move(entry));
}

std::shared_ptr<const ApiClientService::CachedClient> ApiClientService::Cached(
    const std::string& key_id, int64_t now) {
  if (options_.client_cache_ms <= 0) return nullptr;
  absl::MutexLock lock(&cache_mu_);
  auto it = cache_.find(key_id);
  if (it == cache_.end()) return nullptr;
  const CachedClient& c = *it->second;
  if (SteadyMs() - c.loaded_steady_ms >= options_.client_cache_ms || now >= c.valid_until_ms) {
    cache_.erase(it);
    return nullptr;
  }
  return it->second;
}

void ApiClientService::Forget(std::string_view key_id) {
  absl::MutexLock lock(&cache_mu_);
  cache_.erase(std::string(key_id));
}

}  // namespace mercator::auth
