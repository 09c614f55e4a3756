// The PostgreSQL ledger, through libpqxx. The only file that includes pqxx.

#include <pqxx/pqxx>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "hub/base/clock.h"
#include "hub/base/digest.h"
#include "hub/base/thread_name.h"
#include "hub/ledger/ledger.h"
#include "hub/ledger/migrations.h"
#include "hub/ledger/pg_binary.h"

#include <set>

namespace taxhub::ledger {
namespace {

constexpr const char* kStageColumns =
    "request_id, idx, name, label, service, state, attempt, max_attempts, token, time_limit_ms, "
    "ready_at, started_at, finished_at, deadline_at, lease_until, lease_owner, handler, code, "
    "message, outputs::text, queue, difficulty, condition, initial_backoff_ms, "
    "backoff_multiplier, max_backoff_ms, attempt_timeout_ms, on_rejection";
constexpr const char* kObligationColumns =
    "id, taxpayer_id, kind, period, due_date, met, attributes, created_at, met_at, due_reminded_at, "
    "overdue_reminded_at";
constexpr const char* kEventColumns =
    "seq, chain, chain_seq, request_id, stage, type, at, detail, prev_hash, hash";
constexpr const char* kRequestColumns =
    "id, kind, taxpayer_id, attributes::text, body, fingerprint, route, route_version, state, "
    "accepted_at, updated_at, finished_at, signature, certificate, signer, verified_at";

// Column names qualified with a table alias: "s.request_id, s.idx, …".
std::string Qualified(const char* columns, const std::string& alias) {
  std::string out;
  std::string_view rest(columns);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view column = rest.substr(0, comma);
    while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
    if (!out.empty()) out += ", ";
    out += alias + "." + std::string(column);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
  }
  return out;
}

// The rows held back, written by one statement whose parameters are BinaryArray columns:
// requests, stages and events (data-modifying WITH clauses, which always run), then the READY
// notices due ($54), which the commit delivers. One statement, so that outside an explicit
// transaction it is a transaction of its own: a batch of new submits is then one round trip.
// (Foreign keys are checked at the end of the statement, when all three tables are written.)
constexpr const char* kPutRows =
    "WITH r AS (INSERT INTO requests (id, kind, taxpayer_id, attributes, body, fingerprint, route, "
    "route_version, state, accepted_at, updated_at, finished_at, signature, certificate, signer, verified_at) "
    "SELECT c1, c2, c3, c4::jsonb, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16 FROM unnest("
    "$1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::bigint[], "
    "$9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bytea[], $14::bytea[], $15::text[], "
    "$16::bigint[]) AS t(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16)), "
    "s AS (INSERT INTO stages (request_id, idx, name, label, service, state, attempt, max_attempts, token, "
    "time_limit_ms, ready_at, started_at, finished_at, deadline_at, lease_until, lease_owner, handler, code, "
    "message, outputs, queue, difficulty, condition, initial_backoff_ms, backoff_multiplier, max_backoff_ms, "
    "attempt_timeout_ms, on_rejection) "
    "SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20::jsonb, "
    "c21, c22, c23, c24, c25, c26, c27, c28 FROM unnest($17::text[], $18::bigint[], $19::text[], $20::text[], "
    "$21::text[], $22::text[], $23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bigint[], "
    "$28::bigint[], $29::bigint[], $30::bigint[], $31::bigint[], $32::text[], $33::text[], $34::text[], "
    "$35::text[], $36::text[], $37::text[], $38::float8[], $39::text[], $40::bigint[], $41::float8[], "
    "$42::bigint[], $43::bigint[], $44::bool[]) AS t(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, "
    "c14, c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, c25, c26, c27, c28)), "
    "e AS (INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, hash) "
    "SELECT * FROM unnest($45::text[], $46::bigint[], $47::text[], $48::bigint[], $49::text[], $50::bigint[], "
    "$51::text[], $52::text[], $53::text[])) "
    "SELECT pg_notify('taxhub_ready', service) FROM unnest($54::text[]) AS service";

// The updates held back, of stages ($1-$16, and $3 and $21-$26 as the transaction read them)
// and of requests' states ($17-$20) that the transaction read. It returns how many stages it
// updated: one that is no longer as read (another hub claimed it, or expired its lease and
// retried or failed it) is left alone, and the transaction must fail. Not prepared, so that it is
// planned for the rows it carries, as the read-ahead is (kPrefetchStages).
constexpr const char* kPutUpdates =
    "WITH u AS (UPDATE stages s SET state = v.state, attempt = v.attempt, token = v.token, "
    "ready_at = v.ready_at, started_at = v.started_at, finished_at = v.finished_at, "
    "deadline_at = v.deadline_at, lease_until = v.lease_until, lease_owner = v.lease_owner, "
    "handler = v.handler, code = v.code, message = v.message, outputs = v.outputs::jsonb "
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], "
    "$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], "
    "$15::text[], $16::text[], $21::text[], $22::bigint[], $23::bigint[], $24::bigint[], $25::text[], "
    "$26::bigint[]) AS v(request_id, idx, token_read, state, attempt, token, ready_at, started_at, "
    "finished_at, deadline_at, lease_until, lease_owner, handler, code, message, outputs, state_read, "
    "attempt_read, ready_at_read, lease_until_read, lease_owner_read, finished_at_read) "
    "WHERE s.request_id = v.request_id AND s.idx = v.idx AND s.token = v.token_read "
    "AND s.state = v.state_read AND s.attempt = v.attempt_read AND s.ready_at = v.ready_at_read "
    "AND s.lease_until = v.lease_until_read AND s.lease_owner = v.lease_owner_read "
    "AND s.finished_at = v.finished_at_read RETURNING 1), "
    "q AS (UPDATE requests r SET state = v.state, updated_at = v.updated_at, finished_at = v.finished_at "
    "FROM unnest($17::text[], $18::text[], $19::bigint[], $20::bigint[]) AS v(id, state, updated_at, "
    "finished_at) WHERE r.id = v.id) "
    "SELECT count(*) FROM u";

// The rows of a batch's requests and their stages (PostgresTransaction::PrefetchRequests).
const std::string kPrefetchRequests =
    std::string("SELECT ") + kRequestColumns + " FROM requests WHERE id = ANY($1::text[])";
const std::string kPrefetchStages = std::string("SELECT ") + kStageColumns +
                                    " FROM stages WHERE request_id = ANY($1::text[]) ORDER BY request_id, idx";

