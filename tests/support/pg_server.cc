#include "tests/support/pg_server.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <thread>
#include <vector>

namespace taxhub::testing {
namespace {

std::string FindPostgresBin() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (std::filesystem::exists(entry.path() / "bin" / "postgres")) {
      found.push_back((entry.path() / "bin").string());
    }
  }
  std::sort(found.begin(), found.end());
  return found.empty() ? "" : found.back();
}

}  // namespace

std::unique_ptr<PgServer> PgServer::Start(std::string& error) {
  std::unique_ptr<PgServer> server(new PgServer());
  server->bin_dir_ = FindPostgresBin();
  if (server->bin_dir_.empty()) {
    error = "no PostgreSQL server binaries under /usr/lib/postgresql (install postgresql)";
    return nullptr;
  }
  server->dir_ = std::make_unique<TempDir>();
  if (getuid() == 0) {
    // PostgreSQL refuses to run as root; hand the directory to the postgres user.
    struct passwd* pg = getpwnam("postgres");
    if (!pg) {
      error = "running as root and there is no postgres user";
      return nullptr;
    }
    server->run_as_ = "postgres";
    if (chown(server->dir_->path().c_str(), pg->pw_uid, pg->pw_gid) != 0) {
      error = "cannot chown " + server->dir_->path();
      return nullptr;
    }
  }
  const std::string data = server->dir_->File("data");
  auto init = Process::Start({server->bin_dir_ + "/initdb", "-D", data, "-U", "postgres", "-A",
                              "trust", "-E", "UTF8", "--locale=C", "--no-sync"},
                             server->dir_->File("initdb.log"), server->run_as_);
  if (!init) {
    error = "cannot run initdb";
    return nullptr;
  }
  auto code = init->Wait(120'000);
  if (!code || *code != 0) {
    error = "initdb failed: " + init->Log();
    return nullptr;
  }
  server->port_ = FreePort();
  if (!server->Launch(error)) return nullptr;
  return server;
}

bool PgServer::Launch(std::string& error) {
  process_ = Process::Start(
      {bin_dir_ + "/postgres", "-D", dir_->File("data"), "-p", std::to_string(port_), "-k",
       dir_->path(), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c",
       "shared_buffers=128MB"},
      dir_->File("postgres.log"), run_as_);
  if (!process_) {
    error = "cannot start postgres";
    return false;
  }
  for (int i = 0; i < 300; ++i) {
    auto ready = RunCommand({bin_dir_ + "/pg_isready", "-h", "127.0.0.1", "-p",
                             std::to_string(port_), "-U", "postgres"},
                            10'000);
    if (ready.exit_code == 0) return true;
    if (!process_->Running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  error = "postgres did not become ready: " + process_->Log();
  return false;
}

std::unique_ptr<PgServer> PgServer::Attach(const std::string& state, std::string& error) {
  std::ifstream in(state + "/port");
  int port = 0;
  if (!(in >> port) || port <= 0) {
    error = "the ctest PostgreSQL fixture did not start (no " + state + "/port)";
    return nullptr;
  }
  std::unique_ptr<PgServer> server(new PgServer());
  server->bin_dir_ = FindPostgresBin();
  server->port_ = port;
  return server;
}

PgServer* PgServer::Shared(std::string* error) {
  static std::unique_ptr<PgServer> shared;
  static std::string shared_error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    const char* state = std::getenv("TAXHUB_TEST_PG_STATE");
    shared = state ? Attach(state, shared_error) : Start(shared_error);
  }
  if (!shared && error) *error = shared_error;
  return shared.get();
}

PgServer::~PgServer() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGINT);  // fast shutdown
    if (!process_->Wait(30'000)) process_->Stop(0);
  }
}

std::string PgServer::Dsn(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database +
         " connect_timeout=5";
}

std::string PgServer::NewDatabase() {
  const std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(++databases_);
  auto result = RunCommand({bin_dir_ + "/psql", "-h", "127.0.0.1", "-p", std::to_string(port_),
                            "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q",
                            "-c", "CREATE DATABASE " + name});
  if (result.exit_code != 0) return "";
  return Dsn(name);
}

bool PgServer::Restart(std::string& error) {
  if (!process_) {
    error = "this server belongs to the ctest fixture; it cannot be restarted from a test";
    return false;
  }
  {
    process_->Signal(SIGINT);
    process_->Wait(30'000);
  }
  return Launch(error);
}

void PgServer::Kill() {
  if (process_) {
    process_->Signal(SIGKILL);
    process_->Wait(10'000);
  }
}

}  // namespace taxhub::testing
