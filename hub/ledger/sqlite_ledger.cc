// The SQLite ledger: one embedded database file in WAL mode, for a single hub.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "hub/base/clock.h"
#include "hub/ledger/ledger.h"
#include "hub/ledger/migrations.h"
#include "hub/ledger/sqlite_vfs.h"

namespace taxhub::ledger {
namespace {

constexpr const char* kStageColumns =
    "request_id, idx, name, label, service, state, attempt, max_attempts, token, time_limit_ms, "
    "ready_at, started_at, finished_at, deadline_at, lease_until, lease_owner, handler, code, "
    "message, outputs, queue, difficulty, condition, initial_backoff_ms, backoff_multiplier, "
    "max_backoff_ms, attempt_timeout_ms, on_rejection";
constexpr const char* kRequestColumns =
    "id, kind, taxpayer_id, attributes, body, fingerprint, route, route_version, state, "
    "accepted_at, updated_at, finished_at, signature, certificate, signer, verified_at";

class Statement {
 public:
  // A null statement (one that failed to prepare) fails on Step().
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement() {
    if (!stmt_) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  Statement& Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); return *this; }
  Statement& Bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); return *this; }
  Statement& Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const {
    const char* p = reinterpret_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }

 private:
  sqlite3_stmt* stmt_;
};

// The rows of the requests under way, as the database holds them. The engine reads a request's
// stages for every result and every dispatch, and its request for every dispatch; a writing
// connection is the database's only writing hub (the lock file), so a copy kept since it was
// read is the row — unless someone else wrote to the file (an operator's sqlite3 shell), which
// PRAGMA data_version tells at each Begin(), and then the cache is emptied. Every write of the
// ledger goes to the database and then here; a rollback of a transaction that wrote empties the
// cache. Filled on reads only — a backlog of new requests does not push out the ones under way —
// and bounded, the oldest entries dropped first: at most kCapacity requests, each kept only
// while it is small (32 MB in all at most; larger ones are read each time).
class RowCache {
 public:
  static constexpr size_t kCapacity = 2048;        // requests
  static constexpr size_t kMaxEntryBytes = 8192;   // a request's row, or all its stages

  // Null when not cached. What it points to never changes: a write to a stage that is shared
  // changes a copy (copy on write).
  std::shared_ptr<const std::vector<StageRecord>> Stages(std::string_view request_id) const {
    auto it = stages_.find(request_id);
    return it == stages_.end() ? nullptr : it->second;
  }
  void PutStages(std::string_view request_id, std::shared_ptr<std::vector<StageRecord>> stages) {
    if (Bytes(*stages) > kMaxEntryBytes) return;
    Put(stages_, stage_order_, std::string(request_id), std::move(stages));
  }
  // After a stage row was written: the copy follows, or is dropped if it cannot.
  void StageWritten(const StageRecord& written) {
    wrote_ = true;
    auto it = stages_.find(written.request_id);
    if (it == stages_.end()) return;
    std::vector<StageRecord>& stages = Writable(it->second);
    if (written.index < 0 || written.index >= static_cast<int>(stages.size()) ||
        stages[written.index].index != written.index) {
      stages_.erase(it);
      return;
    }
    stages[written.index].TakeWrittenColumns(written);
    if (Bytes(stages) > kMaxEntryBytes) stages_.erase(it);  // grown past the bound
  }
  void DropStages(std::string_view request_id) {
    wrote_ = true;
    if (auto it = stages_.find(request_id); it != stages_.end()) stages_.erase(it);
  }

  // Null when not cached. As with stages, what it points to never changes.
  std::shared_ptr<const RequestRecord> Request(std::string_view id) const {
    auto it = requests_.find(id);
    return it == requests_.end() ? nullptr : it->second;
  }
  void PutRequest(std::shared_ptr<RequestRecord> row) {
    const RequestRecord& r = *row;
    size_t bytes = sizeof r + r.id.size() + r.kind.size() + r.taxpayer_id.size() + r.body.size() +
                   r.fingerprint.size() + r.route.size() + r.signature.size() + r.certificate.size() +
                   r.signer.size();
    for (const auto& [key, value] : r.attributes) bytes += key.size() + value.size();
    if (bytes > kMaxEntryBytes) return;
    Put(requests_, request_order_, r.id, std::move(row));
  }
  void RequestStateWritten(std::string_view id, RequestState state, int64_t now_ms, int64_t finished_at_ms) {
    wrote_ = true;
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    RequestRecord& r = Writable(it->second);
    r.state = state;
    r.updated_at_ms = now_ms;
    r.finished_at_ms = finished_at_ms;
  }
  void DropRequest(std::string_view id) {
    wrote_ = true;
    if (auto it = requests_.find(id); it != requests_.end()) requests_.erase(it);
  }

  // A transaction begins: whether it writes rows that are cached is counted from here.
  void Begun() { wrote_ = false; }
  // It rolled back: what it wrote here is undone by forgetting everything, if it wrote.
  void RolledBack() {
    if (wrote_) Clear();
  }
  void Clear() {
    stages_.clear();
    stage_order_.clear();
    requests_.clear();
    request_order_.clear();
  }

 private:
  // A cached row to change in place: copied first while someone else shares it (copy on write).
  template <typename Row>
  static Row& Writable(std::shared_ptr<Row>& row) {
    if (row.use_count() > 1) row = std::make_shared<Row>(*row);
    return *row;
  }
  static size_t Bytes(const std::vector<StageRecord>& stages) {
    size_t bytes = 0;
    for (const StageRecord& st : stages) {
      bytes += sizeof st + st.name.size() + st.label.size() + st.service.size() + st.queue.size() +
               st.condition.size() + st.lease_owner.size() + st.handler.size() + st.code.size() +
               st.message.size();
      for (const auto& [key, value] : st.outputs) bytes += key.size() + value.size();
    }
    return bytes;
  }

  template <typename Map, typename Value>
  static void Put(Map& map, std::deque<std::string>& order, std::string key, Value&& value) {
    auto [it, added] = map.insert_or_assign(key, std::forward<Value>(value));
    if (!added) return;
    order.push_back(std::move(key));
    while (map.size() > kCapacity && !order.empty()) {  // an older key may be gone already
      map.erase(order.front());
      order.pop_front();
    }
    if (order.size() > 4 * kCapacity) {  // keys dropped and put again pile up: start afresh
      map.clear();
      order.clear();
    }
  }

  // Looked up by a string_view without making a string of it.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>()(key); }
  };
  template <typename Value>
  using Map = std::unordered_map<std::string, Value, Hash, std::equal_to<>>;

  Map<std::shared_ptr<std::vector<StageRecord>>> stages_;
  std::deque<std::string> stage_order_;
  Map<std::shared_ptr<RequestRecord>> requests_;
  std::deque<std::string> request_order_;
  bool wrote_ = false;  // since Begun()
};

