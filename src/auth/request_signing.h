// API clients (app and channel back-ends) and HMAC-SHA256 request signing.
//
// A client holds a key id ("ck_" + 16 hex) and a secret ("cs_" + 64 hex) and signs every
// request. docs/api-signing.md is the guide for client developers; scripts/mct-sign is a
// reference implementation in bash + openssl.
//
// The string to sign (lines joined with "\n", no trailing newline):
//
//   MCT-HMAC-SHA256
//   <METHOD>            as sent, e.g. "POST"
//   <path>              the request target's path exactly as sent (percent-encoded, not
//                       normalised), e.g. "/v1/clients/ck_0123456789abcdef"
//   <canonical query>   the raw query (after "?", "" if none) split on "&", empty pieces
//                       dropped, each piece kept exactly as sent (still percent-encoded), sorted
//                       by name (the bytes before the first "="), then value (the bytes after
//                       it), then the whole piece, comparing bytes; joined with "&"
//   <timestamp>         Unix time in milliseconds, decimal, as in the header
//   <nonce>             as in the header
//   <body hash>         lower-case hex SHA-256 of the body bytes (of "" for no body)
//
// signature = lower-case hex HMAC-SHA256(key = the secret string's bytes, string to sign).
//
// The header:
//   Authorization: MCT-HMAC-SHA256 Credential=<key id>, Timestamp=<ms>, Nonce=<nonce>,
//                  Signature=<64 hex>
// The scheme is case-insensitive; parts are separated by "," with optional spaces, each appears
// once, in any order, with case-sensitive names. The nonce
// is 16-64 characters of [A-Za-z0-9_-], fresh for every request (16 random bytes as hex do).
//
// Verification (ApiClientService::Verify), in this order, every failure an Unauthenticated
// status ("authorization: <reason>", 401) unless said otherwise:
//   1. the header parses; a malformed one names the part at fault;
//   2. the timestamp is within `max_clock_skew_ms` (5 min) of the server clock, either way;
//   3. the key id names an enabled client, one of its active secrets (the current one, or the
//      previous one during its grace period after a rotation) reproduces the signature,
//      compared in constant time. An unknown key id, a disabled client and a wrong signature
//      all get the same message (kBadSignatureMessage);
//   4. the client is within its rate limit, else ResourceExhausted (429) with a Retry-After;
//   5. the nonce has not been used by this key id within the replay window, in this process
//      or any other on the same store; it is recorded only now, after the signature
//      verified, so nobody can burn a client's nonces.
//
// Nonces are remembered twice: in a bounded in-memory cache of this process (NonceCache,
// `max_nonces`; when full of unexpired nonces, requests are refused with 429 rather than forgetting
// nonces, which would allow a replay), and in the store (the api_nonces table), which every process
// on the same database shares, so a replay sent to a second `mercator serve` or after a restart
// inside the window is refused too. A nonce is kept until its timestamp + max_clock_skew_ms,
// after which its request is stale anyway. Several nodes must share one database (PostgreSQL)
// for this to hold across nodes.
//
// Writing every nonce in its own transaction would cost more than the rest of a draw, so by
// default a background thread writes the accepted nonces every `nonce_flush_ms` (10 ms) in one
// transaction, and each request only reads the store (ApiClientRepository::NonceRecorded). A
// replay to another process is then refused once the first request's nonce is flushed: one
// that reaches the other process within the flush interval is accepted, then found when that
// process flushes, logged as a warning and counted (late_replays()). A restart flushes first
// (the destructor) and the new process loads the unexpired nonces into its cache
// (LoadNonces), so a replay after a restart is always refused. A store that only one process
// serves from (`nonce_store_shared` false: the server on its SQLite data directory) is not
// read per request at all: the cache holds all it would. `nonce_flush_ms` = 0 writes
// each nonce before its request is answered and closes that interval, at the cost of one
// SQLite write per signed request. Either way the store failing refuses requests (fail
// closed): a write-through write fails the request; a failed flush keeps its nonces queued and
// answers 503 until a flush succeeds, as does a queue over `max_pending_nonces`.
//
// Secrets are stored sealed by the PII vault (PiiCipher, context kApiClientSecretContext),
// returned in clear once (on creation and rotation), and never logged. Verification keeps a
// client and its opened active secrets in memory for `client_cache_ms` (1 s by default) after
// reading them from the store, so a busy back-end's requests do not each read the store and
// open the sealed secret. A change through this service (update, disable, rotate) drops the
// entry at once; a signature that the cached secrets do not reproduce is checked again against
// the store (a secret just rotated by another process works at once); a disable or rotation
// made by another process (`mercator client disable`) applies within client_cache_ms. Cached
// secrets are wiped from memory when the entry goes.
//
// Thread safety: ApiClientService and NonceCache are safe for concurrent use.
#ifndef MERCATOR_AUTH_REQUEST_SIGNING_H_
#define MERCATOR_AUTH_REQUEST_SIGNING_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/principal.h"
#include "store/api_client_repository.h"
#include "store/pii_cipher.h"

