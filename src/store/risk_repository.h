// The draw guard's risk black list (customers, devices, client IPs that may not draw), kept in
// storage so it survives restarts. The guard holds a copy in memory; the repository is read
// at start-up and written when staff change the list.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_RISK_REPOSITORY_H_
#define MERCATOR_STORE_RISK_REPOSITORY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

enum class BlockKind { kCustomer, kDevice, kIp };
std::string_view BlockKindName(BlockKind kind);  // "customer", "device", "ip"
// InvalidArgument "kind: must be customer, device or ip" for anything else.
absl::StatusOr<BlockKind> ParseBlockKind(std::string_view name);

struct BlockEntry {
  BlockKind kind = BlockKind::kCustomer;
  std::string value;  // external id, device id or IP address (1..128 bytes)
  std::string reason;
  std::string created_by;  // Principal::Actor() of the staff member
  int64_t created_ms = 0;
};

class RiskRepository {
 public:
  virtual ~RiskRepository() = default;
  // Every entry, ordered by kind then value.
  virtual absl::StatusOr<std::vector<BlockEntry>> ListBlocked() = 0;
  // AlreadyExists if (kind, value) is listed.
  virtual absl::Status AddBlocked(const BlockEntry& entry) = 0;
  // NotFound if (kind, value) is not listed.
  virtual absl::Status RemoveBlocked(BlockKind kind, std::string_view value) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_RISK_REPOSITORY_H_
