#include "hub/workflow/transitions.h"

#include <algorithm>
#include <cmath>

namespace taxhub::workflow {

using ledger::RequestState;
using ledger::StageRecord;
using ledger::StageState;

int64_t RetryPolicy::BackoffMs(int attempt) const {
  double delay = static_cast<double>(initial_backoff_ms) *
                 std::pow(multiplier, std::max(0, attempt - 1));
  return std::min<int64_t>(max_backoff_ms, static_cast<int64_t>(delay));
}

Status Record(ledger::Transaction& txn, const std::string& request_id, int stage, std::string type,
              int64_t now_ms, std::string detail) {
  ledger::EventRecord event;
  event.request_id = request_id;
  event.stage = stage;
  event.type = std::move(type);
  event.at_ms = now_ms;
  event.detail = std::move(detail);
  auto seq = txn.AppendEvent(event);
  return seq ? Status::Ok() : seq.error();
}

Status MakeReady(ledger::Transaction& txn, StageRecord& stage, int64_t now_ms, Effects& effects) {
  stage.state = StageState::kReady;
  stage.ready_at_ms = now_ms;
  if (stage.deadline_ms == 0) stage.deadline_ms = now_ms + stage.time_limit_ms;
  TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
  effects.ready_services.insert(stage.service);
  return Record(txn, stage.request_id, stage.index, "stage.ready", now_ms,
                stage.name + " waits for " + stage.service);
}

namespace {

// Ends the request: later stages SKIPPED, the request in `final_state`.
Status Finish(ledger::Transaction& txn, std::vector<StageRecord>& stages, int index,
              RequestState final_state, int64_t now_ms, Effects& effects, const std::string& why) {
  for (size_t i = index + 1; i < stages.size(); ++i) {
    if (stages[i].state != StageState::kPending) continue;
    stages[i].state = StageState::kSkipped;
    TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stages[i]));
  }
  const std::string& request_id = stages[index].request_id;
  TAXHUB_RETURN_IF_ERROR(txn.UpdateRequestState(request_id, final_state, now_ms, now_ms));
  std::string type = final_state == RequestState::kCompleted  ? "request.completed"
                     : final_state == RequestState::kRejected ? "request.rejected"
                                                              : "request.failed";
  effects.notes.push_back(request_id + " " + std::string(ledger::ToString(final_state)) +
                          (why.empty() ? "" : ": " + why));
  return Record(txn, request_id, -1, type, now_ms, why);
}

}  // namespace

Status ApplyOutcome(ledger::Transaction& txn, std::vector<StageRecord>& stages, int index,
                    const Outcome& outcome, int64_t now_ms, const RetryPolicy& retry,
                    Effects& effects) {
  StageRecord& stage = stages[index];
  stage.lease_until_ms = 0;
  stage.lease_owner.clear();
  if (!outcome.handler.empty()) stage.handler = outcome.handler;
  stage.code = outcome.code;
  stage.message = outcome.message;
  const std::string task = stage.task_id() + " " + stage.name;

  switch (outcome.kind) {
    case Outcome::Kind::kSucceeded: {
      stage.state = StageState::kDone;
      stage.finished_at_ms = now_ms;
      stage.outputs = outcome.outputs;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      TAXHUB_RETURN_IF_ERROR(Record(txn, stage.request_id, stage.index, "stage.done", now_ms,
                                    stage.name + " done by " + stage.handler));
      effects.notes.push_back(task + " done by " + stage.handler + " in " +
                              std::to_string(now_ms - stage.started_at_ms) + " ms");
      if (static_cast<size_t>(index) + 1 < stages.size()) {
        return MakeReady(txn, stages[index + 1], now_ms, effects);
      }
      return Finish(txn, stages, index, RequestState::kCompleted, now_ms, effects, "");
    }
    case Outcome::Kind::kRejected: {
      stage.state = StageState::kRejected;
      stage.finished_at_ms = now_ms;
      stage.outputs = outcome.outputs;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      std::string why = stage.name + " rejected [" + outcome.code + "] " + outcome.message;
      TAXHUB_RETURN_IF_ERROR(
          Record(txn, stage.request_id, stage.index, "stage.rejected", now_ms, why));
      return Finish(txn, stages, index, RequestState::kRejected, now_ms, effects, why);
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
        return Finish(txn, stages, index, RequestState::kFailed, now_ms, effects, why);
      }
      int64_t delay = retry.BackoffMs(stage.attempt);
      stage.state = StageState::kReady;
      stage.ready_at_ms = now_ms + delay;
      TAXHUB_RETURN_IF_ERROR(txn.UpdateStage(stage));
      effects.ready_services.insert(stage.service);
      effects.notes.push_back(task + " attempt " + std::to_string(stage.attempt) + " failed (" +
                              outcome.message + "); retry in " + std::to_string(delay) + " ms");
      return Record(txn, stage.request_id, stage.index, "stage.retry", now_ms,
                    "attempt " + std::to_string(stage.attempt) + ": " + outcome.message);
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