class SqliteLedger;

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteLedger& ledger, ChainHead head) : ledger_(ledger), head_(std::move(head)) {}
  ~SqliteTransaction() override;

  Result<std::optional<RequestRecord>> GetRequest(std::string_view id) override;
  Result<std::shared_ptr<const RequestRecord>> ShareRequest(std::string_view id) override;
  Status InsertRequest(const RequestRecord& request) override;
  Status UpdateRequestState(std::string_view id, RequestState state, int64_t now_ms,
                            int64_t finished_at_ms) override;
  Result<std::vector<RequestRecord>> ListRequests(RequestState state, int limit,
                                                  std::string_view after) override;
  Status UpdateRequestContent(const RequestRecord& request) override;
  Result<int64_t> RecordRouteTable(const RouteTableRecord& table) override;
  Result<std::optional<RouteTableRecord>> GetRouteTable(int64_t version) override;
  Status InsertStage(const StageRecord& stage) override;
  Result<std::vector<StageRecord>> GetStages(std::string_view request_id) override;
  Result<std::shared_ptr<const std::vector<StageRecord>>> ShareStages(std::string_view request_id) override;
  Status UpdateStage(const StageRecord& stage) override;
  Result<std::vector<StageRecord>> ClaimReady(std::string_view service, int limit, int64_t now_ms,
                                              std::string_view owner) override;
  Result<std::optional<StageRecord>> ClaimStage(std::string_view request_id, int index,
                                                std::string_view owner, std::string_view handler,
                                                int64_t now_ms, int64_t lease_until_ms) override;
  Result<std::vector<StageRecord>> QueueStages(std::string_view queue, int limit) override;
  Result<std::vector<StageRecord>> ExpiredLeases(int64_t now_ms, int limit) override;
  Result<std::vector<StageRecord>> LeasesOf(std::string_view owner) override;
  Result<std::vector<StageRecord>> OverdueStages(int64_t now_ms, int limit) override;
  Result<bool> MarkOverdue(std::string_view request_id, int index, int64_t now_ms) override;
  Result<int64_t> AppendEvent(const EventRecord& event) override;
  Result<std::vector<EventRecord>> GetEvents(std::string_view request_id) override;
  ChainHead Head() const override { return head_; }
  Status AppendCheckpoint(const CheckpointRecord& checkpoint) override;
  Status NotifyReady(std::string_view) override { return Status::Ok(); }
  Result<std::vector<ChainInfo>> Chains() override;
  Result<std::vector<EventRecord>> ScanChain(std::string_view chain, int64_t after_chain_seq,
                                             int limit) override;
  Result<std::vector<CheckpointRecord>> Checkpoints(std::string_view chain) override;
  Result<std::vector<RequestRecord>> ScanRequests(std::string_view after_id, int limit) override;
  Result<std::vector<RequestRecord>> SearchRequests(const RequestQuery& query) override;
  Result<std::map<std::string, std::pair<int64_t, int64_t>>> QueueDepths() override;
  Result<int64_t> CountInState(RequestState state) override;
  Result<int64_t> CountEventsOutsideChains() override;
  Result<bool> AddObligation(const ObligationRecord& o) override;
  Result<bool> MeetObligation(const ObligationRecord& o, int64_t now_ms, bool keep_if_absent) override;
  Result<std::vector<ObligationRecord>> ObligationsToRemind(Reminder which, std::string_view from_date,
                                                            std::string_view to_date, int limit) override;
  Result<bool> MarkReminded(std::string_view id, Reminder which, int64_t now_ms) override;
  Result<std::vector<ObligationRecord>> ObligationsOf(std::string_view taxpayer_id) override;
  Status LockKey(std::string_view) override { return Status::Ok(); }
  Status PutFigure(const FigureRecord& figure) override;
  Result<std::vector<FigureRecord>> FiguresOf(std::string_view taxpayer_id, std::string_view name,
                                              std::string_view up_to_period, int limit) override;
  Result<int64_t> CountRequests(std::string_view taxpayer_id, RequestState state, int64_t since_ms) override;
  Result<bool> RaiseAlert(const AlertRecord& alert) override;
  Result<std::vector<AlertRecord>> AlertsOf(std::string_view taxpayer_id, int limit) override;
  Status Commit() override;

 private:
  Result<std::vector<StageRecord>> ReadStages(Statement& stmt, std::string_view what);
  Result<RequestRecord> ReadRequest(Statement& stmt);
  // The rows as the database holds them, not through the row cache.
  Result<std::optional<RequestRecord>> LoadRequest(std::string_view id);
  Result<std::vector<StageRecord>> LoadStages(std::string_view request_id);
  Result<std::vector<RequestRecord>> ReadRequests(Statement& stmt, std::string_view what);
  Result<std::vector<EventRecord>> ReadEvents(Statement& stmt, std::string_view what);

  SqliteLedger& ledger_;
  ChainHead head_;
  bool done_ = false;
};

