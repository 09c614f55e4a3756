// An in-process hub for integration tests, on 127.0.0.1 with ports chosen by the OS, plus
// adapter workers whose behaviour a test scripts.
#ifndef TAXHUB_TESTS_SUPPORT_TEST_HUB_H_
#define TAXHUB_TESTS_SUPPORT_TEST_HUB_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sdk/worker.h"
#include "hub/app/config.h"
#include "hub/app/hub.h"
#include "tests/support/temp_dir.h"

namespace taxhub::testing {

// The test route table (kTestRoutes):
//   filing.vat  accept (t.accept) -> verify (t.verify) -> notify (t.notify)
//   single      one (t.one), 2 attempts
// retries after 50 ms doubling to 500 ms, 5 s attempt timeout, and a pass-through route t.echo
// with a 1 s timeout.
extern const char* const kTestRoutes;

// The end-to-end tests' route: filing.vat through e.accept -> e.verify -> e.notify (served
// there by taxhub-adapter-sample processes), retries after 100 ms up to 1 s, 5 s attempts.
extern const char* const kE2eRoutes;

// A hub config on 127.0.0.1 with OS-chosen ports whose routes file, dir/routes.yaml, holds
// `routes` (rewrite it and call ReloadRoutes to change them).
app::HubConfig TestHubConfig(const TempDir& dir, const std::string& backend = "sqlite",
                             const std::string& dsn = "", const std::string& routes = kTestRoutes);
// Replaces the routes file of a TestHubConfig.
void WriteRoutes(const TempDir& dir, const std::string& routes);

// Starts the hub on construction; shuts it down on destruction.
class TestHub {
 public:
  explicit TestHub(app::HubConfig config);
  ~TestHub();
  bool ok() const { return hub_ != nullptr; }
  const Status& status() const { return status_; }
  app::Hub& hub() { return *hub_; }
  const std::string& frontend() const { return hub_->frontend_endpoint(); }
  const std::string& backend() const { return hub_->backend_endpoint(); }
  void Shutdown() { if (hub_) hub_->Shutdown(); }

 private:
  SystemClock clock_;
  Status status_;
  std::unique_ptr<app::Hub> hub_;
};

// A handler run by a function; counts calls per task id and remembers each task, and the
// threads it was called on. `may_block` is what it answers to MayBlock().
class ScriptedHandler final : public sdk::Handler {
 public:
  using Script = std::function<wire::StageResult(const wire::StageTask&)>;
  explicit ScriptedHandler(Script script = nullptr, bool may_block = true)
      : script_(std::move(script)), may_block_(may_block) {}
  wire::StageResult Handle(const wire::StageTask& task) override;
  bool MayBlock() const override { return may_block_; }

  int CallsFor(const std::string& task_id);
  int TotalCalls() { return total_; }
  std::vector<wire::StageTask> Tasks();
  // The threads Handle() ran on, for each stage name.
  std::map<std::string, std::set<std::thread::id>> ThreadsByStage();

 private:
  Script script_;
  const bool may_block_;
  std::map<std::string, std::set<std::thread::id>> threads_;
  std::mutex mutex_;
  std::map<std::string, int> calls_;
  std::vector<wire::StageTask> tasks_;
  std::atomic<int> total_{0};
};

wire::StageResult Succeeded(const std::string& handler = "tester");

// Workers for several services sharing one handler.
class TestWorkers {
 public:
  TestWorkers(const std::string& endpoint, const std::vector<std::string>& services,
              sdk::Handler& handler, int concurrency = 2,
              std::optional<security::CurveClientKeys> curve = std::nullopt);
  ~TestWorkers();
  void Stop();
  // The I/O threads of the pools, one per service.
  std::set<std::thread::id> IoThreads() const;

 private:
  std::vector<std::unique_ptr<sdk::WorkerPool>> pools_;
};

// A plain MDP worker for pass-through tests: answers every request with "echo: " + body.
class EchoWorker {
 public:
  EchoWorker(const std::string& endpoint, const std::string& service);
  ~EchoWorker();

 private:
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Polls `condition` every 20 ms until it holds or `timeout_ms` passes.
bool Eventually(const std::function<bool()>& condition, int timeout_ms = 10'000);

}  // namespace taxhub::testing

#endif  // TAXHUB_TESTS_SUPPORT_TEST_HUB_H_
