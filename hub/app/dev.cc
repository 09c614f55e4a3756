#include "hub/app/dev.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <thread>
#include <filesystem>
#include <fstream>
#include <set>

#include "hub/base/log.h"
#include "hub/base/thread_name.h"
#include "hub/security/crypto.h"

namespace taxhub::app {

const std::vector<std::string>& DevTaxpayers() {
  static const std::vector<std::string> taxpayers = {"91310110666007217T", "91350100M000100Y43",
                                                     "91310115591693856A"};
  return taxpayers;
}

namespace {

// A secret is created 0600: never readable by others, not even between writing and chmod.
Status WriteFile(const std::string& path, const std::string& text, bool secret) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0) return Status(ErrorCode::kUnavailable, "cannot write " + path + ": " + strerror(errno));
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  // An existing file keeps its mode through O_TRUNC: make a secret's private anyway.
  const bool private_enough = !secret || fchmod(fd, 0600) == 0;
  close(fd);
  if (!written || !private_enough) return Status(ErrorCode::kUnavailable, "cannot write " + path);
  return Status::Ok();
}

}  // namespace

Status EnsureDevPki(const std::string& dir, const std::vector<std::string>& taxpayers) {
  using security::Certificate;
  using security::CertificateSpec;
  using security::KeyType;
  using security::PrivateKey;
  if (std::filesystem::exists(dir + "/ca.pem")) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(dir + "/taxpayers", ec);
  if (ec) return Status(ErrorCode::kUnavailable, "cannot create " + dir + ": " + ec.message());
  const int64_t now = SystemClock().NowMs();
  constexpr int64_t kDay = 86'400'000;
  int64_t serial = 1;
  std::string bundle;
  for (KeyType type : {KeyType::kSm2, KeyType::kEcdsaP256}) {
    const std::string name(security::KeyTypeName(type));
    auto ca_key = PrivateKey::Generate(type);
    if (!ca_key) return ca_key.error();
    CertificateSpec ca_spec{"taxhub demo CA (" + name + ")", "", "taxhub demo", serial++,
                            now - kDay, now + 3650 * kDay, true, true};
    auto ca = security::IssueCertificate(ca_spec, *ca_key, *ca_key, nullptr);
    if (!ca) return ca.error();
    bundle += ca->ToPem();
    TAXHUB_RETURN_IF_ERROR(WriteFile(dir + "/ca-" + name + ".key", ca_key->ToPem(), true));
    auto issue = [&](const std::string& stem, const std::string& cn,
                     const std::string& id) -> Status {
      auto key = PrivateKey::Generate(type);
      if (!key) return key.error();
      CertificateSpec spec{cn, id, "taxhub demo", serial++, now - kDay, now + 730 * kDay, false,
                           true};
      auto cert = security::IssueCertificate(spec, *key, *ca_key, &*ca);
      if (!cert) return cert.error();
      TAXHUB_RETURN_IF_ERROR(WriteFile(stem + ".key", key->ToPem(), true));
      return WriteFile(stem + ".pem", cert->ToPem(), false);
    };
    for (const auto& id : taxpayers) {
      TAXHUB_RETURN_IF_ERROR(issue(dir + "/taxpayers/" + id + "." + (type == KeyType::kSm2 ? "sm2" : "ecdsa"),
                                   "纳税人 " + id, id));
    }
    if (type == KeyType::kSm2) {
      TAXHUB_RETURN_IF_ERROR(issue(dir + "/hub", "taxhub dev hub", ""));
      // The tax bureau's and the bank's TIPS signing keys (CFX messages are SM2-signed both ways).
      TAXHUB_RETURN_IF_ERROR(issue(dir + "/tips-bureau", "TIPS 税务机关 132120000000", ""));
      TAXHUB_RETURN_IF_ERROR(issue(dir + "/tips-bank", "TIPS 商业银行 102100099996", ""));
    }
  }
  // ca.pem last: its presence means the PKI is complete.
  return WriteFile(dir + "/ca.pem", bundle, false);
}

namespace {

sample::SampleOptions SampleOptionsFor(const DevAdapterConfig& a) {
  sample::SampleOptions options;
  options.name = a.name;
  options.delay_ms = a.delay_ms;
  options.retry_rate = a.retry_rate;
  options.reject_rate = a.reject_rate;
  options.outputs = a.outputs;
  return options;
}

}  // namespace

namespace {

// NAME.pub next to the hub's NAME.key, absolute: the processes it is handed to may run elsewhere.
std::string ServerPublicFile(const CurveConfig& curve) {
  std::filesystem::path file = std::filesystem::absolute(curve.server_key);
  file.replace_extension(".pub");
  return file.string();
}

}  // namespace

