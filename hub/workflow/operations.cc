// The engine's thread-safe service calls: route versions, dead letters and replay, staff tasks.
// Each body runs on the engine thread inside RunCommand's transaction.

#include <limits>

#include "hub/base/log.h"
#include "hub/base/json_map.h"
#include "hub/workflow/engine.h"

namespace taxhub::workflow {
namespace {

using ledger::RequestState;
using ledger::StageRecord;
using ledger::StageState;

// A claimed staff task has no lease to lapse; its time limit is watched instead.
constexpr int64_t kStaffLease = std::numeric_limits<int64_t>::max() / 2;

std::string StaffOwner(const std::string& staff) { return "staff:" + staff; }

// The stages of the request a task id names, and the task's index among them.
Status LoadTask(ledger::Transaction& txn, const std::string& task_id,
                std::vector<StageRecord>& stages, int& index) {
  auto parsed = ledger::ParseTaskId(task_id);
  if (!parsed) return Status(ErrorCode::kBadRequest, "malformed task id", "task_id");
  auto loaded = txn.GetStages(parsed->first);
  if (!loaded) return loaded.error();
  if (parsed->second >= static_cast<int>(loaded->size())) {
    return Status(ErrorCode::kNotFound, "no task " + task_id, "task_id");
  }
  stages = std::move(*loaded);
  index = parsed->second;
  if (stages[index].queue.empty()) {
    return Status(ErrorCode::kBadRequest, task_id + " is an adapter stage, not a staff task",
                  "task_id");
  }
  return Status::Ok();
}

}  // namespace

Result<int64_t> Engine::RecordRoutes(const routing::RouteTable& table, const std::string& by) {
  int64_t version = 0;
  Status status = RunCommand([&](ledger::Transaction& txn, Effects& effects) -> Status {
    auto recorded = RouteVersion(txn, table, effects);
    if (!recorded) return recorded.error();
    version = *recorded;
    if (by.empty()) return Status::Ok();
    return Record(txn, "routes", -1, "routes.reloaded", clock_.NowMs(),
                  EncodeJsonMap({{"version", std::to_string(version)}, {"digest", table.digest()},
                                 {"source", table.source()}, {"by", by}}));
  });
  if (!status.ok()) return Error(status);
  return version;
}

Result<std::vector<DeadLetter>> Engine::DeadLetters(int limit, const std::string& after) {
  std::vector<DeadLetter> out;
  Status status = RunCommand([&](ledger::Transaction& txn, Effects&) -> Status {
    auto failed = txn.ListRequests(RequestState::kFailed, limit, after);
    if (!failed) return failed.error();
    for (const auto& request : *failed) {
      auto stages = txn.GetStages(request.id);
      if (!stages) return stages.error();
      DeadLetter letter;
      letter.request_id = request.id;
      letter.kind = request.kind;
      letter.taxpayer_id = request.taxpayer_id;
      letter.route = request.route;
      letter.failed_at_ms = request.finished_at_ms;
      for (const StageRecord& s : *stages) {
        if (s.state != StageState::kFailed) continue;
        letter.stage_index = s.index;
        letter.stage = s.name;
        letter.service = s.service;
        letter.attempts = s.attempt;
        letter.code = s.code;
        letter.message = s.message;
      }
      out.push_back(std::move(letter));
    }
    return Status::Ok();
  });
  if (!status.ok()) return Error(status);
  return out;
}

Status Engine::Discard(const std::string& request_id, const std::string& user, const std::string& reason) {
  return RunCommand([&](ledger::Transaction& txn, Effects& effects) -> Status {
    auto request = txn.GetRequest(request_id);
    if (!request) return request.error();
    if (!request->has_value()) return Status(ErrorCode::kNotFound, "no request " + request_id, "request_id");
    if ((*request)->state != RequestState::kFailed) {
      return Status(ErrorCode::kBadRequest,
                    request_id + " is " + std::string(ledger::ToString((*request)->state)) + ", not a dead letter",
                    "request_id");
    }
    const int64_t now = clock_.NowMs();
    TAXHUB_RETURN_IF_ERROR(txn.UpdateRequestState(request_id, RequestState::kRejected, now, now));
    effects.ended.emplace_back(request_id, RequestState::kRejected);
    effects.Note([&] { return request_id + " discarded by " + user + ": " + reason; });
    return Record(txn, request_id, -1, "request.discarded", now, EncodeJsonMap({{"by", user}, {"reason", reason}}));
  });
}

Status Engine::Replay(const std::string& request_id, const std::string& user) {
  return RunCommand([&](ledger::Transaction& txn, Effects& effects) -> Status {
    auto request = txn.GetRequest(request_id);
    if (!request) return request.error();
    if (!request->has_value()) {
      return Status(ErrorCode::kNotFound, "no request " + request_id, "request_id");
    }
    if ((*request)->state != RequestState::kFailed) {
      return Status(ErrorCode::kBadRequest,
                    request_id + " is " + std::string(ledger::ToString((*request)->state)) +
                        ", not a dead letter",
                    "request_id");
    }
    auto stages = txn.GetStages(request_id);
    if (!stages) return stages.error();
    const int64_t now = clock_.NowMs();
    int failed = -1;
    for (StageRecord& s : *stages) {
      if (s.state == StageState::kFailed && failed < 0) {
        failed = s.index;
        // Same task id; the fencing token keeps counting up from where it was.
        s.state = StageState::kReady;
        s.attempt = 0;
        s.ready_at_ms = now;
        s.finished_at_ms = 0;
        s.lease_until_ms = 0;
        s.lease_owner.clear();
        s.code.clear();
        s.message.clear();
        if (!s.service.empty()) effects.ready_services.insert(s.service);
      } else if (failed >= 0 && s.state == StageState::kSkipped) {
        s.state = StageState::kPending;
      } else {
        continue;
      }
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(s));
    }
    if (failed < 0) return Status(ErrorCode::kInternal, request_id + " has no failed stage");
    TAXHUB_RETURN_IF_ERROR(txn.UpdateRequestState(request_id, RequestState::kInProgress, now, 0));
    effects.Note([&] { return request_id + " replayed by " + user + " from stage " +
                            (*stages)[failed].name; });
    return Record(txn, request_id, failed, "request.replayed", now,
                  "replayed by " + user + " from stage " + (*stages)[failed].name);
  });
}