class SqliteLedger final : public Ledger {
 public:
  SqliteLedger(sqlite3* db, int lock_fd, ChainOptions chain)
      : db_(db), lock_fd_(lock_fd), chain_(std::move(chain)) {}
  ~SqliteLedger() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
    if (lock_fd_ >= 0) close(lock_fd_);
  }

  std::string_view backend() const override { return "sqlite"; }

  Result<std::unique_ptr<Transaction>> Begin() override {
    if (in_transaction_) {
      return Error(ErrorCode::kInternal, "a transaction is already open on this ledger");
    }
    if (!head_valid_) TAXHUB_RETURN_IF_ERROR(LoadChain());
    TAXHUB_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "begin"));
    if (Status checked = CheckOthersWrites(); !checked.ok()) {
      Exec("ROLLBACK", "rollback").ok();
      return Error(checked);
    }
    in_transaction_ = true;
    return std::unique_ptr<Transaction>(std::make_unique<SqliteTransaction>(*this, head_));
  }

  // Starts this connection's chain if it is new (refusing another hash algorithm for an
  // existing one) and reads its head.
  Status LoadChain() {
    if (chain_.chain.empty()) {
      head_valid_ = true;
      return Status::Ok();
    }
    Statement find = Prepare("SELECT algorithm FROM chains WHERE chain = ?");
    find.Bind(1, chain_.chain);
    int rc = find.Step();
    if (rc == SQLITE_ROW) {
      if (find.Text(0) != chain_.algorithm) {
        return Status(ErrorCode::kBadRequest,
                      "chain " + chain_.chain + " was begun with " + find.Text(0) +
                          "; it cannot continue with " + chain_.algorithm,
                      "ledger.hash");
      }
    } else if (rc == SQLITE_DONE) {
      Statement add = Prepare("INSERT INTO chains (chain, algorithm, created_at) VALUES (?, ?, ?)");
      add.Bind(1, chain_.chain).Bind(2, chain_.algorithm).Bind(3, SystemClock().NowMs());
      if (add.Step() != SQLITE_DONE) return Fail("start chain");
    } else {
      return Fail("find chain");
    }
    Statement head = Prepare(
        "SELECT chain_seq, hash FROM events WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1");
    head.Bind(1, chain_.chain);
    rc = head.Step();
    if (rc == SQLITE_ROW) {
      head_ = ChainHead{head.Int(0), head.Text(1)};
    } else if (rc == SQLITE_DONE) {
      head_ = ChainHead{};
    } else {
      return Fail("chain head");
    }
    head_valid_ = true;
    return Status::Ok();
  }

  const ChainOptions& chain() const { return chain_; }
  void Committed(const ChainHead& head) {
    const ChainHead before = head_;
    head_ = head;
    NotifyCommitted(before, head_);
  }
  void CommitFailed() { head_valid_ = false; }

  Result<int> SchemaVersion() override {
    Statement stmt = Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (stmt.Step() != SQLITE_ROW) return Error(Fail("schema version"));
    return static_cast<int>(stmt.Int(0));
  }

  Status Migrate() {
    TAXHUB_RETURN_IF_ERROR(Exec(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        "create schema_version"));
    auto current = SchemaVersion();
    if (!current) return current.error();
    for (const Migration& m : MigrationsFor("sqlite")) {
      if (m.version <= *current) continue;
      TAXHUB_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "begin migration"));
      Status applied = Exec(m.sql, std::string("migration ") + m.name);
      if (applied.ok()) {
        Statement stmt =
            Prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)");
        stmt.Bind(1, int64_t{m.version}).Bind(2, m.name).Bind(3, SystemClock().NowMs());
        if (stmt.Step() != SQLITE_DONE) applied = Fail("record migration");
      }
      if (applied.ok()) applied = Exec("COMMIT", "commit migration");
      if (!applied.ok()) {
        Exec("ROLLBACK", "rollback").ok();
        return applied;
      }
    }
    return Status::Ok();
  }

  Status Exec(const std::string& sql, std::string_view what) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      return Status(ErrorCode::kUnavailable, "sqlite " + std::string(what) + ": " + message);
    }
    return Status::Ok();
  }

  // Statements are prepared once per connection and reused.
  Statement Prepare(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
          SQLITE_OK) {
        // A statement that does not prepare is a programming error or a damaged schema; it
        // fails on Step() with this message, and is prepared afresh next time.
        last_prepare_error_ = sqlite3_errmsg(db_);
        return Statement(nullptr);
      }
      it = statements_.emplace(sql, stmt).first;
    }
    return Statement(it->second);
  }

  Status Fail(std::string_view what) {
    std::string message = sqlite3_errmsg(db_);
    if (!last_prepare_error_.empty()) message += " (" + last_prepare_error_ + ")";
    return Status(ErrorCode::kUnavailable, "sqlite " + std::string(what) + ": " + message);
  }

  void EndTransaction() { in_transaction_ = false; }
  // Null for a read-only connection, which sees others' writes.
  RowCache* cache() { return cache_.get(); }
  void EnableCache() { cache_ = std::make_unique<RowCache>(); }
  void RolledBack() {
    if (cache_) cache_->RolledBack();
  }
  // At each Begin(): another connection's commit since the last look empties the cache.
  Status CheckOthersWrites() {
    if (!cache_) return Status::Ok();
    Statement stmt = Prepare("PRAGMA data_version");
    if (stmt.Step() != SQLITE_ROW) return Fail("data version");
    const int64_t version = stmt.Int(0);
    if (version != data_version_) cache_->Clear();
    data_version_ = version;
    cache_->Begun();
    return Status::Ok();
  }
  int Changes() const { return sqlite3_changes(db_); }
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

 private:
  sqlite3* db_;
  int lock_fd_;
  ChainOptions chain_;
  ChainHead head_;
  bool head_valid_ = false;
  bool in_transaction_ = false;
  std::map<const char*, sqlite3_stmt*> statements_;
  std::string last_prepare_error_;
  std::unique_ptr<RowCache> cache_;
  int64_t data_version_ = -1;
};

SqliteTransaction::~SqliteTransaction() {
  if (!done_) {
    ledger_.Exec("ROLLBACK", "rollback").ok();
    ledger_.RolledBack();
    ledger_.EndTransaction();
  }
}

Status SqliteTransaction::Commit() {
  Status status = ledger_.Exec("COMMIT", "commit");
  if (!status.ok()) {
    ledger_.Exec("ROLLBACK", "rollback").ok();
    ledger_.RolledBack();
    ledger_.CommitFailed();
  } else {
    ledger_.Committed(head_);
  }
  done_ = true;
  ledger_.EndTransaction();
  return status;
}

Result<RequestRecord> SqliteTransaction::ReadRequest(Statement& stmt) {
  RequestRecord r;
  r.id = stmt.Text(0);
  r.kind = stmt.Text(1);
  r.taxpayer_id = stmt.Text(2);
  auto attributes = DecodeJsonMap(stmt.Text(3));
  if (!attributes) return Error(attributes.error().WithContext("request " + r.id + " attributes"));
  r.attributes = std::move(*attributes);
  r.body = stmt.Text(4);
  r.fingerprint = stmt.Text(5);
  r.route = stmt.Text(6);
  r.route_version = stmt.Int(7);
  auto state = ParseRequestState(stmt.Text(8));
  if (!state) return Error(state.error());
  r.state = *state;
  r.accepted_at_ms = stmt.Int(9);
  r.updated_at_ms = stmt.Int(10);
  r.finished_at_ms = stmt.Int(11);
  r.signature = stmt.Text(12);
  r.certificate = stmt.Text(13);
  r.signer = stmt.Text(14);
  r.verified_at_ms = stmt.Int(15);
  return r;
}

Result<std::optional<RequestRecord>> SqliteTransaction::GetRequest(std::string_view id) {
  if (!ledger_.cache()) return LoadRequest(id);  // a read-only connection: no copy kept
  auto shared = ShareRequest(id);
  if (!shared) return Error(shared.error());
  if (!*shared) return std::optional<RequestRecord>();
  return std::optional<RequestRecord>(**shared);
}

Result<std::shared_ptr<const RequestRecord>> SqliteTransaction::ShareRequest(std::string_view id) {
  RowCache* cache = ledger_.cache();
  if (cache) {
    if (auto cached = cache->Request(id)) return cached;
  }
  auto loaded = LoadRequest(id);
  if (!loaded) return Error(loaded.error());
  if (!loaded->has_value()) return std::shared_ptr<const RequestRecord>();
  auto row = std::make_shared<RequestRecord>(std::move(**loaded));
  if (cache) cache->PutRequest(row);
  return std::shared_ptr<const RequestRecord>(std::move(row));
}

Result<std::optional<RequestRecord>> SqliteTransaction::LoadRequest(std::string_view id) {
  static const std::string sql =
      std::string("SELECT ") + kRequestColumns + " FROM requests WHERE id = ?";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, id);
  int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::optional<RequestRecord>();
  if (rc != SQLITE_ROW) return Error(ledger_.Fail("get request"));
  auto r = ReadRequest(stmt);
  if (!r) return Error(r.error());
  return std::optional<RequestRecord>(std::move(*r));
}

