// What `taxhub dev` runs next to the hub: sample adapters for the stage services, and a
// simulated clerk for the staff queues, so that every route can run to its end on one machine.
#ifndef TAXHUB_HUB_APP_DEV_H_
#define TAXHUB_HUB_APP_DEV_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sample/sample_handler.h"
#include "adapters/sdk/worker.h"
#include "hub/app/config.h"
#include "hub/app/hub.h"
#include "hub/base/json_map.h"
#include "hub/security/curve_keys.h"

namespace taxhub::app {

// The taxpayers of the demo traffic (valid unified social credit codes).
const std::vector<std::string>& DevTaxpayers();

// Creates, once, a demo PKI under `dir`: an SM2 and an ECDSA P-256 CA (both in ca.pem), the
// hub's own key and certificate (hub.key, hub.pem), and for each taxpayer an SM2 and an ECDSA
// key with a certificate naming the taxpayer (taxpayers/<id>.sm2.key, .sm2.pem, .ecdsa.key,
// .ecdsa.pem), and the SM2 keys the TIPS adapter and the bank stand-in sign CFX messages with
// (tips-bureau.key/.pem, tips-bank.key/.pem). Existing files are kept.
Status EnsureDevPki(const std::string& dir, const std::vector<std::string>& taxpayers);

// With CURVE on (taxhub dev --curve): makes the key pairs that are missing — the hub's and one
// per listed peer — in the config's keys directory (created 0700; secrets 0600).
Status EnsureDevCurveKeys(const CurveConfig& curve);

// The keys peer `name` connects with under `curve`: the hub's public key and the peer's pair
// from the keys directory. Null when CURVE is off or `name` is not a listed peer.
Result<std::optional<security::CurveClientKeys>> DevCurveKeys(const CurveConfig& curve, const std::string& name);

// The sample adapters of the config's dev section, connected to the hub's backend; with CURVE
// on, each with the keys of the peer named after it.
class DevAdapters {
 public:
  static Result<std::unique_ptr<DevAdapters>> Create(const HubConfig& config, const std::string& backend);
  void Start();
  void Stop();
  size_t size() const { return pools_.size(); }

 private:
  std::vector<std::unique_ptr<sample::SampleHandler>> handlers_;
  std::vector<std::unique_ptr<sdk::WorkerPool>> pools_;

  DevAdapters() = default;
};

// ${name} in `text` replaced from `variables`; the error names an unknown variable.
Result<std::string> ExpandVariables(const std::string& text, const StringMap& variables);

// The programs of the config's dev section (stand-ins, real adapters, Kannel): its files
// written, then each process started in order, its output in data_dir/<name>.log, and, with
// CURVE on, TAXHUB_CURVE_SERVER and TAXHUB_CURVE_KEY in its environment when a peer has its
// name (security/curve_keys.h); stopped in
// reverse order by PID. Children also get SIGTERM if the hub dies (PR_SET_PDEATHSIG); one that
// exits on its own is reported in the hub's log at once, naming its log file.
class DevProcesses {
 public:
  // `variables`: data_dir, config_dir, bin, frontend, backend.
  DevProcesses(const HubConfig& config, StringMap variables)
      : config_(config), variables_(std::move(variables)) {}
  ~DevProcesses() { Stop(); }
  Status Start();
  void Stop();
  size_t size() const { return children_.size(); }

 private:
  struct Child {
    std::string name;
    pid_t pid;
    bool exited = false;
  };
  void Watch();

  const HubConfig& config_;
  StringMap variables_;
  std::mutex mutex_;
  std::vector<Child> children_;  // guarded by mutex_ once the watcher runs
  std::atomic<bool> watching_{false};
  std::thread watcher_;
};

// Claims and approves every staff task that has waited the configured delay, in every queue of
// the route table in force.
class DevClerk {
 public:
  DevClerk(Hub& hub, DevClerkConfig config) : hub_(hub), config_(std::move(config)) {}
  ~DevClerk() { Stop(); }
  void Start();
  void Stop();

 private:
  void Run();

  Hub& hub_;
  DevClerkConfig config_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace taxhub::app

#endif  // TAXHUB_HUB_APP_DEV_H_
