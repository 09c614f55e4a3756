#include "hub/workflow/transitions.h"

#include <algorithm>
#include <cmath>

#include "routing/predicate.h"

namespace taxhub::workflow {

using ledger::RequestState;
using ledger::StageRecord;
using ledger::StageState;

int64_t BackoffMs(const StageRecord& stage, int attempt) {
  double delay = static_cast<double>(stage.initial_backoff_ms) *
                 std::pow(stage.backoff_multiplier, std::max(0, attempt - 1));
  return std::min<int64_t>(stage.max_backoff_ms, static_cast<int64_t>(delay));
}

Status Record(ledger::Transaction& txn, const std::string& request_id, int stage, std::string type,
              int64_t now_ms, std::string detail) {
  ledger::EventRecord event;
  event.request_id = request_id;
  event.stage = stage;
  event.type = std::move(type);
  event.at_ms = now_ms;
  event.detail = std::move(detail);
  return txn.AddEvent(event);
}

namespace {

// Ends the request: later stages SKIPPED, the request in `final_state`.
Status Finish(ledger::Transaction& txn, std::vector<StageRecord>& stages, size_t index,
              RequestState final_state, int64_t now_ms, Effects& effects, const std::string& why,
              bool stored = true) {
  for (size_t i = index + 1; i < stages.size(); ++i) {
    if (stages[i].state != StageState::kPending) continue;
    stages[i].state = StageState::kSkipped;
    if (stored) TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stages[i]));
  }
  const std::string& request_id = stages[index].request_id;
  TAXHUB_RETURN_IF_ERROR(txn.UpdateRequestState(request_id, final_state, now_ms, now_ms));
  effects.ended.emplace_back(request_id, final_state);
  std::string type = final_state == RequestState::kCompleted  ? "request.completed"
                     : final_state == RequestState::kRejected ? "request.rejected"
                                                              : "request.failed";
  effects.Note([&] { return request_id + " " + std::string(ledger::ToString(final_state)) +
                          (why.empty() ? "" : ": " + why); });
  return Record(txn, request_id, -1, type, now_ms, why);
}

// The stage whose refusal ended the request's normal path, if one did.
const StageRecord* Refusal(const std::vector<StageRecord>& stages) {
  for (const StageRecord& s : stages) {
    if (s.state == StageState::kRejected) return &s;
  }
  return nullptr;
}

std::string RefusalText(const StageRecord& s) {
  return s.name + " rejected [" + s.code + "] " + s.message;
}

// Whether stages[index]'s `when` holds over the stage's inputs and the request's attributes.
Result<bool> ConditionHolds(const std::vector<StageRecord>& stages, size_t index,
                            const AttributesLoader& load_attributes) {
  const StageRecord& stage = stages[index];
  if (stage.condition.empty()) return true;
  auto predicate = routing::Predicate::Decode(stage.condition);
  if (!predicate) return Error(predicate.error().WithContext("stage " + stage.task_id()));
  StringMap outputs = StageInputs(stages, index);
  auto attributes = load_attributes();
  if (!attributes) return Error(attributes.error());
  return predicate->Matches(routing::Facts{&outputs, &*attributes});
}

}  // namespace

StringMap StageInputs(const std::vector<StageRecord>& stages, size_t index) {
  StringMap inputs;
  for (size_t i = 0; i < index && i < stages.size(); ++i) {
    if (stages[i].state != StageState::kDone && stages[i].state != StageState::kRejected) continue;
    for (const auto& [key, value] : stages[i].outputs) inputs[key] = value;
  }
  if (const StageRecord* refusal = Refusal(stages); refusal && refusal->index < static_cast<int>(index)) {
    inputs["rejected_stage"] = refusal->name;
    inputs["rejected_code"] = refusal->code;
    inputs["rejected_reason"] = refusal->message;
  }
  return inputs;
}

