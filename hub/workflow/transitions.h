// How a stage outcome moves a request through its plan, written to the ledger in the caller's
// transaction with one event per change:
//   SUCCEEDED   stage DONE; the next stage comes up (see Advance), or the request COMPLETED
//   REJECTED    stage REJECTED; later stages SKIPPED except those marked on_rejection, which
//               then run (telling the taxpayer why); the request REJECTED when they are done
//   RETRY       stage READY again after the stage's backoff, or FAILED — and the request
//               FAILED, a dead letter — when its attempts are used up
//   UNDELIVERED the delivery never reached a worker: READY again at once, the attempt not counted
#ifndef TAXHUB_HUB_WORKFLOW_TRANSITIONS_H_
#define TAXHUB_HUB_WORKFLOW_TRANSITIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/base/log.h"
#include "hub/base/status.h"
#include "hub/ledger/ledger.h"

namespace taxhub::workflow {

// Delay before delivery `attempt + 1` of `stage`, after `attempt` failed deliveries:
// initial × multiplier^(attempt-1), capped at the stage's max backoff.
int64_t BackoffMs(const ledger::StageRecord& stage, int attempt);

struct Outcome {
  // kUnavailable: the adapter could not reach its legacy system (nothing happened there).
  enum class Kind { kSucceeded, kRejected, kRetry, kUnavailable, kUndelivered };
  Kind kind = Kind::kSucceeded;
  std::string handler;
  std::string code;
  std::string message;
  StringMap outputs;
};

// What the caller does once the transaction has committed.
struct Effects {
  std::set<std::string> ready_services;       // adapter services that now have READY work
  std::vector<std::string> notes;             // lines for the flow log: see Note()
  std::map<std::string, bool> service_health; // service -> last outcome was healthy
  std::set<std::string> undelivered;          // services a task could not be handed to
  std::map<std::string, int64_t> route_versions;  // route table digest -> recorded version
  // Requests that ended, in the order they did: what follows an end in the same transaction
  // (obligations met, risk rules) looks here.
  std::vector<std::pair<std::string, ledger::RequestState>> ended;
  // For the engine's counters, which count them once committed (a batch that fails is applied
  // again): submits accepted, answered as duplicates and refused for their content, results
  // refused as stale, and adapter stages' times from delivery to result.
  int accepted = 0;
  int duplicates = 0;
  int rejected_input = 0;
  int stale_results = 0;
  std::vector<std::pair<std::string, double>> stage_ms;  // adapter stage, delivery to result

  // Adds a line for the flow log, which the engine logs at info level once the transaction has
  // committed; `line` builds it, and is called only when that level is on.
  template <typename Line>
  void Note(Line&& line) {
    if (GetLogLevel() <= LogLevel::kInfo) notes.push_back(line());
  }
};

// The request's envelope attributes, loaded only when a `when` needs them.
using AttributesLoader = std::function<Result<StringMap>()>;

// Offered each adapter stage that Advance brings up, before the stage is written: either hands
// it straight to an idle worker — leases it (StageRecord::Lease), records stage.dispatched and
// queues its task — and returns true, or returns false and leaves it READY for a later claim.
// Either way the stage is written once, as it then stands.
using DispatchNow = std::function<Result<bool>(std::vector<ledger::StageRecord>& stages, size_t index)>;

// Applies `outcome` to stages[index] (which the caller has checked is the live delivery) and
// updates `stages` in memory to match what was written. A stage it brings up is offered to
// `dispatch` when given.
Status ApplyOutcome(ledger::Transaction& txn, std::vector<ledger::StageRecord>& stages, int index,
                    const Outcome& outcome, const AttributesLoader& attributes, int64_t now_ms,
                    Effects& effects, const DispatchNow* dispatch = nullptr);

// What stages[index] sees of the stages before it: the outputs of those done (and of a
// rejecting one), in stage order; after a rejection also rejected_stage, rejected_code and
// rejected_reason.
StringMap StageInputs(const std::vector<ledger::StageRecord>& stages, size_t index);

// Brings up the first stage from `from` on whose `when` holds (stages whose `when` does not
// hold are SKIPPED): an adapter stage becomes READY for dispatch, a human stage READY in its
// queue. After a rejection only on_rejection stages come up; otherwise only the others. With no
// stage left, the request is COMPLETED, or REJECTED after a rejection.
// `stored` false: the stages are not in the ledger yet (a new request's plan), so only their
// copies in memory change and the caller inserts them afterwards, each in its final state.
// An adapter stage that comes up is offered to `dispatch` when given; one it does not take is
// among effects.ready_services.
Status Advance(ledger::Transaction& txn, std::vector<ledger::StageRecord>& stages, size_t from,
               const AttributesLoader& attributes, int64_t now_ms, Effects& effects,
               bool stored = true, const DispatchNow* dispatch = nullptr);

// Staff send the application back to the taxpayer from stages[index]: the stage RETURNED, the
// request RETURNED until a corrected submit with the same request id arrives.
Status ReturnForCorrection(ledger::Transaction& txn, std::vector<ledger::StageRecord>& stages,
                           int index, const std::string& staff, const std::string& reason,
                           int64_t now_ms, Effects& effects);

// After a correction: the returned stage waits in its queue again, with a fresh time limit.
Status ResumeAfterCorrection(ledger::Transaction& txn, std::vector<ledger::StageRecord>& stages,
                             int64_t now_ms, Effects& effects);

// Appends one event.
Status Record(ledger::Transaction& txn, const std::string& request_id, int stage,
              std::string type, int64_t now_ms, std::string detail);

}  // namespace taxhub::workflow

#endif  // TAXHUB_HUB_WORKFLOW_TRANSITIONS_H_
