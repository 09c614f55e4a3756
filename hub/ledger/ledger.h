// The central ledger of every request's progress: one interface, two backends (SQLite for a
// single embedded hub, PostgreSQL for production).
//
// All access goes through a Transaction. A request is *accepted* only once the transaction that
// inserted it has committed. Every state change is accompanied by an appended event; events are
// never updated or deleted.
//
// A Ledger object holds one database connection and serves one thread at a time; only one
// Transaction may be open on it at once. Open another Ledger for another thread.
#ifndef TAXHUB_HUB_LEDGER_LEDGER_H_
#define TAXHUB_HUB_LEDGER_LEDGER_H_

#include <cstdint>
#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/base/status.h"
#include "hub/ledger/chain.h"

namespace taxhub::ledger {

// Values match taxhub.thrift's RequestState and StageState.
enum class RequestState {
  kAccepted = 0,
  kInProgress = 1,
  kCompleted = 2,
  kRejected = 3,
  kFailed = 4,
  kReturned = 5,  // back with the taxpayer for correction
};
enum class StageState {
  kPending = 0,
  kReady = 1,
  kDispatched = 2,
  kDone = 3,
  kRejected = 4,
  kFailed = 5,
  kSkipped = 6,
  kReturned = 7,
};

std::string_view ToString(RequestState state);
std::string_view ToString(StageState state);
Result<RequestState> ParseRequestState(std::string_view text);
Result<StageState> ParseStageState(std::string_view text);

struct RequestRecord {
  std::string id;
  std::string kind;
  std::string taxpayer_id;
  StringMap attributes;
  std::string body;         // the exact bytes the hall sent
  std::string fingerprint;  // digest of kind, taxpayer, attributes and body: "same request?"
  std::string route;        // the route it was planned with
  int64_t route_version = 0;  // the route table it came from (RecordRouteTable)
  RequestState state = RequestState::kAccepted;
  int64_t accepted_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t finished_at_ms = 0;  // 0 while not finished
  std::string signature;       // detached signature over `body`; "" when unsigned
  std::string certificate;     // the signer's certificate, DER
  std::string signer;          // its subject
  int64_t verified_at_ms = 0;  // when the hub verified the signature
};

struct StageRecord {
  std::string request_id;
  int index = 0;
  std::string name;
  std::string label;
  std::string service;         // adapter stage: the resolved MDP service; "" for human stages
  std::string queue;           // human stage: the staff queue
  double difficulty = 1.0;
  std::string condition;       // encoded `when`; "" when unconditional
  bool on_rejection = false;   // runs only after an earlier stage rejected the request
  StageState state = StageState::kPending;
  int attempt = 0;             // deliveries so far
  int max_attempts = 1;
  int64_t initial_backoff_ms = 1000;
  double backoff_multiplier = 2.0;
  int64_t max_backoff_ms = 300'000;
  int64_t attempt_timeout_ms = 30'000;  // the lease of one delivery
  int64_t token = 0;           // fencing token of the latest delivery
  int64_t time_limit_ms = 0;
  int64_t ready_at_ms = 0;     // when it may next be delivered
  int64_t started_at_ms = 0;   // first delivery
  int64_t finished_at_ms = 0;
  int64_t deadline_ms = 0;     // first ready time + time limit
  int64_t lease_until_ms = 0;  // while DISPATCHED
  std::string lease_owner;     // hub id holding the lease
  std::string handler;
  std::string code;
  std::string message;
  StringMap outputs;

