// The raw baseline for durable intake (issue 8, target 2): the same request rows taxhub writes,
// written straight to the database in batches, with nothing else — no sockets, no validation,
// no routing, no event chain. `make bench` prints taxhub's intake as a ratio to this.
//
//   raw_baseline --sqlite FILE [--rows N] [--batch B]     (WAL, synchronous=FULL)
//   raw_baseline --pg DSN [--rows N] [--batch B]
// prints "raw <backend> batched writes: R rows/s".

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <pqxx/pqxx>
#include <string>

namespace {

// The columns of the ledger's requests table that a submit fills (BLOB / BYTEA for the body).
std::string CreateTable(const char* binary) {
  return std::string("CREATE TABLE IF NOT EXISTS raw_requests (id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
                     " taxpayer_id TEXT NOT NULL, attributes TEXT NOT NULL, body ") +
         binary + " NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL, accepted_at BIGINT NOT NULL)";
}

// A row the size of a submitted VAT return: time-ordered id, a 512-byte body.
struct Row {
  std::string id, body = std::string(512, 'x');
};

std::string Id(long long n) {
  char id[64];
  std::snprintf(id, sizeof id, "R%013lld-bench-%08lld", 1796000000000LL + n, n);
  return id;
}

double Sqlite(const std::string& path, long long rows, int batch) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_exec(db, CreateTable("BLOB").c_str(), nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO raw_requests VALUES (?, 'filing.vat', '91310110666007217T', "
                     "'{\"tax_office\":\"13212000000\"}', ?, 'fp', 'ACCEPTED', ?)",
                     -1, &insert, nullptr);
  const Row row;
  const auto start = std::chrono::steady_clock::now();
  for (long long n = 0; n < rows;) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < batch && n < rows; ++i, ++n) {
      const std::string id = Id(n);
      sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 2, row.body.data(), static_cast<int>(row.body.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 3, n);
      if (sqlite3_step(insert) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
      sqlite3_reset(insert);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return static_cast<double>(rows) / seconds;
}

double Postgres(const std::string& dsn, long long rows, int batch) {
  pqxx::connection c(dsn);
  {
    pqxx::work w(c);
    w.exec(CreateTable("BYTEA"));
    w.exec("TRUNCATE raw_requests");
    w.commit();
  }
  c.prepare("insert",
            "INSERT INTO raw_requests VALUES ($1, 'filing.vat', '91310110666007217T', "
            "'{\"tax_office\":\"13212000000\"}', $2, 'fp', 'ACCEPTED', $3)");
  const Row row;
  const pqxx::binarystring body(row.body);
  const auto start = std::chrono::steady_clock::now();
  for (long long n = 0; n < rows;) {
    pqxx::work w(c);
    for (int i = 0; i < batch && n < rows; ++i, ++n) w.exec_prepared("insert", Id(n), body, n);
    w.commit();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(rows) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sqlite, pg;
  long long rows = 20000;
  int batch = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--sqlite") sqlite = value;
    else if (flag == "--pg") pg = value;
    else if (flag == "--rows") rows = std::stoll(value);
    else if (flag == "--batch") batch = std::stoi(value);
  }
  if (sqlite.empty() == pg.empty() || rows < 1 || batch < 1) {
    std::cerr << "usage: raw_baseline --sqlite FILE | --pg DSN [--rows N] [--batch B]\n";
    return 2;
  }
  try {
    const double rate = sqlite.empty() ? Postgres(pg, rows, batch) : Sqlite(sqlite, rows, batch);
    std::printf("raw %s batched writes (%d per transaction): %.0f rows/s\n", sqlite.empty() ? "postgres" : "sqlite",
                batch, rate);
  } catch (const std::exception& e) {
    std::cerr << "raw_baseline: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