Result<std::vector<QueueTask>> Engine::QueueTasks(const std::string& queue, int limit) {
  std::vector<QueueTask> out;
  Status status = RunCommand([&](ledger::Transaction& txn, Effects&) -> Status {
    auto stages = txn.QueueStages(queue, limit);
    if (!stages) return stages.error();
    for (const StageRecord& s : *stages) {
      auto request = txn.GetRequest(s.request_id);
      if (!request) return request.error();
      QueueTask task;
      task.task_id = s.task_id();
      task.request_id = s.request_id;
      if (request->has_value()) {
        task.kind = (*request)->kind;
        task.taxpayer_id = (*request)->taxpayer_id;
      }
      task.queue = s.queue;
      task.stage = s.name;
      task.label = s.label;
      task.difficulty = s.difficulty;
      if (s.state == StageState::kDispatched) task.claimed_by = s.handler;
      task.ready_at_ms = s.ready_at_ms;
      task.deadline_ms = s.deadline_ms;
      task.overdue = s.deadline_ms > 0 && clock_.NowMs() > s.deadline_ms;
      out.push_back(std::move(task));
    }
    return Status::Ok();
  });
  if (!status.ok()) return Error(status);
  return out;
}

Status Engine::ClaimTask(const std::string& task_id, const std::string& staff) {
  return RunCommand([&](ledger::Transaction& txn, Effects& effects) -> Status {
    std::vector<StageRecord> stages;
    int index = -1;
    TAXHUB_RETURN_IF_ERROR(LoadTask(txn, task_id, stages, index));
    const int64_t now = clock_.NowMs();
    auto claimed = txn.ClaimStage(stages[index].request_id, index, StaffOwner(staff), staff, now,
                                  kStaffLease);
    if (!claimed) return claimed.error();
    if (!claimed->has_value()) {
      const StageRecord& s = stages[index];
      if (s.state == StageState::kDispatched) {
        if (s.lease_owner == StaffOwner(staff)) return Status::Ok();  // already yours
        return Status(ErrorCode::kTaken, task_id + " was claimed by " + s.handler, "task_id");
      }
      return Status(ErrorCode::kBadRequest,
                    task_id + " is " + std::string(ledger::ToString(s.state)) +
                        ", not waiting for staff",
                    "task_id");
    }
    effects.Note([&] { return task_id + " " + stages[index].name + " claimed by " + staff; });
    return Record(txn, stages[index].request_id, index, "task.claimed", now, "claimed by " + staff);
  });
}

