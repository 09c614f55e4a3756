#include "hub/base/json_map.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

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

Result<StringMap> DecodeJsonMap(std::string_view json) {
  if (json.empty()) return StringMap{};
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
