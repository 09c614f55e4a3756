// The engine: the hub's single ledger writer. It serves the hub's own MDP services
// (taxhub.submit, taxhub.progress), plans requests into stages, hands READY stages to the
// broker as stage tasks, and records their results.
//
// Group commit: each wake, the engine takes every message waiting on the link (up to
// batch_max), applies them all in one ledger transaction, commits once, and only then sends the
// replies. A submit is thus acknowledged only after its commit, and concurrent submits share one
// fsync. If one item fails inside a batch, the batch is rolled back and its items are applied
// one transaction each, so that one bad item cannot take the others down with it.
//
// Dispatch is pulled by credit: the broker reports idle workers per service, and the engine
// claims at most that many READY stages from the ledger. Work for a service with no free worker
// stays in the ledger, not in memory.
//
// Threading: Bind() and Recover() on any thread before Run(); Run() on the engine's own thread,
// which owns the link socket and uses the ledger exclusively from then on.
#ifndef TAXHUB_HUB_WORKFLOW_ENGINE_H_
#define TAXHUB_HUB_WORKFLOW_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "hub/base/clock.h"
#include "hub/base/status.h"
#include "hub/broker/mdp.h"
#include "hub/ledger/ledger.h"
#include "hub/wire/codec.h"
#include "hub/workflow/transitions.h"
#include "hub/workflow/workflow_table.h"

namespace taxhub::workflow {

inline constexpr const char* kSubmitService = "taxhub.submit";
inline constexpr const char* kProgressService = "taxhub.progress";

struct EngineOptions {
  std::string hub_id = "hub-1";
  int batch_max = 512;
  int64_t lease_ms = 30'000;      // how long a worker may hold a stage task
  int64_t tick_ms = 250;          // lease expiry and delayed-retry checks
  int64_t drain_timeout_ms = 5000;
  RetryPolicy retry;
  wire::CodecLimits limits;
};

struct EngineCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected_input{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> dispatched{0};
  std::atomic<uint64_t> stale_results{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> failed_commits{0};
};

class Engine {
 public:
  Engine(zmq::context_t& context, std::string link_endpoint, ledger::Ledger& ledger,
         const WorkflowTable& workflows, const Clock& clock, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The service names the broker must forward to this engine.
  static std::set<std::string> Services() { return {kSubmitService, kProgressService}; }

  // Binds the link socket; the broker connects to it afterwards.
  Status Bind();
  // Takes back the stage leases a previous run of this hub left behind.
  Status Recover();
  // The engine loop; returns after Stop(), or after BeginDrain() once no task is out.
  void Run();
  void BeginDrain() { draining_ = true; }
  void Stop() { stopping_ = true; }

  const EngineCounters& counters() const { return counters_; }

 private:
  struct Outbox {
    std::vector<mdp::Frames> messages;  // to the broker, once committed
    Effects effects;
    std::vector<std::pair<std::string, int64_t>> resolved;  // deliveries (task, token) answered
  };
  using Inbound = mdp::Frames;

  void ProcessBatch(std::vector<Inbound>& batch);
  Status ApplyItem(ledger::Transaction& txn, Inbound& item, Outbox& out);
  void FailItem(Inbound& item, const Status& status);
  void Deliver(Outbox& out);

  Status HandleCall(ledger::Transaction& txn, Inbound& item, Outbox& out);
  Status Submit(ledger::Transaction& txn, std::string_view body, wire::SubmitReply& reply,
                Effects& effects);
  Status Progress(ledger::Transaction& txn, std::string_view body, wire::ProgressReply& reply);
  // Applies `outcome` to the delivery (task_id, token) if it is still the live one.
  Status Resolve(ledger::Transaction& txn, const std::string& task_id, int64_t token,
                 const Outcome& outcome, Outbox& out);
  Status HandleResult(ledger::Transaction& txn, Inbound& item, Outbox& out);
  Status HandleLost(ledger::Transaction& txn, Inbound& item, Outbox& out);
  // Loads the stages of `task_id` and checks that `token` is its live delivery. Sets `index`
  // to -1 (and records why) when the result must be refused.
  Status LiveStage(ledger::Transaction& txn, const std::string& task_id, int64_t token,
                   std::vector<ledger::StageRecord>& stages, int& index);

  void Dispatch();
  Status ClaimAndBuild(ledger::Transaction& txn, Outbox& out);
  void Tick();

  std::string NewRequestId();

  zmq::context_t& context_;
  std::string link_endpoint_;
  std::unique_ptr<zmq::socket_t> link_;
  ledger::Ledger& ledger_;
  const WorkflowTable& workflows_;
  const Clock& clock_;
  EngineOptions options_;

  std::map<std::string, int> credit_;      // service -> idle workers not yet given work
  std::set<std::string> quiet_;             // services found with no READY work since last tick
  std::map<std::string, int64_t> in_flight_;  // task id -> token, delivered and unanswered
  int64_t next_tick_ms_ = 0;
  uint64_t id_sequence_ = 0;

  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  EngineCounters counters_;
};

}  // namespace taxhub::workflow

#endif  // TAXHUB_HUB_WORKFLOW_ENGINE_H_