Result<std::vector<RequestRecord>> SqliteTransaction::ListRequests(RequestState state, int limit,
                                                                   std::string_view after) {
  static const std::string sql =
      std::string("SELECT ") + kRequestColumns +
      " FROM requests WHERE state = ?1 AND (?2 = '' OR (updated_at, id) > "
      "(SELECT updated_at, id FROM requests WHERE id = ?2)) ORDER BY updated_at, id LIMIT ?3";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, ToString(state)).Bind(2, after).Bind(3, int64_t{limit});
  return ReadRequests(stmt, "list requests");
}

Result<std::vector<RequestRecord>> SqliteTransaction::ReadRequests(Statement& stmt,
                                                                   std::string_view what) {
  std::vector<RequestRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    auto r = ReadRequest(stmt);
    if (!r) return Error(r.error());
    out.push_back(std::move(*r));
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail(what));
  return out;
}

Result<int64_t> SqliteTransaction::RecordRouteTable(const RouteTableRecord& t) {
  Statement insert = ledger_.Prepare(
      "INSERT INTO route_tables (digest, source, text, loaded_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (digest) DO NOTHING");
  insert.Bind(1, t.digest).Bind(2, t.source).Bind(3, t.text).Bind(4, t.loaded_at_ms);
  if (insert.Step() != SQLITE_DONE) return Error(ledger_.Fail("record route table"));
  Statement find = ledger_.Prepare("SELECT version FROM route_tables WHERE digest = ?");
  find.Bind(1, t.digest);
  if (find.Step() != SQLITE_ROW) return Error(ledger_.Fail("find route table"));
  return find.Int(0);
}

Result<std::optional<RouteTableRecord>> SqliteTransaction::GetRouteTable(int64_t version) {
  Statement stmt = ledger_.Prepare(
      "SELECT version, digest, source, text, loaded_at FROM route_tables WHERE version = ?");
  stmt.Bind(1, version);
  int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::optional<RouteTableRecord>();
  if (rc != SQLITE_ROW) return Error(ledger_.Fail("get route table"));
  return std::optional<RouteTableRecord>(
      RouteTableRecord{stmt.Int(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Int(4)});
}

Status SqliteTransaction::InsertRequest(const RequestRecord& r) {
  static const std::string sql = std::string("INSERT INTO requests (") + kRequestColumns +
                                 ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, r.id).Bind(2, r.kind).Bind(3, r.taxpayer_id).Bind(4, EncodeJsonMap(r.attributes));
  stmt.BindBlob(5, r.body).Bind(6, r.fingerprint).Bind(7, r.route).Bind(8, r.route_version);
  stmt.Bind(9, ToString(r.state)).Bind(10, r.accepted_at_ms).Bind(11, r.updated_at_ms);
  stmt.Bind(12, r.finished_at_ms).BindBlob(13, r.signature).BindBlob(14, r.certificate);
  stmt.Bind(15, r.signer).Bind(16, r.verified_at_ms);
  if (stmt.Step() != SQLITE_DONE) return ledger_.Fail("insert request " + r.id);
  if (RowCache* cache = ledger_.cache()) cache->DropRequest(r.id);
  return Status::Ok();
}

Status SqliteTransaction::UpdateRequestState(std::string_view id, RequestState state,
                                             int64_t now_ms, int64_t finished_at_ms) {
  Statement stmt = ledger_.Prepare(
      "UPDATE requests SET state = ?, updated_at = ?, finished_at = ? WHERE id = ?");
  stmt.Bind(1, ToString(state)).Bind(2, now_ms).Bind(3, finished_at_ms).Bind(4, id);
  if (stmt.Step() != SQLITE_DONE) return ledger_.Fail("update request");
  if (RowCache* cache = ledger_.cache()) cache->RequestStateWritten(id, state, now_ms, finished_at_ms);
  return Status::Ok();
}

Status SqliteTransaction::UpdateRequestContent(const RequestRecord& r) {
  Statement stmt = ledger_.Prepare(
      "UPDATE requests SET attributes = ?, body = ?, fingerprint = ?, signature = ?, "
      "certificate = ?, signer = ?, verified_at = ?, state = ?, updated_at = ? WHERE id = ?");
  stmt.Bind(1, EncodeJsonMap(r.attributes)).BindBlob(2, r.body).Bind(3, r.fingerprint);
  stmt.BindBlob(4, r.signature).BindBlob(5, r.certificate).Bind(6, r.signer);
  stmt.Bind(7, r.verified_at_ms).Bind(8, ToString(r.state)).Bind(9, r.updated_at_ms).Bind(10, r.id);
  if (stmt.Step() != SQLITE_DONE) return ledger_.Fail("update request " + r.id);
  if (RowCache* cache = ledger_.cache()) cache->DropRequest(r.id);  // read afresh when next needed
  return Status::Ok();
}

Status SqliteTransaction::InsertStage(const StageRecord& s) {
  static const std::string sql = std::string("INSERT INTO stages (") + kStageColumns +
                                 ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, s.request_id).Bind(2, int64_t{s.index}).Bind(3, s.name).Bind(4, s.label);
  stmt.Bind(5, s.service).Bind(6, ToString(s.state)).Bind(7, int64_t{s.attempt});
  stmt.Bind(8, int64_t{s.max_attempts}).Bind(9, s.token).Bind(10, s.time_limit_ms);
  stmt.Bind(11, s.ready_at_ms).Bind(12, s.started_at_ms).Bind(13, s.finished_at_ms);
  stmt.Bind(14, s.deadline_ms).Bind(15, s.lease_until_ms).Bind(16, s.lease_owner);
  stmt.Bind(17, s.handler).Bind(18, s.code).Bind(19, s.message).Bind(20, EncodeJsonMap(s.outputs));
  stmt.Bind(21, s.queue).Bind(22, s.difficulty).Bind(23, s.condition);
  stmt.Bind(24, s.initial_backoff_ms).Bind(25, s.backoff_multiplier).Bind(26, s.max_backoff_ms);
  stmt.Bind(27, s.attempt_timeout_ms).Bind(28, int64_t{s.on_rejection ? 1 : 0});
  if (stmt.Step() != SQLITE_DONE) return ledger_.Fail("insert stage " + s.task_id());
  if (RowCache* cache = ledger_.cache()) cache->DropStages(s.request_id);
  return Status::Ok();
}

