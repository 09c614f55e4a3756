#include "hub/base/json_map.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <optional>

namespace taxhub {

namespace {

// As Poco::JSON writes a string (so that stored maps, and the fingerprints over them, keep
// their bytes): '"' and '\\' escaped, control characters as \b \t \n \f \r or \u00XX, every
// other byte (UTF-8 included) as it is.
void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

// Written directly rather than through Poco::JSON::Object: it is on every submit's path, and
// building a Poco object and stream for a few strings cost more than the rest of the encoding.
std::string EncodeJsonMap(const StringMap& map) {
  std::string out;
  size_t size = 2;
  for (const auto& [key, value] : map) size += key.size() + value.size() + 6;
  out.reserve(size);
  out += '{';
  for (const auto& [key, value] : map) {
    if (out.size() > 1) out += ',';
    AppendJsonString(out, key);
    out += ':';
    AppendJsonString(out, value);
  }
  out += '}';
  return out;
}

namespace {

// The common case, quickly: a flat object of strings as EncodeJsonMap writes it (any
// whitespace, any escapes but surrogate pairs). Anything else — numbers, nesting, surrogates,
// malformed text — returns nullopt, and Poco's parser decides.
std::optional<StringMap> DecodeFlatStrings(std::string_view json) {
  size_t i = 0;
  auto skip = [&] {
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) ++i;
  };
  auto string = [&](std::string& out) -> bool {
    if (i >= json.size() || json[i] != '"') return false;
    for (++i; i < json.size(); ++i) {
      const char c = json[i];
      if (c == '"') {
        ++i;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (++i >= json.size()) return false;
      switch (json[i]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i + 4 >= json.size()) return false;
          unsigned code = 0;
          for (int k = 1; k <= 4; ++k) {
            const char h = json[i + k];
            const int digit = h >= '0' && h <= '9'   ? h - '0'
                              : h >= 'a' && h <= 'f' ? h - 'a' + 10
                              : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                     : -1;
            if (digit < 0) return false;
            code = code * 16 + static_cast<unsigned>(digit);
          }
          if (code >= 0xd800 && code <= 0xdfff) return false;
          i += 4;
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xc0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3f));
          } else {
            out += static_cast<char>(0xe0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (code & 0x3f));
          }
          break;
        }
        default: return false;
      }
    }
    return false;
  };
  StringMap map;
  skip();
  if (i >= json.size() || json[i++] != '{') return std::nullopt;
  skip();
  if (i < json.size() && json[i] == '}') {
    ++i;
  } else {
    while (true) {
      std::string key, value;
      skip();
      if (!string(key)) return std::nullopt;
      skip();
      if (i >= json.size() || json[i++] != ':') return std::nullopt;
      skip();
      if (!string(value)) return std::nullopt;
      map[std::move(key)] = std::move(value);  // the last of a repeated key wins, as in Poco
      skip();
      if (i < json.size() && json[i] == ',') {
        ++i;
        continue;
      }
      if (i < json.size() && json[i] == '}') {
        ++i;
        break;
      }
      return std::nullopt;
    }
  }
  skip();
  if (i != json.size()) return std::nullopt;
  return map;
}

}  // namespace

Result<StringMap> DecodeJsonMap(std::string_view json) {
  if (json.empty()) return StringMap{};
  if (auto flat = DecodeFlatStrings(json)) return std::move(*flat);
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(std::string(json));
    auto object = parsed.extract<Poco::JSON::Object::Ptr>();
    StringMap map;
    for (const auto& [key, value] : *object) map.emplace(key, value.toString());
    return map;
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kDecodeError, "bad JSON object: " + e.displayText());
  } catch (const std::exception& e) {
    return Error(ErrorCode::kDecodeError, std::string("bad JSON object: ") + e.what());
  }
}

}  // namespace taxhub
