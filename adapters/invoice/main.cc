// taxhub-adapter-invoice: authenticates batches of VAT special invoices for the hub.
//   taxhub-adapter-invoice --legacy HOST:PORT --service NAME [--service …]
//       [--endpoint tcp://127.0.0.1:5556] [--workers 4] [--timeout MS] [--heartbeat MS]
// Usually one service, invoice.authenticate.

#include <iostream>
#include <memory>
#include <vector>

#include "adapters/invoice/invoice_handler.h"
#include "adapters/sdk/process.h"
#include "hub/base/log.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  invoice::InvoiceHandlerOptions legacy;
  std::string endpoint = "tcp://127.0.0.1:5556";
  std::vector<std::string> services;
  int workers = 4;
  int64_t heartbeat_ms = 2500;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--legacy") {
      std::string hp = value();
      size_t colon = hp.rfind(':');
      if (colon == std::string::npos) return 2;
      legacy.host = hp.substr(0, colon);
      legacy.port = std::stoi(hp.substr(colon + 1));
    } else if (arg == "--service") {
      services.push_back(value());
    } else if (arg == "--endpoint") {
      endpoint = value();
    } else if (arg == "--workers") {
      workers = std::stoi(value());
    } else if (arg == "--timeout") {
      legacy.timeout_ms = std::stoi(value());
    } else if (arg == "--heartbeat") {
      heartbeat_ms = std::stoll(value());
    } else {
      services.clear();
      break;
    }
  }
  if (services.empty() || legacy.port == 0) {
    std::cerr << "usage: taxhub-adapter-invoice --legacy HOST:PORT --service NAME [--service …]\n"
                 "       [--endpoint EP] [--workers N] [--timeout MS] [--heartbeat MS]\n";
    return 2;
  }
  const sigset_t signals = sdk::BlockStopSignals();
  invoice::InvoiceHandler handler(legacy);
  TAXHUB_LOG(kInfo, "invoice") << "serving " << services.size() << " services for the invoice authentication system at "
                              << legacy.host << ":" << legacy.port;
  sdk::ServeUntilStopped(sdk::AdapterProcess{endpoint, services, workers, heartbeat_ms}, handler,
                         signals);
  return 0;
}
