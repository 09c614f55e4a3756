#include "hub/base/json_map.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace taxhub {

std::string EncodeJsonMap(const StringMap& map) {
  Poco::JSON::Object object;
  for (const auto& [key, value] : map) object.set(key, value);
  std::ostringstream out;
  object.stringify(out);
  return out.str();
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