// Every other statement the ledger runs, prepared once per connection.
const std::vector<std::pair<const char*, std::string>>& Statements() {
  static const std::vector<std::pair<const char*, std::string>> statements = {
      {"get_request",
       std::string("SELECT ") + kRequestColumns + " FROM requests WHERE id = $1"},
      {"list_requests",
       std::string("SELECT ") + kRequestColumns +
           " FROM requests WHERE state = $1 AND ($2 = '' OR (updated_at, id) > "
           "(SELECT updated_at, id FROM requests WHERE id = $2)) ORDER BY updated_at, id "
           "LIMIT $3"},
      {"insert_route_table",
       "INSERT INTO route_tables (digest, source, text, loaded_at) VALUES ($1, $2, $3, $4) "
       "ON CONFLICT (digest) DO NOTHING RETURNING version"},
      {"find_route_table", "SELECT version FROM route_tables WHERE digest = $1"},
      {"put_rows", kPutRows},
      {"get_route_table",
       "SELECT version, digest, source, text, loaded_at FROM route_tables WHERE version = $1"},
      {"update_request_content",
       "UPDATE requests SET attributes = $1::jsonb, body = $2, fingerprint = $3, signature = $4, "
       "certificate = $5, signer = $6, verified_at = $7, state = $8, updated_at = $9 "
       "WHERE id = $10"},
      {"update_request",
       "UPDATE requests SET state = $1, updated_at = $2, finished_at = $3 WHERE id = $4"},
      {"update_stage",
       "UPDATE stages SET state = $1, attempt = $2, token = $3, ready_at = $4, started_at = $5, "
       "finished_at = $6, deadline_at = $7, lease_until = $8, lease_owner = $9, handler = $10, "
       "code = $11, message = $12, outputs = $13::jsonb WHERE request_id = $14 AND idx = $15"},
      {"get_stages",
       std::string("SELECT ") + kStageColumns + " FROM stages WHERE request_id = $1 ORDER BY idx"},
      {"claim_ready",
       std::string(
           "UPDATE stages s SET state = 'DISPATCHED', attempt = s.attempt + 1, "
           "token = s.token + 1, lease_until = $1 + s.attempt_timeout_ms, lease_owner = $2, "
           "started_at = CASE WHEN s.started_at = 0 THEN $1 ELSE s.started_at END "
           "FROM (SELECT request_id, idx FROM stages WHERE state = 'READY' AND service = $3 "
           "AND ready_at <= $1 ORDER BY ready_at LIMIT $4 FOR UPDATE SKIP LOCKED) c "
           "WHERE s.request_id = c.request_id AND s.idx = c.idx RETURNING ") +
           Qualified(kStageColumns, "s")},
      {"claim_stage",
       std::string(
           "UPDATE stages SET state = 'DISPATCHED', attempt = attempt + 1, token = token + 1, "
           "lease_until = $1, lease_owner = $2, handler = $3, "
           "started_at = CASE WHEN started_at = 0 THEN $4 ELSE started_at END "
           "WHERE request_id = $5 AND idx = $6 AND state = 'READY' RETURNING ") +
           kStageColumns},
      {"queue_stages",
       std::string("SELECT ") + kStageColumns +
           " FROM stages WHERE queue = $1 AND state IN ('READY', 'DISPATCHED') ORDER BY ready_at "
           "LIMIT $2"},
      {"expired_leases",
       std::string("SELECT ") + kStageColumns +
           " FROM stages WHERE state = 'DISPATCHED' AND lease_until < $1 ORDER BY lease_until "
           "LIMIT $2 FOR UPDATE SKIP LOCKED"},
      {"overdue_stages",
       std::string("SELECT ") + kStageColumns +
           " FROM stages WHERE overdue_at = 0 AND state IN ('READY', 'DISPATCHED') AND deadline_at > 0 "
           "AND deadline_at < $1 ORDER BY deadline_at LIMIT $2 FOR UPDATE SKIP LOCKED"},
      {"mark_overdue", "UPDATE stages SET overdue_at = $1 WHERE request_id = $2 AND idx = $3 AND overdue_at = 0"},
      {"leases_of", std::string("SELECT ") + kStageColumns +
                        " FROM stages WHERE state = 'DISPATCHED' AND lease_owner = $1 "
                        "FOR UPDATE SKIP LOCKED"},
      {"append_event",
       "INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, "
       "hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq"},
      {"get_events",
       std::string("SELECT ") + kEventColumns + " FROM events WHERE request_id = $1 ORDER BY seq"},
      {"scan_chain",
       std::string("SELECT ") + kEventColumns +
           " FROM events WHERE chain = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT $3"},
      {"append_checkpoint",
       "INSERT INTO checkpoints (chain, chain_seq, hash, at, signature, certificate) "
       "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain, chain_seq) DO NOTHING"},
      {"checkpoints",
       "SELECT chain, chain_seq, hash, at, signature, certificate FROM checkpoints "
       "WHERE chain = $1 ORDER BY chain_seq"},
      {"chains", "SELECT chain, algorithm, created_at FROM chains ORDER BY chain"},
      {"scan_requests",
       std::string("SELECT ") + kRequestColumns + " FROM requests WHERE id > $1 ORDER BY id LIMIT $2"},
      {"add_obligation",
       std::string("INSERT INTO obligations (") + kObligationColumns +
           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"},
      {"meet_obligation", "UPDATE obligations SET met = TRUE, met_at = $1 WHERE id = $2 AND NOT met"},
      // One statement, so that an obligation another hub is adding right now is waited for and
      // then met, not missed: xmax <> 0 marks a row that existed (and was open).
      {"meet_or_keep_obligation",
       "INSERT INTO obligations (id, taxpayer_id, kind, period, due_date, met, created_at, met_at) "
       "VALUES ($1, $2, $3, $4, '', TRUE, $5, $5) ON CONFLICT (id) DO UPDATE SET met = TRUE, "
       "met_at = EXCLUDED.met_at WHERE NOT obligations.met RETURNING (xmax <> 0) AS existed"},
      {"obligations_due",
       std::string("SELECT ") + kObligationColumns +
           " FROM obligations WHERE NOT met AND due_reminded_at = 0 AND due_date >= $1 AND due_date <= $2 "
           "ORDER BY due_date, id LIMIT $3"},
      {"obligations_overdue",
       std::string("SELECT ") + kObligationColumns +
           " FROM obligations WHERE NOT met AND overdue_reminded_at = 0 AND due_date >= $1 AND due_date <= $2 "
           "ORDER BY due_date, id LIMIT $3"},
      {"mark_due_reminded",
       "UPDATE obligations SET due_reminded_at = $1 WHERE id = $2 AND due_reminded_at = 0"},
      {"mark_overdue_reminded",
       "UPDATE obligations SET overdue_reminded_at = $1 WHERE id = $2 AND overdue_reminded_at = 0"},
      {"obligations_of",
       std::string("SELECT ") + kObligationColumns + " FROM obligations WHERE taxpayer_id = $1 ORDER BY due_date, id"},
      {"search_requests",
       std::string("SELECT ") + kRequestColumns +
           " FROM requests r WHERE ($1 = '' OR r.taxpayer_id = $1) AND ($2 = '' OR r.kind = $2)"
           " AND ($3 = '' OR r.state = $3)"
           " AND r.accepted_at >= $4 AND r.accepted_at < $5"
           " AND ($6 = 0 OR EXISTS (SELECT 1 FROM stages s WHERE s.request_id = r.id AND s.deadline_at > 0"
           " AND ((s.state IN ('READY', 'DISPATCHED') AND s.deadline_at < $7) OR s.finished_at > s.deadline_at)))"
           " AND (r.accepted_at < $8 OR (r.accepted_at = $8 AND r.id < $9))"
           " ORDER BY r.accepted_at DESC, r.id DESC LIMIT $10"},
      {"queue_depths",
       "SELECT queue, state, count(*) FROM stages WHERE queue <> '' AND state IN ('READY', 'DISPATCHED') "
       "GROUP BY queue, state"},
      {"count_in_state", "SELECT count(*) FROM requests WHERE state = $1"},
      {"lock_key", "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"},
      {"put_figure",
       "INSERT INTO figures (taxpayer_id, name, period, value, request_id, at) VALUES ($1, $2, $3, $4, $5, $6) "
       "ON CONFLICT (taxpayer_id, name, period) DO UPDATE SET value = excluded.value, "
       "request_id = excluded.request_id, at = excluded.at"},
      {"figures_of",
       "SELECT taxpayer_id, name, period, value, request_id, at FROM figures WHERE taxpayer_id = $1 AND name = $2 "
       "AND period <= $3 ORDER BY period DESC LIMIT $4"},
      {"count_requests",
       "SELECT count(*) FROM requests WHERE taxpayer_id = $1 AND accepted_at >= $2 AND state = $3"},
      {"raise_alert",
       "INSERT INTO alerts (id, taxpayer_id, rule, period, text, detail, raised_at) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING"},
      {"alerts_of",
       "SELECT id, taxpayer_id, rule, period, text, detail, raised_at FROM alerts WHERE taxpayer_id = $1 "
       "ORDER BY raised_at DESC, id LIMIT $2"},
  };
  return statements;
}

// Runs `body`, turning libpqxx exceptions into a Status naming `what`.
template <typename F>
auto Guard(std::string_view what, F&& body) -> decltype(body()) {
  using internal::Propagate;
  const std::string prefix = "postgres " + std::string(what) + ": ";
  try {
    return body();
  } catch (const pqxx::in_doubt_error& e) {
    return Propagate{Status(ErrorCode::kUnavailable, prefix + "commit outcome unknown: " + e.what())};
  } catch (const pqxx::broken_connection& e) {
    return Propagate{Status(ErrorCode::kUnavailable, prefix + "connection lost: " + e.what())};
  } catch (const pqxx::sql_error& e) {
    return Propagate{
        Status(ErrorCode::kUnavailable, prefix + e.what() + " [" + e.sqlstate() + "]")};
  } catch (const std::exception& e) {
    return Propagate{Status(ErrorCode::kUnavailable, prefix + e.what())};
  }
}

Result<StageRecord> ReadStage(const pqxx::row& row) {
  StageRecord s;
  s.request_id = row[0].as<std::string>();
  s.index = row[1].as<int>();
  s.name = row[2].as<std::string>();
  s.label = row[3].as<std::string>();
  s.service = row[4].as<std::string>();
  auto state = ParseStageState(row[5].as<std::string>());
  if (!state) return Error(state.error());
  s.state = *state;
  s.attempt = row[6].as<int>();
  s.max_attempts = row[7].as<int>();
  s.token = row[8].as<int64_t>();
  s.time_limit_ms = row[9].as<int64_t>();
  s.ready_at_ms = row[10].as<int64_t>();
  s.started_at_ms = row[11].as<int64_t>();
  s.finished_at_ms = row[12].as<int64_t>();
  s.deadline_ms = row[13].as<int64_t>();
  s.lease_until_ms = row[14].as<int64_t>();
  s.lease_owner = row[15].as<std::string>();
  s.handler = row[16].as<std::string>();
  s.code = row[17].as<std::string>();
  s.message = row[18].as<std::string>();
  auto outputs = DecodeJsonMap(row[19].as<std::string>());
  if (!outputs) return Error(outputs.error());
  s.outputs = std::move(*outputs);
  s.queue = row[20].as<std::string>();
  s.difficulty = row[21].as<double>();
  s.condition = row[22].as<std::string>();
  s.initial_backoff_ms = row[23].as<int64_t>();
  s.backoff_multiplier = row[24].as<double>();
  s.max_backoff_ms = row[25].as<int64_t>();
  s.attempt_timeout_ms = row[26].as<int64_t>();
  s.on_rejection = row[27].as<bool>();
  return s;
}

Result<std::vector<ObligationRecord>> ReadObligations(const pqxx::result& rows) {
  std::vector<ObligationRecord> out;
  for (const auto& row : rows) {
    ObligationRecord o;
    o.id = row[0].as<std::string>();
    o.taxpayer_id = row[1].as<std::string>();
    o.kind = row[2].as<std::string>();
    o.period = row[3].as<std::string>();
    o.due_date = row[4].as<std::string>();
    o.met = row[5].as<bool>();
    auto attributes = DecodeJsonMap(row[6].as<std::string>());
    if (!attributes) return Error(attributes.error().WithContext("obligation " + o.id));
    o.attributes = std::move(*attributes);
    o.created_at_ms = row[7].as<int64_t>();
    o.met_at_ms = row[8].as<int64_t>();
    o.due_reminded_at_ms = row[9].as<int64_t>();
    o.overdue_reminded_at_ms = row[10].as<int64_t>();
    out.push_back(std::move(o));
  }
  return out;
}

Result<RequestRecord> ReadRequest(const pqxx::row& row) {
  RequestRecord out;
  out.id = row[0].as<std::string>();
  out.kind = row[1].as<std::string>();
  out.taxpayer_id = row[2].as<std::string>();
  auto attributes = DecodeJsonMap(row[3].as<std::string>());
  if (!attributes) return Error(attributes.error());
  out.attributes = std::move(*attributes);
  out.body = pqxx::binarystring(row[4]).str();
  out.fingerprint = row[5].as<std::string>();
  out.route = row[6].as<std::string>();
  out.route_version = row[7].as<int64_t>();
  auto state = ParseRequestState(row[8].as<std::string>());
  if (!state) return Error(state.error());
  out.state = *state;
  out.accepted_at_ms = row[9].as<int64_t>();
  out.updated_at_ms = row[10].as<int64_t>();
  out.finished_at_ms = row[11].as<int64_t>();
  out.signature = pqxx::binarystring(row[12]).str();
  out.certificate = pqxx::binarystring(row[13]).str();
  out.signer = row[14].as<std::string>();
  out.verified_at_ms = row[15].as<int64_t>();
  return out;
}

std::vector<EventRecord> ReadEvents(const pqxx::result& result) {
  std::vector<EventRecord> out;
  out.reserve(result.size());
  for (const auto& row : result) {
    EventRecord e;
    e.seq = row[0].as<int64_t>();
    e.chain = row[1].as<std::string>();
    e.chain_seq = row[2].as<int64_t>();
    e.request_id = row[3].as<std::string>();
    e.stage = row[4].as<int>();
    e.type = row[5].as<std::string>();
    e.at_ms = row[6].as<int64_t>();
    e.detail = row[7].as<std::string>();
    e.prev_hash = row[8].as<std::string>();
    e.hash = row[9].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<StageRecord>> ReadStages(const pqxx::result& result) {
  std::vector<StageRecord> out;
  out.reserve(result.size());
  for (const auto& row : result) {
    auto stage = ReadStage(row);
    if (!stage) return Error(stage.error());
    out.push_back(std::move(*stage));
  }
  return out;
}

class PostgresLedger;

// One thread that runs one job at a time: the commits that go behind (CommitBehind()). Its
// eventfd becomes readable when a job is done.
class Committer {
 public:
  Committer()
      : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        thread_(NamedThread("pg-commit", [this] { Loop(); })) {}
  ~Committer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  void Start(std::function<Status()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = std::move(job);
      done_ = false;
    }
    changed_.notify_all();
  }
  Status Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return done_; });
    uint64_t count;
    if (read(fd_, &count, sizeof count) < 0) {
      // Not signalled yet, or already read: nothing to clear.
    }
    return result_;
  }
  int fd() const { return fd_; }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return stopping_ || job_; });
      if (!job_) return;  // stopping, with nothing to finish
      std::function<Status()> job = std::move(job_);
      job_ = nullptr;
      lock.unlock();
      Status result = job();
      lock.lock();
      result_ = std::move(result);
      done_ = true;
      const uint64_t one = 1;
      if (write(fd_, &one, sizeof one) < 0) {
        // The eventfd cannot overflow at one write per job; Wait() does not depend on it.
      }
      changed_.notify_all();
    }
  }

  const int fd_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<Status()> job_;
  Status result_;
  bool done_ = true;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