namespace mercator::auth {

inline constexpr std::string_view kSigningScheme = "MCT-HMAC-SHA256";
// The answer to an unknown key id, a disabled client and a wrong signature alike.
inline constexpr std::string_view kBadSignatureMessage =
    "authorization: the credential or signature is not valid";

// ---- The canonical request (client and server side) ----

// Lower-case hex SHA-256 (common/digest.h).
using ::mercator::Sha256Hex;
// See the header comment; `raw_query` is what follows "?" in the target (without the "?").
std::string CanonicalQuery(std::string_view raw_query);
// `target` is the request target as sent: path and optional "?query".
std::string StringToSign(std::string_view method, std::string_view target, std::string_view body,
                         int64_t timestamp_ms, std::string_view nonce);
// Lower-case hex HMAC-SHA256 of `string_to_sign` keyed with the bytes of `secret`.
std::string SignatureHex(std::string_view secret, std::string_view string_to_sign);

// The client side, and the reference for other implementations: the value of the
// Authorization header for a request. `nonce` must be 16-64 characters of [A-Za-z0-9_-] and
// never reused (RandomNonce() gives one).
std::string SignRequest(std::string_view key_id, std::string_view secret, std::string_view method,
                        std::string_view target, std::string_view body, int64_t timestamp_ms,
                        std::string_view nonce);
// 16 random bytes as 32 hex characters.
std::string RandomNonce();

struct SignatureHeader {
  std::string key_id;
  int64_t timestamp_ms = 0;
  std::string nonce;
  std::string signature_hex;
};
// Parses an Authorization header value. Unauthenticated "authorization: <reason>" naming the
// part at fault ("Timestamp must be Unix milliseconds", "Nonce is missing", ...).
absl::StatusOr<SignatureHeader> ParseSignatureHeader(std::string_view value);

// ---- Replay protection ----

// Remembers (key id, nonce) pairs until they expire. Memory is bounded by `max_entries`:
// a new pair is refused (kFull) rather than forgetting an unexpired one.
//
// Pairs are kept in buckets by expiry time, one bucket per `bucket_ms` span; a bucket is
// dropped whole once its span has passed, so a pair is forgotten no earlier than its expiry and
// at most bucket_ms after it (no expiry queue, no per-entry erase). A pair is kept as a 64-bit
// keyed digest (SipHash-2-4 with a key drawn at random per process): 9 bytes of table, about
// 24 with the tables' free slots (measured: 16M pairs, 360 MB). Two pairs share a digest with
// probability 2^-64 per pair held: a collision refuses a fresh request as a replay (its client
// retries with a new nonce); it cannot make a replay pass, and nobody outside the process can aim
// for one.
class NonceCache {
 public:
  NonceCache(size_t max_entries, int64_t bucket_ms);
  NonceCache(const NonceCache&) = delete;
  NonceCache& operator=(const NonceCache&) = delete;

