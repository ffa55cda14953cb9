#include "outreach/smpp_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

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

// GSM 03.38 (3GPP TS 23.038 6.2.1) default alphabet: the character of each septet. 0x1B is the
// escape to the extension table, never a character of its own.
constexpr char32_t kGsm7Basic[128] = {
    U'@', U'£', U'$',  U'¥',     U'è', U'é',  U'ù', U'ì',   // 0x00
    U'ò', U'Ç', U'\n', U'Ø',     U'ø', U'\r', U'Å', U'å',   // 0x08
    U'Δ', U'_', U'Φ',  U'Γ',     U'Λ', U'Ω',  U'Π', U'Ψ',   // 0x10
    U'Σ', U'Θ', U'Ξ',  0x110000, U'Æ', U'æ',  U'ß', U'É',   // 0x18
    U' ', U'!', U'"',  U'#',     U'¤', U'%',  U'&', U'\'',  // 0x20
    U'(', U')', U'*',  U'+',     U',', U'-',  U'.', U'/',   // 0x28
    U'0', U'1', U'2',  U'3',     U'4', U'5',  U'6', U'7',   // 0x30
    U'8', U'9', U':',  U';',     U'<', U'=',  U'>', U'?',   // 0x38
    U'¡', U'A', U'B',  U'C',     U'D', U'E',  U'F', U'G',   // 0x40
    U'H', U'I', U'J',  U'K',     U'L', U'M',  U'N', U'O',   // 0x48
    U'P', U'Q', U'R',  U'S',     U'T', U'U',  U'V', U'W',   // 0x50
    U'X', U'Y', U'Z',  U'Ä',     U'Ö', U'Ñ',  U'Ü', U'§',   // 0x58
    U'¿', U'a', U'b',  U'c',     U'd', U'e',  U'f', U'g',   // 0x60
    U'h', U'i', U'j',  U'k',     U'l', U'm',  U'n', U'o',   // 0x68
    U'p', U'q', U'r',  U's',     U't', U'u',  U'v', U'w',   // 0x70
    U'x', U'y', U'z',  U'ä',     U'ö', U'ñ',  U'ü', U'à',   // 0x78
};
// The extension table (6.2.1.1): the code after 0x1B and its character.
constexpr std::pair<char, char32_t> kGsm7Extension[] = {
    {0x0A, U'\f'}, {0x14, U'^'}, {0x28, U'{'}, {0x29, U'}'}, {0x2F, U'\\'},
    {0x3C, U'['},  {0x3D, U'~'}, {0x3E, U']'}, {0x40, U'|'}, {0x65, U'€'},
};

// Code points of a UTF-8 text; nullopt if it is not valid UTF-8.
std::optional<std::u32string> CodePoints(std::string_view utf8) {
  const std::u16string units = Utf8ToUtf16(utf8);
  std::u32string out;
  out.reserve(units.size());
  for (size_t k = 0; k < units.size(); ++k) {
    const char16_t u = units[k];
    if (u == 0xFFFD) return std::nullopt;  // malformed (or a real U+FFFD, not GSM either)
    if (IsHighSurrogate(u) && k + 1 < units.size()) {
      out += 0x10000 + ((static_cast<char32_t>(u) - 0xD800) << 10) + (units[k + 1] - 0xDC00);
      ++k;
    } else {
      out += u;
    }
  }
  return out;
}

// Splits `n` units into the [from, to) ranges of the segments: one range up to `single`, else
// parts of up to `part` that end only where `can_end(to)` allows (a part that cannot end at
// its limit ends one unit earlier: escape and surrogate pairs are two units).
template <typename CanEnd>
std::vector<std::pair<size_t, size_t>> SplitUnits(size_t n, size_t single, size_t part,
                                                  CanEnd can_end) {
  if (n <= single) return {{0, n}};
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t from = 0; from < n;) {
    size_t to = std::min(n, from + part);
    if (to < n && !can_end(to)) --to;
    out.emplace_back(from, to);
    from = to;
  }
  return out;
}

