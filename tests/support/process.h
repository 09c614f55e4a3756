// Child processes for tests: started by path with arguments, output to a file, stopped and
// reaped by PID. The destructor kills (SIGKILL) a child that is still running, so a failing
// test never leaves processes behind.
#ifndef TAXHUB_TESTS_SUPPORT_PROCESS_H_
#define TAXHUB_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace taxhub::testing {

class Process {
 public:
  // Starts `argv[0]` with the rest as arguments; stdout and stderr go to `log_file`.
  // With `run_as` set (and running as root), the child switches to that user first.
  static std::optional<Process> Start(const std::vector<std::string>& argv,
                                      const std::string& log_file,
                                      const std::string& run_as = "");
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal);
  // Waits up to `timeout_ms` for the child to exit; returns its exit code (128 + signal when
  // killed by one), or nullopt if it is still running.
  std::optional<int> Wait(int timeout_ms);
  // SIGTERM, then SIGKILL after `grace_ms`; returns the exit code.
  int Stop(int grace_ms = 5000);
  const std::string& log_file() const { return log_file_; }
  std::string Log() const;

 private:
  Process(pid_t pid, std::string log_file) : pid_(pid), log_file_(std::move(log_file)) {}
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_file_;
};

// Runs a command to completion and returns its exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms = 60'000);

// Runs SQL on a SQLite database with the sqlite3 shell, as an operator would. It waits up to
// 10 s for a lock: a hub running on the file commits now and then, and without a busy timeout
// the shell gives up at once with "database is locked" (a write whenever the hub holds the
// write lock; a read, rarely, while the WAL index is being rebuilt).
CommandResult RunSqlite(const std::string& database, const std::string& sql);

// A TCP port on 127.0.0.1 that was free a moment ago, from below the kernel's ephemeral range.
int FreePort();

// The directory holding the project's binaries (build/bin), found next to the test binary.
std::string BinDir();
// The repository root (for config/ and schemas/).
std::string SourceDir();

// How many times the usual load a fault test runs: TAXHUB_SOAK_SCALE (`make soak` sets 10), else 1.
int SoakScale();

}  // namespace taxhub::testing

#endif  // TAXHUB_TESTS_SUPPORT_PROCESS_H_