  std::string task_id() const { return request_id + "/" + std::to_string(index); }
  // Takes the columns UpdateStage and the claims write (state to outputs) from `written`; the
  // plan (name, service, limits, backoff) stays. For ledgers that keep rows they wrote.
  void TakeWrittenColumns(const StageRecord& written);
  // What a claim does to a READY stage: DISPATCHED, attempt + 1, a new fencing token, a lease
  // held by `owner` until now + its attempt timeout; started now if it never was.
  void Lease(int64_t now_ms, std::string_view owner);
  // Waiting or under way: the states in which its time limit still runs.
  bool running() const { return state == StageState::kReady || state == StageState::kDispatched; }
};

// "R123/2" -> ("R123", 2).
std::optional<std::pair<std::string, int>> ParseTaskId(std::string_view task_id);

struct RouteTableRecord {
  int64_t version = 0;  // assigned by the ledger
  std::string digest;
  std::string source;
  std::string text;
  int64_t loaded_at_ms = 0;
};

struct EventRecord {
  int64_t seq = 0;          // assigned by the ledger, increasing
  std::string request_id;
  int stage = -1;           // -1 when the event is about the request as a whole
  std::string type;         // "request.accepted", "stage.done", ...
  int64_t at_ms = 0;
  std::string detail;       // short text for people
  // Filled by the ledger on append (see chain.h).
  std::string chain;
  int64_t chain_seq = 0;
  std::string prev_hash;
  std::string hash;
};

// Something a taxpayer must do by a date, fed by adapters' stage outputs; met when a request
// of its kind for its period completes.
struct ObligationRecord {
  std::string id;            // "<taxpayer>/<kind>/<period>"
  std::string taxpayer_id;
  std::string kind;          // "filing.vat", "invoice.copy_report" …
  std::string period;        // "2026-10"
  std::string due_date;      // "2026-11-16"
  bool met = false;
  StringMap attributes;      // e.g. mobile, for the reminder
  int64_t created_at_ms = 0;
  int64_t met_at_ms = 0;
  int64_t due_reminded_at_ms = 0;
  int64_t overdue_reminded_at_ms = 0;
};

enum class Reminder { kDue, kOverdue };

// A search of the requests, newest first; empty fields match everything.
struct RequestQuery {
  std::string taxpayer_id;
  std::string kind;
  std::string state;            // a RequestState name, or ""
  int64_t accepted_from_ms = 0;  // accepted at or after
  int64_t accepted_to_ms = INT64_MAX;  // accepted before
  bool overdue_only = false;    // a stage past its time limit: still open at `now_ms`, or finished late
  int64_t now_ms = 0;
  // The cursor: only requests after (older than) this one.
  int64_t before_accepted_ms = INT64_MAX;
  std::string before_id;
  int limit = 50;
};

// One number a risk rule watches, per taxpayer and month (see risk.h).
struct FigureRecord {
  std::string taxpayer_id;
  std::string name;        // "<request kind>.<output>", e.g. "filing.vat.tax_due"
  std::string period;      // "2026-10"
  std::string value;       // as reported, e.g. "0.00"
  std::string request_id;  // the request whose stage reported it
  int64_t at_ms = 0;
};

// A risk alert raised to a taxpayer, once per rule and period.
struct AlertRecord {
  std::string id;          // "<taxpayer>/<rule>/<period>"
  std::string taxpayer_id;
  std::string rule;
  std::string period;
  std::string text;        // what the taxpayer is told
  std::string detail;      // the figures behind it, JSON
  int64_t raised_at_ms = 0;
};

struct ChainInfo {
  std::string chain;
  std::string algorithm;
  int64_t created_at_ms = 0;
};

struct CheckpointRecord {
  std::string chain;
  int64_t chain_seq = 0;
  std::string hash;
  int64_t at_ms = 0;
  std::string signature;    // over CheckpointStatement(chain, chain_seq, hash)
  std::string certificate;  // the signing hub's certificate, DER
};

class Transaction {
 public:
  virtual ~Transaction() = default;  // rolls back unless committed

