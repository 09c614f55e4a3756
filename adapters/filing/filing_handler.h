// The filing adapter: files a VAT or corporate income tax return with the core tax system; see
// filing_protocol.h. (The month's copy report reaches the core system through the invoice
// system: the invoice adapter.) For a registration (kind registration.new, the core.register
// stage) it has the core system recognise the tax types the taxpayer files (body tax_types,
// default VAT, from month `start`, default the month of acceptance); for a deregistration
// (registration.cancel, core.deregister) it closes the taxpayer there and owes the cancelling
// of the unused invoices (invoice.cancel) for the month.
//   SUCCEEDED  a return: outputs tax_due (yuan), filing_no, and `obligations`, the next period's
//              return of the tax type; a registration: tax_types and `obligations`, the first
//              period's return of each tax type the hub knows (see ReturnFor)
//   REJECTED   the legacy code (E101/E102/E103) and its reason
//   UNAVAILABLE  the legacy system cannot be reached (LEGACY_DOWN): it never saw the return
//   RETRY      slow past the timeout, or answers garbage; the serial is the same next time, so
//              the legacy side recognises the retry
#ifndef TAXHUB_ADAPTERS_FILING_FILING_HANDLER_H_
#define TAXHUB_ADAPTERS_FILING_FILING_HANDLER_H_

#include <optional>
#include <string>

#include "adapters/legacy/framing.h"
#include "adapters/sdk/handler.h"
#include "hub/base/json_map.h"

namespace taxhub::filing {

using FilingHandlerOptions = legacy::LegacyEndpoint;

class FilingHandler final : public sdk::Handler {
 public:
  explicit FilingHandler(FilingHandlerOptions options) : options_(std::move(options)) {}
  wire::StageResult Handle(const wire::StageTask& task) override;

 private:
  wire::StageResult File(const wire::StageTask& task);
  wire::StageResult Register(const wire::StageTask& task);
  wire::StageResult Deregister(const wire::StageTask& task);
  // Sends one record; nullopt with `failed` set when there is no accepted answer.
  std::optional<StringMap> Send(const StringMap& record, wire::StageResult& failed);

  FilingHandlerOptions options_;
};

}  // namespace taxhub::filing

#endif  // TAXHUB_ADAPTERS_FILING_FILING_HANDLER_H_
