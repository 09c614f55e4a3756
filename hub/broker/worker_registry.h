// The broker's view of its workers: which service each serves, which are idle (in least
// recently used order per service), what each busy one is doing, and when each expires.
// Pure bookkeeping with time passed in; the broker owns the sockets.
#ifndef TAXHUB_HUB_BROKER_WORKER_REGISTRY_H_
#define TAXHUB_HUB_BROKER_WORKER_REGISTRY_H_

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace taxhub::broker {

// What a busy worker is working on.
struct Job {
  enum class Kind { kNone, kClient, kTask };
  Kind kind = Kind::kNone;
  std::string address;     // the client address frame sent in REQUEST, echoed in REPLY
  std::string client;      // kClient: frontend identity to answer
  std::string task_id;     // kTask
  int64_t token = 0;       // kTask: fencing token
  int64_t deadline_ms = 0; // kClient: when the client is told TIMEOUT
  bool answered = false;   // kClient: the client already got a TIMEOUT
};

struct Worker {
  std::string identity;
  std::string service;
  std::string peer;           // with CURVE: the key's name it registered with
  int64_t expires_at_ms = 0;  // monotonic; no traffic by then means it is gone
  int64_t last_sent_ms = 0;   // monotonic; when the broker last sent it anything
  int64_t registered_at_ms = 0;
  bool idle = false;
  Job job;
};

class WorkerRegistry {
 public:
  WorkerRegistry(int64_t heartbeat_ms, int liveness)
      : heartbeat_ms_(heartbeat_ms), expiry_ms_(heartbeat_ms * liveness) {}

  Worker* Find(const std::string& identity);
  // Registers a worker after READY. The worker starts busy with no job; call MarkIdle.
  Worker& Add(const std::string& identity, const std::string& service, int64_t now_ms);
  // Any traffic from the worker proves it alive.
  void Touch(Worker& worker, int64_t now_ms) { worker.expires_at_ms = now_ms + expiry_ms_; }
  void MarkSent(Worker& worker, int64_t now_ms) { worker.last_sent_ms = now_ms; }

  // Puts the worker at the back of its service's idle queue.
  void MarkIdle(Worker& worker);
  // Takes the least recently used idle worker of `service` and marks it busy.
  Worker* TakeIdle(const std::string& service);
  // Forgets the worker entirely; returns its last state (idle flag included).
  std::optional<Worker> Remove(const std::string& identity);
  // Removes and returns every worker whose expiry has passed.
  std::vector<Worker> Expire(int64_t now_ms);
  // Workers the broker has sent nothing to for a heartbeat interval.
  std::vector<std::string> DueForHeartbeat(int64_t now_ms) const;

  template <typename F>
  void ForEach(F&& visit) {
    for (auto& [identity, entry] : workers_) visit(entry.worker);
  }

  int WorkerCount(const std::string& service) const;
  int IdleCount(const std::string& service) const;
  size_t size() const { return workers_.size(); }
  std::vector<std::string> Identities() const;

  int64_t heartbeat_ms() const { return heartbeat_ms_; }
  int64_t expiry_ms() const { return expiry_ms_; }

 private:
  struct Entry {
    Worker worker;
    std::list<std::string>::iterator idle_position;
  };
  void Unidle(Entry& entry);

  int64_t heartbeat_ms_;
  int64_t expiry_ms_;
  std::unordered_map<std::string, Entry> workers_;
  std::map<std::string, std::list<std::string>> idle_;  // service -> identities, LRU first
  std::map<std::string, int> counts_;                    // service -> registered workers
};

}  // namespace taxhub::broker

#endif  // TAXHUB_HUB_BROKER_WORKER_REGISTRY_H_