// Collects the services other hubs announce on channel taxhub_ready.
class ReadyReceiver final : public pqxx::notification_receiver {
 public:
  ReadyReceiver(pqxx::connection_base& connection, std::vector<std::string>& sink)
      : pqxx::notification_receiver(connection, "taxhub_ready"), sink_(sink) {}
  void operator()(const std::string& payload, int backend_pid) override {
    if (backend_pid != conn().backendpid()) sink_.push_back(payload);  // not our own
  }

 private:
  std::vector<std::string>& sink_;
};

class PostgresTransaction final : public Transaction {
 public:
  // `epoch`: the ledger's count of failed commits at Begin() (see Work()).
  PostgresTransaction(PostgresLedger& ledger, ChainHead head, uint64_t epoch)
      : ledger_(ledger), head_(std::move(head)), epoch_(epoch) {}

  // BEGIN and COMMIT are the transaction's own statements, not libpqxx's. A transaction that
  // only writes new rows never sends BEGIN: its rows go out at commit as one statement, which
  // commits on its own (PutRows()). One that ends without a statement never began.
  pqxx::nontransaction& Tx() {
    pqxx::nontransaction& work = Work();
    if (!begun_) {
      begun_ = true;  // set first: if BEGIN fails halfway, the destructor still rolls back
      work.exec0("BEGIN");
    }
    return work;
  }
  // libpqxx's handle on the connection, made at the first statement: libpqxx allows one per
  // connection, and the transaction before this one may still be committing on it (behind).
  // That commit is waited for first; if it failed, so does this transaction, whose events are
  // chained on rows that were never written.
  pqxx::nontransaction& Work();

  void CommitBehind() override;
  Status AwaitCommit() override;
  // Settles the commit before this one and gets the connection ready for this one's: true when
  // its rows are to be sent, false when its outcome is settled already (nothing to write, or
  // the commit before failed).
  bool ReadyToCommit();
  // Where a commit behind ends, on the ledger's committing thread: the rows, then COMMIT.
  Status CommitOnWire();
  // Back on the engine's thread: what the ledger remembers of a commit's outcome.
  void Settle(const Status& status);

  // New requests, stages and events are held back and written together by one statement
  // (PutRows()) at commit, or before a statement that could see them: a batch of new submits and
  // nothing else is then one round trip, not half a dozen each. Run() writes them first when
  // requests or stages are held back; events alone wait, as only statements on events or the
  // chain see them (RunOnEvents()), and the engine adds an event with nearly every result it
  // applies, between reads of stages and requests.
  template <typename F>
  auto Run(std::string_view what, F&& body) -> decltype(body()) {
    const bool seen = !pending_requests_.empty() || !pending_stages_.empty() || !held_updates_.empty() ||
                      !held_states_.empty();
    if (Status flushed = seen ? Flush() : Status::Ok(); !flushed.ok()) {
      return internal::Propagate{std::move(flushed)};
    }
    return Guard(what, std::forward<F>(body));
  }
  // Statements on tables that nothing is held back for, and that refer to none that are
  // (obligations, figures, alerts, route tables, keys), need nothing written first.
  template <typename F>
  auto RunBeside(std::string_view what, F&& body) -> decltype(body()) {
    return Guard(what, std::forward<F>(body));
  }
  template <typename F>
  auto RunOnEvents(std::string_view what, F&& body) -> decltype(body()) {
    if (Status flushed = Flush(); !flushed.ok()) return internal::Propagate{std::move(flushed)};
    return Guard(what, std::forward<F>(body));
  }
  Status Flush();
  bool HoldsRows() const {
    return !pending_requests_.empty() || !pending_stages_.empty() || !pending_events_.empty() ||
           !held_updates_.empty() || !held_states_.empty();
  }
  // Writes the rows and updates held back, which it forgets, and sends the READY notices in
  // `notify`; throws if a stage to update is no longer as read.
  void PutRows(const std::set<std::string>& notify);
  void Abort();
  ~PostgresTransaction() override;