Status SqliteTransaction::UpdateStage(const StageRecord& s) {
  Statement stmt = ledger_.Prepare(
      "UPDATE stages SET state = ?, attempt = ?, token = ?, ready_at = ?, started_at = ?, "
      "finished_at = ?, deadline_at = ?, lease_until = ?, lease_owner = ?, handler = ?, "
      "code = ?, message = ?, outputs = ? WHERE request_id = ? AND idx = ?");
  stmt.Bind(1, ToString(s.state)).Bind(2, int64_t{s.attempt}).Bind(3, s.token);
  stmt.Bind(4, s.ready_at_ms).Bind(5, s.started_at_ms).Bind(6, s.finished_at_ms);
  stmt.Bind(7, s.deadline_ms).Bind(8, s.lease_until_ms).Bind(9, s.lease_owner);
  stmt.Bind(10, s.handler).Bind(11, s.code).Bind(12, s.message).Bind(13, EncodeJsonMap(s.outputs));
  stmt.Bind(14, s.request_id).Bind(15, int64_t{s.index});
  if (stmt.Step() != SQLITE_DONE) return ledger_.Fail("update stage " + s.task_id());
  if (RowCache* cache = ledger_.cache()) cache->StageWritten(s);
  return Status::Ok();
}

Result<std::vector<StageRecord>> SqliteTransaction::ReadStages(Statement& stmt,
                                                               std::string_view what) {
  std::vector<StageRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    StageRecord s;
    s.request_id = stmt.Text(0);
    s.index = static_cast<int>(stmt.Int(1));
    s.name = stmt.Text(2);
    s.label = stmt.Text(3);
    s.service = stmt.Text(4);
    auto state = ParseStageState(stmt.Text(5));
    if (!state) return Error(state.error());
    s.state = *state;
    s.attempt = static_cast<int>(stmt.Int(6));
    s.max_attempts = static_cast<int>(stmt.Int(7));
    s.token = stmt.Int(8);
    s.time_limit_ms = stmt.Int(9);
    s.ready_at_ms = stmt.Int(10);
    s.started_at_ms = stmt.Int(11);
    s.finished_at_ms = stmt.Int(12);
    s.deadline_ms = stmt.Int(13);
    s.lease_until_ms = stmt.Int(14);
    s.lease_owner = stmt.Text(15);
    s.handler = stmt.Text(16);
    s.code = stmt.Text(17);
    s.message = stmt.Text(18);
    auto outputs = DecodeJsonMap(stmt.Text(19));
    if (!outputs) return Error(outputs.error().WithContext("stage " + s.task_id() + " outputs"));
    s.outputs = std::move(*outputs);
    s.queue = stmt.Text(20);
    s.difficulty = stmt.Real(21);
    s.condition = stmt.Text(22);
    s.initial_backoff_ms = stmt.Int(23);
    s.backoff_multiplier = stmt.Real(24);
    s.max_backoff_ms = stmt.Int(25);
    s.attempt_timeout_ms = stmt.Int(26);
    s.on_rejection = stmt.Int(27) != 0;
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail(what));
  return out;
}

Result<std::vector<StageRecord>> SqliteTransaction::GetStages(std::string_view request_id) {
  if (!ledger_.cache()) return LoadStages(request_id);  // a read-only connection: no copy kept
  auto shared = ShareStages(request_id);
  if (!shared) return Error(shared.error());
  return **shared;
}

Result<std::vector<StageRecord>> SqliteTransaction::LoadStages(std::string_view request_id) {
  static const std::string sql =
      std::string("SELECT ") + kStageColumns + " FROM stages WHERE request_id = ? ORDER BY idx";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, request_id);
  return ReadStages(stmt, "get stages");
}

Result<std::shared_ptr<const std::vector<StageRecord>>> SqliteTransaction::ShareStages(
    std::string_view request_id) {
  RowCache* cache = ledger_.cache();
  if (cache) {
    if (auto cached = cache->Stages(request_id)) return cached;
  }
  auto stages = LoadStages(request_id);
  if (!stages) return Error(stages.error());
  auto shared = std::make_shared<std::vector<StageRecord>>(std::move(*stages));
  if (cache && !shared->empty()) cache->PutStages(request_id, shared);
  return std::shared_ptr<const std::vector<StageRecord>>(std::move(shared));
}

// The oldest READY stages of `service`, then each taken by its key. (Not one UPDATE … WHERE IN
// (SELECT …) RETURNING: SQLite runs RETURNING as a sub-program with a statement journal and the
// IN list through a temporary table, which cost more than the rows. The engine is this
// ledger's only writer, so nothing changes between the select and the updates.)
Result<std::vector<StageRecord>> SqliteTransaction::ClaimReady(std::string_view service,
                                                               int limit, int64_t now_ms,
                                                               std::string_view owner) {
  static const std::string select = std::string("SELECT ") + kStageColumns +
                                    " FROM stages WHERE state = 'READY' AND service = ?1 AND ready_at <= ?2 "
                                    "ORDER BY ready_at LIMIT ?3";
  std::vector<StageRecord> claimed;
  {
    Statement stmt = ledger_.Prepare(select.c_str());
    stmt.Bind(1, service).Bind(2, now_ms).Bind(3, int64_t{limit});
    auto ready = ReadStages(stmt, "claim ready stages");
    if (!ready) return ready;
    claimed = std::move(*ready);
  }
  for (StageRecord& s : claimed) {
    s.Lease(now_ms, owner);
    Statement update = ledger_.Prepare(
        "UPDATE stages SET state = 'DISPATCHED', attempt = ?1, token = ?2, lease_until = ?3, "
        "lease_owner = ?4, started_at = ?5 WHERE request_id = ?6 AND idx = ?7 AND state = 'READY'");
    update.Bind(1, int64_t{s.attempt}).Bind(2, s.token).Bind(3, s.lease_until_ms).Bind(4, owner);
    update.Bind(5, s.started_at_ms).Bind(6, s.request_id).Bind(7, int64_t{s.index});
    if (update.Step() != SQLITE_DONE) return Error(ledger_.Fail("claim stage " + s.task_id()));
    if (ledger_.Changes() != 1) return Error(ErrorCode::kInternal, "stage " + s.task_id() + " changed while claimed");
    if (RowCache* cache = ledger_.cache()) cache->StageWritten(s);
  }
  return claimed;
}

Result<std::optional<StageRecord>> SqliteTransaction::ClaimStage(
    std::string_view request_id, int index, std::string_view owner, std::string_view handler,
    int64_t now_ms, int64_t lease_until_ms) {
  static const std::string sql =
      std::string(
          "UPDATE stages SET state = 'DISPATCHED', attempt = attempt + 1, token = token + 1, "
          "lease_until = ?1, lease_owner = ?2, handler = ?3, "
          "started_at = CASE WHEN started_at = 0 THEN ?4 ELSE started_at END "
          "WHERE request_id = ?5 AND idx = ?6 AND state = 'READY' RETURNING ") +
      kStageColumns;
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, lease_until_ms).Bind(2, owner).Bind(3, handler).Bind(4, now_ms);
  stmt.Bind(5, request_id).Bind(6, int64_t{index});
  auto stages = ReadStages(stmt, "claim stage");
  if (!stages) return Error(stages.error());
  if (stages->empty()) return std::optional<StageRecord>();
  if (RowCache* cache = ledger_.cache()) cache->StageWritten(stages->front());
  return std::optional<StageRecord>(std::move(stages->front()));
}

