#include "outreach/smpp_codec.h"

#include <fmt/format.h>

#include "absl/strings/ascii.h"
#include "common/strings.h"

namespace mercator::outreach {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

void AppendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool IsHighSurrogate(char16_t u) { return u >= 0xD800 && u <= 0xDBFF; }
bool IsLowSurrogate(char16_t u) { return u >= 0xDC00 && u <= 0xDFFF; }

// The value of `key` (e.g. "stat:") in a receipt text: up to the next space.
std::string Field(std::string_view text, std::string_view key) {
  size_t at = 0;
  while ((at = text.find(key, at)) != std::string_view::npos) {
    // A key starts the text or follows a space ("submit date:" must not match "date:").
    if (at == 0 || text[at - 1] == ' ') break;
    ++at;
  }
  if (at == std::string_view::npos) return {};
  const size_t start = at + key.size();
  const size_t end = text.find(' ', start);
  return std::string(text.substr(start, end == std::string_view::npos ? end : end - start));
}

}  // namespace

std::u16string Utf8ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    char32_t c = kReplacement;
    size_t n = 1;
    if (b < 0x80) {
      c = b;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
    }
    if (n > 1) {
      bool ok = i + n <= s.size();
      char32_t v = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
      for (size_t k = 1; ok && k < n; ++k) {
        const auto cb = static_cast<unsigned char>(s[i + k]);
        if ((cb & 0xC0) != 0x80) {
          ok = false;
          break;
        }
        v = (v << 6) | (cb & 0x3F);
      }
      if (ok && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) {
        c = v;
      } else {
        n = 1;  // resynchronize on the next octet
      }
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (c >> 10));
      out += static_cast<char16_t>(0xDC00 + (c & 0x3FF));
    } else {
      out += static_cast<char16_t>(c);
    }
    i += n;
  }
  return out;
}

std::string Utf16BeToUtf8(std::string_view octets) {
  std::string out;
  const size_t units = octets.size() / 2;
  auto unit = [&](size_t k) {
    return static_cast<char16_t>((static_cast<unsigned char>(octets[2 * k]) << 8) |
                                 static_cast<unsigned char>(octets[2 * k + 1]));
  };
  for (size_t k = 0; k < units; ++k) {
    const char16_t u = unit(k);
    if (IsHighSurrogate(u) && k + 1 < units && IsLowSurrogate(unit(k + 1))) {
      AppendUtf8(out,
                 0x10000 + ((static_cast<char32_t>(u) - 0xD800) << 10) + (unit(k + 1) - 0xDC00));
      ++k;
    } else if (IsHighSurrogate(u) || IsLowSurrogate(u)) {
      AppendUtf8(out, kReplacement);
    } else {
      AppendUtf8(out, u);
    }
  }
  return out;
}

std::vector<std::string> Ucs2Segments(std::string_view utf8, uint8_t ref) {
  const std::u16string units = Utf8ToUtf16(utf8);
  auto octets = [&](size_t from, size_t to) {
    std::string out;
    out.reserve(2 * (to - from));
    for (size_t k = from; k < to; ++k) {
      out += static_cast<char>(units[k] >> 8);
      out += static_cast<char>(units[k] & 0xFF);
    }
    return out;
  };
  if (units.size() <= kUcs2Single) return {octets(0, units.size())};
  std::vector<std::pair<size_t, size_t>> parts;
  for (size_t from = 0; from < units.size();) {
    size_t to = std::min(units.size(), from + kUcs2Part);
    // A surrogate pair stays in one part.
    if (to < units.size() && IsHighSurrogate(units[to - 1])) --to;
    parts.emplace_back(from, to);
    from = to;
  }
  if (parts.size() > kMaxParts) return {};
  std::vector<std::string> out;
  for (size_t p = 0; p < parts.size(); ++p) {
    std::string seg = {0x05,
                       0x00,
                       0x03,
                       static_cast<char>(ref),
                       static_cast<char>(parts.size()),
                       static_cast<char>(p + 1)};
    seg += octets(parts[p].first, parts[p].second);
    out.push_back(std::move(seg));
  }
  return out;
}

