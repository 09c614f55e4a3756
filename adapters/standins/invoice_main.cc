// taxhub-standin-invoice: the invoice system, stood in for tests and dev.
//   taxhub-standin-invoice [--port N] [--delay MS] [--issued FILE] [--issue-unknown]
//       [--core HOST:PORT]   (the core tax system that copy reports are passed on to)
//       [--drop-first N]     (the answers to the first N requests are lost, the work done)
// FILE lists issued invoices, one "code,number,YYYYMMDD,amount,tax,seller,buyer" per line.
// Prints its port and runs until SIGTERM or SIGINT.

#include <iostream>
#include <tuple>

#include "adapters/sdk/process.h"
#include "adapters/standins/invoice_standin.h"

int main(int argc, char** argv) {
  taxhub::standins::InvoiceOptions options;
  std::string issued;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--port") options.listen.port = std::stoi(value());
    else if (arg == "--delay") options.listen.delay_ms = std::stoll(value());
    else if (arg == "--issued") issued = value();
    else if (arg == "--issue-unknown") options.issue_unknown = true;
    else if (arg == "--drop-first") options.listen.drop_first = std::stoi(value());
    else if (arg == "--core") {
      try {
        std::tie(options.core.host, options.core.port) = taxhub::sdk::ParseHostPort(value());
      } catch (const std::exception& e) {
        std::cerr << "taxhub-standin-invoice: --core " << e.what() << "\n";
        return 2;
      }
    } else {
      std::cerr << "usage: taxhub-standin-invoice [--port N] [--delay MS] [--issued FILE] [--issue-unknown]\n"
                   "       [--core HOST:PORT] [--drop-first N]\n";
      return 2;
    }
  }
  const sigset_t signals = taxhub::sdk::BlockStopSignals();
  taxhub::standins::InvoiceStandIn standin(options);
  if (!issued.empty()) {
    if (taxhub::Status loaded = standin.LoadIssued(issued); !loaded.ok()) {
      std::cerr << "taxhub-standin-invoice: " << loaded.ToString() << "\n";
      return 2;
    }
  }
  if (taxhub::Status started = standin.Start(); !started.ok()) {
    std::cerr << "taxhub-standin-invoice: " << started.ToString() << "\n";
    return 1;
  }
  std::cout << "taxhub-standin-invoice listening on 127.0.0.1:" << standin.port() << std::endl;
  taxhub::sdk::WaitForStopSignal(signals);
  standin.Stop();
  std::cout << "taxhub-standin-invoice: " << standin.authentications() << " invoices authenticated, "
            << standin.copy_reports() << " copy reports, of " << standin.requests() << " requests" << std::endl;
  return 0;
}