Result<std::vector<StageRecord>> SqliteTransaction::QueueStages(std::string_view queue, int limit) {
  static const std::string sql =
      std::string("SELECT ") + kStageColumns +
      " FROM stages WHERE queue = ? AND state IN ('READY', 'DISPATCHED') ORDER BY ready_at "
      "LIMIT ?";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, queue).Bind(2, int64_t{limit});
  return ReadStages(stmt, "queue stages");
}

Result<std::vector<StageRecord>> SqliteTransaction::OverdueStages(int64_t now_ms, int limit) {
  static const std::string sql = std::string("SELECT ") + kStageColumns +
                                 " FROM stages WHERE overdue_at = 0 AND state IN ('READY', 'DISPATCHED') "
                                 "AND deadline_at > 0 AND deadline_at < ? ORDER BY deadline_at LIMIT ?";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, now_ms).Bind(2, int64_t{limit});
  return ReadStages(stmt, "overdue stages");
}

Result<bool> SqliteTransaction::MarkOverdue(std::string_view request_id, int index, int64_t now_ms) {
  Statement stmt = ledger_.Prepare("UPDATE stages SET overdue_at = ? WHERE request_id = ? AND idx = ? AND overdue_at = 0");
  stmt.Bind(1, now_ms).Bind(2, request_id).Bind(3, int64_t{index});
  if (stmt.Step() != SQLITE_DONE) return Error(ledger_.Fail("mark overdue"));
  return ledger_.Changes() == 1;
}

Result<std::vector<StageRecord>> SqliteTransaction::ExpiredLeases(int64_t now_ms, int limit) {
  static const std::string sql = std::string("SELECT ") + kStageColumns +
                                 " FROM stages WHERE state = 'DISPATCHED' AND lease_until < ? "
                                 "ORDER BY lease_until LIMIT ?";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, now_ms).Bind(2, int64_t{limit});
  return ReadStages(stmt, "expired leases");
}

Result<std::vector<StageRecord>> SqliteTransaction::LeasesOf(std::string_view owner) {
  static const std::string sql = std::string("SELECT ") + kStageColumns +
                                 " FROM stages WHERE state = 'DISPATCHED' AND lease_owner = ?";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, owner);
  return ReadStages(stmt, "leases of owner");
}

constexpr const char* kEventColumns =
    "seq, chain, chain_seq, request_id, stage, type, at, detail, prev_hash, hash";

Result<int64_t> SqliteTransaction::AppendEvent(const EventRecord& event) {
  EventRecord e = event;
  ChainHead next = head_;
  TAXHUB_RETURN_IF_ERROR(LinkEvent(ledger_.chain(), next, e));
  Statement stmt = ledger_.Prepare(
      "INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, "
      "hash) VALUES (?,?,?,?,?,?,?,?,?)");
  stmt.Bind(1, e.chain).Bind(2, e.chain_seq).Bind(3, e.request_id).Bind(4, int64_t{e.stage});
  stmt.Bind(5, e.type).Bind(6, e.at_ms).Bind(7, e.detail).Bind(8, e.prev_hash).Bind(9, e.hash);
  if (stmt.Step() != SQLITE_DONE) return Error(ledger_.Fail("append event"));
  head_ = next;
  // seq is the rowid. (Not RETURNING: SQLite runs that as a sub-program with a statement
  // journal, which cost more than the insert.)
  return ledger_.LastInsertRowid();
}

Result<std::vector<EventRecord>> SqliteTransaction::ReadEvents(Statement& stmt,
                                                               std::string_view what) {
  std::vector<EventRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    EventRecord e;
    e.seq = stmt.Int(0);
    e.chain = stmt.Text(1);
    e.chain_seq = stmt.Int(2);
    e.request_id = stmt.Text(3);
    e.stage = static_cast<int>(stmt.Int(4));
    e.type = stmt.Text(5);
    e.at_ms = stmt.Int(6);
    e.detail = stmt.Text(7);
    e.prev_hash = stmt.Text(8);
    e.hash = stmt.Text(9);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail(what));
  return out;
}

Result<std::vector<EventRecord>> SqliteTransaction::GetEvents(std::string_view request_id) {
  static const std::string sql = std::string("SELECT ") + kEventColumns +
                                 " FROM events WHERE request_id = ? ORDER BY seq";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, request_id);
  return ReadEvents(stmt, "get events");
}

Result<std::vector<EventRecord>> SqliteTransaction::ScanChain(std::string_view chain,
                                                              int64_t after_chain_seq, int limit) {
  static const std::string sql = std::string("SELECT ") + kEventColumns +
                                 " FROM events WHERE chain = ? AND chain_seq > ? "
                                 "ORDER BY chain_seq LIMIT ?";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, chain).Bind(2, after_chain_seq).Bind(3, int64_t{limit});
  return ReadEvents(stmt, "scan chain");
}

Status SqliteTransaction::AppendCheckpoint(const CheckpointRecord& c) {
  Statement stmt = ledger_.Prepare(
      "INSERT INTO checkpoints (chain, chain_seq, hash, at, signature, certificate) "
      "VALUES (?,?,?,?,?,?) ON CONFLICT (chain, chain_seq) DO NOTHING");
  stmt.Bind(1, c.chain).Bind(2, c.chain_seq).Bind(3, c.hash).Bind(4, c.at_ms);
  stmt.BindBlob(5, c.signature).BindBlob(6, c.certificate);
  if (stmt.Step() != SQLITE_DONE) return ledger_.Fail("append checkpoint");
  return Status::Ok();
}

Result<std::vector<ChainInfo>> SqliteTransaction::Chains() {
  Statement stmt = ledger_.Prepare("SELECT chain, algorithm, created_at FROM chains ORDER BY chain");
  std::vector<ChainInfo> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    out.push_back(ChainInfo{stmt.Text(0), stmt.Text(1), stmt.Int(2)});
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail("chains"));
  return out;
}

Result<std::vector<CheckpointRecord>> SqliteTransaction::Checkpoints(std::string_view chain) {
  Statement stmt = ledger_.Prepare(
      "SELECT chain, chain_seq, hash, at, signature, certificate FROM checkpoints "
      "WHERE chain = ? ORDER BY chain_seq");
  stmt.Bind(1, chain);
  std::vector<CheckpointRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    out.push_back(CheckpointRecord{stmt.Text(0), stmt.Int(1), stmt.Text(2), stmt.Int(3),
                                   stmt.Text(4), stmt.Text(5)});
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail("checkpoints"));
  return out;
}

Result<std::vector<RequestRecord>> SqliteTransaction::ScanRequests(std::string_view after_id,
                                                                   int limit) {
  static const std::string sql = std::string("SELECT ") + kRequestColumns +
                                 " FROM requests WHERE id > ? ORDER BY id LIMIT ?";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, after_id).Bind(2, int64_t{limit});
  return ReadRequests(stmt, "scan requests");
}

