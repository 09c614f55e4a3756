// taxhub-adapter-filing: files returns with the core tax system for the hub.
//   taxhub-adapter-filing --legacy HOST:PORT --service NAME [--service …]
//       [--endpoint tcp://127.0.0.1:5556] [--workers 4] [--timeout MS] [--heartbeat MS]
// Serve one service per tax office (filing.13212000000 …).

#include <iostream>

#include "adapters/filing/filing_handler.h"
#include "adapters/sdk/process.h"
#include "hub/base/log.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  sdk::AdapterFlags flags;
  Status parsed = sdk::ParseAdapterFlags(argc, argv, flags, {}, "filing");
  if (!parsed.ok() || flags.process.services.empty() || flags.legacy_port == 0) {
    if (!parsed.ok()) std::cerr << "taxhub-adapter-filing: " << parsed.ToString() << "\n";
    std::cerr << "usage: taxhub-adapter-filing [--config FILE [--section NAME]] --legacy HOST:PORT --service NAME [--service …]\n"
                 "       [--endpoint EP] [--workers N] [--timeout MS] [--heartbeat MS]\n";
    return 2;
  }
  const sigset_t signals = sdk::BlockStopSignals();
  filing::FilingHandler handler({flags.legacy_host, flags.legacy_port, flags.timeout_ms});
  TAXHUB_LOG(kInfo, "filing") << "serving " << flags.process.services.size()
                              << " services for the core system at " << flags.legacy_host << ":"
                              << flags.legacy_port;
  sdk::ServeUntilStopped(flags.process, handler, signals);
  return 0;
}
