// taxhub-test-pg: one private PostgreSQL server for a whole ctest run.
//   taxhub-test-pg start STATE_DIR   initdb + pg_ctl start on a free port; writes STATE_DIR/port
//   taxhub-test-pg stop STATE_DIR    stops that server by the PID in postmaster.pid, removes it
// ctest runs these as the setup and cleanup fixtures of every test labelled pg; PgServer::Shared
// finds the server through TAXHUB_TEST_PG_STATE. (Run alone, a pg test binary starts its own.)

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tests/support/process.h"

namespace {

using taxhub::testing::RunCommand;

std::string FindBin() {
  std::string best;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (std::filesystem::exists(e.path() / "bin" / "pg_ctl")) {
      best = std::max(best, (e.path() / "bin").string());
    }
  }
  return best;
}

// Runs a command as the postgres user when we are root (PostgreSQL refuses root).
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  if (getuid() != 0) return argv;
  std::vector<std::string> out = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

int Start(const std::string& state) {
  std::string bin = FindBin();
  if (bin.empty()) {
    std::cerr << "no PostgreSQL under /usr/lib/postgresql\n";
    return 1;
  }
  std::filesystem::remove_all(state);
  std::filesystem::create_directories(state);
  if (getuid() == 0) {
    struct passwd* pg = getpwnam("postgres");
    if (!pg || chown(state.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
      std::cerr << "cannot hand " << state << " to the postgres user\n";
      return 1;
    }
  }
  auto init = RunCommand(AsPostgres({bin + "/initdb", "-D", state + "/data", "-U", "postgres",
                                     "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"}),
                         120'000);
  if (init.exit_code != 0) {
    std::cerr << "initdb failed:\n" << init.output;
    return 1;
  }
  int port = taxhub::testing::FreePort();
  auto start = RunCommand(
      AsPostgres({bin + "/pg_ctl", "-D", state + "/data", "-l", state + "/postgres.log", "-w",
                  "-t", "60", "-o",
                  "-p " + std::to_string(port) + " -k " + state +
                      " -c listen_addresses=127.0.0.1 -c max_connections=200",
                  "start"}),
      90'000);
  if (start.exit_code != 0) {
    std::cerr << "pg_ctl start failed:\n" << start.output;
    return 1;
  }
  std::ofstream(state + "/port") << port << "\n";
  std::cout << "PostgreSQL for tests on 127.0.0.1:" << port << "\n";
  return 0;
}

int Stop(const std::string& state) {
  std::ifstream pidfile(state + "/data/postmaster.pid");
  pid_t pid = 0;
  if (pidfile >> pid && pid > 0) {
    kill(pid, SIGINT);  // fast shutdown
    for (int i = 0; i < 300 && kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (kill(pid, 0) == 0) kill(pid, SIGKILL);
  }
  std::error_code ec;
  std::filesystem::remove_all(state, ec);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: taxhub-test-pg start|stop STATE_DIR\n";
    return 2;
  }
  std::string command = argv[1];
  if (command == "start") return Start(argv[2]);
  if (command == "stop") return Stop(argv[2]);
  return 2;
}