  virtual Result<std::optional<RequestRecord>> GetRequest(std::string_view id) = 0;
  // The same row, shared rather than copied (null when there is none): a ledger that keeps rows
  // in memory hands out its own, which later writes replace and never change.
  virtual Result<std::shared_ptr<const RequestRecord>> ShareRequest(std::string_view id) {
    auto request = GetRequest(id);
    if (!request) return Error(request.error());
    if (!request->has_value()) return std::shared_ptr<const RequestRecord>();
    return std::make_shared<const RequestRecord>(std::move(**request));
  }
  // A hint: these requests are about to be looked up. A ledger may read them and their stages
  // in a query or two, and answer GetRequest and GetStages for them without asking again (and
  // GetRequest for those that do not exist), as they stand after this transaction's writes.
  virtual Status PrefetchRequests(const std::vector<std::string>& /*ids*/) { return Status::Ok(); }
  virtual Status InsertRequest(const RequestRecord& request) = 0;
  virtual Status UpdateRequestState(std::string_view id, RequestState state, int64_t now_ms,
                                    int64_t finished_at_ms) = 0;
  // Replaces a returned request's content with its correction: attributes, body, fingerprint,
  // signature, certificate, signer, verified_at, state and updated_at.
  virtual Status UpdateRequestContent(const RequestRecord& request) = 0;
  // Requests in `state`, oldest update first, starting after request id `after` ("" = start).
  virtual Result<std::vector<RequestRecord>> ListRequests(RequestState state, int limit,
                                                          std::string_view after) = 0;

  // The version of a route table: the existing one for a known digest, else a new one.
  virtual Result<int64_t> RecordRouteTable(const RouteTableRecord& table) = 0;
  virtual Result<std::optional<RouteTableRecord>> GetRouteTable(int64_t version) = 0;

  virtual Status InsertStage(const StageRecord& stage) = 0;
  virtual Result<std::vector<StageRecord>> GetStages(std::string_view request_id) = 0;
  // The same, shared rather than copied, as ShareRequest shares a request.
  virtual Result<std::shared_ptr<const std::vector<StageRecord>>> ShareStages(std::string_view request_id) {
    auto stages = GetStages(request_id);
    if (!stages) return Error(stages.error());
    return std::make_shared<const std::vector<StageRecord>>(std::move(*stages));
  }
  // Writes every mutable column of the stage identified by (request_id, index).
  virtual Status UpdateStage(const StageRecord& stage) = 0;

  // Leases up to `limit` READY stages of `service` whose ready time has come, oldest first:
  // each becomes DISPATCHED with attempt + 1, a new fencing token, owner `owner` and a lease
  // until now + its attempt timeout.
  virtual Result<std::vector<StageRecord>> ClaimReady(std::string_view service, int limit,
                                                      int64_t now_ms, std::string_view owner) = 0;
  // Claims one READY stage for `owner` (attempt + 1, new token, lease until `lease_until_ms`,
  // handler `handler`); nullopt when the stage is not READY — someone was first.
  virtual Result<std::optional<StageRecord>> ClaimStage(std::string_view request_id, int index,
                                                        std::string_view owner,
                                                        std::string_view handler, int64_t now_ms,
                                                        int64_t lease_until_ms) = 0;
  // Human stages of a staff queue, READY or claimed, oldest first.
  virtual Result<std::vector<StageRecord>> QueueStages(std::string_view queue, int limit) = 0;
  // DISPATCHED stages whose lease ended before `now_ms`, whoever held them.
  virtual Result<std::vector<StageRecord>> ExpiredLeases(int64_t now_ms, int limit) = 0;
  // Every DISPATCHED stage leased by `owner` (a hub id).
  virtual Result<std::vector<StageRecord>> LeasesOf(std::string_view owner) = 0;
  // READY or DISPATCHED stages whose deadline passed before `now_ms` and that have not been
  // reported overdue, earliest deadline first.
  virtual Result<std::vector<StageRecord>> OverdueStages(int64_t now_ms, int limit) = 0;
  // Claims the overdue report of a stage: true for the one transaction that does, ever.
  virtual Result<bool> MarkOverdue(std::string_view request_id, int index, int64_t now_ms) = 0;

