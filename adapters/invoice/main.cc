// taxhub-adapter-invoice: authenticates batches of VAT special invoices for the hub.
//   taxhub-adapter-invoice --legacy HOST:PORT [--service invoice.authenticate]
//       [--endpoint tcp://127.0.0.1:5556] [--workers 4] [--timeout MS] [--heartbeat MS]

#include <iostream>

#include "adapters/invoice/invoice_handler.h"
#include "adapters/sdk/process.h"
#include "hub/base/log.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  sdk::AdapterFlags flags;
  Status parsed = sdk::ParseAdapterFlags(argc, argv, flags, {}, "invoice");
  if (!parsed.ok() || flags.legacy_port == 0) {
    if (!parsed.ok()) std::cerr << "taxhub-adapter-invoice: " << parsed.ToString() << "\n";
    std::cerr << "usage: taxhub-adapter-invoice [--config FILE [--section NAME]] --legacy HOST:PORT [--service NAME …]\n"
                 "       [--endpoint EP] [--workers N] [--timeout MS] [--heartbeat MS]\n";
    return 2;
  }
  if (flags.process.services.empty()) flags.process.services = {"invoice.authenticate", "invoice.copy_report"};
  const sigset_t signals = sdk::BlockStopSignals();
  invoice::InvoiceHandler handler({flags.legacy_host, flags.legacy_port, flags.timeout_ms});
  TAXHUB_LOG(kInfo, "invoice") << "authenticating invoices at " << flags.legacy_host << ":"
                               << flags.legacy_port;
  sdk::ServeUntilStopped(flags.process, handler, signals);
  return 0;
}
