// taxhub-adapter-sample: the sample adapter as its own process.
//   taxhub-adapter-sample --endpoint tcp://127.0.0.1:5556 --service filing.accept
//       [--service …] [--workers 2] [--delay 20] [--retry-rate 0] [--reject-rate 0]
//       [--heartbeat 2500]
// Runs until SIGTERM or SIGINT.

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "adapters/sample/sample_handler.h"
#include "adapters/sdk/process.h"
#include "hub/base/log.h"

namespace {

int Usage() {
  std::cerr << "usage: taxhub-adapter-sample --service NAME [--service NAME …] [--endpoint EP]\n"
               "         [--workers N] [--delay MS] [--retry-rate R] [--reject-rate R]\n"
               "         [--heartbeat MS (the hub's broker.heartbeat; default 2500)]\n"
               "         [--name NAME] [--log-level debug|info|warn|error]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace taxhub;
  std::string endpoint = "tcp://127.0.0.1:5556";
  std::vector<std::string> services;
  int workers = 2;
  int64_t heartbeat_ms = 2500;
  sample::SampleOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--endpoint") endpoint = value();
      else if (arg == "--service") services.push_back(value());
      else if (arg == "--workers") workers = std::stoi(value());
      else if (arg == "--delay") options.delay_ms = std::stoll(value());
      else if (arg == "--heartbeat") heartbeat_ms = std::stoll(value());
      else if (arg == "--retry-rate") options.retry_rate = std::stod(value());
      else if (arg == "--reject-rate") options.reject_rate = std::stod(value());
      else if (arg == "--name") options.name = value();
      else if (arg == "--log-level") {
        auto level = ParseLogLevel(value());
        if (!level) return Usage();
        SetLogLevel(*level);
      } else {
        return Usage();
      }
    } catch (const std::exception& e) {
      std::cerr << "taxhub-adapter-sample: " << e.what() << "\n";
      return Usage();
    }
  }
  if (services.empty() || workers < 1) return Usage();

  const sigset_t signals = sdk::BlockStopSignals();
  sample::SampleHandler handler(options);
  TAXHUB_LOG(kInfo, "adapter") << options.name << " serving " << services.size()
                               << " services on " << endpoint;
  sdk::ServeUntilStopped(sdk::AdapterProcess{endpoint, services, workers, heartbeat_ms}, handler,
                         signals);
  TAXHUB_LOG(kInfo, "adapter") << options.name << " stopped after " << handler.handled()
                               << " tasks";
  return 0;
}