  // Appends to this connection's chain; returns the global seq.
  virtual Result<int64_t> AppendEvent(const EventRecord& event) = 0;
  // The same, for a caller that does not need the seq: a ledger may hold the row back and write
  // it with the transaction's other new rows in one statement, at commit or before a statement
  // that could see it; what reads events or appends to the chain sees it in its place.
  virtual Status AddEvent(const EventRecord& event) {
    auto seq = AppendEvent(event);
    return seq ? Status::Ok() : seq.error();
  }
  virtual Result<std::vector<EventRecord>> GetEvents(std::string_view request_id) = 0;
  // This transaction's view of its chain's head (including its own appends).
  virtual ChainHead Head() const = 0;
  virtual Status AppendCheckpoint(const CheckpointRecord& checkpoint) = 0;
  // Tells the other hubs on this ledger, once this transaction commits, that `service` has READY
  // work (PostgreSQL NOTIFY; nothing on SQLite, where there is only one hub).
  virtual Status NotifyReady(std::string_view service) = 0;

  // For verification: every chain, a chain's rows in order, its checkpoints, all requests.
  virtual Result<std::vector<ChainInfo>> Chains() = 0;
  virtual Result<std::vector<EventRecord>> ScanChain(std::string_view chain,
                                                     int64_t after_chain_seq, int limit) = 0;
  virtual Result<std::vector<CheckpointRecord>> Checkpoints(std::string_view chain) = 0;
  // Events whose chain is not among Chains(): none unless written by someone other than a hub.
  virtual Result<int64_t> CountEventsOutsideChains() = 0;
  virtual Result<std::vector<RequestRecord>> ScanRequests(std::string_view after_id, int limit) = 0;
  virtual Result<std::vector<RequestRecord>> SearchRequests(const RequestQuery& query) = 0;
  // Staff queues' depth: queue -> (waiting, claimed) human stages.
  virtual Result<std::map<std::string, std::pair<int64_t, int64_t>>> QueueDepths() = 0;
  // How many requests are in `state` (e.g. FAILED: the dead letters).
  virtual Result<int64_t> CountInState(RequestState state) = 0;

  // Obligations. Adding one that exists changes nothing (false).
  virtual Result<bool> AddObligation(const ObligationRecord& obligation) = 0;
  // Meets obligation `o` (id, taxpayer, kind, period): true when it was open and is met now.
  // With `keep_if_absent`, one not owed yet is kept as met, so that an obligation reported after
  // its return was filed (a late filing of an earlier period, say) is not owed again.
  virtual Result<bool> MeetObligation(const ObligationRecord& o, int64_t now_ms, bool keep_if_absent) = 0;
  // Open obligations due from `from_date` to `to_date` (inclusive, YYYY-MM-DD) whose `which`
  // reminder has not gone out, by due date.
  virtual Result<std::vector<ObligationRecord>> ObligationsToRemind(Reminder which, std::string_view from_date,
                                                                    std::string_view to_date, int limit) = 0;
  // Claims the `which` reminder of `id`: true for the one transaction that does, ever.
  virtual Result<bool> MarkReminded(std::string_view id, Reminder which, int64_t now_ms) = 0;
  virtual Result<std::vector<ObligationRecord>> ObligationsOf(std::string_view taxpayer_id) = 0;

  // Holds `key` until this transaction ends, so that transactions that read and then write what
  // belongs to one key (a taxpayer's risk figures) do so one after another — across hubs on
  // PostgreSQL (an advisory lock); SQLite has one writer and needs nothing. Taking a key the
  // transaction holds already is free.
  virtual Status LockKey(std::string_view key) = 0;
  // Risk figures: the latest report of a figure for a period replaces the one before.
  virtual Status PutFigure(const FigureRecord& figure) = 0;
  // A taxpayer's figure `name` for periods up to `up_to_period`, newest first.
  virtual Result<std::vector<FigureRecord>> FiguresOf(std::string_view taxpayer_id, std::string_view name,
                                                      std::string_view up_to_period, int limit) = 0;
  // How many of a taxpayer's requests accepted since `since_ms` are in `state`.
  virtual Result<int64_t> CountRequests(std::string_view taxpayer_id, RequestState state, int64_t since_ms) = 0;
  // Raises an alert: true for the one transaction that does, ever (its id is the claim).
  virtual Result<bool> RaiseAlert(const AlertRecord& alert) = 0;
  // A taxpayer's alerts, newest first.
  virtual Result<std::vector<AlertRecord>> AlertsOf(std::string_view taxpayer_id, int limit) = 0;

