#include "hub/broker/worker_registry.h"

namespace taxhub::broker {

Worker* WorkerRegistry::Find(const std::string& identity) {
  auto it = workers_.find(identity);
  return it == workers_.end() ? nullptr : &it->second.worker;
}

Worker& WorkerRegistry::Add(const std::string& identity, const std::string& service,
                            int64_t now_ms) {
  Entry& entry = workers_[identity];
  entry.worker.identity = identity;
  entry.worker.service = service;
  entry.worker.registered_at_ms = now_ms;
  entry.worker.last_sent_ms = now_ms;
  entry.worker.idle = false;
  Touch(entry.worker, now_ms);
  ++counts_[service];
  return entry.worker;
}

void WorkerRegistry::MarkIdle(Worker& worker) {
  auto it = workers_.find(worker.identity);
  if (it == workers_.end() || worker.idle) return;
  worker.idle = true;
  worker.job = Job{};
  auto& queue = idle_[worker.service];
  it->second.idle_position = queue.insert(queue.end(), worker.identity);
}

void WorkerRegistry::Unidle(Entry& entry) {
  if (!entry.worker.idle) return;
  entry.worker.idle = false;
  auto queue = idle_.find(entry.worker.service);
  queue->second.erase(entry.idle_position);
  if (queue->second.empty()) idle_.erase(queue);
}

Worker* WorkerRegistry::TakeIdle(const std::string& service) {
  auto queue = idle_.find(service);
  if (queue == idle_.end() || queue->second.empty()) return nullptr;
  Entry& entry = workers_.at(queue->second.front());
  Unidle(entry);
  return &entry.worker;
}

std::optional<Worker> WorkerRegistry::Remove(const std::string& identity) {
  auto it = workers_.find(identity);
  if (it == workers_.end()) return std::nullopt;
  const bool was_idle = it->second.worker.idle;
  Unidle(it->second);
  Worker worker = std::move(it->second.worker);
  worker.idle = was_idle;  // callers withdraw the credit an idle worker stood for
  workers_.erase(it);
  if (--counts_[worker.service] <= 0) counts_.erase(worker.service);
  return worker;
}

std::vector<Worker> WorkerRegistry::Expire(int64_t now_ms) {
  std::vector<std::string> expired;
  for (const auto& [identity, entry] : workers_) {
    if (entry.worker.expires_at_ms <= now_ms) expired.push_back(identity);
  }
  std::vector<Worker> out;
  for (const auto& identity : expired) out.push_back(*Remove(identity));
  return out;
}

std::vector<std::string> WorkerRegistry::DueForHeartbeat(int64_t now_ms) const {
  std::vector<std::string> out;
  for (const auto& [identity, entry] : workers_) {
    if (now_ms - entry.worker.last_sent_ms >= heartbeat_ms_) out.push_back(identity);
  }
  return out;
}

int WorkerRegistry::WorkerCount(const std::string& service) const {
  auto it = counts_.find(service);
  return it == counts_.end() ? 0 : it->second;
}

int WorkerRegistry::IdleCount(const std::string& service) const {
  auto it = idle_.find(service);
  return it == idle_.end() ? 0 : static_cast<int>(it->second.size());
}

std::vector<std::string> WorkerRegistry::Identities() const {
  std::vector<std::string> out;
  for (const auto& [identity, entry] : workers_) out.push_back(identity);
  return out;
}

}  // namespace taxhub::broker