Result<std::vector<RequestRecord>> SqliteTransaction::SearchRequests(const RequestQuery& q) {
  // One statement for every combination of filters: an empty filter matches everything.
  static const std::string sql =
      std::string("SELECT ") + kRequestColumns +
      " FROM requests r WHERE (?1 = '' OR r.taxpayer_id = ?1) AND (?2 = '' OR r.kind = ?2)"
      " AND (?3 = '' OR r.state = ?3)"
      " AND r.accepted_at >= ?4 AND r.accepted_at < ?5"
      " AND (?6 = 0 OR EXISTS (SELECT 1 FROM stages s WHERE s.request_id = r.id AND s.deadline_at > 0"
      " AND ((s.state IN ('READY', 'DISPATCHED') AND s.deadline_at < ?7) OR s.finished_at > s.deadline_at)))"
      " AND (r.accepted_at < ?8 OR (r.accepted_at = ?8 AND r.id < ?9))"
      " ORDER BY r.accepted_at DESC, r.id DESC LIMIT ?10";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, q.taxpayer_id).Bind(2, q.kind).Bind(3, q.state).Bind(4, q.accepted_from_ms).Bind(5, q.accepted_to_ms);
  stmt.Bind(6, int64_t{q.overdue_only ? 1 : 0}).Bind(7, q.now_ms).Bind(8, q.before_accepted_ms).Bind(9, q.before_id);
  stmt.Bind(10, int64_t{q.limit});
  return ReadRequests(stmt, "search requests");
}

Result<std::map<std::string, std::pair<int64_t, int64_t>>> SqliteTransaction::QueueDepths() {
  Statement stmt = ledger_.Prepare(
      "SELECT queue, state, count(*) FROM stages WHERE queue <> '' AND state IN ('READY', 'DISPATCHED') "
      "GROUP BY queue, state");
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    auto& [waiting, claimed] = out[stmt.Text(0)];
    (stmt.Text(1) == "READY" ? waiting : claimed) = stmt.Int(2);
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail("queue depths"));
  return out;
}

Result<int64_t> SqliteTransaction::CountInState(RequestState state) {
  Statement stmt = ledger_.Prepare("SELECT count(*) FROM requests WHERE state = ?");
  stmt.Bind(1, ToString(state));
  if (stmt.Step() != SQLITE_ROW) return Error(ledger_.Fail("count in state"));
  return stmt.Int(0);
}

Result<int64_t> SqliteTransaction::CountEventsOutsideChains() {
  Statement stmt = ledger_.Prepare(
      "SELECT count(*) FROM events WHERE chain NOT IN (SELECT chain FROM chains)");
  if (stmt.Step() != SQLITE_ROW) return Error(ledger_.Fail("events outside chains"));
  return stmt.Int(0);
}

constexpr const char* kObligationColumns =
    "id, taxpayer_id, kind, period, due_date, met, attributes, created_at, met_at, due_reminded_at, "
    "overdue_reminded_at";

Result<std::vector<ObligationRecord>> ReadObligations(Statement& stmt, SqliteLedger& ledger) {
  std::vector<ObligationRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    ObligationRecord o;
    o.id = stmt.Text(0);
    o.taxpayer_id = stmt.Text(1);
    o.kind = stmt.Text(2);
    o.period = stmt.Text(3);
    o.due_date = stmt.Text(4);
    o.met = stmt.Int(5) != 0;
    auto attributes = DecodeJsonMap(stmt.Text(6));
    if (!attributes) return Error(attributes.error().WithContext("obligation " + o.id));
    o.attributes = std::move(*attributes);
    o.created_at_ms = stmt.Int(7);
    o.met_at_ms = stmt.Int(8);
    o.due_reminded_at_ms = stmt.Int(9);
    o.overdue_reminded_at_ms = stmt.Int(10);
    out.push_back(std::move(o));
  }
  if (rc != SQLITE_DONE) return Error(ledger.Fail("read obligations"));
  return out;
}

Result<bool> SqliteTransaction::AddObligation(const ObligationRecord& o) {
  static const std::string sql = std::string("INSERT INTO obligations (") + kObligationColumns +
                                 ") VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, o.id).Bind(2, o.taxpayer_id).Bind(3, o.kind).Bind(4, o.period).Bind(5, o.due_date);
  stmt.Bind(6, int64_t{o.met ? 1 : 0}).Bind(7, EncodeJsonMap(o.attributes)).Bind(8, o.created_at_ms);
  stmt.Bind(9, o.met_at_ms).Bind(10, o.due_reminded_at_ms).Bind(11, o.overdue_reminded_at_ms);
  if (stmt.Step() != SQLITE_DONE) return Error(ledger_.Fail("add obligation " + o.id));
  return ledger_.Changes() == 1;
}

Result<bool> SqliteTransaction::MeetObligation(const ObligationRecord& o, int64_t now_ms, bool keep_if_absent) {
  Statement meet = ledger_.Prepare("UPDATE obligations SET met = 1, met_at = ? WHERE id = ? AND met = 0");
  meet.Bind(1, now_ms).Bind(2, o.id);
  if (meet.Step() != SQLITE_DONE) return Error(ledger_.Fail("meet obligation"));
  if (ledger_.Changes() == 1) return true;
  if (!keep_if_absent) return false;
  Statement keep = ledger_.Prepare(
      "INSERT INTO obligations (id, taxpayer_id, kind, period, due_date, met, created_at, met_at) "
      "VALUES (?, ?, ?, ?, '', 1, ?, ?) ON CONFLICT (id) DO NOTHING");
  keep.Bind(1, o.id).Bind(2, o.taxpayer_id).Bind(3, o.kind).Bind(4, o.period).Bind(5, now_ms).Bind(6, now_ms);
  if (keep.Step() != SQLITE_DONE) return Error(ledger_.Fail("keep met obligation"));
  return false;
}

Result<std::vector<ObligationRecord>> SqliteTransaction::ObligationsToRemind(Reminder which,
                                                                             std::string_view from_date,
                                                                             std::string_view to_date, int limit) {
  static const std::string due = std::string("SELECT ") + kObligationColumns +
                                 " FROM obligations WHERE met = 0 AND due_reminded_at = 0 AND due_date >= ? "
                                 "AND due_date <= ? ORDER BY due_date, id LIMIT ?";
  static const std::string overdue = std::string("SELECT ") + kObligationColumns +
                                     " FROM obligations WHERE met = 0 AND overdue_reminded_at = 0 AND "
                                     "due_date >= ? AND due_date <= ? ORDER BY due_date, id LIMIT ?";
  Statement stmt = ledger_.Prepare(which == Reminder::kDue ? due.c_str() : overdue.c_str());
  stmt.Bind(1, from_date).Bind(2, to_date).Bind(3, int64_t{limit});
  return ReadObligations(stmt, ledger_);
}