  enum class Result { kRecorded, kReplay, kFull };
  // Drops the buckets whose span ended by `now_ms`, then records the pair until `expires_ms`
  // unless it is already there.
  Result Record(std::string_view key_id, std::string_view nonce, int64_t expires_ms, int64_t now_ms)
      ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    int64_t index = 0;  // covers expiries [index * bucket_ms, (index + 1) * bucket_ms)
    absl::flat_hash_set<uint64_t> digests;
  };
  uint64_t DigestOf(std::string_view key_id, std::string_view nonce) const;

  const size_t max_entries_;
  const int64_t bucket_ms_;
  const KeyedDigest64 digest_;  // keyed at random per process: digests are not guessable
  mutable absl::Mutex mu_;
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);  // by index, ascending; a handful
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

// ---- API clients ----

struct ApiClientOptions {
  int64_t max_clock_skew_ms = 5 * 60 * 1000;
  int64_t default_grace_ms = 24 * 60 * 60 * 1000;  // previous secret's life after a rotation
  int64_t max_grace_ms = 30LL * 24 * 60 * 60 * 1000;
  // In-memory nonces (NonceCache): up to 20M entries, about 24 bytes each (16M took 360 MB),
  // which holds a sustained 50k signed requests/s over the 5-minute window with its slack.
  size_t max_nonces = 20'000'000;
  // Per client (key id), counted after the signature verified.
  RateLimiter::Options rate_limit = {.per_second = 50, .burst = 200, .max_keys = 100000};
  // How long a verified client and its opened secrets are reused (machine time); 0: read the
  // store on every request.
  int64_t client_cache_ms = 1000;
  // How often the nonces of accepted requests are written to the store, all of them in one
  // transaction, by a background thread (machine time). 0: each request writes its own nonce
  // before it is answered, the strictest cross-process check at one SQLite write transaction
  // per signed request (see the header comment).
  int64_t nonce_flush_ms = 10;
  // Accepted nonces not yet in the store beyond which signed requests are refused (503) until
  // a flush catches up: memory stays bounded if the store stalls.
  size_t max_pending_nonces = 500'000;
  // Whether other processes accept signed requests on the same store (several nodes on one
  // database): then each request also reads the store for a nonce another process took. A
  // store only this process serves from needs no read per request: with LoadNonces at
  // start, the in-memory cache holds every unexpired nonce the store would, and flushes
  // append the nonces (ApiClientRepository::AppendNonces) rather than check each one.
  bool nonce_store_shared = true;
};

struct CreatedClient {
  ApiClient client;
  std::string secret;  // the only copy in clear; shown once
};

struct RotatedSecret {
  ApiClient client;
  std::string secret;               // the new current secret; shown once
  int64_t previous_expires_ms = 0;  // the old secret works until then
};

// Fields to change; nullopt leaves one as it is.
struct ClientChange {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> scopes;
  std::optional<bool> disabled;
};

// What a signed request looks like to the verifier (no HTTP types in auth/).
struct SignedRequest {
  std::string_view authorization;  // the Authorization header value
  std::string_view method;         // "GET"
  std::string_view target;         // path and query as received
  std::string_view body;
};

class ApiClientService {
 public:
  // None of the pointers is owned; all must outlive the service.
  ApiClientService(ApiClientRepository* repo, const PiiCipher* cipher, const Clock* clock,
                   ApiClientOptions options = {});
  ApiClientService(const ApiClientService&) = delete;
  ApiClientService& operator=(const ApiClientService&) = delete;

  // Creates a client with a fresh key id and secret. InvalidArgument "name: ..." or
  // "scopes: ..." (at least one scope, each from auth::AllScopes()).
  absl::StatusOr<CreatedClient> Create(std::string_view name, std::vector<std::string> scopes,
                                       std::string_view created_by);
  absl::StatusOr<std::vector<ApiClient>> List(int64_t after_id, int limit);
  // NotFound if unknown.
  absl::StatusOr<ApiClient> Get(std::string_view key_id);
  // The client's active secrets' metadata (sealed values included; never opened here).
  absl::StatusOr<std::vector<ApiClientSecret>> Secrets(std::string_view key_id);
  absl::StatusOr<ApiClient> Update(std::string_view key_id, const ClientChange& change);
  // A new current secret; the old one keeps working for `grace_ms` (default
  // options.default_grace_ms; 0 ends it at once; at most options.max_grace_ms, else
  // InvalidArgument "grace_seconds: ..."). A secret retired by an earlier rotation stops
  // working now: there are never more than two.
  absl::StatusOr<RotatedSecret> Rotate(std::string_view key_id,
                                       std::optional<int64_t> grace_ms = std::nullopt);

