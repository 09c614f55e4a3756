// Which ledger backends an integration test binary runs against: hub_test runs on SQLite,
// hub_pg_test (label pg) compiles the same tests for PostgreSQL.
#ifndef TAXHUB_TESTS_INTEGRATION_BACKENDS_H_
#define TAXHUB_TESTS_INTEGRATION_BACKENDS_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/pg_server.h"

namespace taxhub::testing {

inline std::vector<std::string> TestBackends() {
#ifdef TAXHUB_TEST_POSTGRES
  return {"postgres"};
#else
  return {"sqlite"};
#endif
}

enum class Prepared { kReady, kSkip, kFail };

// For postgres: a fresh database on the shared test server, its DSN in `dsn`. Without a
// server the test is skipped, or failed under CI=true; `why` says why.
inline Prepared PrepareBackend(const std::string& backend, std::string& dsn, std::string& why) {
  if (backend != "postgres") return Prepared::kReady;
  PgServer* server = PgServer::Shared(&why);
  if (server) dsn = server->NewDatabase();
  if (!dsn.empty()) return Prepared::kReady;
  if (why.empty()) why = "could not create a test database";
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true" ? Prepared::kFail : Prepared::kSkip;
}

// Inside SetUp(): prepares `backend`, leaving the DSN in `dsn`, or ends the test.
#define TAXHUB_PREPARE_BACKEND(backend, dsn)                                          \
  do {                                                                                \
    std::string taxhub_why_;                                                          \
    switch (::taxhub::testing::PrepareBackend(backend, dsn, taxhub_why_)) {           \
      case ::taxhub::testing::Prepared::kSkip: GTEST_SKIP() << taxhub_why_;           \
      case ::taxhub::testing::Prepared::kFail: FAIL() << "CI=true: " << taxhub_why_;  \
      case ::taxhub::testing::Prepared::kReady: break;                                \
    }                                                                                 \
  } while (0)

}  // namespace taxhub::testing

#endif  // TAXHUB_TESTS_INTEGRATION_BACKENDS_H_