Status Advance(ledger::Transaction& txn, std::vector<StageRecord>& stages, size_t from,
               const AttributesLoader& attributes, int64_t now_ms, Effects& effects, bool stored,
               const DispatchNow* dispatch) {
  auto update = [&](const StageRecord& stage) { return stored ? txn.UpdateStage(stage) : Status::Ok(); };
  const StageRecord* refusal = Refusal(stages);
  for (size_t i = from; i < stages.size(); ++i) {
    StageRecord& stage = stages[i];
    if (stage.on_rejection != (refusal != nullptr)) {
      stage.state = StageState::kSkipped;
      TAXHUB_RETURN_IF_ERROR(update(stage));
      TAXHUB_RETURN_IF_ERROR(Record(txn, stage.request_id, stage.index, "stage.skipped", now_ms,
                                    stage.name + (refusal ? ": the request was rejected"
                                                          : ": runs only after a rejection")));
      continue;
    }
    auto holds = ConditionHolds(stages, i, attributes);
    if (!holds) return holds.error();
    if (!*holds) {
      stage.state = StageState::kSkipped;
      TAXHUB_RETURN_IF_ERROR(update(stage));
      TAXHUB_RETURN_IF_ERROR(Record(txn, stage.request_id, stage.index, "stage.skipped", now_ms,
                                    stage.name + ": its condition does not hold"));
      continue;
    }
    stage.state = StageState::kReady;
    stage.ready_at_ms = now_ms;
    if (stage.deadline_ms == 0) stage.deadline_ms = now_ms + stage.time_limit_ms;
    const std::string where =
        stage.queue.empty() ? "service " + stage.service : "staff queue " + stage.queue;
    if (!stage.queue.empty()) effects.Note([&] { return stage.task_id() + " " + stage.name + " waits in " + where; });
    TAXHUB_RETURN_IF_ERROR(Record(txn, stage.request_id, stage.index, "stage.ready", now_ms,
                                  stage.name + " waits for " + where));
    if (!stage.service.empty()) {
      bool taken = false;
      if (dispatch && *dispatch) {
        auto took = (*dispatch)(stages, i);
        if (!took) return took.error();
        taken = *took;
      }
      if (!taken) effects.ready_services.insert(stage.service);
    }
    return update(stages[i]);
  }
  if (refusal) {
    return Finish(txn, stages, stages.size() - 1, RequestState::kRejected, now_ms, effects,
                  RefusalText(*refusal), stored);
  }
  return Finish(txn, stages, stages.size() - 1, RequestState::kCompleted, now_ms, effects, "", stored);
}

Status ReturnForCorrection(ledger::Transaction& txn, std::vector<StageRecord>& stages, int index,
                           const std::string& staff, const std::string& reason, int64_t now_ms,
                           Effects& effects) {
  StageRecord& stage = stages[index];
  stage.state = StageState::kReturned;
  stage.lease_until_ms = 0;
  stage.lease_owner.clear();
  stage.handler = staff;
  stage.code = "RETURNED_FOR_CORRECTION";
  stage.message = reason;
  TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
  TAXHUB_RETURN_IF_ERROR(
      txn.UpdateRequestState(stage.request_id, RequestState::kReturned, now_ms, 0));
  effects.Note([&] { return stage.request_id + " returned to the taxpayer by " + staff + ": " + reason; });
  // JSON, like other events read by programs (staff performance counts returns per staff).
  return Record(txn, stage.request_id, stage.index, "request.returned", now_ms,
                EncodeJsonMap({{"stage", stage.name}, {"staff", staff}, {"reason", reason}}));
}

Status ResumeAfterCorrection(ledger::Transaction& txn, std::vector<StageRecord>& stages,
                             int64_t now_ms, Effects& effects) {
  for (StageRecord& stage : stages) {
    if (stage.state != StageState::kReturned) continue;
    stage.state = StageState::kReady;
    stage.ready_at_ms = now_ms;
    stage.deadline_ms = now_ms + stage.time_limit_ms;
    stage.handler.clear();
    stage.code.clear();
    stage.message.clear();
    TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
    effects.Note([&] { return stage.task_id() + " " + stage.name + " waits in " + stage.queue +
                            " again after the correction"; });
    return Record(txn, stage.request_id, stage.index, "stage.ready", now_ms,
                  stage.name + " waits for staff queue " + stage.queue + " after a correction");
  }
  return Status(ErrorCode::kInternal, "a returned request without a returned stage");
}

