// How a stage outcome moves a request through its workflow, written to the ledger in the
// caller's transaction with one event per change:
//   SUCCEEDED   stage DONE; the next stage READY, or the request COMPLETED
//   REJECTED    stage REJECTED, later stages SKIPPED, request REJECTED
//   RETRY       stage READY again after backoff, or FAILED (request FAILED) when its attempts
//               are used up
//   UNDELIVERED the delivery never reached a worker: READY again at once, the attempt not counted
#ifndef TAXHUB_HUB_WORKFLOW_TRANSITIONS_H_
#define TAXHUB_HUB_WORKFLOW_TRANSITIONS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/base/status.h"
#include "hub/ledger/ledger.h"

namespace taxhub::workflow {

struct RetryPolicy {
  int64_t initial_backoff_ms = 1000;
  double multiplier = 2.0;
  int64_t max_backoff_ms = 60'000;

  // Delay before delivery number `attempt + 1`, after `attempt` failed deliveries.
  int64_t BackoffMs(int attempt) const;
};

struct Outcome {
  enum class Kind { kSucceeded, kRejected, kRetry, kUndelivered };
  Kind kind = Kind::kSucceeded;
  std::string handler;
  std::string code;
  std::string message;
  StringMap outputs;
};

// What the caller does once the transaction has committed.
struct Effects {
  std::set<std::string> ready_services;  // services that now have READY work
  std::vector<std::string> notes;        // lines for the flow log
};

// Applies `outcome` to stages[index] (which the caller has checked is the live delivery) and
// updates `stages` in memory to match what was written.
Status ApplyOutcome(ledger::Transaction& txn, std::vector<ledger::StageRecord>& stages, int index,
                    const Outcome& outcome, int64_t now_ms, const RetryPolicy& retry,
                    Effects& effects);

// Makes stages[index] READY now (deadline from its time limit) and records the event.
Status MakeReady(ledger::Transaction& txn, ledger::StageRecord& stage, int64_t now_ms,
                 Effects& effects);

// Appends one event.
Status Record(ledger::Transaction& txn, const std::string& request_id, int stage,
              std::string type, int64_t now_ms, std::string detail);

}  // namespace taxhub::workflow

#endif  // TAXHUB_HUB_WORKFLOW_TRANSITIONS_H_