std::string DecodeShortMessage(std::string_view octets, uint8_t data_coding, uint8_t esm_class) {
  if ((esm_class & kEsmClassUdhi) != 0 && !octets.empty()) {
    const size_t udh = static_cast<unsigned char>(octets[0]) + 1;
    octets.remove_prefix(std::min(udh, octets.size()));
  }
  std::string out;
  switch (data_coding & 0x0F) {
    case kDataCodingUcs2:
      return Utf16BeToUtf8(octets);
    case kDataCodingLatin1:
      for (char c : octets) AppendUtf8(out, static_cast<unsigned char>(c));
      return out;
    default:
      // GSM 03.38 and ASCII agree on letters and digits, which is what a reply keyword is; any
      // other octet is kept only if it is ASCII.
      for (char c : octets) out += (static_cast<unsigned char>(c) < 0x80) ? c : '?';
      return out;
  }
}

std::optional<ReceiptText> ParseReceiptText(std::string_view text) {
  ReceiptText r;
  r.id = Field(text, "id:");
  if (r.id.empty()) return std::nullopt;
  r.stat = Field(text, "stat:");
  r.err = Field(text, "err:");
  return r;
}

std::string_view MessageStateStat(uint8_t state) {
  switch (state) {
    case 1:
      return "ENROUTE";
    case 2:
      return "DELIVRD";
    case 3:
      return "EXPIRED";
    case 4:
      return "DELETED";
    case 5:
      return "UNDELIV";
    case 6:
      return "ACCEPTD";
    case 7:
      return "UNKNOWN";
    case 8:
      return "REJECTD";
    default:
      return "";
  }
}

std::string_view ReceiptOutcome(std::string_view stat) {
  if (stat == "DELIVRD") return "delivered";
  if (stat == "EXPIRED" || stat == "DELETED" || stat == "UNDELIV" || stat == "UNKNOWN" ||
      stat == "REJECTD") {
    return "failed";
  }
  return "";
}

bool IsOptOutReply(std::string_view text) {
  std::string t(absl::StripAsciiWhitespace(ToAbsl(text)));
  absl::AsciiStrToUpper(&t);
  return t == "T" || t == "TD" || t == "R" || t == "N" || t == "退订";
}

std::string CommandStatusName(uint32_t status) {
  std::string_view name;
  switch (status) {
    case 0x00:
      name = "ESME_ROK";
      break;
    case 0x01:
      name = "ESME_RINVMSGLEN";
      break;
    case 0x03:
      name = "ESME_RINVCMDID";
      break;
    case 0x04:
      name = "ESME_RINVBNDSTS";
      break;
    case 0x05:
      name = "ESME_RALYBND";
      break;
    case 0x08:
      name = "ESME_RSYSERR";
      break;
    case 0x0A:
      name = "ESME_RINVSRCADR";
      break;
    case 0x0B:
      name = "ESME_RINVDSTADR";
      break;
    case 0x0D:
      name = "ESME_RBINDFAIL";
      break;
    case 0x0E:
      name = "ESME_RINVPASWD";
      break;
    case 0x0F:
      name = "ESME_RINVSYSID";
      break;
    case 0x14:
      name = "ESME_RMSGQFUL";
      break;
    case 0x45:
      name = "ESME_RSUBMITFAIL";
      break;
    case 0x58:
      name = "ESME_RTHROTTLED";
      break;
    case 0xFF:
      name = "ESME_RUNKNOWNERR";
      break;
    default:
      break;
  }
  if (name.empty()) return fmt::format("0x{:08X}", status);
  return fmt::format("{} (0x{:08X})", name, status);
}

bool IsThrottle(uint32_t status) { return status == 0x58 || status == 0x14; }

}  // namespace mercator::outreach