Status EnsureDevCurveKeys(const CurveConfig& curve) {
  std::error_code ec;
  std::filesystem::create_directories(curve.keys_dir, ec);
  if (ec) return Status(ErrorCode::kUnavailable, "cannot create " + curve.keys_dir + ": " + ec.message(), "curve.keys");
  std::filesystem::permissions(curve.keys_dir, std::filesystem::perms::owner_all, ec);
  const std::filesystem::path server(curve.server_key);
  std::vector<std::pair<std::string, std::string>> pairs = {  // directory, name
      {server.parent_path().string(), server.stem().string()}};
  for (const auto& peer : curve.peers) pairs.emplace_back(curve.keys_dir, peer.name);
  for (const auto& [dir, name] : pairs) {
    if (std::filesystem::exists(dir + "/" + name + ".pub") || std::filesystem::exists(dir + "/" + name + ".key")) {
      continue;  // a pair that is there is kept; half of one is for the operator to sort out
    }
    TAXHUB_RETURN_IF_ERROR(security::WriteCurveKeyPair(dir, name));
  }
  return Status::Ok();
}

Result<std::optional<security::CurveClientKeys>> DevCurveKeys(const CurveConfig& curve, const std::string& name) {
  if (!curve.enabled) return std::optional<security::CurveClientKeys>();
  for (const auto& peer : curve.peers) {
    if (peer.name != name) continue;
    auto keys = security::LoadCurveClientKeys(ServerPublicFile(curve), curve.keys_dir + "/" + name + ".key");
    if (!keys) return Error(keys.error().WithContext("CURVE keys of " + name));
    return std::optional<security::CurveClientKeys>(std::move(*keys));
  }
  return std::optional<security::CurveClientKeys>();
}

Result<std::unique_ptr<DevAdapters>> DevAdapters::Create(const HubConfig& config, const std::string& backend) {
  std::unique_ptr<DevAdapters> adapters(new DevAdapters());
  int connections = 0;
  for (const auto& a : config.dev_adapters) connections += static_cast<int>(a.services.size()) * a.workers;
  auto context = sdk::NewWorkerContext(connections);  // one for all the dev adapters' services
  for (const auto& a : config.dev_adapters) {
    auto curve = DevCurveKeys(config.curve, a.name);
    if (!curve) return Error(curve.error());
    adapters->handlers_.push_back(std::make_unique<sample::SampleHandler>(SampleOptionsFor(a)));
    for (const auto& service : a.services) {
      sdk::WorkerOptions worker;
      worker.context = context;
      worker.curve = *curve;
      worker.endpoint = backend;
      worker.service = service;
      worker.concurrency = a.workers;
      worker.heartbeat_ms = config.broker.heartbeat_ms;
      worker.liveness = config.broker.liveness;
      adapters->pools_.push_back(std::make_unique<sdk::WorkerPool>(worker, *adapters->handlers_.back()));
    }
  }
  return adapters;
}

void DevAdapters::Start() {
  for (auto& pool : pools_) pool->Start();
}

void DevAdapters::Stop() {
  for (auto& pool : pools_) pool->Stop();
}

Result<std::string> ExpandVariables(const std::string& text, const StringMap& variables) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("${", i);
    if (open == std::string::npos) {
      out.append(text, i);
      break;
    }
    const size_t close = text.find('}', open);
    if (close == std::string::npos) return Error(ErrorCode::kBadRequest, "an unclosed ${ in \"" + text + "\"");
    const std::string name = text.substr(open + 2, close - open - 2);
    auto it = variables.find(name);
    if (it == variables.end()) {
      return Error(ErrorCode::kBadRequest, "unknown variable ${" + name + "} in \"" + text + "\"", name);
    }
    out.append(text, i, open - i);
    out += it->second;
    i = close + 1;
  }
  return out;
}