Result<bool> SqliteTransaction::MarkReminded(std::string_view id, Reminder which, int64_t now_ms) {
  Statement stmt = ledger_.Prepare(
      which == Reminder::kDue
          ? "UPDATE obligations SET due_reminded_at = ? WHERE id = ? AND due_reminded_at = 0"
          : "UPDATE obligations SET overdue_reminded_at = ? WHERE id = ? AND overdue_reminded_at = 0");
  stmt.Bind(1, now_ms).Bind(2, id);
  if (stmt.Step() != SQLITE_DONE) return Error(ledger_.Fail("mark reminded"));
  return ledger_.Changes() == 1;
}

Result<std::vector<ObligationRecord>> SqliteTransaction::ObligationsOf(std::string_view taxpayer_id) {
  static const std::string sql = std::string("SELECT ") + kObligationColumns +
                                 " FROM obligations WHERE taxpayer_id = ? ORDER BY due_date, id";
  Statement stmt = ledger_.Prepare(sql.c_str());
  stmt.Bind(1, taxpayer_id);
  return ReadObligations(stmt, ledger_);
}

Status SqliteTransaction::PutFigure(const FigureRecord& f) {
  Statement stmt = ledger_.Prepare(
      "INSERT INTO figures (taxpayer_id, name, period, value, request_id, at) VALUES (?,?,?,?,?,?) "
      "ON CONFLICT (taxpayer_id, name, period) DO UPDATE SET value = excluded.value, "
      "request_id = excluded.request_id, at = excluded.at");
  stmt.Bind(1, f.taxpayer_id).Bind(2, f.name).Bind(3, f.period).Bind(4, f.value).Bind(5, f.request_id).Bind(6, f.at_ms);
  if (stmt.Step() != SQLITE_DONE) return ledger_.Fail("put figure");
  return Status::Ok();
}

Result<std::vector<FigureRecord>> SqliteTransaction::FiguresOf(std::string_view taxpayer_id, std::string_view name,
                                                               std::string_view up_to_period, int limit) {
  Statement stmt = ledger_.Prepare(
      "SELECT taxpayer_id, name, period, value, request_id, at FROM figures WHERE taxpayer_id = ? AND name = ? "
      "AND period <= ? ORDER BY period DESC LIMIT ?");
  stmt.Bind(1, taxpayer_id).Bind(2, name).Bind(3, up_to_period).Bind(4, int64_t{limit});
  std::vector<FigureRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    out.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4), stmt.Int(5)});
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail("figures"));
  return out;
}

Result<int64_t> SqliteTransaction::CountRequests(std::string_view taxpayer_id, RequestState state, int64_t since_ms) {
  Statement stmt = ledger_.Prepare(
      "SELECT count(*) FROM requests WHERE taxpayer_id = ? AND accepted_at >= ? AND state = ?");
  stmt.Bind(1, taxpayer_id).Bind(2, since_ms).Bind(3, ToString(state));
  if (stmt.Step() != SQLITE_ROW) return Error(ledger_.Fail("count requests"));
  return stmt.Int(0);
}

Result<bool> SqliteTransaction::RaiseAlert(const AlertRecord& a) {
  Statement stmt = ledger_.Prepare(
      "INSERT INTO alerts (id, taxpayer_id, rule, period, text, detail, raised_at) VALUES (?,?,?,?,?,?,?) "
      "ON CONFLICT (id) DO NOTHING");
  stmt.Bind(1, a.id).Bind(2, a.taxpayer_id).Bind(3, a.rule).Bind(4, a.period).Bind(5, a.text).Bind(6, a.detail);
  stmt.Bind(7, a.raised_at_ms);
  if (stmt.Step() != SQLITE_DONE) return Error(ledger_.Fail("raise alert " + a.id));
  return ledger_.Changes() == 1;
}

Result<std::vector<AlertRecord>> SqliteTransaction::AlertsOf(std::string_view taxpayer_id, int limit) {
  Statement stmt = ledger_.Prepare(
      "SELECT id, taxpayer_id, rule, period, text, detail, raised_at FROM alerts WHERE taxpayer_id = ? "
      "ORDER BY raised_at DESC, id LIMIT ?");
  stmt.Bind(1, taxpayer_id).Bind(2, int64_t{limit});
  std::vector<AlertRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    out.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4), stmt.Text(5), stmt.Int(6)});
  }
  if (rc != SQLITE_DONE) return Error(ledger_.Fail("alerts"));
  return out;
}

}  // namespace

Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const SqliteOptions& options,
                                                 const ChainOptions& chain) {
  static const std::map<std::string, std::string> kSynchronous = {
      {"off", "OFF"}, {"normal", "NORMAL"}, {"full", "FULL"}, {"extra", "EXTRA"}};
  auto sync = kSynchronous.find(options.synchronous);
  if (sync == kSynchronous.end()) {
    return Error(ErrorCode::kBadRequest, "synchronous must be off, normal, full or extra",
                 "ledger.sqlite.synchronous");
  }
  if (options.read_only && !chain.chain.empty()) {
    return Error(ErrorCode::kInternal, "a read-only ledger connection has no chain to write");
  }
  int lock_fd = -1;
  if (!options.read_only) {
    std::string lock_path = options.path + ".lock";
    lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) {
      return Error(ErrorCode::kUnavailable, "cannot create " + lock_path + ": " + strerror(errno));
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      close(lock_fd);
      return Error(ErrorCode::kUnavailable,
                   "SQLite ledger " + options.path +
                       " is in use by another hub; an SQLite ledger serves exactly one hub "
                       "(use PostgreSQL to run several)");
    }
  }
  // No memory statistics: they take a global mutex on every allocation SQLite makes. (Only
  // before SQLite initializes, at the process's first open; later calls change nothing.)
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* db = nullptr;
  const int flags = options.read_only ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
                                      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  // Through a VFS that writes each commit's WAL frames with one system call (sqlite_vfs.h).
  int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, GatheringVfsName());
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    if (lock_fd >= 0) close(lock_fd);
    return Error(ErrorCode::kUnavailable, "cannot open SQLite ledger " + options.path + ": " +
                                              message);
  }
  auto ledger = std::make_unique<SqliteLedger>(db, lock_fd, chain);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  if (options.read_only) return std::unique_ptr<Ledger>(std::move(ledger));
  ledger->EnableCache();
  for (const std::string& pragma :
       {std::string("PRAGMA journal_mode = WAL"), "PRAGMA synchronous = " + sync->second,
        std::string("PRAGMA foreign_keys = ON")}) {
    TAXHUB_RETURN_IF_ERROR(ledger->Exec(pragma, pragma));
  }
  TAXHUB_RETURN_IF_ERROR(ledger->Migrate());
  TAXHUB_RETURN_IF_ERROR(ledger->LoadChain());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

}  // namespace taxhub::ledger
