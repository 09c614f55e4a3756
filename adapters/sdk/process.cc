#include "adapters/sdk/process.h"

#include <memory>
#include <stdexcept>

#include "adapters/sdk/worker.h"
#include "hub/base/log.h"

namespace taxhub::sdk {

Status ParseAdapterFlags(int argc, char** argv, AdapterFlags& flags, const ExtraFlag& extra) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("needs a value");
      return argv[++i];
    };
    try {
      if (flag == "--endpoint") {
        flags.process.endpoint = value();
      } else if (flag == "--service") {
        flags.process.services.push_back(value());
      } else if (flag == "--workers") {
        flags.process.workers = std::stoi(value());
        if (flags.process.workers < 1) throw std::invalid_argument("must be at least 1");
      } else if (flag == "--heartbeat") {
        flags.process.heartbeat_ms = std::stoll(value());
      } else if (flag == "--timeout") {
        flags.timeout_ms = std::stoi(value());
      } else if (flag == "--legacy") {
        const std::string hp = value();
        const size_t colon = hp.rfind(':');
        if (colon == std::string::npos) throw std::invalid_argument("must be HOST:PORT");
        flags.legacy_host = hp.substr(0, colon);
        flags.legacy_port = std::stoi(hp.substr(colon + 1));
      } else if (flag == "--log-level") {
        auto level = ParseLogLevel(value());
        if (!level) throw std::invalid_argument("must be debug, info, warn or error");
        SetLogLevel(*level);
      } else if (!extra || !extra(flag, value)) {
        return Status(ErrorCode::kBadRequest, "unknown flag", flag);
      }
    } catch (const std::exception& e) {
      return Status(ErrorCode::kBadRequest, e.what(), flag);
    }
  }
  return Status::Ok();
}

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
