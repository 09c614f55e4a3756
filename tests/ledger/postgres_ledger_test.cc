#include "tests/ledger/ledger_conformance.h"
#include "tests/support/pg_server.h"

namespace taxhub::ledger {
namespace {

Backend Postgres() {
  return Backend{"postgres",
                 []() -> std::string {
                   std::string error;
                   testing::PgServer* server = testing::PgServer::Shared(&error);
                   return server ? server->NewDatabase() : "";
                 },
                 [](const std::string& dsn) {
                   return OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"test-hub"});
                 }};
}

INSTANTIATE_TEST_SUITE_P(Postgres, LedgerConformance, ::testing::Values(Postgres()),
                         [](const auto& info) { return info.param.name; });

// Runs first in the binary so that a missing server fails (CI) or skips visibly.
TEST(PostgresLedger, TestServerIsAvailable) {
  TAXHUB_REQUIRE_PG(server);
  EXPECT_GT(server->port(), 0);
}

TEST(PostgresLedger, TwoHubsWithOneIdAreRefused) {
  TAXHUB_REQUIRE_PG(server);
  const std::string dsn = server->NewDatabase();
  auto first = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-a"});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto twin = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-a"});
  ASSERT_FALSE(twin.has_value());
  EXPECT_EQ(twin.error().field(), "hub.id");
  auto other = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-b"});
  EXPECT_TRUE(other.has_value()) << "another hub id is welcome";
  first->reset();
  EXPECT_TRUE(OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-a"}).has_value())
      << "free again once the first hub is gone";
}

TEST(PostgresLedger, UnreachableServerIsUnavailable) {
  auto opened = OpenPostgresLedger(
      PostgresOptions{"host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2"});
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace taxhub::ledger
