// What one whole workflow's ledger writes cost SQLite, and what each part of the schema adds:
// the statements a request of three automated stages writes (its row, its three stages, nine
// stage updates, eleven events, its end), batched 100 requests to a transaction as the engine's
// group commit batches them, on the ledger's own schema (the same migrations), with
// synchronous=OFF so that only the CPU counts. A variant drops one part to show its share:
//   as-is        the schema as the hub has it
//   no-events    no event rows           no-stage-updates  no stage updates
//   no-stage-indexes  stages without their four partial indexes
//   no-autoincrement  events.seq without AUTOINCREMENT
//   no-unique    events without UNIQUE (chain, chain_seq)
//   no-event-index    events without events_request
//   no-foreign-keys   foreign_keys off
// Usage: ledger_writes VARIANT [REQUESTS] [DIR]. Prints microseconds a request. Wall time on a
// busy machine drifts; for shares, count instructions:
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null build/bin/ledger_writes as-is 3000
// (bench/TRIED.md, "What a whole workflow's ledger writes cost").
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "hub/ledger/migrations.h"

namespace {

sqlite3* db = nullptr;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ledger_writes: %s: %s\n", what.c_str(), sqlite3_errmsg(db));
  std::exit(1);
}

void Exec(const std::string& sql) {
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) Die(sql.substr(0, 60));
}

// `text` without `what`, or with it replaced by `with`; the variant must find what it drops.
void Cut(std::string& text, const std::string& what, const std::string& with, bool& found) {
  const size_t at = text.find(what);
  if (at == std::string::npos) return;
  text.replace(at, what.size(), with);
  found = true;
}

