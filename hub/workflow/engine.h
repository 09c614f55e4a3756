// The engine: the hub's single ledger writer. It serves the hub's own MDP services
// (taxhub.submit, taxhub.progress), plans requests with the route table in force, hands READY
// adapter stages to the broker as stage tasks, and records their results.
//
// Group commit: each wake, the engine takes every message waiting on the link (up to
// batch_max), applies them all in one ledger transaction, commits once, and only then sends the
// replies. A submit is thus acknowledged only after its commit, and concurrent submits share one
// fsync. With a gather window, a batch first waits (at most the window) for gather_count
// messages: for a hall with a known number of requests in flight, on a ledger whose commit
// costs more than that wait. If one item fails inside a batch, the batch is rolled back and its
// items are applied one transaction each, so that one bad item cannot take the others down with
// it. On a ledger that commits behind (PostgreSQL, engine.commit_behind), a batch's commit runs
// on the ledger's own thread while the calls that arrive meanwhile are applied in the next
// transaction; the first batch is answered once its commit is done, and if it failed, the
// batch applied over it is applied again.
//
// Dispatch is pulled by credit: the broker reports idle workers per service, and the engine
// claims at most that many READY stages from the ledger. Work for a service with no free worker,
// or whose circuit is open, stays in the ledger, not in memory. A stage that comes up while its
// service has an idle worker and nothing older waiting goes out at once instead: written as
// DISPATCHED in the transaction that brought it up, with no READY row to claim.
//
// Circuit breaker, per service: after the route table's `failures` consecutive failed
// deliveries (RETRY answers, bad results, lost workers, lapsed leases) the circuit opens for
// `open_for`; then one probe task goes out; its success closes the circuit, its failure opens
// it again. Definitive answers (SUCCEEDED, REJECTED) count as healthy.
//
// The public calls below (dead letters, replay, staff tasks, route versions) are thread-safe:
// each runs on the engine thread in a transaction of its own, so the engine stays the only
// writer, and returns once that transaction has committed.
//
// Threading: Bind() and Recover() on any thread before Run(); Run() on the engine's own thread,
// which owns the link socket and uses the ledger exclusively from then on.
#ifndef TAXHUB_HUB_WORKFLOW_ENGINE_H_
#define TAXHUB_HUB_WORKFLOW_ENGINE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "hub/base/clock.h"
#include "hub/base/status.h"
#include "hub/broker/mdp.h"
#include "hub/ledger/ledger.h"
#include "hub/obligations/calendar.h"
#include "hub/obligations/risk.h"
#include "hub/security/crypto.h"
#include "hub/security/curve_auth.h"
#include "hub/wire/codec.h"
#include "hub/workflow/transitions.h"
#include "routing/route_table.h"

