// What an adapter implements: turn one stage task into one stage result.
#ifndef TAXHUB_ADAPTERS_SDK_HANDLER_H_
#define TAXHUB_ADAPTERS_SDK_HANDLER_H_

#include <string>

#include "gen-cpp/taxhub_types.h"

namespace taxhub::sdk {

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on one of the runtime's handler threads, up to `concurrency` calls at once per
  // service; may block on the legacy system. (A handler that never blocks is called on the
  // service's I/O thread instead, see MayBlock().) One handler may serve several services, each
  // with its own threads, so it must be thread-safe either way. The runtime fills in task_id and
  // fencing_token of the result. An exception counts as a RETRY outcome carrying its message.
  //
  // Delivery is at least once: the same task (same task_id, a newer fencing token) may come
  // again after a timeout or a lost worker, so side effects must be idempotent per task_id.
  virtual wire::StageResult Handle(const wire::StageTask& task) = 0;

  // Whether Handle() may wait: on a legacy system, a sleep, a lock held for long. A handler
  // that never does (it computes its result from the task and returns) says false, and the
  // runtime calls it on the I/O thread of each service it serves, one task after another,
  // instead of handing each task to a handler thread and the result back. Those two hand-offs
  // cost such a handler more than its work: on make bench's target 4 (three instant
  // services) they were 30% of the adapter's CPU. The service's heartbeats wait while it
  // runs, and one turn of the I/O loop may run a task for each of the service's `concurrency`
  // connections: together they must take well under the hub's heartbeat interval.
  virtual bool MayBlock() const { return true; }
};

// A result as handlers build them; the runtime fills in task_id and fencing_token.
inline wire::StageResult MakeResult(wire::StageOutcome::type outcome, std::string handler, std::string code,
                                    std::string message) {
  wire::StageResult r;
  r.outcome = outcome;
  r.handler = std::move(handler);
  r.code = std::move(code);
  r.message = std::move(message);
  return r;
}

}  // namespace taxhub::sdk

#endif  // TAXHUB_ADAPTERS_SDK_HANDLER_H_
