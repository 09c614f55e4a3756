// The process around an adapter or stand-in: stop signals, one worker pool per service, and
// waiting for SIGTERM/SIGINT. Call BlockStopSignals() first, before any thread starts, so
// that every thread inherits the mask and the signal is taken only by the waiting thread.
#ifndef TAXHUB_ADAPTERS_SDK_PROCESS_H_
#define TAXHUB_ADAPTERS_SDK_PROCESS_H_

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/sdk/handler.h"
#include "hub/base/status.h"

namespace taxhub::sdk {

struct AdapterProcess {
  std::string endpoint = "tcp://127.0.0.1:5556";
  std::vector<std::string> services;
  int workers = 4;                 // tasks at once, per service (connections to the hub; a handler
                                   // that never blocks serves them one task after another)
  int64_t heartbeat_ms = 2500;     // must match the hub's broker.heartbeat
};

// The flags every adapter takes:
//   --endpoint EP  --service NAME (repeatable)  --workers N  --heartbeat MS  --log-level LEVEL
//   --legacy HOST:PORT  --timeout MS           (the legacy system and the wait for its answer)
struct AdapterFlags {
  AdapterProcess process;
  std::string legacy_host = "127.0.0.1";
  int legacy_port = 0;
  int timeout_ms = 5000;
};

// A flag of the adapter's own: `value()` takes its argument (throwing when there is none);
// returns false for a flag it does not know.
using ExtraFlag = std::function<bool(const std::string& flag, const std::function<std::string()>& value)>;

// Parses argv into `flags`, handing other flags to `extra`. The error names the flag that is
// unknown, lacks its value or has a bad one. Adapters check what they require afterwards.
//
// `--config FILE` reads the adapter's own section of a YAML file first (`section`, or the one
// `--section NAME` names, e.g. for a second instance); flags given on the command line come
// after it, so they override single values and add to repeatable ones. Each key is the flag
// without its dashes:
//   sms:
//     legacy: 127.0.0.1:13013          ->  --legacy 127.0.0.1:13013
//     service: [sms.send]              ->  --service sms.send (once per item)
//     template: {notify_paid: "您…"}   ->  --template notify_paid=您…  (once per entry)
// An error from the file names it as file:line: section.key instead of the flag.
Status ParseAdapterFlags(int argc, char** argv, AdapterFlags& flags, const ExtraFlag& extra = {},
                         const std::string& section = "");

// Flag values of a common shape; both throw std::invalid_argument saying the shape expected.
// "HOST:PORT"
std::pair<std::string, int> ParseHostPort(const std::string& text);
// "NAME=VALUE" with a name; `shape` names it in the error ("must be STAGE=TEXT").
std::pair<std::string, std::string> ParseAssignment(const std::string& text, const std::string& shape);

sigset_t BlockStopSignals();
// Returns the signal that arrived.
int WaitForStopSignal(const sigset_t& signals);
// Serves every service with `handler` until SIGTERM or SIGINT, then stops the workers. The
// services share one ZeroMQ context.
void ServeUntilStopped(const AdapterProcess& process, Handler& handler, const sigset_t& signals);

}  // namespace taxhub::sdk

#endif  // TAXHUB_ADAPTERS_SDK_PROCESS_H_