namespace taxhub::workflow {

inline constexpr const char* kSubmitService = "taxhub.submit";
inline constexpr const char* kProgressService = "taxhub.progress";
inline constexpr const char* kReportService = "taxhub.report";
inline constexpr const char* kEventsService = "taxhub.events";
inline constexpr const char* kRateService = "taxhub.rate";
inline constexpr const char* kComplainService = "taxhub.complain";
inline constexpr const char* kItemsService = "taxhub.items";

// A policy notice for "my tax area", shown to the taxpayers it targets while it is current.
struct PolicyNotice {
  std::string name;
  std::string title;
  std::string text;
  std::set<std::string> taxpayer_types;  // empty: every type
  std::set<std::string> industries;      // industry code prefixes; empty: every industry
  int64_t from_ms = 0;
  int64_t until_ms = 0;                  // 0: no end
};

struct EngineOptions {
  std::string hub_id = "hub-1";
  // With CURVE: the listed peers; a taxhub.report then counts only from an adapter given the
  // reported task's service (the broker passes the caller's name with each call).
  std::shared_ptr<const security::CurveAllowList> peers;
  int batch_max = 512;
  // Group commit's wait: a batch whose first messages have arrived waits up to gather_window_us
  // for more, until it holds gather_count (at most batch_max), so that one commit serves them
  // all. Every message counts (submits, progress queries, results), and every batch waits: worth
  // it when a commit costs much more than the wait and the hall keeps at least gather_count
  // requests in flight; otherwise each batch waits out the window. 0: no wait.
  int64_t gather_window_us = 0;
  int gather_count = 16;
  // Where the ledger commits behind (PostgreSQL), the next batch of calls is applied while the
  // batch before it commits, and answered after it; see ProcessBatch().
  bool commit_behind = true;
  int64_t tick_ms = 250;          // lease expiry and delayed-retry checks
  int64_t drain_timeout_ms = 5000;
  wire::CodecLimits limits;
  // Where verified submits arrive from the signature verification pool (PULL, bound here);
  // empty when the hub verifies no signatures.
  std::string verified_endpoint;
  // Signed checkpoints of the hub's event chain: every interval while it grows, and at stop.
  std::shared_ptr<const security::PrivateKey> checkpoint_key;  // null: no checkpoints
  std::string checkpoint_certificate;                           // DER
  int64_t checkpoint_interval_ms = 60'000;
  // Obligations (reminders.cc): an adapter stage may output `obligations`, a JSON list of
  // {kind, period, due_date?}, and `obligations_met` ({kind, period}: done by this stage, kept
  // as met if nothing was owed yet); a completed request of that kind meets the one owed for
  // its period.
  // Every interval, open obligations due within `reminder_days_before` days get a
  // reminder.due event, past their date a reminder.overdue event — once each, ever.
  int reminder_days_before = 2;
  int64_t reminder_interval_ms = 60'000;  // 0: no reminders
  std::shared_ptr<const obligations::WorkCalendar> calendar;  // due dates of monthly returns
  std::vector<PolicyNotice> notices;                          // for taxhub.items
  // Risk rules (risk.h, workflow/risk.cc): evaluated when a stage reports a figure they watch
  // or a request is rejected; each alert is raised once (alert.raised, and in taxhub.items).
  std::vector<obligations::RiskRule> risk_rules;
};

// The period ("2026-10") a request is about: its attribute, else the body's top-level field.
std::string PeriodOf(const ledger::RequestRecord& request);
// "202610" -> "2026-10"; anything else as it is.
std::string NormalPeriod(const std::string& period);

// The digest that says "same request": kind, taxpayer, attributes and body, not the signature
// (ECDSA signatures differ each time the same body is signed).
std::string RequestFingerprint(const std::string& kind, const std::string& taxpayer_id,
                               const StringMap& attributes, const std::string& body);

// What the verification pool established about a submit's signature.
struct Verification {
  int64_t verified_at_ms = 0;  // 0: the submit was unsigned
  std::string signer;          // the certificate's subject
};

// A latency histogram for /metrics: cumulative-able buckets in milliseconds, lock-free.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> kBoundsMs = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000};
  void Observe(double ms) {
    size_t i = 0;
    while (i < kBoundsMs.size() && ms > kBoundsMs[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<uint64_t>(ms * 1000), std::memory_order_relaxed);
  }
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }  // i == size: +Inf
  double sum_ms() const { return static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1000; }

 private:
  std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
};