// The segments of `payload` split at `ranges` (in octets: `width` octets per unit), each behind
// the concatenation header when there is more than one; empty for more than 255.
std::vector<std::string> Frame(std::string_view payload,
                               const std::vector<std::pair<size_t, size_t>>& ranges, size_t width,
                               uint8_t ref) {
  if (ranges.size() > kMaxParts) return {};
  std::vector<std::string> out;
  for (size_t p = 0; p < ranges.size(); ++p) {
    std::string seg;
    if (ranges.size() > 1) {
      seg = {0x05,
             0x00,
             0x03,
             static_cast<char>(ref),
             static_cast<char>(ranges.size()),
             static_cast<char>(p + 1)};
    }
    seg += payload.substr(width * ranges[p].first, width * (ranges[p].second - ranges[p].first));
    out.push_back(std::move(seg));
  }
  return out;
}

std::string Ucs2Octets(const std::u16string& units) {
  std::string out;
  out.reserve(2 * units.size());
  for (char16_t u : units) {
    out += static_cast<char>(u >> 8);
    out += static_cast<char>(u & 0xFF);
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> Ucs2Ranges(const std::u16string& units) {
  return SplitUnits(units.size(), kUcs2Single, kUcs2Part,
                    [&](size_t to) { return !IsHighSurrogate(units[to - 1]); });
}

std::vector<std::pair<size_t, size_t>> Gsm7Ranges(std::string_view septets) {
  // An extension code is never 0x1B, so a part ending in 0x1B would split an escape pair.
  return SplitUnits(septets.size(), kGsm7Single, kGsm7Part,
                    [&](size_t to) { return septets[to - 1] != kGsm7Escape; });
}

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
  return Frame(Ucs2Octets(units), Ucs2Ranges(units), 2, ref);
}

std::optional<std::string> Utf8ToGsm7(std::string_view utf8) {
  const std::optional<std::u32string> text = CodePoints(utf8);
  if (!text) return std::nullopt;
  std::string out;
  out.reserve(text->size());
  for (char32_t c : *text) {
    const char32_t* basic = std::find(std::begin(kGsm7Basic), std::end(kGsm7Basic), c);
    if (basic != std::end(kGsm7Basic)) {
      out += static_cast<char>(basic - std::begin(kGsm7Basic));
      continue;
    }
    const auto* ext = std::find_if(std::begin(kGsm7Extension), std::end(kGsm7Extension),
                                   [c](const auto& e) { return e.second == c; });
    if (ext == std::end(kGsm7Extension)) return std::nullopt;
    out += kGsm7Escape;
    out += ext->first;
  }
  return out;
}

std::string Gsm7ToUtf8(std::string_view septets) {
  std::string out;
  for (size_t k = 0; k < septets.size(); ++k) {
    const auto b = static_cast<unsigned char>(septets[k]);
    if (b >= 0x80) {
      out += '?';
      continue;
    }
    if (b == static_cast<unsigned char>(kGsm7Escape)) {
      if (k + 1 == septets.size()) break;  // a trailing escape is nothing
      const char code = septets[++k];
      const auto* ext = std::find_if(std::begin(kGsm7Extension), std::end(kGsm7Extension),
                                     [code](const auto& e) { return e.first == code; });
      if (ext != std::end(kGsm7Extension)) {
        AppendUtf8(out, ext->second);
      } else if (static_cast<unsigned char>(code) < 0x80 && code != kGsm7Escape) {
        AppendUtf8(out, kGsm7Basic[static_cast<unsigned char>(code)]);
      } else {
        out += '?';
      }
      continue;
    }
    AppendUtf8(out, kGsm7Basic[b]);
  }
  return out;
}

SmsEncoding EncodeSms(std::string_view utf8, uint8_t ref, Gsm7Mode mode) {
  SmsEncoding e;
  if (mode == Gsm7Mode::kAuto) {
    if (std::optional<std::string> septets = Utf8ToGsm7(utf8)) {
      e.data_coding = kDataCodingDefault;
      e.units = septets->size();
      e.parts = Frame(*septets, Gsm7Ranges(*septets), 1, ref);
      return e;
    }
  }
  const std::u16string units = Utf8ToUtf16(utf8);
  e.data_coding = kDataCodingUcs2;
  e.units = units.size();
  e.parts = Frame(Ucs2Octets(units), Ucs2Ranges(units), 2, ref);
  return e;
}

size_t SmsSegmentCount(std::string_view utf8) {
  if (utf8.empty()) return 0;
  if (std::optional<std::string> septets = Utf8ToGsm7(utf8)) return Gsm7Ranges(*septets).size();
  return Ucs2Ranges(Utf8ToUtf16(utf8)).size();
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
    case kDataCodingDefault:
      return Gsm7ToUtf8(octets);
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
