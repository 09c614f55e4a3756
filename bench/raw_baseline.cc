// The raw baseline for durable intake (issue 8, target 2): the rows taxhub's ledger writes for
// one accepted submit — its request row, its stage row (READY) and its two events
// (request.accepted, stage.ready) — written into the ledger's own schema (the same migrations,
// so the same tables and indexes) in batches, with nothing else: no sockets, no decoding, no
// validation, no routing, no hashing (the events carry fixed hashes). SQLite: prepared
// statements, a row each; PostgreSQL: one statement a batch, outside any BEGIN (so it commits on
// its own), whose columns go as binary arrays, as taxhub's ledger writes its new rows. `make
// bench` prints taxhub's intake as a ratio to this rate.
//
//   raw_baseline --sqlite FILE [--requests N] [--batch B]     (WAL, synchronous=FULL)
//   raw_baseline --pg DSN [--requests N] [--batch B]           (into a fresh schema raw_baseline)
// prints "raw <backend> batched writes (B requests per transaction, 4 rows each): R requests/s".

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <tuple>

#include "hub/ledger/migrations.h"
#include "hub/ledger/pg_binary.h"

namespace {

constexpr const char* kInsertRequest =
    "INSERT INTO requests (id, kind, taxpayer_id, attributes, body, fingerprint, route, route_version, "
    "state, accepted_at, updated_at) VALUES ($1, 'filing.vat', '91310110666007217T', "
    "'{\"tax_office\":\"13212000000\"}', $2, $3, 'vat', 1, 'IN_PROGRESS', $4, $4)";
constexpr const char* kInsertStage =
    "INSERT INTO stages (request_id, idx, name, label, service, state, max_attempts, time_limit_ms, "
    "ready_at, deadline_at, initial_backoff_ms, backoff_multiplier, max_backoff_ms, attempt_timeout_ms) "
    "VALUES ($1, 0, 'accept', '', 'bench.accept', 'READY', 5, 3600000, $2::bigint, $2::bigint + 3600000, 1000, 2.0, "
    "60000, 30000)";
constexpr const char* kInsertEvent =
    "INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, hash) "
    "VALUES ('raw', $1, $2, $3, $4, $5, $6, $7, $7)";

const std::string kHash(64, 'a');     // a SHA-256 in hex
const std::string kBody(512, 'x');    // a VAT return's size
const std::string kAccepted = "filing.vat from 91310110666007217T by route vat v1; fingerprint=" + kHash;
const std::string kReady = "accept waits for service bench.accept";

std::string Id(long long n) {  // time-ordered, as taxhub's
  char id[64];
  std::snprintf(id, sizeof id, "R%013lld-bench-%08lld", 1796000000000LL + n, n);
  return id;
}

// SQLite wants ?NNN where PostgreSQL has $NNN, and no casts.
std::string ForSqlite(std::string sql) {
  for (size_t at; (at = sql.find("::bigint")) != std::string::npos;) sql.erase(at, 8);
  for (char& c : sql) {
    if (c == '$') c = '?';
  }
  return sql;
}

double Sqlite(const std::string& path, long long requests, int batch) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    throw std::runtime_error(sqlite3_errmsg(db));
  }
  auto exec = [&](const std::string& sql) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db));
    }
  };
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
  for (const auto& m : taxhub::ledger::MigrationsFor("sqlite")) exec(m.sql);
  exec("INSERT INTO chains VALUES ('raw', 'sha256', 0)");
  sqlite3_stmt *request = nullptr, *stage = nullptr, *event = nullptr;
  auto prepare = [&](const char* sql, sqlite3_stmt** stmt) {
    if (sqlite3_prepare_v3(db, ForSqlite(sql).c_str(), -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db));
    }
  };
  prepare(kInsertRequest, &request);
  prepare(kInsertStage, &stage);
  prepare(kInsertEvent, &event);
  auto step = [&](sqlite3_stmt* stmt) {
    if (sqlite3_step(stmt) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
    sqlite3_reset(stmt);
  };
  long long seq = 0;
  auto append = [&](const std::string& id, int stage_index, const char* type, const std::string& detail) {
    sqlite3_bind_int64(event, 1, ++seq);
    sqlite3_bind_text(event, 2, id.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int(event, 3, stage_index);
    sqlite3_bind_text(event, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(event, 5, seq);
    sqlite3_bind_text(event, 6, detail.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(event, 7, kHash.c_str(), -1, SQLITE_STATIC);
    step(event);
  };
  const auto start = std::chrono::steady_clock::now();
  for (long long n = 0; n < requests;) {
    exec("BEGIN IMMEDIATE");
    for (int i = 0; i < batch && n < requests; ++i, ++n) {
      const std::string id = Id(n);
      sqlite3_bind_text(request, 1, id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_blob(request, 2, kBody.data(), static_cast<int>(kBody.size()), SQLITE_STATIC);
      sqlite3_bind_text(request, 3, kHash.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(request, 4, n);
      step(request);
      append(id, -1, "request.accepted", kAccepted);
      sqlite3_bind_text(stage, 1, id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(stage, 2, n);
      step(stage);
      append(id, 0, "stage.ready", kReady);
    }
    exec("COMMIT");
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (sqlite3_stmt* s : {request, stage, event}) sqlite3_finalize(s);
  sqlite3_close(db);
  return static_cast<double>(requests) / seconds;
}

double Postgres(const std::string& dsn, long long requests, int batch) {
  pqxx::connection c(dsn);
  {
    pqxx::work w(c);
    w.exec("DROP SCHEMA IF EXISTS raw_baseline CASCADE");
    w.exec("CREATE SCHEMA raw_baseline");
    w.exec("SET LOCAL search_path = raw_baseline");
    for (const auto& m : taxhub::ledger::MigrationsFor("postgres")) w.exec(m.sql);
    w.exec("INSERT INTO chains VALUES ('raw', 'sha256', 0)");
    w.commit();
  }
  c.set_variable("search_path", "raw_baseline");
  // Each batch as one statement inserting into the three tables, its columns binary arrays: the
  // fastest way we found for libpqxx to write these rows on one connection. (Three multi-row
  // INSERTs of text values in one round trip, this baseline's first form, wrote no faster than
  // taxhub's own intake at 16 x 8 once that went binary; a statement per row, 4x slower still.)
  c.prepare("put",
            "WITH r AS (INSERT INTO requests (id, kind, taxpayer_id, attributes, body, fingerprint, route, "
            "route_version, state, accepted_at, updated_at) SELECT id, 'filing.vat', '91310110666007217T', "
            "'{\"tax_office\":\"13212000000\"}', body, fingerprint, 'vat', 1, 'IN_PROGRESS', at, at "
            "FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bigint[]) AS t(id, body, fingerprint, at)), "
            "s AS (INSERT INTO stages (request_id, idx, name, label, service, state, max_attempts, time_limit_ms, "
            "ready_at, deadline_at, initial_backoff_ms, backoff_multiplier, max_backoff_ms, attempt_timeout_ms) "
            "SELECT id, 0, 'accept', '', 'bench.accept', 'READY', 5, 3600000, at, at + 3600000, 1000, 2.0, 60000, "
            "30000 FROM unnest($1::text[], $4::bigint[]) AS t(id, at)) "
            "INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, hash) "
            "SELECT 'raw', seq, id, stage, type, at, detail, hash, hash FROM unnest($5::bigint[], $6::text[], "
            "$7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::text[]) "
            "AS t(seq, id, stage, type, at, detail, hash)");
  using taxhub::ledger::BinaryArray;
  long long seq = 0;
  const auto start = std::chrono::steady_clock::now();
  for (long long n = 0; n < requests;) {
    BinaryArray ids(BinaryArray::kText), bodies(BinaryArray::kBytea), fingerprints(BinaryArray::kText),
        ats(BinaryArray::kInt8);
    BinaryArray seqs(BinaryArray::kInt8), event_ids(BinaryArray::kText), stages(BinaryArray::kInt8),
        types(BinaryArray::kText), event_ats(BinaryArray::kInt8), details(BinaryArray::kText),
        hashes(BinaryArray::kText);
    for (int i = 0; i < batch && n < requests; ++i, ++n) {
      const std::string id = Id(n);
      const int64_t at = 1796000000000LL + n;
      ids.Text(id);
      bodies.Bytes(kBody);
      fingerprints.Text(kHash);
      ats.Number(at);
      for (const auto& [stage, type, detail] :
           {std::tuple{-1, "request.accepted", &kAccepted}, std::tuple{0, "stage.ready", &kReady}}) {
        seqs.Number(++seq);
        event_ids.Text(id);
        stages.Number(stage);
        types.Text(type);
        event_ats.Number(at);
        details.Text(*detail);
        hashes.Text(kHash);
      }
    }
    pqxx::nontransaction(c).exec_prepared("put", ids.Done(), bodies.Done(), fingerprints.Done(), ats.Done(),
                                          seqs.Done(), event_ids.Done(), stages.Done(), types.Done(),
                                          event_ats.Done(), details.Done(), hashes.Done());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(requests) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sqlite, pg;
  long long requests = 20000;
  int batch = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--sqlite") sqlite = value;
    else if (flag == "--pg") pg = value;
    else if (flag == "--requests") requests = std::stoll(value);
    else if (flag == "--batch") batch = std::stoi(value);
  }
  if (sqlite.empty() == pg.empty() || requests < 1 || batch < 1) {
    std::cerr << "usage: raw_baseline --sqlite FILE | --pg DSN [--requests N] [--batch B]\n";
    return 2;
  }
  try {
    const double rate = sqlite.empty() ? Postgres(pg, requests, batch) : Sqlite(sqlite, requests, batch);
    std::printf("raw %s batched writes (%d requests per transaction, 4 rows each): %.0f requests/s\n",
                sqlite.empty() ? "postgres" : "sqlite", batch, rate);
  } catch (const std::exception& e) {
    std::cerr << "raw_baseline: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
