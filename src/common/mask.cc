#include "common/mask.h"

namespace mercator {

namespace {
// Length in bytes of the UTF-8 sequence starting with `lead`.
size_t Utf8Len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

std::string KeepEnds(std::string_view s, size_t head, size_t tail) {
  if (s.size() <= head + tail) return std::string(s.size(), '*');
  std::string out(s.substr(0, head));
  out.append(s.size() - head - tail, '*');
  out.append(s.substr(s.size() - tail));
  return out;
}
}  // namespace

std::string MaskName(std::string_view name) {
  if (name.empty()) return {};
  size_t first = std::min(Utf8Len(static_cast<unsigned char>(name[0])), name.size());
  std::string out(name.substr(0, first));
  size_t i = first;
  while (i < name.size()) {
    i += Utf8Len(static_cast<unsigned char>(name[i]));
    out.push_back('*');
  }
  if (out.size() == first) out.push_back('*');
  return out;
}

std::string MaskPhone(std::string_view phone) { return KeepEnds(phone, 3, 4); }

std::string MaskIdNumber(std::string_view id) { return KeepEnds(id, 4, 4); }

std::string MaskNumbersInText(std::string_view text) {
  constexpr size_t kMinRun = 7;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!digit(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = i;
    while (end < text.size() && digit(text[end])) ++end;
    if (end < text.size() && (text[end] == 'X' || text[end] == 'x') && end - i == 17) ++end;
    const std::string_view run = text.substr(i, end - i);
    if (run.size() >= kMinRun) {
      out += KeepEnds(run, 3, 4);
    } else {
      out.append(run);
    }
    i = end;
  }
  return out;
}

}  // namespace mercator
