#include "event/internal/codec.h"

#include <cstdint>

#include "common/status_macros.h"

namespace mercator::event::internal {
namespace {

constexpr uint8_t kVersion = 1;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutSigned(std::string& out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool ok() const { return ok_; }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) break;
      const auto b = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }
  int64_t Signed() {
    const uint64_t z = Varint();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  uint8_t Byte() {
    if (rest_.empty()) {
      ok_ = false;
      return 0;
    }
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::string String() { return std::string(View()); }
  std::string_view View() {
    const uint64_t n = Varint();
    if (!ok_ || n > rest_.size()) {
      ok_ = false;
      return {};
    }
    const std::string_view s = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return s;
  }
  bool AtEnd() const { return rest_.empty(); }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

}  // namespace

void EncodeEvent(const Event& event, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  PutString(out, event.id);
  PutString(out, event.type);
  PutVarint(out, event.uid);
  PutString(out, event.customer);
  PutSigned(out, event.occurred_ms);
  PutSigned(out, event.received_ms);
  PutString(out, event.source);
  PutVarint(out, event.properties.size());
  for (const auto& [key, value] : event.properties) {
    PutString(out, key);
    if (const auto* b = std::get_if<bool>(&value)) {
      out.push_back(static_cast<char>(*b ? 1 : 0));
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      out.push_back(2);
      PutSigned(out, *n);
    } else {
      out.push_back(3);
      PutString(out, std::get<std::string>(value));
    }
  }
}

absl::StatusOr<EventView> DecodeEventView(std::string_view bytes) {
  Reader r(bytes);
  if (r.Byte() != kVersion) return absl::DataLossError("event record: unknown version");
  EventView e;
  e.id = r.View();
  e.type = r.View();
  e.uid = static_cast<uint32_t>(r.Varint());
  e.customer = r.View();
  e.occurred_ms = r.Signed();
  e.received_ms = r.Signed();
  e.source = r.View();
  e.property_count = r.Varint();
  if (!r.ok()) return absl::DataLossError("event record: malformed");
  e.properties = r.rest();
  return e;
}

absl::StatusOr<Event> DecodeEvent(std::string_view bytes) {
  ASSIGN_OR_RETURN(const EventView v, DecodeEventView(bytes));
  Event e;
  e.id = v.id;
  e.type = v.type;
  e.uid = v.uid;
  e.customer = v.customer;
  e.occurred_ms = v.occurred_ms;
  e.received_ms = v.received_ms;
  e.source = v.source;
  Reader r(v.properties);
  for (uint64_t i = 0; r.ok() && i < v.property_count; ++i) {
    std::string key = r.String();
    switch (r.Byte()) {
      case 0:
        e.properties.emplace(std::move(key), false);
        break;
      case 1:
        e.properties.emplace(std::move(key), true);
        break;
      case 2:
        e.properties.emplace(std::move(key), r.Signed());
        break;
      case 3:
        e.properties.emplace(std::move(key), r.String());
        break;
      default:
        return absl::DataLossError("event record: unknown property kind");
    }
  }
  if (!r.ok() || !r.AtEnd()) return absl::DataLossError("event record: malformed");
  return e;
}

std::optional<std::string_view> StringProperty(const EventView& view, std::string_view key) {
  Reader r(view.properties);
  for (uint64_t i = 0; r.ok() && i < view.property_count; ++i) {
    const std::string_view k = r.View();
    const uint8_t kind = r.Byte();
    if (kind == 2) {
      r.Signed();
    } else if (kind == 3) {
      const std::string_view value = r.View();
      if (r.ok() && k == key) return value;
    } else if (kind > 3) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string ErasedRecord(size_t length) { return std::string(length, '\0'); }

bool IsErasedRecord(std::string_view bytes) { return !bytes.empty() && bytes[0] == '\0'; }

}  // namespace mercator::event::internal
