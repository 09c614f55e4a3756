#include "hub/base/text.h"

#include <cstdint>

namespace taxhub {

namespace {

// The length of the well-formed UTF-8 sequence at p (no overlongs, surrogates or code points
// above U+10FFFF), with its code point in *cp; 0 when there is none.
size_t Utf8Sequence(const uint8_t* p, const uint8_t* end, uint32_t* cp) {
  const uint8_t c = *p;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int extra;
  if ((c & 0xe0) == 0xc0) {
    extra = 1;
    *cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    extra = 2;
    *cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    extra = 3;
    *cp = c & 0x07;
  } else {
    return 0;
  }
  if (end - p <= extra) return 0;
  for (int i = 1; i <= extra; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    *cp = (*cp << 6) | (p[i] & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (*cp < kMin[extra] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
  return static_cast<size_t>(extra) + 1;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    uint32_t cp = 0;
    const size_t n = Utf8Sequence(p, end, &cp);
    if (n == 0 || cp == 0) return false;
    p += n;
  }
  return true;
}

bool IsTokenText(std::string_view text, std::string_view extra) {
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    uint32_t cp = 0;
    const size_t n = Utf8Sequence(p, end, &cp);
    if (n == 0 || cp < 0x20 || cp == 0x7f) {  // a byte that is not UTF-8, or a C0 control
      if (n != 0 && cp == '\n') {
        out += "\\n";
      } else if (n != 0 && cp == '\r') {
        out += "\\r";
      } else if (n != 0 && cp == '\t') {
        out += "\\t";
      } else {
        out += "\\x";
        out += kHex[*p >> 4];
        out += kHex[*p & 0xf];
      }
      ++p;
      continue;
    }
    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {  // C1 controls, line breaks
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xf];
    } else if (cp == '\\') {
      out += "\\\\";
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
    }
    p += n;
  }
  return out;
}

Result<std::string> RenderTemplate(const std::string& text, const StringMap& values) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    if (open == std::string::npos) {
      out.append(text, i);
      break;
    }
    out.append(text, i, open - i);
    const size_t close = text.find('}', open);
    if (close == std::string::npos) {
      return Error(ErrorCode::kBadRequest, "an unclosed { in the template", "template");
    }
    const std::string name = text.substr(open + 1, close - open - 1);
    auto it = values.find(name);
    if (it == values.end() || it->second.empty()) {
      return Error(ErrorCode::kMissingField, "the template needs {" + name + "}, which has no value",
                   name);
    }
    out += it->second;
    i = close + 1;
  }
  return out;
}

}  // namespace taxhub
