// The ledger at scale, on PostgreSQL: generates a ledger of N events (default 10 million; a
// tenth as many requests, three stages each, spread over a year of monthly partitions), then
// measures what the hub does against it — progress lookups (request + stages), timelines
// (a request's events) and stage claims — and claims again without the partial index on READY
// stages, to show what that index is worth.
//
//   ledger_scale --dsn "host=… dbname=…" [--events 10000000] [--ready 100000]

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "hub/base/clock.h"
#include "hub/ledger/ledger.h"

namespace {

using namespace taxhub;
using Steady = std::chrono::steady_clock;

double Ms(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

std::string Id(int64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "S%09lld", static_cast<long long>(i));
  return buf;
}

void Generate(const std::string& dsn, int64_t events, int64_t ready) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  const int64_t have = n.exec1("SELECT count(*) FROM requests")[0].as<int64_t>();
  const int64_t requests = events / 10;
  if (have >= requests) {
    std::printf("ledger already holds %lld requests\n", static_cast<long long>(have));
    return;
  }
  const int64_t now = SystemClock().NowMs();
  const int64_t span = 365LL * 86'400'000;
  const int64_t t0 = now - span;
  n.exec("SET synchronous_commit = off");
  n.exec("SELECT taxhub_ensure_event_partitions((current_date - interval '13 months')::date, 16)");
  const auto start = Steady::now();
  const int64_t chunk = 100'000;  // requests per statement
  for (int64_t from = 1; from <= requests; from += chunk) {
    const int64_t to = std::min(requests, from + chunk - 1);
    const std::string range = std::to_string(from) + ", " + std::to_string(to);
    const std::string at = std::to_string(t0) + " + i::bigint * " + std::to_string(span / requests);
    const std::string id = "'S' || lpad(i::text, 9, '0')";
    const std::string open = "i > " + std::to_string(requests - ready);
    n.exec("INSERT INTO requests (id, kind, taxpayer_id, attributes, body, fingerprint, route, "
           "route_version, state, accepted_at, updated_at, finished_at) SELECT " + id +
           ", 'filing.vat', '91310110666007217T', '{\"tax_office\":\"13212000000\"}'::jsonb, "
           "convert_to('{\"seq\":' || i || '}', 'UTF8'), md5(i::text), 'vat-return', 1, "
           "CASE WHEN " + open + " THEN 'IN_PROGRESS' ELSE 'COMPLETED' END, " + at + ", " + at +
           ", CASE WHEN " + open + " THEN 0 ELSE " + at + " + 60000 END "
           "FROM generate_series(" + range + ") i");
    n.exec("INSERT INTO stages (request_id, idx, name, label, service, state, max_attempts, "
           "time_limit_ms, ready_at, initial_backoff_ms, backoff_multiplier, max_backoff_ms, "
           "attempt_timeout_ms) SELECT " + id + ", k, 'stage' || k, '受理', "
           "CASE WHEN k = 0 AND " + open + " THEN 'scale.svc' ELSE 'filing.accept' END, "
           "CASE WHEN " + open + " THEN CASE WHEN k = 0 THEN 'READY' ELSE 'PENDING' END "
           "ELSE 'DONE' END, 3, 3600000, " + at + ", 1000, 2.0, 300000, 30000 "
           "FROM generate_series(" + range + ") i, generate_series(0, 2) k");
    n.exec("INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, "
           "hash) SELECT 'scale-hub', (i - 1) * 10 + k + 1, " + id + ", k % 3, "
           "(ARRAY['request.accepted','stage.ready','stage.dispatched','stage.done'])[k % 4 + 1], " +
           at + " + k, 'generated', md5(((i - 1) * 10 + k)::text), md5(((i - 1) * 10 + k + 1)::text) "
           "FROM generate_series(" + range + ") i, generate_series(0, 9) k");
    std::printf("\rgenerated %lld of %lld requests (%lld events) in %.0f s", static_cast<long long>(to),
                static_cast<long long>(requests), static_cast<long long>(to * 10),
                Ms(start, Steady::now()) / 1000);
    std::fflush(stdout);
  }
  n.exec("ANALYZE");
  std::printf("\n");
}

void ResetClaims(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  n.exec("UPDATE stages SET state = 'READY', attempt = 0, lease_until = 0, lease_owner = '' "
         "WHERE service = 'scale.svc' AND state = 'DISPATCHED'");
}

