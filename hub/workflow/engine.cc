#include "hub/workflow/engine.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq_addon.hpp>

#include <algorithm>
#include <charconv>

#include "hub/base/failpoint.h"
#include "hub/base/log.h"
#include "hub/broker/link.h"
#include "hub/workflow/validate.h"

namespace taxhub::workflow {
namespace {

constexpr const char* kLog = "engine";
constexpr int64_t kDrainQuietMs = 200;

using ledger::RequestRecord;
using ledger::RequestState;
using ledger::StageRecord;
using ledger::StageState;
using mdp::MakeFrames;
using mdp::Str;
using mdp::View;

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

link::Op OpOf(const mdp::Frames& frames) {
  return frames.empty() || frames[0].size() != 1 ? link::Op{}
                                                 : static_cast<link::Op>(View(frames[0])[0]);
}

}  // namespace

Engine::Engine(zmq::context_t& context, std::string link_endpoint, ledger::Ledger& ledger,
               const routing::RouteTableHolder& routes, const Clock& clock, EngineOptions options)
    : context_(context),
      link_endpoint_(std::move(link_endpoint)),
      ledger_(ledger),
      routes_(routes),
      clock_(clock),
      options_(std::move(options)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (const obligations::RiskRule& rule : options_.risk_rules) {
    if (!rule.output.empty()) risk_outputs_.insert(rule.output);
  }
}

Engine::~Engine() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status Engine::Bind() {
  try {
    link_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
    link_->set(zmq::sockopt::linger, 0);
    link_->set(zmq::sockopt::rcvhwm, link::kHighWaterMark);
    link_->set(zmq::sockopt::sndhwm, link::kHighWaterMark);
    link_->bind(link_endpoint_);
    if (!options_.verified_endpoint.empty()) {
      verified_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pull);
      verified_->set(zmq::sockopt::linger, 0);
      verified_->set(zmq::sockopt::rcvhwm, link::kHighWaterMark);
      verified_->bind(options_.verified_endpoint);
    }
  } catch (const zmq::error_t& e) {
    return Status(ErrorCode::kInternal, "cannot bind engine link " + link_endpoint_ + ": " + e.what());
  }
  return Status::Ok();
}

Status Engine::Recover() {
  auto txn = ledger_.Begin();
  if (!txn) return txn.error();
  auto leases = (*txn)->LeasesOf(options_.hub_id);
  if (!leases) return leases.error();
  const int64_t now = clock_.NowMs();
  for (StageRecord& stage : *leases) {
    // The run that held these leases is gone: deliver again, without counting it against the
    // stage, since the worker's answer (if any) can no longer arrive with a live token.
    stage.state = StageState::kReady;
    stage.lease_until_ms = 0;
    stage.lease_owner.clear();
    stage.ready_at_ms = now;
    TAXHUB_RETURN_IF_ERROR((*txn)->UpdateStage(stage));
    TAXHUB_RETURN_IF_ERROR(Record(**txn, stage.request_id, stage.index, "stage.recovered", now,
                                  "lease of a previous run of " + options_.hub_id + " taken back"));
  }
  TAXHUB_RETURN_IF_ERROR((*txn)->Commit());
  if (!leases->empty()) {
    TAXHUB_LOG(kInfo, kLog) << "took back " << leases->size() << " stage leases from a previous run";
  }
  return Status::Ok();
}