Status Engine::CompleteTask(const std::string& task_id, const std::string& staff,
                            Decision decision, const std::string& reason) {
  return RunCommand([&](ledger::Transaction& txn, Effects& effects) -> Status {
    std::vector<StageRecord> stages;
    int index = -1;
    TAXHUB_RETURN_IF_ERROR(LoadTask(txn, task_id, stages, index));
    const StageRecord& s = stages[index];
    if (s.state != StageState::kDispatched) {
      return Status(ErrorCode::kBadRequest, task_id + " must be claimed before it is completed",
                    "task_id");
    }
    if (s.lease_owner != StaffOwner(staff)) {
      return Status(ErrorCode::kTaken, task_id + " is claimed by " + s.handler, "task_id");
    }
    if (decision != Decision::kApprove && reason.empty()) {
      return Status(ErrorCode::kMissingField,
                    decision == Decision::kReject ? "a rejection needs a reason"
                                                  : "a return needs what the taxpayer must correct",
                    "reason");
    }
    if (decision == Decision::kReturn) {
      std::vector<StageRecord> all = stages;
      return ReturnForCorrection(txn, all, index, staff, reason, clock_.NowMs(), effects);
    }
    Outcome outcome;
    outcome.handler = staff;
    if (decision == Decision::kApprove) {
      outcome.kind = Outcome::Kind::kSucceeded;
      outcome.message = reason;
    } else {
      outcome.kind = Outcome::Kind::kRejected;
      outcome.code = "REJECTED_BY_STAFF";
      outcome.message = reason;
    }
    return Resolve(txn, task_id, s.token, outcome, effects);
  });
}

Status Engine::AssignTask(const std::string& task_id, const std::string& manager,
                          const std::string& staff) {
  return RunCommand([&](ledger::Transaction& txn, Effects& effects) -> Status {
    if (staff.empty()) return Status(ErrorCode::kMissingField, "whom to assign to", "staff");
    std::vector<StageRecord> stages;
    int index = -1;
    TAXHUB_RETURN_IF_ERROR(LoadTask(txn, task_id, stages, index));
    StageRecord& s = stages[index];
    const int64_t now = clock_.NowMs();
    if (s.state == StageState::kReady) {
      auto claimed = txn.ClaimStage(s.request_id, index, StaffOwner(staff), staff, now, kStaffLease);
      if (!claimed) return claimed.error();
      if (!claimed->has_value()) return Status(ErrorCode::kTaken, task_id + " was just claimed", "task_id");
      effects.Note([&] { return task_id + " " + s.name + " assigned to " + staff + " by " + manager; });
      return Record(txn, s.request_id, index, "task.assigned",
                    now, "assigned to " + staff + " by " + manager);
    }
    if (s.state == StageState::kDispatched && s.lease_owner.starts_with("staff:")) {
      const std::string from = s.handler;
      s.lease_owner = StaffOwner(staff);
      s.handler = staff;
      ++s.token;  // the previous holder's completion no longer counts
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(s));
      effects.Note([&] { return task_id + " " + s.name + " reassigned from " + from + " to " + staff +
                              " by " + manager; });
      return Record(txn, s.request_id, index, "task.reassigned", now,
                    "reassigned from " + from + " to " + staff + " by " + manager);
    }
    return Status(ErrorCode::kBadRequest,
                  task_id + " is " + std::string(ledger::ToString(s.state)) + ", not waiting for staff",
                  "task_id");
  });
}

}  // namespace taxhub::workflow
