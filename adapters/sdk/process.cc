#include "adapters/sdk/process.h"

#include <memory>
#include <tuple>
#include <stdexcept>

#include "adapters/sdk/worker.h"
#include "hub/base/log.h"
#include "hub/base/yaml_reader.h"

namespace taxhub::sdk {

namespace {

// One flag or value, and where it came from: "" for the command line, "file:line: section.key"
// for the config file.
struct Arg {
  std::string text;
  std::string origin;
  std::string key;  // section.key, for config arguments
};

Status SectionArgs(const std::string& file, const std::string& section, std::vector<Arg>& out) {
  return ReadConfig(file, [&](ConfigNode& root) {
    if (!root.Has(section)) root.FailHere("no section \"" + section + "\" for this adapter");
    ConfigNode node = root.Child(section);
    if (!node.IsMap()) node.FailHere("expected a map of the adapter's flags");
    for (auto& [key, value] : node.Entries()) {
      const std::string where = file + ":" + std::to_string(value.line()) + ": " + section + "." + key;
      const std::string flag = "--" + key;
      if (value.IsScalar()) {
        out.push_back({flag, where, section + "." + key});
        out.push_back({value.AsString(), where, section + "." + key});
      } else if (value.IsSequence()) {
        for (const ConfigNode& item : value.Items()) {
          if (!item.IsScalar()) item.FailHere("expected a list of values");
          out.push_back({flag, where, section + "." + key});
          out.push_back({item.AsString(), where, section + "." + key});
        }
      } else {
        for (auto& [name, item] : value.Entries()) {
          if (!item.IsScalar()) item.FailHere("expected name: value entries");
          out.push_back({flag, where, section + "." + key});
          out.push_back({name + "=" + item.AsString(), where, section + "." + key});
        }
      }
    }
    // Nothing reads the section's keys through getters: its keys are checked as flags below.
  });
}

}  // namespace

Status ParseAdapterFlags(int argc, char** argv, AdapterFlags& flags, const ExtraFlag& extra,
                         const std::string& section) {
  // A bad CURVE setting stops the program here, before any thread runs, not later on one.
  security::ProcessCurveClientKeys();
  std::string config_file, config_section = section;
  std::vector<Arg> command_line;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--config" || flag == "--section") {
      if (i + 1 >= argc) return Status(ErrorCode::kBadRequest, "needs a value", flag);
      (flag == "--config" ? config_file : config_section) = argv[++i];
    } else {
      command_line.push_back({flag, "", ""});
    }
  }
  std::vector<Arg> args;
  if (!config_file.empty()) {
    if (config_section.empty()) return Status(ErrorCode::kBadRequest, "needs --section NAME", "--config");
    Status read = SectionArgs(config_file, config_section, args);
    if (!read.ok()) return Status(ErrorCode::kBadRequest, read.message(), "--config");
  }
  args.insert(args.end(), command_line.begin(), command_line.end());

  for (size_t i = 0; i < args.size(); ++i) {
    const Arg& arg = args[i];
    const std::string& flag = arg.text;
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size() || args[i + 1].origin != arg.origin) throw std::invalid_argument("needs a value");
      return args[++i].text;
    };
    auto fail = [&](const std::string& problem) {
      if (arg.origin.empty()) return Status(ErrorCode::kBadRequest, problem, flag);
      return Status(ErrorCode::kBadRequest, arg.origin + ": " + problem, arg.key);
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
        std::tie(flags.legacy_host, flags.legacy_port) = ParseHostPort(value());
      } else if (flag == "--log-level") {
        auto level = ParseLogLevel(value());
        if (!level) throw std::invalid_argument("must be debug, info, warn or error");
        SetLogLevel(*level);
      } else if (!extra || !extra(flag, value)) {
        return fail(arg.origin.empty() ? "unknown flag" : "unknown key");
      }
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  return Status::Ok();
}

std::pair<std::string, int> ParseHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("must be HOST:PORT");
  return {text.substr(0, colon), std::stoi(text.substr(colon + 1))};
}

std::pair<std::string, std::string> ParseAssignment(const std::string& text, const std::string& shape) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw std::invalid_argument("must be " + shape);
  return {text.substr(0, eq), text.substr(eq + 1)};
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
  // One context for all the services.
  auto context = NewWorkerContext(static_cast<int>(process.services.size()) * process.workers);
  for (const auto& service : process.services) {
    WorkerOptions options;
    options.context = context;
    options.endpoint = process.endpoint;
    options.service = service;
    options.concurrency = process.workers;
    options.heartbeat_ms = process.heartbeat_ms;
    options.curve = security::ProcessCurveClientKeys();
    pools.push_back(std::make_unique<WorkerPool>(options, handler));
    pools.back()->Start();
  }
  WaitForStopSignal(signals);
  for (auto& pool : pools) pool->Stop();
}

}  // namespace taxhub::sdk
