// A flat JSON object of strings: how string maps (envelope attributes, stage outputs) are
// stored in the ledger, readable by people and by PostgreSQL's jsonb operators.
#ifndef TAXHUB_HUB_BASE_JSON_MAP_H_
#define TAXHUB_HUB_BASE_JSON_MAP_H_

#include <map>
#include <string>
#include <string_view>

#include "hub/base/status.h"

namespace taxhub {

using StringMap = std::map<std::string, std::string>;

std::string EncodeJsonMap(const StringMap& map);
// Accepts an object whose values are strings (numbers and booleans are kept as their text).
Result<StringMap> DecodeJsonMap(std::string_view json);

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_JSON_MAP_H_
