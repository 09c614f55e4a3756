#include "hub/app/dev.h"

#include <chrono>
#include <set>

#include "hub/base/log.h"

namespace taxhub::app {

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
