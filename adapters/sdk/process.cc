#include "adapters/sdk/process.h"

#include <memory>

#include "adapters/sdk/worker.h"

namespace taxhub::sdk {

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForStopSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

void ServeUntilStopped(const AdapterProcess& process, Handler& handler, const sigset_t& signals) {
  std::vector<std::unique_ptr<WorkerPool>> pools;
  for (const auto& service : process.services) {
    WorkerOptions options;
    options.endpoint = process.endpoint;
    options.service = service;
    options.concurrency = process.workers;
    options.heartbeat_ms = process.heartbeat_ms;
    pools.push_back(std::make_unique<WorkerPool>(options, handler));
    pools.back()->Start();
  }
  WaitForStopSignal(signals);
  for (auto& pool : pools) pool->Stop();
}

}  // namespace taxhub::sdk
