// taxhub-standin-filing: the core tax system's filing interface, stood in for tests and dev.
//   taxhub-standin-filing [--port N] [--delay MS] [--unregistered TAXPAYER:TAX_TYPE …]
//                         [--no-copy-report-check] [--drop-first N]
// Prints its port and runs until SIGTERM or SIGINT.

#include <iostream>

#include "adapters/sdk/process.h"

#include "adapters/standins/filing_standin.h"

int main(int argc, char** argv) {
  taxhub::standins::FilingOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--port") options.listen.port = std::stoi(value());
    else if (arg == "--delay") options.listen.delay_ms = std::stoll(value());
    else if (arg == "--unregistered") options.unregistered.insert(value());
    else if (arg == "--no-copy-report-check") options.require_copy_report = false;
    else if (arg == "--drop-first") options.listen.drop_first = std::stoi(value());
    else {
      std::cerr << "usage: taxhub-standin-filing [--port N] [--delay MS] [--drop-first N]\n"
                   "       [--unregistered TAXPAYER:TAX_TYPE] [--no-copy-report-check]\n";
      return 2;
    }
  }
  const sigset_t signals = taxhub::sdk::BlockStopSignals();
  taxhub::standins::FilingStandIn standin(options);
  if (taxhub::Status started = standin.Start(); !started.ok()) {
    std::cerr << "taxhub-standin-filing: " << started.ToString() << "\n";
    return 1;
  }
  std::cout << "taxhub-standin-filing listening on 127.0.0.1:" << standin.port() << std::endl;
  taxhub::sdk::WaitForStopSignal(signals);
  standin.Stop();
  std::cout << "taxhub-standin-filing: " << standin.filings() << " returns filed of "
            << standin.requests() << " requests" << std::endl;
  return 0;
}
