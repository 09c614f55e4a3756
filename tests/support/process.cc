#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace taxhub::testing {

std::optional<Process> Process::Start(const std::vector<std::string>& argv,
                                      const std::string& log_file, const std::string& run_as) {
  struct passwd* user = nullptr;
  if (!run_as.empty() && getuid() == 0) {
    user = getpwnam(run_as.c_str());
    if (!user) return std::nullopt;
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      if (user) (void)fchown(fd, user->pw_uid, user->pw_gid);
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    close_range(3, UINT_MAX, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (user) {
      if (setgroups(0, nullptr) != 0 || setgid(user->pw_gid) != 0 || setuid(user->pw_uid) != 0) {
        _exit(126);
      }
    }
    // If the test process dies, its children go with it (set after setuid, which clears it).
    prctl(PR_SET_PDEATHSIG, argv[0].find("postgres") != std::string::npos ? SIGQUIT : SIGKILL);
    if (getppid() != parent) _exit(125);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return Process(pid, log_file);
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_), log_file_(std::move(other.log_file_)) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_code_) Stop(0);
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    log_file_ = std::move(other.log_file_);
    other.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

bool Process::Running() { return pid_ > 0 && !Wait(0).has_value(); }

void Process::Signal(int signal) {
  if (pid_ > 0 && !exit_code_) kill(pid_, signal);
}

std::optional<int> Process::Wait(int timeout_ms) {
  if (exit_code_) return exit_code_;
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (done < 0) {
      exit_code_ = -1;
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int Process::Stop(int grace_ms) {
  Signal(SIGTERM);
  if (auto code = Wait(grace_ms)) return *code;
  Signal(SIGKILL);
  return Wait(10'000).value_or(-1);
}

std::string Process::Log() const {
  std::ifstream in(log_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms) {
  char path[] = "/tmp/taxhub-cmd-XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  CommandResult result;
  auto process = Process::Start(argv, path);
  if (process) {
    auto code = process->Wait(timeout_ms);
    result.exit_code = code ? *code : process->Stop(0);
    result.output = process->Log();
  }
  unlink(path);
  return result;
}

CommandResult RunSqlite(const std::string& database, const std::string& sql) {
  return RunCommand({"/usr/bin/sqlite3", "-cmd", ".timeout 10000", database, sql});
}

namespace {

// Whether nothing listens on 127.0.0.1:port (nor holds it bound).
bool CanBind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return free;
}

// The low end of the ports the kernel hands out to outgoing connections and to bind(0).
int EphemeralLow() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  range >> low;
  return low;
}

}  // namespace

// From below the ephemeral range: a port bind(0) chose was sometimes taken by another test's
// outgoing connection before the server that was to listen on it started (a stand-in then
// failed with "Address already in use"). Ports down there are only ever taken by choice.
int FreePort() {
  static std::mutex mutex;
  static std::mt19937 random(std::random_device{}());
  const int high = EphemeralLow() - 1, low = std::max(1024, high - 12000);
  std::lock_guard<std::mutex> lock(mutex);
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = pick(random);
    if (CanBind(port)) return port;
  }
  return high;  // every try was taken: the server's own bind will say so
}

std::string BinDir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

std::string SourceDir() { return TAXHUB_SOURCE_DIR; }

int SoakScale() {
  const char* scale = std::getenv("TAXHUB_SOAK_SCALE");
  return scale == nullptr ? 1 : std::max(1, std::atoi(scale));
}

}  // namespace taxhub::testing