  Result<std::optional<RequestRecord>> GetRequest(std::string_view id) override {
    // New rows held back are of other requests than any in the database: no need to write them first.
    for (const RequestRecord& r : pending_requests_) {
      if (r.id == id) return std::optional<RequestRecord>(r);
    }
    // Absent when prefetched, and not inserted since (that would be held back, above): another
    // hub inserting it meanwhile meets the primary key at commit, and the batch is retried.
    if (absent_.contains(id)) return std::optional<RequestRecord>();
    if (auto read = read_requests_.find(id); read != read_requests_.end()) {
      return std::optional<RequestRecord>(read->second);
    }
    return Guard("get request", [&]() -> Result<std::optional<RequestRecord>> {
      pqxx::result r = Tx().exec_prepared("get_request", std::string(id));
      if (r.empty()) return std::optional<RequestRecord>();
      auto request = ReadRequest(r[0]);
      if (!request) return Error(request.error());
      return std::optional<RequestRecord>(std::move(*request));
    });
  }

  // Reads the rows and stages of the requests not yet known to this transaction, a statement
  // each, and answers GetRequest and GetStages for them from then on, following its own writes.
  // They are read when the batch starts rather than just before use, but another hub's change
  // to one of those stages in between is not overwritten: its update, held back, then finds the
  // stage no longer as read and fails the batch, which the engine applies again item by item.
  Status PrefetchRequests(const std::vector<std::string>& ids) override {
    std::vector<std::string> wanted;
    for (const std::string& id : ids) {
      const bool known = absent_.contains(id) || read_requests_.contains(id) ||
                         std::any_of(pending_requests_.begin(), pending_requests_.end(),
                                     [&](const RequestRecord& r) { return r.id == id; });
      if (!known) wanted.push_back(id);
    }
    if (wanted.empty()) return Status::Ok();
    return Run("prefetch requests", [&]() -> Status {
      BinaryArray list(BinaryArray::kText);
      for (const std::string& id : wanted) list.Text(id);
      const pqxx::binarystring ids_array = list.Done();
      // Not prepared: a plan made for the tables as they were (a prepared statement's generic
      // plan, once made, stays) scanned them whole once they had grown, 3.5 ms a batch.
      std::map<std::string, std::vector<StageRecord>, std::less<>> found;  // the requests read
      for (const auto& row : Tx().exec_params(kPrefetchRequests, ids_array)) {
        auto request = ReadRequest(row);
        if (!request) return request.error();
        found[request->id];
        read_requests_.insert_or_assign(request->id, std::move(*request));
      }
      for (const std::string& id : wanted) {
        if (!found.contains(id)) absent_.insert(id);
      }
      auto stages = ReadStages(Tx().exec_params(kPrefetchStages, ids_array));
      if (!stages) return stages.error();
      // Only the stages of requests read (one inserted by another hub between the two
      // statements is absent here, and read afresh if looked at).
      for (StageRecord& stage : *stages) {
        if (auto of = found.find(stage.request_id); of != found.end()) of->second.push_back(std::move(stage));
      }
      for (auto& [id, of] : found) read_stages_.insert_or_assign(id, std::move(of));
      return Status::Ok();
    });
  }

  Result<std::vector<RequestRecord>> ListRequests(RequestState state, int limit,
                                                  std::string_view after) override {
    return Run("list requests", [&]() -> Result<std::vector<RequestRecord>> {
      pqxx::result r = Tx().exec_prepared("list_requests", std::string(ToString(state)),
                                            std::string(after), limit);
      std::vector<RequestRecord> out;
      for (const auto& row : r) {
        auto request = ReadRequest(row);
        if (!request) return Error(request.error());
        out.push_back(std::move(*request));
      }
      return out;
    });
  }

  Result<int64_t> RecordRouteTable(const RouteTableRecord& t) override {
    return RunBeside("record route table", [&]() -> Result<int64_t> {
      pqxx::result r =
          Tx().exec_prepared("insert_route_table", t.digest, t.source, t.text, t.loaded_at_ms);
      // Another hub recorded the same table first: a new statement sees its committed row
      // (one statement with both parts would not, under its single snapshot).
      if (r.empty()) r = Tx().exec_prepared("find_route_table", t.digest);
      if (r.empty()) return Error(ErrorCode::kUnavailable, "route table " + t.digest + " vanished");
      return r[0][0].as<int64_t>();
    });
  }

  Result<std::optional<RouteTableRecord>> GetRouteTable(int64_t version) override {
    return RunBeside("get route table", [&]() -> Result<std::optional<RouteTableRecord>> {
      pqxx::result r = Tx().exec_prepared("get_route_table", version);
      if (r.empty()) return std::optional<RouteTableRecord>();
      return std::optional<RouteTableRecord>(RouteTableRecord{
          r[0][0].as<int64_t>(), r[0][1].as<std::string>(), r[0][2].as<std::string>(),
          r[0][3].as<std::string>(), r[0][4].as<int64_t>()});
    });
  }

  Status InsertRequest(const RequestRecord& r) override {
    for (const RequestRecord& held : pending_requests_) {
      if (held.id == r.id) return Status(ErrorCode::kConflict, "request " + r.id + " is inserted twice", "id");
    }
    pending_requests_.push_back(r);
    absent_.erase(r.id);  // it will exist once written: GetRequest must not say otherwise after a flush
    return Status::Ok();
  }

  // A request read by this transaction is updated with its held-back rows; another at once. (Its
  // state changes with its stages', whose updates fail the batch if another hub got there first.)
  Status UpdateRequestState(std::string_view id, RequestState state, int64_t now_ms,
                            int64_t finished_at_ms) override {
    if (auto read = read_requests_.find(id); read != read_requests_.end()) {
      read->second.state = state;
      read->second.updated_at_ms = now_ms;
      read->second.finished_at_ms = finished_at_ms;
      held_states_[read->first] = read->second;
      return Status::Ok();
    }
    return Run("update request", [&]() -> Status {
      Tx().exec_prepared("update_request", std::string(ToString(state)), now_ms,
                           finished_at_ms, std::string(id));
      return Status::Ok();
    });
  }

  Status UpdateRequestContent(const RequestRecord& r) override {
    return Run("update request content", [&]() -> Status {
      Tx().exec_prepared("update_request_content", EncodeJsonMap(r.attributes),
                           pqxx::binarystring(r.body.data(), r.body.size()), r.fingerprint,
                           pqxx::binarystring(r.signature.data(), r.signature.size()),
                           pqxx::binarystring(r.certificate.data(), r.certificate.size()),
                           r.signer, r.verified_at_ms, std::string(ToString(r.state)),
                           r.updated_at_ms, r.id);
      read_requests_.erase(r.id);  // read again if wanted, with its stages
      read_stages_.erase(r.id);
      return Status::Ok();
    });
  }

  Status InsertStage(const StageRecord& s) override {
    pending_stages_.push_back(s);
    read_stages_.erase(s.request_id);  // read again, with it, if wanted
    return Status::Ok();
  }

  Result<std::vector<StageRecord>> GetStages(std::string_view request_id) override {
    if (auto read = read_stages_.find(request_id); read != read_stages_.end()) return read->second;
    return Run("get stages", [&]() -> Result<std::vector<StageRecord>> {
      return ReadStages(Tx().exec_prepared("get_stages", std::string(request_id)));
    });
  }

  // A stage read by this transaction is updated with its held-back rows, and only if it is still
  // as read (PutRows()); another at once.
  Status UpdateStage(const StageRecord& s) override {
    if (StageRecord* read = ReadStage(s.request_id, s.index)) {
      // The first update since the stage was read or written keeps the stage as read.
      HeldUpdate& held =
          held_updates_.try_emplace({s.request_id, s.index}, HeldUpdate{*read, {}}).first->second;
      read->TakeWrittenColumns(s);
      held.stage = *read;
      return Status::Ok();
    }
    return Run("update stage", [&]() -> Status {
      Tx().exec_prepared("update_stage", std::string(ToString(s.state)), s.attempt, s.token,
                           s.ready_at_ms, s.started_at_ms, s.finished_at_ms, s.deadline_ms,
                           s.lease_until_ms, s.lease_owner, s.handler, s.code, s.message,
                           EncodeJsonMap(s.outputs), s.request_id, s.index);
      return Status::Ok();
    });
  }