// Claims for `seconds` in transactions of `batch` claims each; returns claims per second.
double ClaimRate(ledger::Ledger& ledger, int batch, double seconds) {
  const auto start = Steady::now();
  int64_t claimed = 0;
  while (Ms(start, Steady::now()) < seconds * 1000) {
    auto txn = ledger.Begin();
    auto got = (*txn)->ClaimReady("scale.svc", batch, SystemClock().NowMs(), "scale-bench");
    if (!got || got->empty()) break;
    if (!(*txn)->Commit().ok()) break;
    claimed += static_cast<int64_t>(got->size());
  }
  return static_cast<double>(claimed) / (Ms(start, Steady::now()) / 1000);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dsn;
  int64_t events = 10'000'000;
  int64_t ready = 100'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--dsn") dsn = argv[i + 1];
    else if (arg == "--events") events = std::stoll(argv[i + 1]);
    else if (arg == "--ready") ready = std::stoll(argv[i + 1]);
  }
  if (dsn.empty()) {
    std::fprintf(stderr, "usage: ledger_scale --dsn DSN [--events N] [--ready N]\n");
    return 2;
  }
  try {
    // Open once through the hub's own code: it migrates and makes the partitions.
    auto ledger = ledger::OpenPostgresLedger(ledger::PostgresOptions{dsn}, ledger::ChainOptions{"scale-hub"});
    if (!ledger) {
      std::fprintf(stderr, "%s\n", ledger.error().ToString().c_str());
      return 1;
    }
    Generate(dsn, events, ready);
    {
      pqxx::connection c(dsn);
      pqxx::nontransaction n(c);
      std::printf("ledger: %lld events in %lld partitions, %lld requests, %lld stages (%lld READY)\n",
                  n.exec1("SELECT count(*) FROM events")[0].as<long long>(),
                  n.exec1("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")[0].as<long long>(),
                  n.exec1("SELECT count(*) FROM requests")[0].as<long long>(),
                  n.exec1("SELECT count(*) FROM stages")[0].as<long long>(),
                  n.exec1("SELECT count(*) FROM stages WHERE state = 'READY'")[0].as<long long>());
    }
    const int64_t requests = events / 10;
    std::mt19937_64 random(7);
    std::uniform_int_distribution<int64_t> pick(1, requests);

    std::vector<double> progress, timeline;
    for (int i = 0; i < 20'000; ++i) {
      const std::string id = Id(pick(random));
      const auto t = Steady::now();
      auto txn = (*ledger)->Begin();
      auto r = (*txn)->GetRequest(id);
      auto s = (*txn)->GetStages(id);
      (void)(*txn)->Commit();
      progress.push_back(Ms(t, Steady::now()));
      if (!r || !r->has_value() || !s || s->size() != 3) {
        std::fprintf(stderr, "lookup of %s failed\n", id.c_str());
        return 1;
      }
    }
    for (int i = 0; i < 5'000; ++i) {
      const std::string id = Id(pick(random));
      const auto t = Steady::now();
      auto txn = (*ledger)->Begin();
      auto e = (*txn)->GetEvents(id);
      (void)(*txn)->Commit();
      timeline.push_back(Ms(t, Steady::now()));
      if (!e || e->size() != 10) return 1;
    }
    std::printf("progress lookup (request + stages), 20000 random ids: p50 %.3f ms  p99 %.3f ms\n",
                Percentile(progress, 0.5), Percentile(progress, 0.99));
    std::printf("timeline (a request's events), 5000 random ids: p50 %.3f ms  p99 %.3f ms\n",
                Percentile(timeline, 0.5), Percentile(timeline, 0.99));

    ResetClaims(dsn);
    std::printf("claims with the partial index on READY stages: %.0f/s one per transaction, ",
                ClaimRate(**ledger, 1, 5));
    ResetClaims(dsn);
    std::printf("%.0f/s 100 per transaction\n", ClaimRate(**ledger, 100, 5));
    ResetClaims(dsn);
    {
      pqxx::connection c(dsn);
      pqxx::nontransaction n(c);
      n.exec("DROP INDEX stages_ready");
      n.exec("CREATE INDEX stages_by_service ON stages (service, ready_at)");
    }
    std::printf("claims with a plain (service, ready_at) index instead: %.0f/s one per transaction\n",
                ClaimRate(**ledger, 1, 5));
    ResetClaims(dsn);
    {
      pqxx::connection c(dsn);
      pqxx::nontransaction n(c);
      n.exec("DROP INDEX stages_by_service");
    }
    std::printf("claims with no index on service: %.0f/s one per transaction\n",
                ClaimRate(**ledger, 1, 5));
    {
      pqxx::connection c(dsn);
      pqxx::nontransaction n(c);
      n.exec("CREATE INDEX stages_ready ON stages (service, ready_at) WHERE state = 'READY'");
    }
    ResetClaims(dsn);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ledger_scale: %s\n", e.what());
    return 1;
  }
  return 0;
}