class Statement {
 public:
  explicit Statement(const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) Die(sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& Text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  void Run() {
    if (sqlite3_step(stmt_) != SQLITE_DONE) Die("step");
    sqlite3_reset(stmt_);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  const std::set<std::string> variants = {"as-is", "no-events", "no-stage-updates", "no-stage-indexes",
                                          "no-autoincrement", "no-unique", "no-event-index",
                                          "no-foreign-keys"};
  if (argc < 2 || !variants.contains(argv[1])) {
    std::fprintf(stderr, "usage: ledger_writes VARIANT [REQUESTS] [DIR]; VARIANT one of");
    for (const std::string& v : variants) std::fprintf(stderr, " %s", v.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  const std::string variant = argv[1];
  const int requests = argc > 2 ? std::max(100, std::atoi(argv[2])) : 20'000;
  const std::filesystem::path dir = argc > 3 ? argv[3] : std::filesystem::temp_directory_path();
  const std::string path = (dir / ("ledger_writes-" + std::to_string(getpid()) + ".db")).string();

  // As the hub opens its ledger (sqlite_ledger.cc), less the sync.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Die("open " + path);
  }
  Exec("PRAGMA journal_mode = WAL");
  Exec("PRAGMA synchronous = OFF");
  if (variant != "no-foreign-keys") Exec("PRAGMA foreign_keys = ON");
  bool found = variant == "as-is" || variant == "no-events" || variant == "no-stage-updates" ||
               variant == "no-foreign-keys";
  for (const auto& m : taxhub::ledger::MigrationsFor("sqlite")) {
    std::string sql = m.sql;
    if (variant == "no-autoincrement") Cut(sql, "INTEGER PRIMARY KEY AUTOINCREMENT,\n  chain", "INTEGER PRIMARY KEY,\n  chain", found);
    if (variant == "no-unique") Cut(sql, "UNIQUE (chain, chain_seq)", "CHECK (1)", found);
    if (variant == "no-event-index") Cut(sql, "CREATE INDEX events_request ON events (request_id, seq);", "", found);
    if (variant == "no-stage-indexes") {
      for (const char* index : {"stages_ready", "stages_leased", "stages_queued", "stages_running_deadline"}) {
        const size_t at = sql.find(std::string("CREATE INDEX ") + index + " ");
        if (at != std::string::npos) Cut(sql, sql.substr(at, sql.find(';', at) - at + 1), "", found);
      }
    }
    Exec(sql);
  }
  if (!found) Die("variant " + variant + " found nothing to drop in the schema");
  Exec("INSERT INTO chains (chain, algorithm, created_at) VALUES ('hub-1', 'sha256', 0)");

  Statement insert_request(
      "INSERT INTO requests (id, kind, taxpayer_id, attributes, body, fingerprint, route, route_version, "
      "state, accepted_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  Statement insert_stage(
      "INSERT INTO stages (request_id, idx, name, label, service, state, max_attempts, time_limit_ms, "
      "initial_backoff_ms, backoff_multiplier, max_backoff_ms, attempt_timeout_ms) "
      "VALUES (?, ?, ?, ?, ?, 'PENDING', 3, 86400000, 1000, 2.0, 60000, 30000)");
  // The hub's own statements (sqlite_ledger.cc: UpdateStage, UpdateRequestState, AppendEvent).
  Statement update_stage(
      "UPDATE stages SET state = ?, attempt = ?, token = ?, ready_at = ?, started_at = ?, "
      "finished_at = ?, deadline_at = ?, lease_until = ?, lease_owner = ?, handler = ?, "
      "code = ?, message = ?, outputs = ? WHERE request_id = ? AND idx = ?");
  Statement update_request("UPDATE requests SET state = ?, updated_at = ?, finished_at = ? WHERE id = ?");
  Statement insert_event(
      "INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, "
      "hash) VALUES (?,?,?,?,?,?,?,?,?)");

  const std::string body(512, 'x'), hash(64, 'a');
  int64_t chain_seq = 0, now = 1'764'000'000'000;
  auto event = [&](const std::string& id, int stage, const char* type) {
    if (variant == "no-events") return;
    insert_event.Text(1, "hub-1").Int(2, ++chain_seq).Text(3, id).Int(4, stage).Text(5, type).Int(6, now);
    insert_event.Text(7, "file waits for service bench.s1").Text(8, hash).Text(9, hash).Run();
  };
  auto stage = [&](const std::string& id, int index, const char* state) {
    if (variant == "no-stage-updates") return;
    update_stage.Text(1, state).Int(2, 1).Int(3, 1).Int(4, now).Int(5, now).Int(6, 0).Int(7, now + 86'400'000);
    update_stage.Int(8, now + 30'000).Text(9, "hub-1").Text(10, "bench-worker-1").Text(11, "").Text(12, "");
    update_stage.Text(13, "{\"receipt\":\"R-1\"}").Text(14, id).Int(15, index).Run();
  };

  const int kBatch = 100;
  const auto start = std::chrono::steady_clock::now();
  for (int first = 0; first < requests; first += kBatch) {
    std::vector<std::string> ids;
    for (int k = first; k < first + kBatch; ++k) {
      char id[40];
      std::snprintf(id, sizeof id, "01JD%012d-%08d", k, static_cast<int>((k * 7919LL) % 100'000'000));
      ids.push_back(id);
    }
    Exec("BEGIN");  // accepted: the request, its plan, its first stage ready
    for (const std::string& id : ids) {
      ++now;
      insert_request.Text(1, id).Text(2, "filing.cit").Text(3, "91310000MA1FL8XQ3K").Text(4, "{\"period\":\"2026-10\"}");
      insert_request.Text(5, body).Text(6, hash).Text(7, "filing.cit").Int(8, 1).Text(9, "IN_PROGRESS");
      insert_request.Int(10, now).Int(11, now).Run();
      for (int i = 0; i < 3; ++i) {
        insert_stage.Text(1, id).Int(2, i).Text(3, "s" + std::to_string(i)).Text(4, "stage");
        insert_stage.Text(5, "bench.s" + std::to_string(i + 1)).Run();
      }
      event(id, -1, "request.accepted");
      stage(id, 0, "READY");
      event(id, 0, "stage.ready");
    }
    Exec("COMMIT");
    for (int i = 0; i < 3; ++i) {
      Exec("BEGIN");  // claimed
      for (const std::string& id : ids) {
        stage(id, i, "DISPATCHED");
        event(id, i, "stage.dispatched");
      }
      Exec("COMMIT");
      Exec("BEGIN");  // its result, and the next stage ready or the request completed
      for (const std::string& id : ids) {
        stage(id, i, "DONE");
        event(id, i, "stage.done");
        if (i < 2) {
          stage(id, i + 1, "READY");
          event(id, i + 1, "stage.ready");
        } else {
          update_request.Text(1, "COMPLETED").Int(2, now).Int(3, now).Text(4, id).Run();
          event(id, -1, "request.completed");
        }
      }
      Exec("COMMIT");
    }
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::printf("ledger_writes %s: %d requests, %.1f us a request\n", variant.c_str(), requests,
              us / requests);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return 0;
}
