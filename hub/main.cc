// taxhub: the hub daemon.
//   taxhub serve --config FILE     run the hub (production: PostgreSQL DSN in the config)
//   taxhub dev [--config FILE]     hub + sample adapters in one process, SQLite under ./var/dev
//   taxhub check-config FILE       validate a config file without starting anything
// SIGTERM or SIGINT drains (no new requests, tasks that are out come back) and exits 0.

#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "adapters/sample/sample_handler.h"
#include "adapters/sdk/worker.h"
#include "hub/app/config.h"
#include "hub/app/hub.h"
#include "hub/base/log.h"

namespace {

using namespace taxhub;

int Usage() {
  std::cerr << "usage: taxhub serve --config FILE\n"
               "       taxhub dev [--config FILE]\n"
               "       taxhub check-config FILE\n";
  return 2;
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads started later inherit the mask
  return signals;
}

// The sample adapters of the config's dev section, connected to the hub's backend.
class DevAdapters {
 public:
  DevAdapters(const app::HubConfig& config, const std::string& backend) {
    for (const auto& a : config.dev_adapters) {
      sample::SampleOptions options;
      options.name = a.name;
      options.delay_ms = a.delay_ms;
      options.retry_rate = a.retry_rate;
      options.reject_rate = a.reject_rate;
      handlers_.push_back(std::make_unique<sample::SampleHandler>(options));
      for (const auto& service : a.services) {
        sdk::WorkerOptions worker;
        worker.endpoint = backend;
        worker.service = service;
        worker.concurrency = a.workers;
        worker.heartbeat_ms = config.broker.heartbeat_ms;
        worker.liveness = config.broker.liveness;
        pools_.push_back(std::make_unique<sdk::WorkerPool>(worker, *handlers_.back()));
      }
    }
  }
  void Start() {
    for (auto& pool : pools_) pool->Start();
  }
  void Stop() {
    for (auto& pool : pools_) pool->Stop();
  }
  size_t size() const { return pools_.size(); }

 private:
  std::vector<std::unique_ptr<sample::SampleHandler>> handlers_;
  std::vector<std::unique_ptr<sdk::WorkerPool>> pools_;
};

int Run(const std::string& config_file, bool dev) {
  sigset_t signals = BlockStopSignals();
  auto config = app::LoadHubConfig(config_file);
  if (!config) {
    std::cerr << "taxhub: " << config.error().message() << "\n";
    return 1;
  }
  SetLogLevel(config->log_level);
  SystemClock clock;
  auto hub = app::Hub::Open(*config, clock);
  if (!hub) {
    std::cerr << "taxhub: cannot start: " << hub.error().ToString() << "\n";
    return 1;
  }
  (*hub)->Start();
  std::unique_ptr<DevAdapters> adapters;
  if (dev) {
    adapters = std::make_unique<DevAdapters>(*config, (*hub)->backend_endpoint());
    adapters->Start();
  }
  std::cout << "taxhub " << (dev ? "dev" : "serve") << ": " << config->hub_id << " up\n"
            << "  frontend (hall clients, MDPC01): " << (*hub)->frontend_endpoint() << "\n"
            << "  backend (adapter workers, MDPW01): " << (*hub)->backend_endpoint() << "\n"
            << "  ledger: " << config->ledger.backend
            << (config->ledger.backend == "sqlite" ? " " + config->ledger.sqlite.path : "") << "\n";
  if (adapters) std::cout << "  sample adapters: " << adapters->size() << " services\n";
  std::cout.flush();

  int signal = 0;
  sigwait(&signals, &signal);
  TAXHUB_LOG(kInfo, "hub") << "signal " << strsignal(signal) << ": draining";
  (*hub)->Shutdown();
  if (adapters) adapters->Stop();
  const auto& counters = (*hub)->engine_counters();
  std::cout << "taxhub: stopped; accepted " << counters.accepted << ", completed "
            << counters.completed << ", dispatched " << counters.dispatched << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage();
  const std::string command = args[0];
  std::string config_file;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_file = args[++i];
    } else if (command == "check-config" && config_file.empty()) {
      config_file = args[i];
    } else {
      return Usage();
    }
  }
  if (command == "serve") {
    if (config_file.empty()) return Usage();
    return Run(config_file, false);
  }
  if (command == "dev") return Run(config_file.empty() ? "config/dev.yaml" : config_file, true);
  if (command == "check-config") {
    if (config_file.empty()) return Usage();
    auto config = taxhub::app::LoadHubConfig(config_file);
    if (!config) {
      std::cerr << config.error().message() << "\n";
      return 1;
    }
    std::cout << config_file << ": OK (" << config->workflows.size() << " workflows, ledger "
              << config->ledger.backend << ")\n";
    return 0;
  }
  return Usage();
}
