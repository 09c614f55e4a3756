// The invoice adapter: authenticates a batch of VAT special invoices with the invoice system,
// and makes the month's IC-card copy report (kind invoice.copy_report, or a stage named
// report: the invoices the taxpayer issued, seller defaulting to them, none for a month without
// invoices; SUCCEEDED with copy_report_serial and invoices_reported, UNAVAILABLE CORE_DOWN
// when the invoice system could not pass it on); see invoice_protocol.h. The hall's payload:
//   {"period": "2026-10", "invoices": [{"code": "3200261130", "number": "01234567",
//     "date": "2026-10-15", "amount": "10000.00", "tax": "1300.00", "seller": "9132…",
//     "buyer": "9131…"}, …]}            (buyer defaults to the requesting taxpayer)
//   SUCCEEDED  the batch was processed: outputs count each status (authenticated,
//              already_authenticated, not_found, mismatch) and `results`, a JSON array of
//              {code, number, status, message} per invoice, in the order submitted
//   REJECTED   BAD_BATCH naming the offending invoice field (invoices[2].date), or the
//              system's own refusal code
//   UNAVAILABLE  the system cannot be reached (LEGACY_DOWN): it never saw the batch
//   RETRY      slow past the timeout, or answers garbage; same serial next time
#ifndef TAXHUB_ADAPTERS_INVOICE_INVOICE_HANDLER_H_
#define TAXHUB_ADAPTERS_INVOICE_INVOICE_HANDLER_H_

#include <string>

#include "adapters/legacy/framing.h"
#include "adapters/sdk/handler.h"

namespace taxhub::invoice {

using InvoiceHandlerOptions = legacy::LegacyEndpoint;

class InvoiceHandler final : public sdk::Handler {
 public:
  explicit InvoiceHandler(InvoiceHandlerOptions options) : options_(std::move(options)) {}
  wire::StageResult Handle(const wire::StageTask& task) override;

 private:
  InvoiceHandlerOptions options_;
};

}  // namespace taxhub::invoice

#endif  // TAXHUB_ADAPTERS_INVOICE_INVOICE_HANDLER_H_