  // Stops the nonce flusher and writes what it still holds (FlushNonces).
  ~ApiClientService();

  // Verifies a signed request (see the header comment) and returns the client's principal:
  // kind kClient, id = key id, permissions of its scopes.
  absl::StatusOr<Principal> Verify(const SignedRequest& request);

  // Writes the accepted nonces that are not in the store yet, now (the flusher does it every
  // nonce_flush_ms). On failure they stay queued, signed requests are refused until a flush
  // succeeds, and the error is returned.
  absl::Status FlushNonces() ABSL_LOCKS_EXCLUDED(flush_mu_, pending_mu_);
  // Loads the nonces the store holds unexpired into this process's cache (start-up), so a
  // replay of a request accepted before a restart is refused from memory. Up to max_nonces.
  absl::Status LoadNonces();
  // Nonces this process accepted that the store already held when they were flushed: a replay
  // that reached another process within the flush interval (each one is logged as well).
  uint64_t late_replays() const { return late_replays_.load(std::memory_order_relaxed); }

  const ApiClientOptions& options() const { return options_; }

 private:
  // A client and its active secrets, opened; the secrets are wiped when it is destroyed.
  struct CachedClient {
    ApiClient client;
    std::vector<std::string> secrets;
    // For each secret, its HMAC key (wiped with it): a request's HMAC starts from the key's
    // hashed pads instead of hashing them again.
    std::vector<std::unique_ptr<const HmacSha256>> keyed;
    int64_t valid_until_ms = 0;    // clock time: the earliest end of a secret's grace
    int64_t loaded_steady_ms = 0;  // machine time of the read
    ~CachedClient();
  };
  // The client and its secrets from the store (the cache's filler).
  absl::StatusOr<std::shared_ptr<const CachedClient>> Load(const std::string& key_id, int64_t now);
  std::shared_ptr<const CachedClient> Cached(const std::string& key_id, int64_t now);
  void Forget(std::string_view key_id);

  ApiClientRepository* const repo_;
  const PiiCipher* const cipher_;
  const Clock* const clock_;
  const ApiClientOptions options_;
  RateLimiter rate_limiter_;
  NonceCache nonces_;
  // Records a verified request's nonce in the store (directly, or queued for the flusher).
  absl::Status StoreNonce(const SignatureHeader& h, int64_t now) ABSL_LOCKS_EXCLUDED(pending_mu_);
  void FlushLoop() ABSL_LOCKS_EXCLUDED(pending_mu_);

  absl::Mutex flush_mu_ ABSL_ACQUIRED_BEFORE(pending_mu_);  // one flush at a time, in order
  absl::Mutex pending_mu_;
  std::vector<ApiClientRepository::NonceRecord> pending_ ABSL_GUARDED_BY(pending_mu_);
  absl::Status flush_status_ ABSL_GUARDED_BY(pending_mu_);  // the last flush's outcome
  bool stopping_ ABSL_GUARDED_BY(pending_mu_) = false;
  std::atomic<uint64_t> late_replays_{0};
  std::thread flusher_;   // started last, when nonce_flush_ms > 0
  absl::Mutex cache_mu_;  // a leaf lock
  absl::flat_hash_map<std::string, std::shared_ptr<const CachedClient>> cache_
      ABSL_GUARDED_BY(cache_mu_);
};

// Checks a client name: 1-100 characters, no control characters. InvalidArgument "name: ...".
absl::Status ValidateClientName(std::string_view name);
// Sorts, de-duplicates and checks scopes. InvalidArgument "scopes: ...".
absl::StatusOr<std::vector<std::string>> NormalizeScopes(std::vector<std::string> scopes);

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_REQUEST_SIGNING_H_
