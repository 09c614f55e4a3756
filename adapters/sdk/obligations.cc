#include "adapters/sdk/obligations.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sstream>

namespace taxhub::sdk {

std::string ObligationsJson(const std::vector<Owed>& owed) {
  Poco::JSON::Array list;
  for (const Owed& o : owed) {
    Poco::JSON::Object item;
    item.set("kind", o.kind);
    item.set("period", o.period);
    list.add(item);
  }
  std::ostringstream out;
  list.stringify(out);
  return out.str();
}

}  // namespace taxhub::sdk
