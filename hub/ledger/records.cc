#include <charconv>

#include "hub/ledger/ledger.h"

namespace taxhub::ledger {

std::string_view ToString(RequestState state) {
  switch (state) {
    case RequestState::kAccepted: return "ACCEPTED";
    case RequestState::kInProgress: return "IN_PROGRESS";
    case RequestState::kCompleted: return "COMPLETED";
    case RequestState::kRejected: return "REJECTED";
    case RequestState::kFailed: return "FAILED";
    case RequestState::kReturned: return "RETURNED";
  }
  return "?";
}

std::string_view ToString(StageState state) {
  switch (state) {
    case StageState::kPending: return "PENDING";
    case StageState::kReady: return "READY";
    case StageState::kDispatched: return "DISPATCHED";
    case StageState::kDone: return "DONE";
    case StageState::kRejected: return "REJECTED";
    case StageState::kFailed: return "FAILED";
    case StageState::kSkipped: return "SKIPPED";
    case StageState::kReturned: return "RETURNED";
  }
  return "?";
}

Result<RequestState> ParseRequestState(std::string_view text) {
  for (auto s : {RequestState::kAccepted, RequestState::kInProgress, RequestState::kCompleted,
                 RequestState::kRejected, RequestState::kFailed, RequestState::kReturned}) {
    if (ToString(s) == text) return s;
  }
  return Error(ErrorCode::kInternal, "unknown request state in ledger: " + std::string(text));
}

Result<StageState> ParseStageState(std::string_view text) {
  for (auto s : {StageState::kPending, StageState::kReady, StageState::kDispatched,
                 StageState::kDone, StageState::kRejected, StageState::kFailed,
                 StageState::kSkipped, StageState::kReturned}) {
    if (ToString(s) == text) return s;
  }
  return Error(ErrorCode::kInternal, "unknown stage state in ledger: " + std::string(text));
}

void StageRecord::TakeWrittenColumns(const StageRecord& written) {
  state = written.state;
  attempt = written.attempt;
  token = written.token;
  ready_at_ms = written.ready_at_ms;
  started_at_ms = written.started_at_ms;
  finished_at_ms = written.finished_at_ms;
  deadline_ms = written.deadline_ms;
  lease_until_ms = written.lease_until_ms;
  lease_owner = written.lease_owner;
  handler = written.handler;
  code = written.code;
  message = written.message;
  outputs = written.outputs;
}

void StageRecord::Lease(int64_t now_ms, std::string_view owner) {
  state = StageState::kDispatched;
  ++attempt;
  ++token;
  lease_until_ms = now_ms + attempt_timeout_ms;
  lease_owner = std::string(owner);
  if (started_at_ms == 0) started_at_ms = now_ms;
}

std::optional<std::pair<std::string, int>> ParseTaskId(std::string_view task_id) {
  size_t slash = task_id.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == task_id.size()) {
    return std::nullopt;
  }
  int index = 0;
  auto tail = task_id.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), index);
  if (ec != std::errc() || ptr != tail.data() + tail.size() || index < 0) return std::nullopt;
  return std::make_pair(std::string(task_id.substr(0, slash)), index);
}

Status ForEachRequest(Transaction& txn, const std::function<Status(const RequestRecord&)>& visit,
                      int page_size) {
  std::string after;
  for (;;) {
    auto page = txn.ScanRequests(after, page_size);
    if (!page) return page.error();
    for (const RequestRecord& request : *page) TAXHUB_RETURN_IF_ERROR(visit(request));
    if (static_cast<int>(page->size()) < page_size) return Status::Ok();
    after = page->back().id;
  }
}

}  // namespace taxhub::ledger
