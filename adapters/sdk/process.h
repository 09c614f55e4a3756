// The process around an adapter or stand-in: stop signals, one worker pool per service, and
// waiting for SIGTERM/SIGINT. Call BlockStopSignals() first, before any thread starts, so
// that every thread inherits the mask and the signal is taken only by the waiting thread.
#ifndef TAXHUB_ADAPTERS_SDK_PROCESS_H_
#define TAXHUB_ADAPTERS_SDK_PROCESS_H_

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "adapters/sdk/handler.h"

namespace taxhub::sdk {

struct AdapterProcess {
  std::string endpoint = "tcp://127.0.0.1:5556";
  std::vector<std::string> services;
  int workers = 4;                 // tasks at once, per service
  int64_t heartbeat_ms = 2500;     // must match the hub's broker.heartbeat
};

sigset_t BlockStopSignals();
// Returns the signal that arrived.
int WaitForStopSignal(const sigset_t& signals);
// Serves every service with `handler` until SIGTERM or SIGINT, then stops the workers.
void ServeUntilStopped(const AdapterProcess& process, Handler& handler, const sigset_t& signals);

}  // namespace taxhub::sdk

#endif  // TAXHUB_ADAPTERS_SDK_PROCESS_H_
