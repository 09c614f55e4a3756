// The filing adapter: files a VAT or corporate income tax return with the core tax system; see
// filing_protocol.h. (The month's copy report reaches the core system through the invoice
// system: the invoice adapter.)
//   SUCCEEDED  outputs tax_due (yuan) and filing_no
//   REJECTED   the legacy code (E101/E102/E103) and its reason
//   UNAVAILABLE  the legacy system cannot be reached (LEGACY_DOWN): it never saw the return
//   RETRY      slow past the timeout, or answers garbage; the serial is the same next time, so
//              the legacy side recognises the retry
#ifndef TAXHUB_ADAPTERS_FILING_FILING_HANDLER_H_
#define TAXHUB_ADAPTERS_FILING_FILING_HANDLER_H_

#include <string>

#include "adapters/legacy/framing.h"
#include "adapters/sdk/handler.h"

namespace taxhub::filing {

using FilingHandlerOptions = legacy::LegacyEndpoint;

class FilingHandler final : public sdk::Handler {
 public:
  explicit FilingHandler(FilingHandlerOptions options) : options_(std::move(options)) {}
  wire::StageResult Handle(const wire::StageTask& task) override;

 private:
  FilingHandlerOptions options_;
};

}  // namespace taxhub::filing

#endif  // TAXHUB_ADAPTERS_FILING_FILING_HANDLER_H_