  Result<std::vector<StageRecord>> ClaimReady(std::string_view service, int limit, int64_t now_ms,
                                              std::string_view owner) override {
    return Run("claim ready stages", [&]() -> Result<std::vector<StageRecord>> {
      auto claimed = ReadStages(Tx().exec_prepared("claim_ready", now_ms, std::string(owner),
                                                    std::string(service), limit));
      if (claimed) Follow(*claimed);
      return claimed;
    });
  }

  Result<std::optional<StageRecord>> ClaimStage(std::string_view request_id, int index,
                                                std::string_view owner, std::string_view handler,
                                                int64_t now_ms, int64_t lease_until_ms) override {
    return Run("claim stage", [&]() -> Result<std::optional<StageRecord>> {
      auto stages = ReadStages(Tx().exec_prepared("claim_stage", lease_until_ms,
                                                    std::string(owner), std::string(handler),
                                                    now_ms, std::string(request_id), index));
      if (!stages) return Error(stages.error());
      if (stages->empty()) return std::optional<StageRecord>();
      Follow(*stages);
      return std::optional<StageRecord>(std::move(stages->front()));
    });
  }

  Result<std::vector<StageRecord>> QueueStages(std::string_view queue, int limit) override {
    return Run("queue stages", [&]() -> Result<std::vector<StageRecord>> {
      return ReadStages(Tx().exec_prepared("queue_stages", std::string(queue), limit));
    });
  }

  Result<std::vector<StageRecord>> ExpiredLeases(int64_t now_ms, int limit) override {
    return Run("expired leases", [&]() -> Result<std::vector<StageRecord>> {
      return ReadStages(Tx().exec_prepared("expired_leases", now_ms, limit));
    });
  }

  Result<std::vector<StageRecord>> LeasesOf(std::string_view owner) override {
    return Run("leases of owner", [&]() -> Result<std::vector<StageRecord>> {
      return ReadStages(Tx().exec_prepared("leases_of", std::string(owner)));
    });
  }

  Result<std::vector<StageRecord>> OverdueStages(int64_t now_ms, int limit) override {
    return Run("overdue stages", [&]() -> Result<std::vector<StageRecord>> {
      return ReadStages(Tx().exec_prepared("overdue_stages", now_ms, limit));
    });
  }

  Result<bool> MarkOverdue(std::string_view request_id, int index, int64_t now_ms) override {
    return Run("mark overdue", [&]() -> Result<bool> {
      return Tx().exec_prepared("mark_overdue", now_ms, std::string(request_id), index).affected_rows() == 1;
    });
  }

  Result<int64_t> AppendEvent(const EventRecord& event) override;
  Status AddEvent(const EventRecord& event) override;

  Result<std::vector<EventRecord>> GetEvents(std::string_view request_id) override {
    return RunOnEvents("get events", [&]() -> Result<std::vector<EventRecord>> {
      return ReadEvents(Tx().exec_prepared("get_events", std::string(request_id)));
    });
  }

  ChainHead Head() const override { return head_; }

  // NOTIFY is delivered at commit whenever it is sent: it goes with the held-back rows.
  Status NotifyReady(std::string_view service) override {
    pending_notifies_.insert(std::string(service));
    return Status::Ok();
  }

  Status AppendCheckpoint(const CheckpointRecord& c) override {
    return RunOnEvents("append checkpoint", [&]() -> Status {
      Tx().exec_prepared("append_checkpoint", c.chain, c.chain_seq, c.hash, c.at_ms,
                           pqxx::binarystring(c.signature.data(), c.signature.size()),
                           pqxx::binarystring(c.certificate.data(), c.certificate.size()));
      return Status::Ok();
    });
  }

  Result<std::vector<ChainInfo>> Chains() override {
    return Run("chains", [&]() -> Result<std::vector<ChainInfo>> {
      std::vector<ChainInfo> out;
      for (const auto& row : Tx().exec_prepared("chains")) {
        out.push_back(ChainInfo{row[0].as<std::string>(), row[1].as<std::string>(),
                                row[2].as<int64_t>()});
      }
      return out;
    });
  }

  Result<std::vector<EventRecord>> ScanChain(std::string_view chain, int64_t after_chain_seq,
                                             int limit) override {
    return RunOnEvents("scan chain", [&]() -> Result<std::vector<EventRecord>> {
      return ReadEvents(
          Tx().exec_prepared("scan_chain", std::string(chain), after_chain_seq, limit));
    });
  }

  Result<std::vector<CheckpointRecord>> Checkpoints(std::string_view chain) override {
    return Run("checkpoints", [&]() -> Result<std::vector<CheckpointRecord>> {
      std::vector<CheckpointRecord> out;
      for (const auto& row : Tx().exec_prepared("checkpoints", std::string(chain))) {
        out.push_back(CheckpointRecord{row[0].as<std::string>(), row[1].as<int64_t>(),
                                       row[2].as<std::string>(), row[3].as<int64_t>(),
                                       pqxx::binarystring(row[4]).str(),
                                       pqxx::binarystring(row[5]).str()});
      }
      return out;
    });
  }

  Result<bool> AddObligation(const ObligationRecord& o) override {
    return RunBeside("add obligation", [&]() -> Result<bool> {
      auto r = Tx().exec_prepared("add_obligation", o.id, o.taxpayer_id, o.kind, o.period, o.due_date, o.met,
                                    EncodeJsonMap(o.attributes), o.created_at_ms, o.met_at_ms,
                                    o.due_reminded_at_ms, o.overdue_reminded_at_ms);
      return r.affected_rows() == 1;
    });
  }

  Result<bool> MeetObligation(const ObligationRecord& o, int64_t now_ms, bool keep_if_absent) override {
    return RunBeside("meet obligation", [&]() -> Result<bool> {
      if (!keep_if_absent) return Tx().exec_prepared("meet_obligation", now_ms, o.id).affected_rows() == 1;
      pqxx::result r = Tx().exec_prepared("meet_or_keep_obligation", o.id, o.taxpayer_id, o.kind, o.period, now_ms);
      return !r.empty() && r[0][0].as<bool>();
    });
  }

  Result<std::vector<ObligationRecord>> ObligationsToRemind(Reminder which, std::string_view from_date,
                                                            std::string_view to_date, int limit) override {
    return RunBeside("obligations to remind", [&]() -> Result<std::vector<ObligationRecord>> {
      return ReadObligations(Tx().exec_prepared(which == Reminder::kDue ? "obligations_due" : "obligations_overdue",
                                                  std::string(from_date), std::string(to_date), limit));
    });
  }

  Result<bool> MarkReminded(std::string_view id, Reminder which, int64_t now_ms) override {
    return RunBeside("mark reminded", [&]() -> Result<bool> {
      return Tx().exec_prepared(which == Reminder::kDue ? "mark_due_reminded" : "mark_overdue_reminded", now_ms,
                                  std::string(id))
                 .affected_rows() == 1;
    });
  }

  Result<std::vector<ObligationRecord>> ObligationsOf(std::string_view taxpayer_id) override {
    return RunBeside("obligations of", [&]() -> Result<std::vector<ObligationRecord>> {
      return ReadObligations(Tx().exec_prepared("obligations_of", std::string(taxpayer_id)));
    });
  }

  // An advisory lock is held until the transaction ends: asked for again, it costs nothing.
  Status LockKey(std::string_view key) override {
    if (locked_keys_.contains(key)) return Status::Ok();
    return RunBeside("lock key", [&]() -> Status {
      Tx().exec_prepared("lock_key", std::string(key));
      locked_keys_.insert(std::string(key));
      return Status::Ok();
    });
  }

  Status PutFigure(const FigureRecord& f) override {
    return RunBeside("put figure", [&]() -> Status {
      Tx().exec_prepared("put_figure", f.taxpayer_id, f.name, f.period, f.value, f.request_id, f.at_ms);
      return Status::Ok();
    });
  }