struct EngineCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected_input{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> dispatched{0};
  std::atomic<uint64_t> dispatched_at_once{0};  // of which as they came up, without a claim
  std::atomic<uint64_t> stale_results{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> failed_commits{0};
  std::atomic<uint64_t> circuits_opened{0};
  std::atomic<uint64_t> gathers{0};            // batches that waited for more (gather_window)
  std::atomic<uint64_t> gathers_timed_out{0};  // … and went with fewer than gather_count
  std::atomic<uint64_t> overlapped{0};  // batches applied while the batch before them committed
  LatencyHistogram commit_ms;  // ledger commits of the engine's batches
  // Adapter stages, delivery to result, by stage name ("file", "pay" …).
  void ObserveStage(const std::string& stage, double ms) {
    std::lock_guard<std::mutex> lock(stage_mutex_);
    auto& h = stage_ms_[stage];
    if (!h) h = std::make_unique<LatencyHistogram>();
    h->Observe(ms);
  }
  template <typename F>
  void ForEachStage(F&& visit) const {
    std::lock_guard<std::mutex> lock(stage_mutex_);
    for (const auto& [stage, h] : stage_ms_) visit(stage, *h);
  }

 private:
  mutable std::mutex stage_mutex_;
  std::map<std::string, std::unique_ptr<LatencyHistogram>> stage_ms_;
};

// A service's circuit breaker as the admin endpoint shows it.
struct CircuitView {
  std::string state;  // closed | open | half-open
  int failures = 0;   // consecutive
  int64_t open_until_ms = 0;
};

// A request that ended FAILED: its attempts at one stage are used up.
struct DeadLetter {
  std::string request_id;
  std::string kind;
  std::string taxpayer_id;
  std::string route;
  int stage_index = -1;
  std::string stage;
  std::string service;
  int attempts = 0;
  std::string code;
  std::string message;
  int64_t failed_at_ms = 0;
};

// A human stage in a staff queue.
struct QueueTask {
  std::string task_id;
  std::string request_id;
  std::string kind;
  std::string taxpayer_id;
  std::string queue;
  std::string stage;
  std::string label;
  double difficulty = 1.0;
  std::string claimed_by;  // "" while unclaimed
  int64_t ready_at_ms = 0;
  int64_t deadline_ms = 0;
  bool overdue = false;    // past its time limit (办结时限)
};

// A staff member's decision on a task: approve it, reject the application (with a reason), or
// return it to the taxpayer for correction (with what to correct).
enum class Decision { kApprove, kReject, kReturn };

class Engine {
 public:
  Engine(zmq::context_t& context, std::string link_endpoint, ledger::Ledger& ledger,
         const routing::RouteTableHolder& routes, const Clock& clock, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The service names the broker must forward to this engine.
  static std::set<std::string> Services() { return {kSubmitService, kProgressService, kReportService, kEventsService, kRateService,
            kComplainService, kItemsService};
  }

  // Binds the link socket; the broker connects to it afterwards.
  Status Bind();
  // Takes back the stage leases a previous run of this hub left behind.
  Status Recover();
  // The engine loop; returns after Stop(), or after BeginDrain() once no task is out.
  void Run();
  void BeginDrain() { draining_ = true; }
  void Stop() { stopping_ = true; }

  // ---- thread-safe service calls ----------------------------------------------------------
  // Records a route table (its text, for audit) and returns its version.
  // With `by`, a routes.reloaded event names who loaded it.
  Result<int64_t> RecordRoutes(const routing::RouteTable& table, const std::string& by = "");
  // FAILED requests, oldest first, after request id `after`.
  Result<std::vector<DeadLetter>> DeadLetters(int limit, const std::string& after = "");
  // Sends a dead letter's failed stage out again with fresh attempts. The task keeps its
  // identity (task id; fencing tokens keep increasing) so that legacy-side idempotency holds.
  Status Replay(const std::string& request_id, const std::string& user);
  // Gives a dead letter up: the request ends REJECTED with `reason`, told to the taxpayer in its
  // progress; request.discarded names the user.
  Status Discard(const std::string& request_id, const std::string& user, const std::string& reason);
  // Staff queue tasks, oldest first; claimed ones included.
  Result<std::vector<QueueTask>> QueueTasks(const std::string& queue, int limit);
  // The first claim wins; a later one gets TAKEN.
  Status ClaimTask(const std::string& task_id, const std::string& staff);
  Status CompleteTask(const std::string& task_id, const std::string& staff, Decision decision,
                      const std::string& reason);
  // A manager gives a waiting task to `staff`, or takes a claimed one from its holder and gives
  // it to `staff` ("allocation dispatching").
  Status AssignTask(const std::string& task_id, const std::string& manager,
                    const std::string& staff);

  const EngineCounters& counters() const { return counters_; }
  // Every service's circuit as of the last tick; safe from any thread.
  std::map<std::string, CircuitView> Circuits() const;

 private:
  struct Outbox {
    std::vector<mdp::Frames> messages;  // to the broker, once committed
    int replies = 0;                    // of which answers to clients
    Effects effects;
    std::vector<std::pair<std::string, int64_t>> resolved;  // deliveries (task, token) answered
    std::set<std::string> probes;       // services whose half-open circuit sent its probe
    // Stage tasks claimed or handed over for dispatch: idle workers used per service, (task,
    // token) sent, and the services with nothing READY left.
    std::map<std::string, int> credit_used;
    std::vector<std::pair<std::string, int64_t>> dispatched;
    int dispatched_at_once = 0;         // of which handed over as they came up (HandOver)
    std::set<std::string> quiet;
  };
  // A caller that gives up waiting abandons its command if the engine has not started it; once
  // started, the caller waits for it to finish, since `work` may refer to the caller's data.
  struct Command {
    std::function<Status(ledger::Transaction&, Effects&)> work;
    std::promise<Status> done;
    std::mutex mutex;
    bool started = false;
    bool abandoned = false;
  };
  struct Circuit {
    int failures = 0;
    bool open = false;
    int64_t open_until_ms = 0;
    bool probing = false;
  };
  using Inbound = mdp::Frames;
  // A batch whose commit is under way behind the engine (Ledger::CommitsBehind()): answered,
  // and its effects applied, once the commit is done (Settle()).
  struct Behind {
    std::unique_ptr<ledger::Transaction> txn;
    Outbox out;
    std::vector<Inbound> batch;
    bool presumed = false;
    std::chrono::steady_clock::time_point commit_start;
  };

  // Applies `batch` in one transaction and, with `claim`, dispatches in it too.
  // `presume`: where a lookup is a round trip (PostgreSQL), the batch's submits are presumed new
  // (presumed_new_): if one is not, the batch fails — on the primary key at commit, or in
  // Submit() — and is applied again with its submits looked up.
  // Where the ledger commits behind, a first attempt (claim and presume) leaves its commit
  // behind (behind_) and returns; a batch of calls only is applied while the one behind
  // commits (Overlaps()), without claiming or handing stages over, since those depend on what
  // the batch behind changes in memory once committed.
  void ProcessBatch(std::vector<Inbound>& batch, bool claim = true, bool presume = true);
  // Whether `batch` may be applied while the batch behind commits: calls only.
  bool Overlaps(const std::vector<Inbound>& batch) const;
  // Waits for the batch behind, if any, and answers it; or, if its commit failed, takes it
  // through BatchFailed(). False when it failed.
  bool Settle();
  // A transaction once nothing is behind.
  Result<std::unique_ptr<ledger::Transaction>> BeginSettled() {
    Settle();
    return ledger_.Begin();
  }
  // After a batch's commit: counts it and, if it committed, answers the batch (Deliver()).
  bool Committed(const Status& status, std::chrono::steady_clock::time_point start, Outbox& out);
  // The batch could not be committed: again with lookups (if its submits were presumed new), or
  // item by item.
  void BatchFailed(std::vector<Inbound>& batch, bool claim, bool presumed, const Status& status);
  // The messages waiting on the link and from the verify pool, up to batch_max.
  void TakeWaiting(std::vector<Inbound>& batch);
  // More of them, waited for as the gather options say; a command or stop ends the wait.
  void GatherMore(std::vector<Inbound>& batch);
  Status ApplyItem(ledger::Transaction& txn, Inbound& item, Outbox& out);
  Status PrefetchBatch(ledger::Transaction& txn, const std::vector<Inbound>& batch, bool presume);
  // Adds the request ids of batch[from…]'s submits to presumed_new_ (where a lookup costs).
  void PresumeNew(const std::vector<Inbound>& batch, size_t from);
  // The request id a submit call names, or "".
  std::string SubmitId(const Inbound& item) const;
  static bool IsCall(const Inbound& item);
  // Applies to `txn` the calls that arrive while the batch behind commits (see ProcessBatch()).
  void GatherBehind(ledger::Transaction& txn, std::vector<Inbound>& batch, Outbox& out, Status& status);
  void FailItem(Inbound& item, const Status& status);
  void Deliver(Outbox& out);
  void ApplyEffects(Effects& effects);
  // Before a commit: tells the other hubs on the ledger which services now have READY work.
  Status Announce(ledger::Transaction& txn, const Effects& effects);

  Status HandleCall(ledger::Transaction& txn, Inbound& item, Outbox& out);
  Status Submit(ledger::Transaction& txn, std::string_view body,
                const Verification* verification, wire::SubmitReply& reply, Effects& effects);
  // A corrected submit for a request staff returned: new content, the returned stage again.
  Status Correct(ledger::Transaction& txn, ledger::RequestRecord stored,
                 wire::SubmitRequest& request, const std::string& fingerprint,
                 const Verification* verification, wire::SubmitReply& reply, Effects& effects);
  Status Progress(ledger::Transaction& txn, std::string_view body, wire::ProgressReply& reply);
  // `peer`: the CURVE key's name the report came from ("" without CURVE).
  Status Report(ledger::Transaction& txn, std::string_view body, const std::string& peer,
                wire::TaskReportReply& reply, Effects& effects);
  Status Events(ledger::Transaction& txn, std::string_view body, wire::EventsReply& reply);
  // feedback.cc
  Status Rate(ledger::Transaction& txn, std::string_view body, wire::RateReply& reply);
  Status Complain(ledger::Transaction& txn, std::string_view body, wire::ComplainReply& reply,
                  Effects& effects);
  Status HandleResult(ledger::Transaction& txn, Inbound& item, Outbox& out);
  Status HandleLost(ledger::Transaction& txn, Inbound& item, Outbox& out);
  // Applies `outcome` to the delivery (task_id, token) if it is still the live one.
  Status Resolve(ledger::Transaction& txn, const std::string& task_id, int64_t token,
                 const Outcome& outcome, Effects& effects);
  // Loads the stages of `task_id` and checks that `token` is its live delivery. Sets `index`
  // to -1 (and records why) when the result must be refused.
  Status LiveStage(ledger::Transaction& txn, const std::string& task_id, int64_t token,
                   std::vector<ledger::StageRecord>& stages, int& index, Effects& effects);
  Result<int64_t> RouteVersion(ledger::Transaction& txn, const routing::RouteTable& table,
                               Effects& effects);

  void Dispatch();
  Status ClaimAndBuild(ledger::Transaction& txn, Outbox& out);
  // Idle workers of `service` not yet given work by this batch; none while a failure in the
  // batch (`effects`) may open its circuit once committed: Dispatch() decides then.
  int FreeWorkers(const std::string& service, Outbox& out, const Effects& effects);
  // A stage the batch being applied brings up goes straight to an idle worker of its service
  // (see DispatchNow in transitions.h) when nothing older of that service waits and its last
  // delivery did not fail: written once, as DISPATCHED, and never claimed. `request`: the
  // stage's request, or null to read it; `effects`: what the batch has done so far.
  Result<bool> HandOver(ledger::Transaction& txn, std::vector<ledger::StageRecord>& stages,
                        size_t index, const ledger::RequestRecord* request, const Effects& effects);
  // Records stage.dispatched for a leased stage and queues its task in `out`.
  Status BuildTask(ledger::Transaction& txn, const ledger::StageRecord& stage,
                   const ledger::RequestRecord& request, StringMap inputs, int64_t now, Outbox& out);
  // How many tasks the circuit of `service` lets out now (at most `credit`); `probe` is set
  // when the circuit is half-open and this is its one probe.
  int CircuitAllows(const std::string& service, int credit, int64_t now, bool& probe);
  void ObserveHealth(const std::string& service, bool healthy, int64_t now);
  void Tick();
  void WriteCheckpoint();
  // reminders.cc
  Status Items(ledger::Transaction& txn, std::string_view body, wire::ItemsReply& reply);
  Status TakeObligations(ledger::Transaction& txn, const ledger::RequestRecord& request, const StringMap& outputs);
  Status MeetObligations(ledger::Transaction& txn, const ledger::RequestRecord& request);
  void SendReminders();
  // Records stage.overdue, once, for each stage still waiting or under way past its deadline;
  // returns how many (Tick() commits them with the lapsed leases).
  Result<int> ReportOverdueStages(ledger::Transaction& txn, int64_t now);
  // risk.cc
  Status RecordFigures(ledger::Transaction& txn, const ledger::RequestRecord& request, const StringMap& outputs);
  Status CheckRejections(ledger::Transaction& txn, const ledger::RequestRecord& request);
  Status RaiseAlert(ledger::Transaction& txn, const obligations::RiskRule& rule,
                    const ledger::RequestRecord& request, const obligations::Finding& finding);

  Status RunCommand(std::function<Status(ledger::Transaction&, Effects&)> work);
  void ProcessCommands();

  std::string NewRequestId();

  zmq::context_t& context_;
  std::string link_endpoint_;
  std::unique_ptr<zmq::socket_t> link_;
  std::unique_ptr<zmq::socket_t> verified_;
  ledger::Ledger& ledger_;
  const routing::RouteTableHolder& routes_;
  const Clock& clock_;
  EngineOptions options_;

  // Request ids of the batch being applied that its submits take as new without a lookup
  // (PrefetchBatch() sets them for each batch); a submit uses (and removes) its id's entry,
  // so a second submit of the id looks it up.
  std::set<std::string> presumed_new_;
  // The outbox of the batch being applied while its stages may be dispatched as they come up
  // (ProcessBatch() with a claim); null otherwise.
  Outbox* dispatching_ = nullptr;
  std::unique_ptr<Behind> behind_;
  std::vector<Inbound> deferred_;  // taken while gathering behind a commit, for the next batch

  std::map<std::string, int> credit_;       // service -> idle workers not yet given work
  std::set<std::string> quiet_;             // services found with no READY work since last tick
  std::map<std::string, int64_t> in_flight_;  // task id -> token, delivered and unanswered
  std::map<std::string, Circuit> circuits_;
  std::map<std::string, int64_t> route_versions_;  // digest -> version, once committed
  std::set<std::string> risk_outputs_;              // the stage outputs risk rules watch
  int64_t next_tick_ms_ = 0;
  int64_t next_checkpoint_ms_ = 0;
  int64_t next_maintenance_ms_ = 0;
  int64_t next_reminders_ms_ = 0;
  int64_t checkpointed_seq_ = 0;
  uint64_t id_sequence_ = 0;

  std::mutex commands_mutex_;
  std::deque<std::shared_ptr<Command>> commands_;
  int wake_fd_ = -1;  // eventfd: a command is waiting
  std::atomic<bool> running_{false};

  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  EngineCounters counters_;
  mutable std::mutex circuits_view_mutex_;
  std::map<std::string, CircuitView> circuits_view_;
};

}  // namespace taxhub::workflow

#endif  // TAXHUB_HUB_WORKFLOW_ENGINE_H_
