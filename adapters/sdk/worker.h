// The adapter runtime: MDP/0.1 workers (RFC 7/MDP) that serve one service for a Handler.
//
// `concurrency` worker connections each register the service with READY and handle one task
// at a time, as MDP requires; together they run up to `concurrency` tasks at once on as many
// handler threads. One I/O thread owns every socket: it sends heartbeats while handlers run,
// notices a silent or restarted hub (heartbeat x liveness, or a DISCONNECT) and reconnects with
// exponential backoff. A handler that never blocks (Handler::MayBlock()) runs on the I/O thread
// itself, one task after another, and the pool starts no handler threads. A result finished
// after its connection was replaced is dropped; the hub redelivers that task under a new
// fencing token.
#ifndef TAXHUB_ADAPTERS_SDK_WORKER_H_
#define TAXHUB_ADAPTERS_SDK_WORKER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sdk/handler.h"
#include "hub/security/curve_keys.h"
#include "hub/wire/codec.h"

namespace zmq {
class context_t;
}

namespace taxhub::sdk {

struct WorkerOptions {
  std::string endpoint = "tcp://127.0.0.1:5556";
  std::string service;
  int concurrency = 1;
  int64_t heartbeat_ms = 2500;
  int liveness = 3;
  int64_t reconnect_initial_ms = 100;
  int64_t reconnect_max_ms = 5000;
  wire::CodecLimits limits;
  // CURVE keys when the hub has CURVE on (adapter programs: the process's, from the environment;
  // see security/curve_keys.h).
  std::optional<security::CurveClientKeys> curve;
  // The ZeroMQ context the connections are opened in (from NewWorkerContext); null: the pool's
  // own. The pools of one process share one (adapter programs do, see process.h), and so one
  // ZeroMQ I/O thread instead of one per service: on make bench's target 4, three services in
  // one process, that used 8–11% less of the adapter's CPU.
  std::shared_ptr<zmq::context_t> context;
};

// A context for worker pools with `connections` connections in all: sockets enough for each of
// them and for one more each, since a dropped socket keeps its place while it lingers.
std::shared_ptr<zmq::context_t> NewWorkerContext(int connections);

struct WorkerStats {
  std::atomic<uint64_t> tasks{0};
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> dropped_results{0};
};

class WorkerPool {
 public:
  WorkerPool(WorkerOptions options, Handler& handler);
  ~WorkerPool();  // Stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Start();
  // Sends DISCONNECT on every connection, waits for running handlers, joins the threads.
  void Stop();

  const WorkerStats& stats() const { return stats_; }
  // The thread that owns the pool's sockets (after Start()).
  std::thread::id io_thread() const { return io_thread_.get_id(); }
  const WorkerOptions& options() const { return options_; }

 private:
  struct Job {
    int connection;
    uint64_t epoch;
    std::string client;
    std::string body;
  };
  struct Done {
    int connection;
    uint64_t epoch;
    std::string client;
    std::string result;
  };

  void IoLoop();
  void HandlerLoop();
  std::string RunHandler(const std::string& body);

  WorkerOptions options_;
  Handler& handler_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool on_io_thread_ = false;  // the handler never blocks: no handler threads

  std::mutex mutex_;
  std::condition_variable jobs_ready_;
  std::deque<Job> jobs_;
  std::deque<Done> done_;
  int wake_fd_ = -1;  // eventfd: handler threads tell the I/O thread a result is waiting

  std::thread io_thread_;
  std::vector<std::thread> handler_threads_;
  WorkerStats stats_;
};

}  // namespace taxhub::sdk

#endif  // TAXHUB_ADAPTERS_SDK_WORKER_H_
