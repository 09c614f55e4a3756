// taxhub-adapter-sample: the sample adapter as its own process.
//   taxhub-adapter-sample --endpoint tcp://127.0.0.1:5556 --service filing.accept
//       [--service …] [--workers 2] [--delay 20] [--retry-rate 0] [--reject-rate 0]
//       [--heartbeat 2500]
// Runs until SIGTERM or SIGINT. With --delay 0 its answers are instant, and each service answers
// on its own I/O thread (sdk::Handler::MayBlock()), without handler threads.

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
  std::cerr << "usage: taxhub-adapter-sample [--config FILE [--section NAME]] --service NAME [--service NAME …] [--endpoint EP]\n"
               "         [--workers N] [--delay MS] [--retry-rate R] [--reject-rate R]\n"
               "         [--heartbeat MS (the hub's broker.heartbeat; default 2500)]\n"
               "         [--name NAME] [--output NAME=VALUE …] [--log-level debug|info|warn|error]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace taxhub;
  sdk::AdapterFlags flags;
  flags.process.workers = 2;
  sample::SampleOptions options;
  Status parsed = sdk::ParseAdapterFlags(argc, argv, flags, [&](const std::string& flag, const auto& value) {
    if (flag == "--delay") options.delay_ms = std::stoll(value());
    else if (flag == "--retry-rate") options.retry_rate = std::stod(value());
    else if (flag == "--reject-rate") options.reject_rate = std::stod(value());
    else if (flag == "--name") options.name = value();
    else if (flag == "--output") {
      auto [key, text] = sdk::ParseAssignment(value(), "NAME=VALUE");
      options.outputs[key] = text;  // the last one given wins
    }
    else return false;
    return true;
  }, "sample");
  if (!parsed.ok()) std::cerr << "taxhub-adapter-sample: " << parsed.ToString() << "\n";
  if (!parsed.ok() || flags.process.services.empty()) return Usage();

  const sigset_t signals = sdk::BlockStopSignals();
  sample::SampleHandler handler(options);
  TAXHUB_LOG(kInfo, "adapter") << options.name << " serving " << flags.process.services.size()
                               << " services on " << flags.process.endpoint;
  sdk::ServeUntilStopped(flags.process, handler, signals);
  TAXHUB_LOG(kInfo, "adapter") << options.name << " stopped after " << handler.handled()
                               << " tasks";
  return 0;
}