  Result<std::vector<FigureRecord>> FiguresOf(std::string_view taxpayer_id, std::string_view name,
                                              std::string_view up_to_period, int limit) override {
    return RunBeside("figures", [&]() -> Result<std::vector<FigureRecord>> {
      std::vector<FigureRecord> out;
      for (const auto& row : Tx().exec_prepared("figures_of", std::string(taxpayer_id), std::string(name),
                                                  std::string(up_to_period), limit)) {
        out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                       row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<int64_t>()});
      }
      return out;
    });
  }

  Result<int64_t> CountRequests(std::string_view taxpayer_id, RequestState state, int64_t since_ms) override {
    return Run("count requests", [&]() -> Result<int64_t> {
      return Tx().exec_prepared1("count_requests", std::string(taxpayer_id), since_ms,
                                   std::string(ToString(state)))[0]
          .as<int64_t>();
    });
  }

  Result<bool> RaiseAlert(const AlertRecord& a) override {
    return RunBeside("raise alert", [&]() -> Result<bool> {
      return Tx().exec_prepared("raise_alert", a.id, a.taxpayer_id, a.rule, a.period, a.text, a.detail,
                                  a.raised_at_ms)
                 .affected_rows() == 1;
    });
  }

  Result<std::vector<AlertRecord>> AlertsOf(std::string_view taxpayer_id, int limit) override {
    return RunBeside("alerts", [&]() -> Result<std::vector<AlertRecord>> {
      std::vector<AlertRecord> out;
      for (const auto& row : Tx().exec_prepared("alerts_of", std::string(taxpayer_id), limit)) {
        out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                       row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
                       row[6].as<int64_t>()});
      }
      return out;
    });
  }

  Result<std::map<std::string, std::pair<int64_t, int64_t>>> QueueDepths() override {
    return Run("queue depths", [&]() -> Result<std::map<std::string, std::pair<int64_t, int64_t>>> {
      std::map<std::string, std::pair<int64_t, int64_t>> out;
      for (const auto& row : Tx().exec_prepared("queue_depths")) {
        auto& [waiting, claimed] = out[row[0].as<std::string>()];
        (row[1].as<std::string>() == "READY" ? waiting : claimed) = row[2].as<int64_t>();
      }
      return out;
    });
  }

  Result<int64_t> CountEventsOutsideChains() override {
    return RunOnEvents("events outside chains", [&]() -> Result<int64_t> {
      return Tx()
          .exec1("SELECT count(*) FROM events WHERE chain NOT IN (SELECT chain FROM chains)")[0]
          .as<int64_t>();
    });
  }

  Result<int64_t> CountInState(RequestState state) override {
    return Run("count in state", [&]() -> Result<int64_t> {
      return Tx().exec_prepared1("count_in_state", std::string(ToString(state)))[0].as<int64_t>();
    });
  }

  Result<std::vector<RequestRecord>> SearchRequests(const RequestQuery& q) override {
    return Run("search requests", [&]() -> Result<std::vector<RequestRecord>> {
      std::vector<RequestRecord> out;
      for (const auto& row : Tx().exec_prepared("search_requests", q.taxpayer_id, q.kind, q.state, q.accepted_from_ms,
                                                  q.accepted_to_ms, q.overdue_only ? 1 : 0, q.now_ms,
                                                  q.before_accepted_ms, q.before_id, q.limit)) {
        auto r = ReadRequest(row);
        if (!r) return Error(r.error());
        out.push_back(std::move(*r));
      }
      return out;
    });
  }

  Result<std::vector<RequestRecord>> ScanRequests(std::string_view after_id, int limit) override {
    return Run("scan requests", [&]() -> Result<std::vector<RequestRecord>> {
      std::vector<RequestRecord> out;
      for (const auto& row : Tx().exec_prepared("scan_requests", std::string(after_id), limit)) {
        auto r = ReadRequest(row);
        if (!r) return Error(r.error());
        out.push_back(std::move(*r));
      }
      return out;
    });
  }

  Status Commit() override;

 private:
  // The stage of a prefetched request, or null.
  StageRecord* ReadStage(const std::string& request_id, int index) {
    auto read = read_stages_.find(request_id);
    if (read == read_stages_.end()) return nullptr;
    for (StageRecord& stage : read->second) {
      if (stage.index == index) return &stage;
    }
    return nullptr;
  }
  // Stages as a claim returned them.
  void Follow(const std::vector<StageRecord>& written) {
    for (const StageRecord& stage : written) {
      if (StageRecord* read = ReadStage(stage.request_id, stage.index)) *read = stage;
    }
  }

  std::set<std::string, std::less<>> absent_;  // prefetched ids with no row
  // Prefetched rows and their stages, kept as this transaction writes them.
  std::map<std::string, RequestRecord, std::less<>> read_requests_;
  std::map<std::string, std::vector<StageRecord>, std::less<>> read_stages_;
  // Updates of those held back: of stages, with each as read, and of requests' states.
  struct HeldUpdate {
    StageRecord as_read;  // as the transaction read it (or claimed it)
    StageRecord stage;    // as it is to be written
  };
  std::map<std::pair<std::string, int>, HeldUpdate> held_updates_;
  std::map<std::string, RequestRecord> held_states_;
  std::set<std::string, std::less<>> locked_keys_;
  std::vector<RequestRecord> pending_requests_;
  std::vector<StageRecord> pending_stages_;
  std::vector<EventRecord> pending_events_;
  std::set<std::string> pending_notifies_;
  PostgresLedger& ledger_;
  std::unique_ptr<pqxx::nontransaction> work_;
  bool begun_ = false;
  ChainHead head_;
  const uint64_t epoch_;
  std::set<std::string> due_;  // the READY notices its commit sends (NotifiesDue())
  bool ended_ = false;         // committed, or its commit started
  std::optional<Status> outcome_;  // once its commit is settled
};

class PostgresLedger final : public Ledger {
 public:
  PostgresLedger(PostgresOptions options, ChainOptions chain)
      : options_(std::move(options)), chain_(std::move(chain)) {}

  // Releases the chain lock before the connection goes. The server frees a closed session's
  // locks only once its backend process has exited, after the client has moved on: a hub (or a
  // test) that opens the ledger again at once would find its own id still taken.
  ~PostgresLedger() override {
    SettleBehind();
    if (!locked_ || !connection_ || !connection_->is_open()) return;
    try {
      pqxx::nontransaction tx(*connection_);
      tx.exec_params("SELECT pg_advisory_unlock(hashtextextended(current_database() || "
                     "':taxhub-chain:' || $1, 0))",
                     chain_.chain);
    } catch (const std::exception&) {
      // The connection is failing; closing it frees the lock all the same.
    }
  }

  std::string_view backend() const override { return "postgres"; }

  // (Re)connects; a writing connection then takes its chain's lock and reads its head (the
  // database is the truth about the head, after an in-doubt commit as after a restart).
  Status Connect() {
    head_valid_ = false;
    return Guard("connect", [&]() -> Status {
      receiver_.reset();
      connection_.reset();
      connection_ = std::make_unique<pqxx::connection>(options_.dsn);
      for (const auto& [name, sql] : Statements()) connection_->prepare(name, sql);
      // A writing hub listens for the others' READY work.
      if (!chain_.chain.empty()) {
        receiver_ = std::make_unique<ReadyReceiver>(*connection_, notifications_);
      }
      return Status::Ok();
    });
  }

  Status LoadChain() {
    if (chain_.chain.empty()) {
      head_valid_ = true;
      return Status::Ok();
    }
    return Guard("load chain", [&]() -> Status {
      pqxx::nontransaction tx(*connection_);
      if (!locked_) {
        // Advisory locks are cluster-wide: the key names the database as well as the chain.
        bool got = tx.exec_params1(
                         "SELECT pg_try_advisory_lock(hashtextextended(current_database() || "
                         "':taxhub-chain:' || $1, 0))",
                         chain_.chain)[0]
                       .as<bool>();
        if (!got) {
          return Status(ErrorCode::kUnavailable,
                        "another session holds the chain of hub id " + chain_.chain +
                            ": another hub with this id (hub ids must be unique), or this hub's own "
                            "connection lost a moment ago, whose server session has not ended yet",
                        "hub.id");
        }
        locked_ = true;
      }
      tx.exec_params(
          "INSERT INTO chains (chain, algorithm, created_at) VALUES ($1, $2, $3) "
          "ON CONFLICT (chain) DO NOTHING",
          chain_.chain, chain_.algorithm, SystemClock().NowMs());
      std::string algorithm =
          tx.exec_params1("SELECT algorithm FROM chains WHERE chain = $1", chain_.chain)[0]
              .as<std::string>();
      if (algorithm != chain_.algorithm) {
        return Status(ErrorCode::kBadRequest,
                      "chain " + chain_.chain + " was begun with " + algorithm +
                          "; it cannot continue with " + chain_.algorithm,
                      "ledger.hash");
      }
      pqxx::result head = tx.exec_params(
          "SELECT chain_seq, hash FROM events WHERE chain = $1 ORDER BY chain_seq DESC LIMIT 1",
          chain_.chain);
      head_ = head.empty() ? ChainHead{}
                           : ChainHead{head[0][0].as<int64_t>(), head[0][1].as<std::string>()};
      head_valid_ = true;
      return Status::Ok();
    });
  }

  bool PrefetchesRequests() const override { return true; }

  int NotificationFd() override {
    if (behind_) return -1;  // the committing thread has the connection
    return connection_ && connection_->is_open() && receiver_ ? connection_->sock() : -1;
  }