Status DevProcesses::Start() {
  for (const DevFileConfig& file : config_.dev_files) {
    std::ifstream in(file.from);
    if (!in) return Status(ErrorCode::kNotFound, "dev file template " + file.from + " cannot be read");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& [key, raw] : file.values) {
      auto value = ExpandVariables(raw, variables_);
      if (!value) return value.error();
      const std::string marker = "@" + key + "@";
      for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + value->size())) {
        text.replace(at, marker.size(), *value);
      }
    }
    auto to = ExpandVariables(file.to, variables_);
    if (!to) return to.error();
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(*to).parent_path(), ec);
    TAXHUB_RETURN_IF_ERROR(WriteFile(*to, text, false));
  }
  for (const DevProcessConfig& process : config_.dev_processes) {
    std::vector<std::string> argv;
    for (const auto& arg : process.command) {
      auto expanded = ExpandVariables(arg, variables_);
      if (!expanded) return expanded.error().WithContext("dev process " + process.name);
      argv.push_back(std::move(*expanded));
    }
    if (process.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(process.delay_ms));
    const std::string log = config_.data_dir + "/" + process.name + ".log";
    // The environment is made before fork: the child of a threaded process may only exec.
    auto curve = DevCurveKeys(config_.curve, process.name);
    if (!curve) return curve.error();
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      if (entry.starts_with(std::string(security::kCurveServerVariable) + "=") ||
          entry.starts_with(std::string(security::kCurveKeyVariable) + "=")) {
        continue;
      }
      environment.emplace_back(entry);
    }
    if (*curve) {
      environment.push_back(std::string(security::kCurveServerVariable) + "=" + ServerPublicFile(config_.curve));
      environment.push_back(std::string(security::kCurveKeyVariable) + "=" +
                            std::filesystem::absolute(config_.curve.keys_dir + "/" + process.name + ".key").string());
    }
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) return Status(ErrorCode::kUnavailable, "cannot start " + process.name + ": fork failed");
    if (pid == 0) {
      // The hub blocks its stop signals for sigwait; the child must not inherit that.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execve(args[0], args.data(), envp.data());
      dprintf(2, "taxhub dev: cannot run %s: %s\n", args[0], strerror(errno));
      _exit(127);
    }
    children_.push_back(Child{process.name, pid});
    TAXHUB_LOG(kInfo, "dev") << process.name << " started (pid " << pid << ", log " << log << ")";
  }
  if (!children_.empty()) {
    watching_ = true;
    watcher_ = NamedThread("dev-watch", [this] { Watch(); });
  }
  return Status::Ok();
}

void DevProcesses::Watch() {
  while (watching_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::lock_guard lock(mutex_);
    for (Child& child : children_) {
      int status = 0;
      if (child.exited || waitpid(child.pid, &status, WNOHANG) != child.pid) continue;
      child.exited = true;
      TAXHUB_LOG(kWarn, "dev") << child.name << " exited on its own ("
                               << (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                     : "signal " + std::to_string(WTERMSIG(status)))
                               << "); see " << config_.data_dir << "/" << child.name << ".log";
    }
  }
}

void DevProcesses::Stop() {
  watching_ = false;
  if (watcher_.joinable()) watcher_.join();
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    if (it->exited) continue;
    kill(it->pid, SIGTERM);
    int status = 0;
    bool exited = false;
    for (int waited = 0; waited < 5000 && !exited; waited += 20) {
      exited = waitpid(it->pid, &status, WNOHANG) == it->pid;
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!exited) {
      kill(it->pid, SIGKILL);
      waitpid(it->pid, &status, 0);
    }
    TAXHUB_LOG(kInfo, "dev") << it->name << " stopped"
                             << (WIFEXITED(status) ? " (exit " + std::to_string(WEXITSTATUS(status)) + ")"
                                                   : " (signal " + std::to_string(WTERMSIG(status)) + ")");
  }
  children_.clear();
}

void DevClerk::Start() {
  if (!config_.enabled || thread_.joinable()) return;
  thread_ = NamedThread("dev-clerk", [this] { Run(); });
}

void DevClerk::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void DevClerk::Run() {
  while (!stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::set<std::string> queues;
    for (const auto& route : hub_.routes()->routes()) {
      for (const auto& stage : route.stages) {
        if (!stage.queue.empty()) queues.insert(stage.queue);
      }
    }
    const int64_t now = SystemClock().NowMs();
    for (const auto& queue : queues) {
      auto tasks = hub_.engine().QueueTasks(queue, 50);
      if (!tasks) continue;
      for (const auto& task : *tasks) {
        if (stopping_) return;
        if (!task.claimed_by.empty() && task.claimed_by != config_.name) continue;
        if (now - task.ready_at_ms < config_.delay_ms) continue;
        if (task.claimed_by.empty() && !hub_.engine().ClaimTask(task.task_id, config_.name).ok()) {
          continue;
        }
        Status done = hub_.engine().CompleteTask(task.task_id, config_.name,
                                                 workflow::Decision::kApprove, "同意 approved");
        if (!done.ok()) TAXHUB_LOG(kWarn, "dev-clerk") << task.task_id << ": " << done.ToString();
      }
    }
  }
}

}  // namespace taxhub::app
