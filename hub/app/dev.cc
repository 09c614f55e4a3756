#include "hub/app/dev.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "hub/base/log.h"
#include "hub/security/crypto.h"

namespace taxhub::app {

const std::vector<std::string>& DevTaxpayers() {
  static const std::vector<std::string> taxpayers = {"91310110666007217T", "91350100M000100Y43",
                                                     "91310115591693856A"};
  return taxpayers;
}

namespace {

Status WriteFile(const std::string& path, const std::string& text, bool secret) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status(ErrorCode::kUnavailable, "cannot write " + path);
  out << text;
  out.close();
  if (secret) std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                                     std::filesystem::perms::owner_write);
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
    if (type == KeyType::kSm2) TAXHUB_RETURN_IF_ERROR(issue(dir + "/hub", "taxhub dev hub", ""));
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

DevAdapters::DevAdapters(const HubConfig& config, const std::string& backend) {
  for (const auto& a : config.dev_adapters) {
    handlers_.push_back(std::make_unique<sample::SampleHandler>(SampleOptionsFor(a)));
    for (const auto& service : a.services) {
      sdk::WorkerOptions worker;
      worker.endpoint = backend;
      worker.service = service;
      worker.concurrency = a.workers;
      worker.heartbeat_ms = config.broker.heartbeat_ms;
      worker.liveness = config.broker.liveness;
      pools_.push_back(std::make_unique<sdk::WorkerPool>(worker, *handlers_.back()));
    }
  }
}

void DevAdapters::Start() {
  for (auto& pool : pools_) pool->Start();
}

void DevAdapters::Stop() {
  for (auto& pool : pools_) pool->Stop();
}

void DevClerk::Start() {
  if (!config_.enabled || thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
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
