// A private PostgreSQL server for tests: initdb into a temporary directory (as the postgres
// user when running as root), postgres on a free port on 127.0.0.1, stopped and removed by PID
// at the end.
//
// Tests that need it use PgServer::Shared(), one server per test binary, and a fresh database
// per test from NewDatabase(). When no server can start, Require() skips the test, except under
// CI=true, where it fails: CI must never pass by skipping the PostgreSQL tests.
#ifndef TAXHUB_TESTS_SUPPORT_PG_SERVER_H_
#define TAXHUB_TESTS_SUPPORT_PG_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace taxhub::testing {

class PgServer {
 public:
  // Starts a server; on failure returns nullptr and sets `error`.
  static std::unique_ptr<PgServer> Start(std::string& error);
  // Uses the server the ctest fixture (taxhub-test-pg) started in `state`.
  static std::unique_ptr<PgServer> Attach(const std::string& state, std::string& error);
  // The binary's shared server, or nullptr with the reason: the ctest fixture's when
  // TAXHUB_TEST_PG_STATE is set, else one started on first use.
  static PgServer* Shared(std::string* error = nullptr);
  ~PgServer();

  int port() const { return port_; }
  pid_t pid() { return process_ ? process_->pid() : -1; }
  // A DSN for `database` on this server.
  std::string Dsn(const std::string& database) const;
  // Creates an empty database with a unique name and returns its DSN.
  std::string NewDatabase();
  // Stops the server (fast shutdown) and starts it again on the same port and data. Only for
  // a server this process started.
  bool Restart(std::string& error);
  void Kill();

 private:
  PgServer() = default;
  bool Launch(std::string& error);

  std::unique_ptr<TempDir> dir_;
  std::string bin_dir_;
  std::string run_as_;
  int port_ = 0;
  int databases_ = 0;
  std::optional<Process> process_;
};

}  // namespace taxhub::testing

// Inside a TEST: the shared server, or skip (fail under CI=true) when there is none.
#define TAXHUB_REQUIRE_PG(var)                                                         \
  std::string taxhub_pg_error_;                                                        \
  ::taxhub::testing::PgServer* var = ::taxhub::testing::PgServer::Shared(&taxhub_pg_error_); \
  if (!var) {                                                                          \
    if (std::getenv("CI") && std::string(std::getenv("CI")) == "true") {               \
      FAIL() << "PostgreSQL test server could not start (CI=true): " << taxhub_pg_error_; \
    }                                                                                  \
    GTEST_SKIP() << "no PostgreSQL test server: " << taxhub_pg_error_;                 \
  }

#endif  // TAXHUB_TESTS_SUPPORT_PG_SERVER_H_
