#include "auth/audit_log.h"

#include <sodium.h>

#include <array>
#include <string_view>

#include "common/digest.h"
#include "common/status_macros.h"

namespace mercator::auth {
namespace {

constexpr std::string_view kDomain = "mercator-audit-v1";
constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

void Update(crypto_hash_sha256_state& state, std::string_view field) {
  std::array<unsigned char, 8> len;
  uint64_t n = field.size();
  for (int i = 7; i >= 0; --i) {
    len[i] = static_cast<unsigned char>(n & 0xff);
    n >>= 8;
  }
  crypto_hash_sha256_update(&state, len.data(), len.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(field.data()),
                            field.size());
}

}  // namespace

std::string HashChainAuditLog::Sha256Hex(std::string_view data) {
  return mercator::Sha256Hex(data);
}

std::string HashChainAuditLog::ComputeHash(const AuditEntry& e) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(kDomain.data()),
                            kDomain.size());
  Update(state, std::to_string(e.seq));
  Update(state, std::to_string(e.time_ms));
  Update(state, e.actor);
  Update(state, e.action);
  Update(state, e.object_type);
  Update(state, e.object_id);
  Update(state, e.detail);
  Update(state, e.detail_sha256);
  Update(state, e.request_id);
  Update(state, e.ip);
  Update(state, e.prev_hash);
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, out);
  return HexEncode(out, sizeof out);
}

absl::Status HashChainAuditLog::Append(const AuditEvent& event) {
  return AppendEntry(event).status();
}

absl::StatusOr<AuditEntry> HashChainAuditLog::AppendEntry(const AuditEvent& event) {
  ASSIGN_OR_RETURN(AuditEntry entry, Prepare(event));
  return repository_->Append(std::move(entry), &HashChainAuditLog::ComputeHash);
}

absl::StatusOr<AuditEntry> HashChainAuditLog::Prepare(const AuditEvent& event) {
  if (event.actor.empty()) return absl::InvalidArgumentError("actor: is required");
  if (event.action.empty()) return absl::InvalidArgumentError("action: is required");
  AuditEntry entry;
  entry.time_ms = clock_->NowMs();
  entry.actor = event.actor;
  entry.action = event.action;
  entry.object_type = event.object_type;
  entry.object_id = event.object_id;
  entry.detail = event.detail.empty() ? "{}" : event.detail;
  entry.detail_sha256 = Sha256Hex(entry.detail);
  entry.request_id = event.request_id;
  entry.ip = event.ip;
  return entry;
}

absl::StatusOr<AuditVerifyResult> HashChainAuditLog::Verify() {
  AuditVerifyResult result;
  int64_t expected_seq = 1;
  std::string prev_hash(kGenesisHash);
  ASSIGN_OR_RETURN(int64_t highest, repository_->Scan([&](const AuditEntry& e) -> absl::Status {
    // After the first break the scan goes on only to find the head.
    if (result.ok) {
      if (e.seq != expected_seq) {
        result.ok = false;
        result.first_broken_seq = expected_seq;
        result.reason = "gap in sequence (entry deleted)";
      } else {
        ++result.checked;
        if (e.prev_hash != prev_hash) {
          result.ok = false;
          result.first_broken_seq = e.seq;
          result.reason = "prev_hash does not match";
        } else if (Sha256Hex(e.detail) != e.detail_sha256 || ComputeHash(e) != e.hash) {
          result.ok = false;
          result.first_broken_seq = e.seq;
          result.reason = "hash mismatch";
        }
      }
      prev_hash = e.hash;
      ++expected_seq;
    }
    result.head_seq = e.seq;
    result.head_hash = e.hash;
    return absl::OkStatus();
  }));
  if (result.ok && highest > result.head_seq) {
    result.ok = false;
    result.first_broken_seq = result.head_seq + 1;
    result.reason = "entries missing at the end of the log (entry deleted)";
  }
  return result;
}

absl::StatusOr<std::vector<AuditEntry>> HashChainAuditLog::List(const AuditQuery& query) {
  return repository_->List(query);
}

}  // namespace mercator::auth