void Engine::Run() {
  running_ = true;
  next_maintenance_ms_ = clock_.NowMs() + 6 * 3'600'000;  // Open() has just done it
  int64_t last_message_ms = MonotonicMs();
  int64_t drain_deadline = 0;
  while (!stopping_) {
    const int64_t mono = MonotonicMs();
    if (draining_) {
      if (drain_deadline == 0) {
        drain_deadline = mono + options_.drain_timeout_ms;
        TAXHUB_LOG(kInfo, kLog) << "draining: " << in_flight_.size() << " tasks out";
      }
      bool quiet = mono - last_message_ms >= kDrainQuietMs;
      if (quiet && (in_flight_.empty() || mono >= drain_deadline)) break;
    }
    std::vector<zmq::pollitem_t> items = {{link_->handle(), 0, ZMQ_POLLIN, 0},
                                          {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    if (verified_) items.push_back({verified_->handle(), 0, ZMQ_POLLIN, 0});
    // Other hubs' NOTIFY arrives on the ledger connection's socket; the end of a commit behind
    // on a file descriptor of the ledger's own.
    if (const int fd = ledger_.NotificationFd(); fd >= 0) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
    const size_t commit_item = items.size();
    if (const int fd = behind_ ? ledger_.CommitFd() : -1; fd >= 0) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
    try {
      zmq::poll(items.data(), items.size(),
                std::chrono::milliseconds(deferred_.empty() ? std::min<int64_t>(options_.tick_ms, 100) : 0));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      TAXHUB_LOG(kError, kLog) << "poll failed: " << e.what();
      break;
    }
    // Other hubs' READY work first, so that a stage this batch brings up does not pass it.
    for (const auto& service : ledger_.TakeNotifications()) quiet_.erase(service);
    std::vector<Inbound> batch;
    batch.swap(deferred_);  // what arrived while a batch of calls was gathered behind a commit
    TakeWaiting(batch);
    if (!batch.empty() && !behind_) GatherMore(batch);
    if (!batch.empty()) {
      last_message_ms = MonotonicMs();
      ProcessBatch(batch);  // while a batch commits behind, this one may be applied meanwhile
    } else if (commit_item < items.size() && (items[commit_item].revents & ZMQ_POLLIN)) {
      Settle();  // committed, with nothing to apply meanwhile: its answers go out now
    }
    ProcessCommands();
    if (clock_.NowMs() >= next_tick_ms_) Tick();
    if (options_.checkpoint_key && clock_.NowMs() >= next_checkpoint_ms_) WriteCheckpoint();
    Dispatch();
  }
  Settle();
  if (options_.checkpoint_key) WriteCheckpoint();
  running_ = false;
  ProcessCommands();  // fail what is left
  // The link stays open until the engine is destroyed, so that the broker, still running,
  // never blocks on a peer that has gone.
  TAXHUB_LOG(kInfo, kLog) << "stopped with " << in_flight_.size() << " tasks out, after "
                          << counters_.commits << " commits (" << counters_.failed_commits << " failed) of "
                          << counters_.commit_ms.sum_ms() / std::max<uint64_t>(1, counters_.commits + counters_.failed_commits)
                          << " ms on average; " << counters_.overlapped
                          << " batches applied while the one before committed";
}

// ---- batches ---------------------------------------------------------------------------------

void Engine::TakeWaiting(std::vector<Inbound>& batch) {
  for (zmq::socket_t* socket : {link_.get(), verified_.get()}) {
    while (socket && static_cast<int>(batch.size()) < options_.batch_max) {
      Inbound frames;
      if (!zmq::recv_multipart(*socket, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (socket == link_.get() && OpOf(frames) == link::Op::kCredit && frames.size() == 3) {
        // Credit changes no ledger state: apply it at once.
        credit_[Str(frames[1])] += static_cast<int>(ParseInt(View(frames[2])).value_or(0));
        continue;
      }
      batch.push_back(std::move(frames));
    }
  }
}

// Waits in ppoll on the sockets' ZMQ_FD, which ZeroMQ signals when a socket's state may have
// changed: each wake-up receives until EAGAIN, which also clears the signal, so a message that
// arrives later signals again. A command or stop (wake_fd_) ends the wait at once.
void Engine::GatherMore(std::vector<Inbound>& batch) {
  const int wanted = std::min(options_.gather_count, options_.batch_max);
  if (options_.gather_window_us <= 0 || static_cast<int>(batch.size()) >= wanted) return;
  std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
  for (zmq::socket_t* socket : {link_.get(), verified_.get()}) {
    int fd = -1;
    size_t size = sizeof fd;
    if (socket && zmq_getsockopt(socket->handle(), ZMQ_FD, &fd, &size) == 0) fds.push_back({fd, POLLIN, 0});
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(options_.gather_window_us);
  ++counters_.gathers;
  while (static_cast<int>(batch.size()) < wanted) {
    if (std::chrono::steady_clock::now() >= until) {
      ++counters_.gathers_timed_out;
      return;
    }
    if (PollUntil(fds.data(), fds.size(), until) > 0 && (fds[0].revents & POLLIN)) return;
    TakeWaiting(batch);
  }
}

void Engine::ProcessBatch(std::vector<Inbound>& batch, bool claim, bool presume) {
  const bool overlap = behind_ && claim && presume && Overlaps(batch);
  if (!overlap) Settle();
  if (overlap) ++counters_.overlapped;
  Outbox out;
  Status status;
  bool presumed = false;
  {
    auto txn = ledger_.Begin();
    if (!txn) {
      status = txn.error();
    } else {
      status = PrefetchBatch(**txn, batch, presume);
      presumed = !presumed_new_.empty();
      dispatching_ = claim && !overlap ? &out : nullptr;  // stages that come up may go out at once
      for (Inbound& item : batch) {
        if (!status.ok()) break;
        status = ApplyItem(**txn, item, out);
        if (!status.ok()) break;
      }
      if (overlap) GatherBehind(**txn, batch, out, status);
      dispatching_ = nullptr;
      if (status.ok() && claim && !overlap) status = ClaimAndBuild(**txn, out);
      if (status.ok()) status = Announce(**txn, out.effects);
      if (overlap && !behind_->txn->AwaitCommit().ok()) {
        // This batch followed a commit that failed: it is dropped, unanswered, and applied
        // again once the batch behind has been through the failed-batch path.
        txn->reset();
        Settle();
        ProcessBatch(batch, claim, presume);
        return;
      }
      Settle();  // the batch behind is answered first
      if (status.ok() && claim && presume && options_.commit_behind && ledger_.CommitsBehind()) {
        behind_ = std::make_unique<Behind>();
        behind_->commit_start = std::chrono::steady_clock::now();
        (*txn)->CommitBehind();
        behind_->txn = std::move(*txn);
        behind_->out = std::move(out);
        behind_->batch = std::move(batch);
        behind_->presumed = presumed;
        return;
      }
      if (status.ok()) {
        const auto commit_start = std::chrono::steady_clock::now();
        status = (*txn)->Commit();
        if (Committed(status, commit_start, out)) return;
      }
    }
  }
  BatchFailed(batch, claim, presumed, status);
}

// Until the commit behind is done, the calls that arrive join the batch applied meanwhile, so
// that its commit, which goes behind next, serves all of them; anything else waits for the next
// batch (deferred_). A command waiting ends the wait.
void Engine::GatherBehind(ledger::Transaction& txn, std::vector<Inbound>& batch, Outbox& out, Status& status) {
  while (status.ok() && deferred_.empty() && !stopping_ && static_cast<int>(batch.size()) < options_.batch_max) {
    const int commit_fd = ledger_.CommitFd();
    if (commit_fd < 0) return;  // settled already, by a statement of this batch
    std::vector<zmq::pollitem_t> items = {{nullptr, commit_fd, ZMQ_POLLIN, 0},
                                          {nullptr, wake_fd_, ZMQ_POLLIN, 0},
                                          {link_->handle(), 0, ZMQ_POLLIN, 0}};
    if (verified_) items.push_back({verified_->handle(), 0, ZMQ_POLLIN, 0});
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    } catch (const zmq::error_t&) {
      return;  // EINTR or worse: the batch goes as it is
    }
    if ((items[0].revents | items[1].revents) & ZMQ_POLLIN) return;
    std::vector<Inbound> more;
    TakeWaiting(more);
    const size_t from = batch.size();
    for (Inbound& item : more) {
      // In the order they came: once one waits, so do those after it.
      if (deferred_.empty() && IsCall(item) && static_cast<int>(batch.size()) < options_.batch_max) {
        batch.push_back(std::move(item));
      } else {
        deferred_.push_back(std::move(item));
      }
    }
    PresumeNew(batch, from);
    for (size_t i = from; i < batch.size() && status.ok(); ++i) status = ApplyItem(txn, batch[i], out);
  }
}

bool Engine::IsCall(const Inbound& item) {
  const link::Op op = OpOf(item);
  return op == link::Op::kCall || op == link::Op::kVerifiedCall;
}

bool Engine::Overlaps(const std::vector<Inbound>& batch) const {
  return !batch.empty() && std::all_of(batch.begin(), batch.end(), IsCall);
}

bool Engine::Settle() {
  if (!behind_) return true;
  std::unique_ptr<Behind> behind = std::move(behind_);
  const Status status = behind->txn->AwaitCommit();
  behind->txn.reset();
  if (Committed(status, behind->commit_start, behind->out)) return true;
  BatchFailed(behind->batch, /*claim=*/true, behind->presumed, status);
  return false;
}

bool Engine::Committed(const Status& status, std::chrono::steady_clock::time_point start, Outbox& out) {
  counters_.commit_ms.Observe(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  ++(status.ok() ? counters_.commits : counters_.failed_commits);
  if (!status.ok()) return false;
  // Committed, and clients are owed answers that have not gone out.
  if (out.replies > 0) CrashPoint("engine.replies_owed");
  Deliver(out);
  return true;
}

void Engine::BatchFailed(std::vector<Inbound>& batch, bool claim, bool presumed, const Status& status) {
  if (presumed) {
    // Most likely a request id already in the ledger (a client's retry): the same batch again,
    // this time looking its submits up.
    TAXHUB_LOG(kWarn, kLog) << "batch of " << batch.size() << " failed (" << status.ToString()
                            << "); again with lookups";
    ProcessBatch(batch, claim, /*presume=*/false);
    return;
  }
  TAXHUB_LOG(kWarn, kLog) << "batch of " << batch.size() << " failed: " << status.ToString();
  if (batch.size() == 1) {
    FailItem(batch[0], status);
    return;
  }
  // Apply each item on its own, so that one bad item fails alone — and without claiming, so
  // that a claim that keeps failing cannot fail every submit and result with it (Dispatch()
  // claims on its own afterwards).
  for (Inbound& item : batch) {
    std::vector<Inbound> single;
    single.push_back(std::move(item));
    ProcessBatch(single, /*claim=*/false, /*presume=*/false);
  }
}

// The requests a batch will look up: its submits' ids, presumed new or looked up together, and
// the requests its results and lost tasks belong to, read together with their stages (on
// PostgreSQL two queries, or none, instead of a few per item).
Status Engine::PrefetchBatch(ledger::Transaction& txn, const std::vector<Inbound>& batch, bool presume) {
  presumed_new_.clear();
  if (!ledger_.PrefetchesRequests()) return Status::Ok();
  if (presume) PresumeNew(batch, 0);
  std::vector<std::string> ids;
  for (const Inbound& item : batch) {
    const link::Op op = OpOf(item);
    if ((op == link::Op::kResult || op == link::Op::kLost) && item.size() >= 2) {
      if (auto parsed = ledger::ParseTaskId(Str(item[1]))) ids.push_back(std::move(parsed->first));
    } else if (!presume) {
      if (std::string id = SubmitId(item); !id.empty()) ids.push_back(std::move(id));
    }
  }
  return ids.size() > 1 ? txn.PrefetchRequests(ids) : Status::Ok();
}

void Engine::PresumeNew(const std::vector<Inbound>& batch, size_t from) {
  if (!ledger_.PrefetchesRequests()) return;
  for (size_t i = from; i < batch.size(); ++i) {
    if (std::string id = SubmitId(batch[i]); !id.empty()) presumed_new_.insert(std::move(id));
  }
}

std::string Engine::SubmitId(const Inbound& item) const {
  if (!IsCall(item) || item.size() < 4 || mdp::View(item[2]) != kSubmitService) return "";
  auto request = wire::Decode<wire::SubmitRequest>(mdp::View(item[3]), options_.limits);
  return request ? std::move(request->request_id) : "";
}

Status Engine::ApplyItem(ledger::Transaction& txn, Inbound& item, Outbox& out) {
  switch (OpOf(item)) {
    case link::Op::kCall:
    case link::Op::kVerifiedCall: return HandleCall(txn, item, out);
    case link::Op::kResult: return HandleResult(txn, item, out);
    case link::Op::kLost: return HandleLost(txn, item, out);
    default:
      TAXHUB_LOG(kError, kLog) << "unexpected link message with " << item.size() << " frames";
      return Status::Ok();
  }
}

// The item could not be committed. A caller gets UNAVAILABLE (nothing was acknowledged); a
// stage result is dropped, and its lease expiring will deliver the stage again.
void Engine::FailItem(Inbound& item, const Status& status) {
  const link::Op op = OpOf(item);
  if ((op == link::Op::kCall && (item.size() == 4 || item.size() == 5)) ||
      (op == link::Op::kVerifiedCall && item.size() == 6)) {
    Status unavailable(ErrorCode::kUnavailable,
                       "the ledger could not record this request; nothing was accepted, retry "
                       "later (" + status.message() + ")");
    link_->send(zmq::buffer(link::OpFrame(link::Op::kReply)), zmq::send_flags::sndmore);
    link_->send(item[1], zmq::send_flags::sndmore);
    link_->send(item[2], zmq::send_flags::sndmore);
    link_->send(zmq::buffer(wire::EncodeErrorReply(unavailable)), zmq::send_flags::none);
  } else {
    TAXHUB_LOG(kError, kLog) << "stage result not recorded: " << status.ToString()
                             << "; the stage will be delivered again when its lease ends";
  }
}

void Engine::Deliver(Outbox& out) {
  for (auto& message : out.messages) zmq::send_multipart(*link_, message);
  for (const auto& [task, token] : out.resolved) {
    auto it = in_flight_.find(task);
    if (it != in_flight_.end() && it->second == token) in_flight_.erase(it);
  }
  for (const auto& [task, token] : out.dispatched) in_flight_[task] = token;
  for (const auto& [service, used] : out.credit_used) credit_[service] -= used;
  counters_.dispatched += out.dispatched.size();
  counters_.dispatched_at_once += out.dispatched_at_once;
  ApplyEffects(out.effects);  // may end an undelivered probe: before this batch's own probes
  for (const auto& service : out.probes) circuits_[service].probing = true;
  quiet_.insert(out.quiet.begin(), out.quiet.end());  // after the effects' newly READY services
}

Status Engine::Announce(ledger::Transaction& txn, const Effects& effects) {
  for (const auto& service : effects.ready_services) {
    TAXHUB_RETURN_IF_ERROR(txn.NotifyReady(service));
  }
  return Status::Ok();
}

void Engine::ApplyEffects(Effects& effects) {
  for (const auto& service : effects.ready_services) quiet_.erase(service);
  const int64_t now = clock_.NowMs();
  for (const auto& [service, healthy] : effects.service_health) ObserveHealth(service, healthy, now);
  // A probe that never reached a worker proves nothing: the next idle worker gets one.
  for (const auto& service : effects.undelivered) {
    if (auto it = circuits_.find(service); it != circuits_.end()) it->second.probing = false;
  }
  route_versions_.insert(effects.route_versions.begin(), effects.route_versions.end());
  for (const auto& [request_id, state] : effects.ended) {
    if (state == RequestState::kCompleted) ++counters_.completed;  // counted once it is committed
  }
  counters_.accepted += effects.accepted;
  counters_.duplicates += effects.duplicates;
  counters_.rejected_input += effects.rejected_input;
  counters_.stale_results += effects.stale_results;
  for (const auto& [stage, ms] : effects.stage_ms) counters_.ObserveStage(stage, ms);
  for (const auto& note : effects.notes) TAXHUB_LOG(kInfo, kLog) << note;
}

// ---- stage results ---------------------------------------------------------------------------

Status Engine::LiveStage(ledger::Transaction& txn, const std::string& task_id, int64_t token,
                         std::vector<StageRecord>& stages, int& index, Effects& effects) {
  index = -1;
  auto parsed = ledger::ParseTaskId(task_id);
  if (!parsed) {
    TAXHUB_LOG(kWarn, kLog) << "result for malformed task id " << task_id << " refused";
    return Status::Ok();
  }
  auto loaded = txn.GetStages(parsed->first);
  if (!loaded) return loaded.error();
  stages = std::move(*loaded);
  if (parsed->second >= static_cast<int>(stages.size())) {
    TAXHUB_LOG(kWarn, kLog) << "result for unknown task " << task_id << " refused";
    return Status::Ok();
  }
  const StageRecord& stage = stages[parsed->second];
  if (stage.state != StageState::kDispatched || stage.token != token) {
    ++effects.stale_results;
    std::string why = "stale result refused: token " + std::to_string(token) + ", live token " +
                      std::to_string(stage.token) + ", stage " +
                      std::string(ledger::ToString(stage.state));
    TAXHUB_LOG(kWarn, kLog) << task_id << " " << why;
    return Record(txn, stage.request_id, stage.index, "result.refused", clock_.NowMs(), why);
  }
  index = parsed->second;
  return Status::Ok();
}

Status Engine::Resolve(ledger::Transaction& txn, const std::string& task_id, int64_t token,
                       const Outcome& outcome, Effects& effects) {
  std::vector<StageRecord> stages;
  int index = -1;
  TAXHUB_RETURN_IF_ERROR(LiveStage(txn, task_id, token, stages, index, effects));
  if (index < 0) return Status::Ok();
  const std::string request_id = stages[index].request_id;
  AttributesLoader attributes = [&]() -> Result<StringMap> {
    auto request = txn.GetRequest(request_id);
    if (!request) return Error(request.error());
    if (!request->has_value()) return Error(ErrorCode::kInternal, "request " + request_id + " vanished");
    return (*request)->attributes;
  };
  const std::string service = stages[index].service;
  const size_t ended_before = effects.ended.size();
  if (!service.empty() && outcome.kind != Outcome::Kind::kUndelivered && stages[index].lease_until_ms > 0) {
    const int64_t sent_at = stages[index].lease_until_ms - stages[index].attempt_timeout_ms;
    effects.stage_ms.emplace_back(stages[index].name, static_cast<double>(std::max<int64_t>(0, clock_.NowMs() - sent_at)));
  }
  const DispatchNow dispatch = [&](std::vector<StageRecord>& all, size_t i) {
    return HandOver(txn, all, i, nullptr, effects);
  };
  TAXHUB_RETURN_IF_ERROR(
      ApplyOutcome(txn, stages, index, outcome, attributes, clock_.NowMs(), effects, &dispatch));
  if (!service.empty()) {
    if (outcome.kind == Outcome::Kind::kUndelivered) {
      effects.undelivered.insert(service);
    } else {
      effects.service_health[service] =
          outcome.kind != Outcome::Kind::kRetry && outcome.kind != Outcome::Kind::kUnavailable;
    }
  }
  // What the outcome means for the taxpayer's obligations and risk figures, in the same
  // transaction; the request is read only when something needs it.
  const bool ended = effects.ended.size() > ended_before;
  const bool reported = outcome.kind == Outcome::Kind::kSucceeded;
  const bool obligations =
      reported && (outcome.outputs.contains("obligations") || outcome.outputs.contains("obligations_met"));
  const bool figures = reported && std::any_of(risk_outputs_.begin(), risk_outputs_.end(), [&](const std::string& o) {
                         return outcome.outputs.contains(o);
                       });
  if (!ended && !obligations && !figures) return Status::Ok();
  auto request = txn.ShareRequest(request_id);
  if (!request) return request.error();
  if (!*request) return Status::Ok();
  const ledger::RequestRecord& r = **request;
  if (obligations) TAXHUB_RETURN_IF_ERROR(TakeObligations(txn, r, outcome.outputs));
  if (figures) TAXHUB_RETURN_IF_ERROR(RecordFigures(txn, r, outcome.outputs));
  if (ended) {
    const RequestState state = effects.ended.back().second;
    if (state == RequestState::kCompleted) TAXHUB_RETURN_IF_ERROR(MeetObligations(txn, r));
    if (state == RequestState::kRejected) TAXHUB_RETURN_IF_ERROR(CheckRejections(txn, r));
  }
  return Status::Ok();
}

Status Engine::HandleResult(ledger::Transaction& txn, Inbound& item, Outbox& out) {
  if (item.size() != 5) return Status::Ok();
  const std::string task_id = Str(item[1]);
  const int64_t token = ParseInt(View(item[2])).value_or(-1);
  out.resolved.emplace_back(task_id, token);
  Outcome outcome;
  outcome.handler = "worker:" + mdp::IdentityForLog(View(item[3]));
  auto result = wire::Decode<wire::StageResult>(View(item[4]), options_.limits);
  Status valid = result ? ValidateResultFor(*result, task_id, token) : result.error();
  if (!valid.ok()) {
    // A result the hub cannot read counts as a failed attempt, recorded with the reason.
    outcome.kind = Outcome::Kind::kRetry;
    outcome.code = "BAD_RESULT";
    outcome.message = valid.ToString();
    TAXHUB_LOG(kWarn, kLog) << task_id << ": bad result from " << outcome.handler << ": "
                            << valid.ToString();
  } else {
    switch (result->outcome) {
      case wire::StageOutcome::SUCCEEDED: outcome.kind = Outcome::Kind::kSucceeded; break;
      case wire::StageOutcome::REJECTED: outcome.kind = Outcome::Kind::kRejected; break;
      case wire::StageOutcome::UNAVAILABLE: outcome.kind = Outcome::Kind::kUnavailable; break;
      default: outcome.kind = Outcome::Kind::kRetry; break;
    }
    if (!result->handler.empty()) outcome.handler = result->handler;
    outcome.code = result->code;
    outcome.message = result->message;
    outcome.outputs = result->outputs;
  }
  return Resolve(txn, task_id, token, outcome, out.effects);
}

Status Engine::HandleLost(ledger::Transaction& txn, Inbound& item, Outbox& out) {
  if (item.size() != 4) return Status::Ok();
  const std::string task_id = Str(item[1]);
  const int64_t token = ParseInt(View(item[2])).value_or(-1);
  out.resolved.emplace_back(task_id, token);
  Outcome outcome;
  if (View(item[3]) == link::kUndelivered) {
    outcome.kind = Outcome::Kind::kUndelivered;
    outcome.message = "no idle worker when the task was handed over";
  } else {
    outcome.kind = Outcome::Kind::kRetry;
    outcome.code = "WORKER_LOST";
    outcome.message = "the worker went away during the task";
  }
  return Resolve(txn, task_id, token, outcome, out.effects);
}

// ---- dispatch --------------------------------------------------------------------------------

int Engine::CircuitAllows(const std::string& service, int credit, int64_t now, bool& probe) {
  probe = false;
  auto it = circuits_.find(service);
  if (it == circuits_.end() || !it->second.open) return credit;
  Circuit& circuit = it->second;
  if (now < circuit.open_until_ms || circuit.probing) return 0;
  probe = true;  // half-open: one probe
  return std::min(credit, 1);
}

void Engine::ObserveHealth(const std::string& service, bool healthy, int64_t now) {
  Circuit& circuit = circuits_[service];
  if (healthy) {
    if (circuit.open) {
      TAXHUB_LOG(kWarn, kLog) << "circuit for " << service << " closed: probe succeeded";
    }
    circuit = Circuit{};
    return;
  }
  ++circuit.failures;
  const routing::CircuitRule rule = routes_.Get()->CircuitFor(service);
  if (circuit.open || circuit.failures >= rule.failures) {
    if (!circuit.open) ++counters_.circuits_opened;
    circuit.open = true;
    circuit.probing = false;
    circuit.open_until_ms = now + rule.open_ms;
    TAXHUB_LOG(kWarn, kLog) << "circuit for " << service << " open after " << circuit.failures
                            << " consecutive failures; work waits in the ledger for "
                            << rule.open_ms << " ms, then one probe";
  }
}

// Claims for idle workers with no batch to ride along (credit arrived, a retry came due): a
// transaction of its own.
void Engine::Dispatch() {
  if (draining_) return;
  auto wanted = [&] {
    for (const auto& [service, credit] : credit_) {
      if (credit > 0 && !quiet_.contains(service)) return true;
    }
    return false;
  };
  if (!wanted()) return;
  if (behind_) {
    Settle();  // its answers and dispatches change what is wanted
    if (!wanted()) return;
  }
  Outbox out;
  auto txn = ledger_.Begin();
  Status status = txn ? ClaimAndBuild(**txn, out) : txn.error();
  if (status.ok()) status = (*txn)->Commit();
  if (!status.ok()) {
    TAXHUB_LOG(kWarn, kLog) << "dispatch failed: " << status.ToString();
    return;
  }
  Deliver(out);
}

// Claims READY stages for the idle workers the broker reported, in `txn`, and builds their
// tasks into `out`; nothing in memory changes until Deliver(), after the commit. A batch claims
// in its own transaction, so that a stage its results made READY goes out in the same commit.
Status Engine::ClaimAndBuild(ledger::Transaction& txn, Outbox& out) {
  if (draining_) return Status::Ok();
  const int64_t now = clock_.NowMs();
  for (const auto& entry : credit_) {
    const std::string& service = entry.first;
    const int idle = FreeWorkers(service, out, out.effects);
    if (idle <= 0) continue;
    if (quiet_.contains(service) && !out.effects.ready_services.contains(service)) continue;
    bool probe = false;
    const int allowed = CircuitAllows(service, idle, now, probe);
    if (allowed <= 0) continue;
    auto claimed = txn.ClaimReady(service, allowed, now, options_.hub_id);
    if (!claimed) return claimed.error();
    if (static_cast<int>(claimed->size()) < allowed) out.quiet.insert(service);
    if (!claimed->empty() && probe) out.probes.insert(service);
    if (ledger_.PrefetchesRequests() && claimed->size() > 1) {  // the tasks' requests, read together
      std::vector<std::string> ids;
      for (const StageRecord& stage : *claimed) ids.push_back(stage.request_id);
      TAXHUB_RETURN_IF_ERROR(txn.PrefetchRequests(ids));
    }
    for (const StageRecord& stage : *claimed) {
      auto request = txn.ShareRequest(stage.request_id);
      if (!request) return request.error();
      if (!*request) {
        return Status(ErrorCode::kInternal, "stage " + stage.task_id() + " has no request row");
      }
      // The first stage sees no other stage's outputs: its siblings need not be read.
      StringMap inputs;
      if (stage.index > 0) {
        auto stages = txn.ShareStages(stage.request_id);
        if (!stages) return stages.error();
        inputs = StageInputs(**stages, stage.index);
      }
      TAXHUB_RETURN_IF_ERROR(BuildTask(txn, stage, **request, std::move(inputs), now, out));
    }
  }
  return Status::Ok();
}

int Engine::FreeWorkers(const std::string& service, Outbox& out, const Effects& effects) {
  auto credit = credit_.find(service);
  if (credit == credit_.end()) return 0;
  if (auto h = effects.service_health.find(service); h != effects.service_health.end() && !h->second) return 0;
  return credit->second - out.credit_used[service];
}

// Claims take READY stages oldest first; a stage handed over as it comes up skips that queue,
// so it is handed over only when nothing older waits. quiet_ says the last claim found nothing
// due; it is renewed at every tick, so a delayed retry that comes due between ticks may be passed
// by stages that come up before the next one (engine.tick_ms at most), as other hubs' READY work
// may until their notice arrives.
Result<bool> Engine::HandOver(ledger::Transaction& txn, std::vector<StageRecord>& stages, size_t index,
                              const RequestRecord* request, const Effects& effects) {
  if (!dispatching_ || draining_) return false;
  Outbox& out = *dispatching_;
  StageRecord& stage = stages[index];
  const std::string& service = stage.service;
  if (!quiet_.contains(service) || effects.ready_services.contains(service)) return false;
  if (FreeWorkers(service, out, effects) <= 0) return false;
  // After a failed delivery, whether the circuit is closed, open or half-open, the service's
  // work goes through claims, which send a half-open circuit's one probe.
  if (auto c = circuits_.find(service); c != circuits_.end() && c->second.failures > 0) return false;
  std::shared_ptr<const RequestRecord> shared;
  if (!request) {
    auto read = txn.ShareRequest(stage.request_id);
    if (!read) return Error(read.error());
    if (!*read) return Error(ErrorCode::kInternal, "stage " + stage.task_id() + " has no request row");
    shared = std::move(*read);
    request = shared.get();
  }
  const int64_t now = clock_.NowMs();
  stage.Lease(now, options_.hub_id);
  if (Status queued = BuildTask(txn, stage, *request, StageInputs(stages, index), now, out); !queued.ok()) {
    return Error(queued);
  }
  ++out.dispatched_at_once;
  return true;
}

Status Engine::BuildTask(ledger::Transaction& txn, const StageRecord& stage, const RequestRecord& request,
                         StringMap inputs, int64_t now, Outbox& out) {
  const std::string& service = stage.service;
  wire::StageTask task;
  task.task_id = stage.task_id();
  task.request_id = stage.request_id;
  task.stage = stage.name;
  task.attempt = stage.attempt;
  task.fencing_token = stage.token;
  task.kind = request.kind;
  task.taxpayer_id = request.taxpayer_id;
  task.attributes = request.attributes;
  task.payload = request.body;
  task.deadline_ms = stage.deadline_ms;
  task.accepted_at_ms = request.accepted_at_ms;
  task.inputs = std::move(inputs);
  TAXHUB_RETURN_IF_ERROR(Record(txn, stage.request_id, stage.index, "stage.dispatched", now,
                                "attempt " + std::to_string(stage.attempt) + " to " + service));
  out.messages.push_back(MakeFrames({link::OpFrame(link::Op::kDispatch), service, task.task_id,
                                     std::to_string(stage.token), wire::Encode(task)}));
  out.dispatched.emplace_back(task.task_id, stage.token);
  ++out.credit_used[service];
  out.effects.Note([&] { return task.task_id + " " + stage.name + " -> " + service +
                              " (attempt " + std::to_string(stage.attempt) + ")"; });
  return Status::Ok();
}

// ---- timers ----------------------------------------------------------------------------------

std::map<std::string, CircuitView> Engine::Circuits() const {
  std::lock_guard<std::mutex> lock(circuits_view_mutex_);
  return circuits_view_;
}

void Engine::Tick() {
  Settle();  // circuits, leases and maintenance as of the last commit
  const int64_t now = clock_.NowMs();
  next_tick_ms_ = now + options_.tick_ms;
  {
    std::map<std::string, CircuitView> view;
    for (const auto& [service, c] : circuits_) {
      view[service] = {c.open ? (now >= c.open_until_ms || c.probing ? "half-open" : "open") : "closed", c.failures,
                       c.open_until_ms};
    }
    std::lock_guard<std::mutex> lock(circuits_view_mutex_);
    circuits_view_ = std::move(view);
  }
  if (options_.reminder_interval_ms > 0 && now >= next_reminders_ms_) {
    next_reminders_ms_ = now + options_.reminder_interval_ms;
    SendReminders();
  }
  if (now >= next_maintenance_ms_) {
    next_maintenance_ms_ = now + 6 * 3'600'000;
    if (Status maintained = ledger_.Maintain(); !maintained.ok()) {
      TAXHUB_LOG(kWarn, kLog) << "ledger maintenance: " << maintained.ToString();
    }
  }
  quiet_.clear();  // delayed retries may have come due
  // Overdue stages and lapsed leases, in one transaction (committed only if either is found).
  Outbox out;
  auto txn = ledger_.Begin();
  if (!txn) return;
  auto overdue = ReportOverdueStages(**txn, now);
  if (!overdue) {
    // Lapsed leases must not wait on the overdue report: on in a transaction of their own.
    TAXHUB_LOG(kWarn, kLog) << "overdue stages not reported: " << overdue.error().ToString();
    txn->reset();  // rolled back before the next Begin()
    txn = ledger_.Begin();
    if (!txn) return;
    overdue = 0;
  }
  auto expired = (*txn)->ExpiredLeases(now, 256);
  if (!expired || (*overdue == 0 && expired->empty())) return;
  Outcome outcome;
  outcome.kind = Outcome::Kind::kRetry;
  outcome.code = "LEASE_EXPIRED";
  outcome.message = "no result within the attempt timeout";
  for (const StageRecord& lapsed : *expired) {
    out.resolved.emplace_back(lapsed.task_id(), lapsed.token);
    if (!Resolve(**txn, lapsed.task_id(), lapsed.token, outcome, out.effects).ok()) return;
  }
  if (*overdue > 0) out.effects.Note([&] { return std::to_string(*overdue) + " stages overdue"; });
  if (Announce(**txn, out.effects).ok() && (*txn)->Commit().ok()) Deliver(out);
}

Result<int> Engine::ReportOverdueStages(ledger::Transaction& txn, int64_t now) {
  auto late = txn.OverdueStages(now, 256);
  if (!late) return Error(late.error());
  int reported = 0;
  for (const StageRecord& s : *late) {
    auto claimed = txn.MarkOverdue(s.request_id, s.index, now);
    if (!claimed) return Error(claimed.error());
    if (!*claimed) continue;
    // For managers and the dashboard: where the request waits, and who holds it.
    const StringMap detail = {{"stage", s.name},          {"label", s.label},
                              {"queue", s.queue},         {"service", s.service},
                              {"handler", s.handler},     {"state", std::string(ledger::ToString(s.state))},
                              {"deadline_ms", std::to_string(s.deadline_ms)},
                              {"late_ms", std::to_string(now - s.deadline_ms)}};
    TAXHUB_RETURN_IF_ERROR(Record(txn, s.request_id, s.index, "stage.overdue", now, EncodeJsonMap(detail)));
    ++reported;
  }
  return reported;
}

void Engine::WriteCheckpoint() {
  next_checkpoint_ms_ = clock_.NowMs() + options_.checkpoint_interval_ms;
  auto txn = BeginSettled();
  if (!txn) return;
  const ledger::ChainHead head = (*txn)->Head();
  if (head.seq == 0 || head.seq == checkpointed_seq_) return;
  auto signature =
      options_.checkpoint_key->Sign(ledger::CheckpointStatement(options_.hub_id, head.seq, head.hash));
  if (!signature) {
    TAXHUB_LOG(kError, kLog) << "cannot sign a checkpoint: " << signature.error().ToString();
    return;
  }
  ledger::CheckpointRecord checkpoint{options_.hub_id, head.seq, head.hash, clock_.NowMs(),
                                      *signature, options_.checkpoint_certificate};
  if ((*txn)->AppendCheckpoint(checkpoint).ok() && (*txn)->Commit().ok()) {
    checkpointed_seq_ = head.seq;
    TAXHUB_LOG(kDebug, kLog) << "checkpoint at " << options_.hub_id << "#" << head.seq;
  }
}

// ---- commands from other threads -------------------------------------------------------------

Status Engine::RunCommand(std::function<Status(ledger::Transaction&, Effects&)> work) {
  auto command = std::make_shared<Command>();
  command->work = std::move(work);
  std::future<Status> done = command->done.get_future();
  {
    std::lock_guard<std::mutex> lock(commands_mutex_);
    if (!running_) return Status(ErrorCode::kUnavailable, "the engine is not running");
    commands_.push_back(command);
  }
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
    // The engine also looks at its commands on every tick.
  }
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    std::unique_lock<std::mutex> lock(command->mutex);
    if (!command->started) {
      command->abandoned = true;  // the engine will skip it: nothing was done
      return Status(ErrorCode::kTimeout, "the engine did not run the command within 30 s; nothing was done");
    }
  }
  return done.get();
}

void Engine::ProcessCommands() {
  uint64_t count;
  if (read(wake_fd_, &count, sizeof count) < 0) count = 0;
  std::deque<std::shared_ptr<Command>> commands;
  {
    std::lock_guard<std::mutex> lock(commands_mutex_);
    commands.swap(commands_);
  }
  for (auto& command : commands) {
    {
      std::lock_guard<std::mutex> lock(command->mutex);
      if (command->abandoned) continue;
      command->started = true;
    }
    if (!running_) {
      command->done.set_value(Status(ErrorCode::kUnavailable, "the engine stopped"));
      continue;
    }
    Effects effects;
    auto txn = BeginSettled();
    Status status = txn ? command->work(**txn, effects) : txn.error();
    if (status.ok()) status = Announce(**txn, effects);
    if (status.ok()) status = (*txn)->Commit();
    if (status.ok()) ApplyEffects(effects);
    command->done.set_value(status);
  }
}

std::string Engine::NewRequestId() {
  return "R" + std::to_string(clock_.NowMs()) + "-" + options_.hub_id + "-" +
         std::to_string(++id_sequence_);
}

}  // namespace taxhub::workflow
