// taxhub-adapter-filing: files returns and copy reports with the core tax system for the hub.
//   taxhub-adapter-filing --legacy HOST:PORT --service NAME [--service …]
//       [--endpoint tcp://127.0.0.1:5556] [--workers 4] [--timeout MS] [--heartbeat MS]
// Serve one service per tax office (filing.13212000000 …) and the copy-report service.

#include <csignal>
#include <iostream>
#include <memory>
#include <vector>

#include "adapters/filing/filing_handler.h"
#include "adapters/sdk/worker.h"
#include "hub/base/log.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  filing::FilingHandlerOptions legacy;
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
    std::cerr << "usage: taxhub-adapter-filing --legacy HOST:PORT --service NAME [--service …]\n"
                 "       [--endpoint EP] [--workers N] [--timeout MS] [--heartbeat MS]\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  filing::FilingHandler handler(legacy);
  std::vector<std::unique_ptr<sdk::WorkerPool>> pools;
  for (const auto& service : services) {
    sdk::WorkerOptions options;
    options.endpoint = endpoint;
    options.service = service;
    options.concurrency = workers;
    options.heartbeat_ms = heartbeat_ms;
    pools.push_back(std::make_unique<sdk::WorkerPool>(options, handler));
    pools.back()->Start();
  }
  TAXHUB_LOG(kInfo, "filing") << "serving " << services.size() << " services for the core system at "
                              << legacy.host << ":" << legacy.port;
  int signal = 0;
  sigwait(&signals, &signal);
  for (auto& pool : pools) pool->Stop();
  return 0;
}