  std::vector<std::string> TakeNotifications() override {
    if (in_transaction_ || behind_ || !connection_ || !receiver_) return {};
    try {
      connection_->get_notifs();
    } catch (const std::exception&) {
      // A lost connection is noticed and repaired at the next Begin().
    }
    std::vector<std::string> out;
    out.swap(notifications_);
    return out;
  }

  Status Maintain() override {
    if (in_transaction_) return Status(ErrorCode::kInternal, "maintenance inside a transaction");
    SettleBehind();
    if (!connection_ || !connection_->is_open()) TAXHUB_RETURN_IF_ERROR(Connect());
    return Guard("event partitions", [&]() -> Status {
      pqxx::work tx(*connection_);
      tx.exec("SELECT taxhub_ensure_event_partitions(current_date, 3)");
      tx.commit();
      return Status::Ok();
    });
  }

  const ChainOptions& chain() const { return chain_; }
  void Committed(const ChainHead& head) {
    const ChainHead before = head_;
    head_ = head;
    NotifyCommitted(before, head_);
  }
  // A failed commit leaves the head unknown (the database is read again at the next Begin()),
  // and fails any transaction begun on top of it.
  void CommitFailed() {
    head_valid_ = false;
    ++epoch_;
  }
  uint64_t epoch() const { return epoch_; }

  Result<std::unique_ptr<Transaction>> Begin() override {
    if (in_transaction_) {
      return Error(ErrorCode::kInternal, "a transaction is already open on this ledger");
    }
    if (behind_) {
      // Follows the commit under way, on its head; the connection is checked once that is done.
      in_transaction_ = true;
      return std::unique_ptr<Transaction>(std::make_unique<PostgresTransaction>(*this, behind_head_, epoch_));
    }
    if (!connection_ || !connection_->is_open()) {
      locked_ = false;  // a new session holds no advisory lock
      TAXHUB_RETURN_IF_ERROR(Connect());
    }
    if (!head_valid_) TAXHUB_RETURN_IF_ERROR(LoadChain());
    in_transaction_ = true;
    return std::unique_ptr<Transaction>(std::make_unique<PostgresTransaction>(*this, head_, epoch_));
  }

  bool CommitsBehind() const override { return true; }
  int CommitFd() override { return behind_ && committer_ ? committer_->fd() : -1; }

  std::unique_ptr<pqxx::nontransaction> NewWork() {
    return std::make_unique<pqxx::nontransaction>(*connection_);
  }
  // Hands `txn`'s commit to the committing thread; the next transaction may begin at once.
  void StartBehind(PostgresTransaction& txn, const ChainHead& head) {
    if (!committer_) committer_ = std::make_unique<Committer>();
    behind_ = &txn;
    behind_head_ = head;
    in_transaction_ = false;
    committer_->Start([&txn] { return txn.CommitOnWire(); });
  }
  // Waits for the commit behind, if any, and settles it.
  void SettleBehind() {
    if (!behind_) return;
    PostgresTransaction* txn = behind_;
    const Status status = committer_->Wait();
    behind_ = nullptr;
    txn->Settle(status);
  }
  bool IsBehind(const PostgresTransaction* txn) const { return behind_ == txn; }

  Result<int> SchemaVersion() override {
    if (!connection_ || !connection_->is_open()) TAXHUB_RETURN_IF_ERROR(Connect());
    return Guard("schema version", [&]() -> Result<int> {
      pqxx::nontransaction tx(*connection_);
      return tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].as<int>();
    });
  }

  // Several hubs may start at once: an advisory lock makes migration one at a time.
  Status Migrate() {
    return Guard("migrate", [&]() -> Status {
      pqxx::work tx(*connection_);
      tx.exec("SELECT pg_advisory_xact_lock(7274823)");
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
          "name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
      int current = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].as<int>();
      for (const Migration& m : MigrationsFor("postgres")) {
        if (m.version <= current) continue;
        tx.exec(m.sql);
        tx.exec_params("INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                       m.version, std::string(m.name), SystemClock().NowMs());
      }
      tx.commit();
      return Status::Ok();
    });
  }

  void EndTransaction() { in_transaction_ = false; }

  // Of the services a committing transaction has READY work for, and those owed from earlier
  // commits, the ones to announce with it (at most once per options_.notify_every_ms each).
  std::set<std::string> NotifiesDue(const std::set<std::string>& services) const {
    const int64_t now = MonotonicMs();
    std::set<std::string> due;
    for (const std::set<std::string>* from : {&services, &owed_notifies_}) {
      for (const std::string& service : *from) {
        auto last = notified_at_ms_.find(service);
        if (last == notified_at_ms_.end() || now - last->second >= options_.notify_every_ms) {
          due.insert(service);
        }
      }
    }
    return due;
  }
  // Once that commit succeeded: `sent` went out; the rest of `services` are owed. (A commit that
  // failed changes nothing: its READY work was not recorded, and what was owed still is.)
  void Announced(const std::set<std::string>& services, const std::set<std::string>& sent) {
    const int64_t now = MonotonicMs();
    for (const std::string& service : sent) {
      notified_at_ms_[service] = now;
      owed_notifies_.erase(service);
    }
    for (const std::string& service : services) {
      if (!sent.contains(service)) owed_notifies_.insert(service);
    }
  }

 private:
  PostgresOptions options_;
  std::map<std::string, int64_t> notified_at_ms_;
  std::set<std::string> owed_notifies_;
  ChainOptions chain_;
  ChainHead head_;
  bool head_valid_ = false;
  bool locked_ = false;
  std::unique_ptr<pqxx::connection> connection_;
  std::vector<std::string> notifications_;
  std::unique_ptr<ReadyReceiver> receiver_;  // destroyed before connection_ (declared after)
  bool in_transaction_ = false;
  uint64_t epoch_ = 0;  // commits failed so far
  // The transaction whose commit the committing thread is running, and its head.
  PostgresTransaction* behind_ = nullptr;
  ChainHead behind_head_;
  std::unique_ptr<Committer> committer_;  // made at the first commit behind; goes before connection_
};

Result<int64_t> PostgresTransaction::AppendEvent(const EventRecord& event) {
  EventRecord e = event;
  ChainHead next = head_;
  TAXHUB_RETURN_IF_ERROR(LinkEvent(ledger_.chain(), next, e));
  return RunOnEvents("append event", [&]() -> Result<int64_t> {
    pqxx::result r = Tx().exec_prepared("append_event", e.chain, e.chain_seq, e.request_id,
                                          e.stage, e.type, e.at_ms, e.detail, e.prev_hash, e.hash);
    head_ = next;
    return r[0][0].as<int64_t>();
  });
}

Status PostgresTransaction::AddEvent(const EventRecord& event) {
  EventRecord e = event;
  ChainHead next = head_;
  TAXHUB_RETURN_IF_ERROR(LinkEvent(ledger_.chain(), next, e));  // linked now, in order
  head_ = next;
  pending_events_.push_back(std::move(e));
  return Status::Ok();
}

Status PostgresTransaction::Flush() {
  if (!HoldsRows()) return Status::Ok();
  return Guard("write new rows", [&]() -> Status {
    Tx();
    PutRows({});
    return Status::Ok();
  });
}

