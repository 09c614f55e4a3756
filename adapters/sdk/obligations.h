// What an adapter tells the hub a taxpayer now owes: the `obligations` stage output, a JSON list
// of {kind, period} (the hub dates each by its tax calendar; see hub/workflow/reminders.cc).
#ifndef TAXHUB_ADAPTERS_SDK_OBLIGATIONS_H_
#define TAXHUB_ADAPTERS_SDK_OBLIGATIONS_H_

#include <string>
#include <utility>
#include <vector>

namespace taxhub::sdk {

struct Owed {
  std::string kind;    // the request kind that meets it: "filing.vat"
  std::string period;  // "2026-11"
};

std::string ObligationsJson(const std::vector<Owed>& owed);

}  // namespace taxhub::sdk

#endif  // TAXHUB_ADAPTERS_SDK_OBLIGATIONS_H_