  virtual Status Commit() = 0;
  // Starts the commit and returns, where the ledger commits behind (Ledger::CommitsBehind());
  // AwaitCommit() then gives its outcome. In between, the ledger's next Begin() may open a
  // transaction that follows this one: its first statement, and its commit, wait for this
  // commit, and fail if it failed (its events are chained on this one's). Elsewhere it commits
  // at once.
  virtual void CommitBehind() { behind_status_ = Commit(); }
  virtual Status AwaitCommit() { return behind_status_; }

 private:
  Status behind_status_;
};

// Every request in id order, read a page at a time; stops at the first error of `visit`.
Status ForEachRequest(Transaction& txn, const std::function<Status(const RequestRecord&)>& visit,
                      int page_size = 500);

class Ledger {
 public:
  virtual ~Ledger() = default;
  virtual std::string_view backend() const = 0;
  virtual Result<std::unique_ptr<Transaction>> Begin() = 0;
  // The highest schema migration applied.
  virtual Result<int> SchemaVersion() = 0;
  // Housekeeping that keeps the ledger fast as it grows (PostgreSQL: monthly event partitions
  // for this month and the next two). Called at open and every few hours.
  virtual Status Maintain() { return Status::Ok(); }
  // A file descriptor that becomes readable when another hub notifies READY work, or -1.
  virtual int NotificationFd() { return -1; }
  // Whether Transaction::PrefetchRequests saves anything (a lookup is a round trip): the engine
  // reads a batch's request ids only for a ledger that does.
  virtual bool PrefetchesRequests() const { return false; }
  // The services other hubs have notified since the last call (never blocks).
  virtual std::vector<std::string> TakeNotifications() { return {}; }
  // Whether Transaction::CommitBehind() returns before the commit is done (PostgreSQL: a
  // commit's round trip and the server's sync are spent on a thread of the ledger's own).
  virtual bool CommitsBehind() const { return false; }
  // A file descriptor that becomes readable when a commit behind has finished, or -1 when none
  // is under way.
  virtual int CommitFd() { return -1; }

  // Called on the committing thread after each commit that grew this hub's chain, with the
  // new head: how the event publisher learns there is something to publish. Set it before the
  // ledger is used from another thread.
  void SetCommitListener(std::function<void(const ChainHead&)> listener) {
    commit_listener_ = std::move(listener);
  }

 protected:
  void NotifyCommitted(const ChainHead& before, const ChainHead& after) {
    if (commit_listener_ && after.seq != before.seq) commit_listener_(after);
  }

 private:
  std::function<void(const ChainHead&)> commit_listener_;
};

struct SqliteOptions {
  std::string path;                  // the database file; its directory must exist
  std::string synchronous = "full";  // off | normal | full | extra
  int busy_timeout_ms = 5000;
  bool read_only = false;            // for verification while a hub runs: no lock, no writes
};
// Opens (creating if needed) and migrates the database. A writing ledger holds an exclusive
// lock on `<path>.lock` so that a second hub on the same file is refused.
Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const SqliteOptions& options,
                                                 const ChainOptions& chain = {});

struct PostgresOptions {
  std::string dsn;
  // Other hubs hear that a service has READY work (NOTIFY taxhub_ready) at most once in this
  // long per service; what a commit in between adds goes with the next commit after it, and
  // hubs look for work anyway at each tick. NOTIFY wakes every listening backend and hub: once
  // per commit it cost 5% of intake throughput.
  int notify_every_ms = 20;
};
// With a chain, the connection holds a PostgreSQL advisory lock on it: a second hub with the
// same hub id is refused.
Result<std::unique_ptr<Ledger>> OpenPostgresLedger(const PostgresOptions& options,
                                                   const ChainOptions& chain = {});

}  // namespace taxhub::ledger

#endif  // TAXHUB_HUB_LEDGER_LEDGER_H_