Status ApplyOutcome(ledger::Transaction& txn, std::vector<StageRecord>& stages, int index,
                    const Outcome& outcome, const AttributesLoader& attributes, int64_t now_ms,
                    Effects& effects, const DispatchNow* dispatch) {
  StageRecord& stage = stages[index];
  stage.lease_until_ms = 0;
  stage.lease_owner.clear();
  if (!outcome.handler.empty()) stage.handler = outcome.handler;
  stage.code = outcome.code;
  stage.message = outcome.message;
  auto task = [&stage] { return stage.task_id() + " " + stage.name; };  // for the flow log

  switch (outcome.kind) {
    case Outcome::Kind::kSucceeded: {
      stage.state = StageState::kDone;
      stage.finished_at_ms = now_ms;
      stage.outputs = outcome.outputs;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      TAXHUB_RETURN_IF_ERROR(Record(txn, stage.request_id, stage.index, "stage.done", now_ms,
                                    stage.name + " done by " + stage.handler));
      effects.Note([&] { return task() + " done by " + stage.handler + " in " +
                              std::to_string(now_ms - stage.started_at_ms) + " ms"; });
      return Advance(txn, stages, index + 1, attributes, now_ms, effects, true, dispatch);
    }
    case Outcome::Kind::kRejected: {
      stage.state = StageState::kRejected;
      stage.finished_at_ms = now_ms;
      stage.outputs = outcome.outputs;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      TAXHUB_RETURN_IF_ERROR(Record(txn, stage.request_id, stage.index, "stage.rejected", now_ms,
                                    RefusalText(stage)));
      // Stages that tell the taxpayer why still run; without any, the request ends here.
      const bool notices = std::any_of(stages.begin() + index + 1, stages.end(),
                                       [](const StageRecord& s) { return s.on_rejection; });
      if (notices) return Advance(txn, stages, index + 1, attributes, now_ms, effects, true, dispatch);
      return Finish(txn, stages, index, RequestState::kRejected, now_ms, effects,
                    RefusalText(*Refusal(stages)));
    }
    case Outcome::Kind::kRetry: {
      if (stage.attempt >= stage.max_attempts) {
        stage.state = StageState::kFailed;
        stage.finished_at_ms = now_ms;
        TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
        std::string why = stage.name + " failed after " + std::to_string(stage.attempt) +
                          " attempts: " + outcome.message;
        TAXHUB_RETURN_IF_ERROR(
            Record(txn, stage.request_id, stage.index, "stage.failed", now_ms, why));
        // A notice of a refusal that could not be sent leaves a dead letter to replay; its
        // reason still says that the application itself was refused.
        if (const StageRecord* refusal = Refusal(stages)) why += " (after " + RefusalText(*refusal) + ")";
        return Finish(txn, stages, index, RequestState::kFailed, now_ms, effects, why);
      }
      int64_t delay = BackoffMs(stage, stage.attempt);
      stage.state = StageState::kReady;
      stage.ready_at_ms = now_ms + delay;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      effects.ready_services.insert(stage.service);
      effects.Note([&] { return task() + " attempt " + std::to_string(stage.attempt) + " failed (" +
                              outcome.message + "); retry in " + std::to_string(delay) + " ms"; });
      return Record(txn, stage.request_id, stage.index, "stage.retry", now_ms,
                    "attempt " + std::to_string(stage.attempt) + ": " + outcome.message);
    }
    case Outcome::Kind::kUnavailable: {
      // Not an attempt: the legacy system never saw the task. Wait longer the longer it has been
      // down (half the time since the stage first started, within the backoff bounds) and let the
      // circuit hold the rest of the service's work back.
      stage.attempt = std::max(0, stage.attempt - 1);
      const int64_t waited = stage.started_at_ms > 0 ? now_ms - stage.started_at_ms : 0;
      const int64_t delay =
          std::clamp<int64_t>(waited / 2, stage.initial_backoff_ms, std::max(stage.initial_backoff_ms, stage.max_backoff_ms));
      stage.state = StageState::kReady;
      stage.ready_at_ms = now_ms + delay;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      effects.ready_services.insert(stage.service);
      effects.Note([&] { return task() + " not delivered to the legacy system (" + outcome.message + "); again in " +
                              std::to_string(delay) + " ms"; });
      return Record(txn, stage.request_id, stage.index, "stage.unavailable", now_ms,
                    "[" + outcome.code + "] " + outcome.message);
    }
    case Outcome::Kind::kUndelivered: {
      stage.state = StageState::kReady;
      stage.attempt = std::max(0, stage.attempt - 1);
      if (stage.attempt == 0) stage.started_at_ms = 0;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      effects.ready_services.insert(stage.service);
      return Record(txn, stage.request_id, stage.index, "stage.requeued", now_ms,
                    outcome.message);
    }
  }
  return Status::Ok();
}

}  // namespace taxhub::workflow