void PostgresTransaction::PutRows(const std::set<std::string>& notify) {
  using A = BinaryArray;
  if (!held_updates_.empty() || !held_states_.empty()) {
    std::vector<BinaryArray> u = {
        // stages: key, the token read, then the mutable columns
        A(A::kText), A(A::kInt8), A(A::kInt8), A(A::kText), A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kInt8),
        A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kText), A(A::kText), A(A::kText), A(A::kText), A(A::kText),
        // requests' states
        A(A::kText), A(A::kText), A(A::kInt8), A(A::kInt8),
        // stages as read
        A(A::kText), A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kText), A(A::kInt8)};
    for (const auto& [key, held] : held_updates_) {
      const StageRecord& st = held.stage;
      u[0].Text(st.request_id);
      u[1].Number(st.index);
      u[2].Number(held.as_read.token);
      u[3].Text(ToString(st.state));
      u[4].Number(st.attempt);
      u[5].Number(st.token);
      u[6].Number(st.ready_at_ms);
      u[7].Number(st.started_at_ms);
      u[8].Number(st.finished_at_ms);
      u[9].Number(st.deadline_ms);
      u[10].Number(st.lease_until_ms);
      u[11].Text(st.lease_owner);
      u[12].Text(st.handler);
      u[13].Text(st.code);
      u[14].Text(st.message);
      u[15].Text(EncodeJsonMap(st.outputs));
      u[20].Text(ToString(held.as_read.state));
      u[21].Number(held.as_read.attempt);
      u[22].Number(held.as_read.ready_at_ms);
      u[23].Number(held.as_read.lease_until_ms);
      u[24].Text(held.as_read.lease_owner);
      u[25].Number(held.as_read.finished_at_ms);
    }
    for (const auto& [id, r] : held_states_) {
      u[16].Text(id);
      u[17].Text(ToString(r.state));
      u[18].Number(r.updated_at_ms);
      u[19].Number(r.finished_at_ms);
    }
    std::vector<pqxx::binarystring> params;
    for (const BinaryArray& column : u) params.push_back(column.Done());
    const pqxx::row updated = Work().exec_params1(kPutUpdates, pqxx::prepare::make_dynamic_params(params));
    if (updated[0].as<size_t>() != held_updates_.size()) {
      throw std::runtime_error("a stage this batch read was changed meanwhile by another hub");
    }
    held_updates_.clear();
    held_states_.clear();
  }
  if (pending_requests_.empty() && pending_stages_.empty() && pending_events_.empty() && notify.empty()) {
    return;
  }
  // Each column an array with one element per row, in the order of kPutRows' parameters.
  std::vector<BinaryArray> c = {
      // requests
      A(A::kText), A(A::kText), A(A::kText), A(A::kText), A(A::kBytea), A(A::kText), A(A::kText), A(A::kInt8),
      A(A::kText), A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kBytea), A(A::kBytea), A(A::kText), A(A::kInt8),
      // stages
      A(A::kText), A(A::kInt8), A(A::kText), A(A::kText), A(A::kText), A(A::kText), A(A::kInt8), A(A::kInt8),
      A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kInt8), A(A::kText),
      A(A::kText), A(A::kText), A(A::kText), A(A::kText), A(A::kText), A(A::kFloat8), A(A::kText), A(A::kInt8),
      A(A::kFloat8), A(A::kInt8), A(A::kInt8), A(A::kBool),
      // events
      A(A::kText), A(A::kInt8), A(A::kText), A(A::kInt8), A(A::kText), A(A::kInt8), A(A::kText), A(A::kText),
      A(A::kText),
      // the READY notices
      A(A::kText)};
  for (const RequestRecord& r : pending_requests_) {
    c[0].Text(r.id);
    c[1].Text(r.kind);
    c[2].Text(r.taxpayer_id);
    c[3].Text(EncodeJsonMap(r.attributes));
    c[4].Bytes(r.body);
    c[5].Text(r.fingerprint);
    c[6].Text(r.route);
    c[7].Number(r.route_version);
    c[8].Text(ToString(r.state));
    c[9].Number(r.accepted_at_ms);
    c[10].Number(r.updated_at_ms);
    c[11].Number(r.finished_at_ms);
    c[12].Bytes(r.signature);
    c[13].Bytes(r.certificate);
    c[14].Text(r.signer);
    c[15].Number(r.verified_at_ms);
  }
  for (const StageRecord& st : pending_stages_) {
    c[16].Text(st.request_id);
    c[17].Number(st.index);
    c[18].Text(st.name);
    c[19].Text(st.label);
    c[20].Text(st.service);
    c[21].Text(ToString(st.state));
    c[22].Number(st.attempt);
    c[23].Number(st.max_attempts);
    c[24].Number(st.token);
    c[25].Number(st.time_limit_ms);
    c[26].Number(st.ready_at_ms);
    c[27].Number(st.started_at_ms);
    c[28].Number(st.finished_at_ms);
    c[29].Number(st.deadline_ms);
    c[30].Number(st.lease_until_ms);
    c[31].Text(st.lease_owner);
    c[32].Text(st.handler);
    c[33].Text(st.code);
    c[34].Text(st.message);
    c[35].Text(EncodeJsonMap(st.outputs));
    c[36].Text(st.queue);
    c[37].Real(st.difficulty);
    c[38].Text(st.condition);
    c[39].Number(st.initial_backoff_ms);
    c[40].Real(st.backoff_multiplier);
    c[41].Number(st.max_backoff_ms);
    c[42].Number(st.attempt_timeout_ms);
    c[43].Bool(st.on_rejection);
  }
  for (const EventRecord& e : pending_events_) {
    c[44].Text(e.chain);
    c[45].Number(e.chain_seq);
    c[46].Text(e.request_id);
    c[47].Number(e.stage);
    c[48].Text(e.type);
    c[49].Number(e.at_ms);
    c[50].Text(e.detail);
    c[51].Text(e.prev_hash);
    c[52].Text(e.hash);
  }
  for (const std::string& service : notify) c[53].Text(service);
  std::vector<pqxx::binarystring> params;
  params.reserve(c.size());
  for (const BinaryArray& column : c) params.push_back(column.Done());
  Work().exec_prepared("put_rows", pqxx::prepare::make_dynamic_params(params));
  pending_requests_.clear();
  pending_stages_.clear();
  pending_events_.clear();
}

PostgresTransaction::~PostgresTransaction() {
  if (ledger_.IsBehind(this)) {
    ledger_.SettleBehind();  // the committing thread holds a reference to this transaction
    return;
  }
  if (ended_) return;
  Abort();
  work_.reset();
  ledger_.EndTransaction();
}

pqxx::nontransaction& PostgresTransaction::Work() {
  if (!work_) {
    ledger_.SettleBehind();
    if (ledger_.epoch() != epoch_) {
      throw std::runtime_error("the commit of the transaction before this one failed");
    }
    work_ = ledger_.NewWork();
  }
  return *work_;
}

void PostgresTransaction::Abort() {
  if (!begun_ || !work_) return;
  try {
    work_->exec0("ROLLBACK");
  } catch (...) {
    // The connection is gone, and the server rolled back with it.
  }
}

Status PostgresTransaction::Commit() {
  if (ReadyToCommit()) {
    ledger_.EndTransaction();
    Settle(CommitOnWire());
  }
  return *outcome_;
}

void PostgresTransaction::CommitBehind() {
  if (ReadyToCommit()) ledger_.StartBehind(*this, head_);
}

bool PostgresTransaction::ReadyToCommit() {
  ended_ = true;
  ledger_.SettleBehind();  // the commit before this one, if the caller has not settled it
  due_ = ledger_.NotifiesDue(pending_notifies_);
  Status ready;
  if (ledger_.epoch() != epoch_) {
    ready = Status(ErrorCode::kUnavailable, "postgres commit: the commit of the transaction before this one failed");
  } else if (begun_ || HoldsRows() || !due_.empty()) {
    // What needs the connection on this thread happens here: libpqxx's handle is made.
    ready = Guard("commit", [&]() -> Status {
      Work();
      return Status::Ok();
    });
    if (ready.ok()) return true;
  }
  // Settled already: nothing to write, or it cannot be written.
  Abort();
  work_.reset();
  ledger_.EndTransaction();
  Settle(ready);
  return false;
}

Status PostgresTransaction::AwaitCommit() {
  if (ledger_.IsBehind(this)) ledger_.SettleBehind();
  return outcome_.value_or(Status(ErrorCode::kInternal, "await of a commit that was never started"));
}

Status PostgresTransaction::CommitOnWire() {
  // A transaction that only wrote new rows commits in one round trip: its rows' statement, sent
  // outside BEGIN. One that began sends its rows, then COMMIT.
  Status status = Guard("commit", [&]() -> Status {
    // NOTIFY is delivered at commit. Outside BEGIN, the rows' statement is the commit; inside,
    // COMMIT follows it.
    if (begun_ && (HoldsRows() || !due_.empty())) PutRows(due_);
    try {
      if (begun_) {
        work_->exec0("COMMIT");
      } else {
        PutRows(due_);
      }
    } catch (const pqxx::broken_connection& e) {
      // Cut while committing: the server may have committed.
      throw pqxx::in_doubt_error(e.what());
    }
    return Status::Ok();
  });
  if (!status.ok()) Abort();  // a failed statement before COMMIT leaves the transaction open
  work_.reset();
  return status;
}

void PostgresTransaction::Settle(const Status& status) {
  if (status.ok()) {
    ledger_.Committed(head_);
    ledger_.Announced(pending_notifies_, due_);
  } else {
    ledger_.CommitFailed();
  }
  outcome_ = status;
}

}  // namespace

Result<std::unique_ptr<Ledger>> OpenPostgresLedger(const PostgresOptions& options,
                                                   const ChainOptions& chain) {
  auto ledger = std::make_unique<PostgresLedger>(options, chain);
  TAXHUB_RETURN_IF_ERROR(ledger->Connect());
  TAXHUB_RETURN_IF_ERROR(ledger->Migrate());
  if (!chain.chain.empty()) TAXHUB_RETURN_IF_ERROR(ledger->Maintain());
  TAXHUB_RETURN_IF_ERROR(ledger->LoadChain());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

}  // namespace taxhub::ledger
