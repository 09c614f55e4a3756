// The event stream: every event this hub appends to its ledger chain goes out on a PUB socket
// after its commit, in chain order — [type][<stream>:<seq>][Event] — and a heartbeat
// [hub.heartbeat][<stream>:<latest seq>][] every `heartbeat_ms`, so that subscribers see a gap
// even when nothing follows it and replay it through taxhub.events.
//
// The publisher has its own thread and its own read-only ledger connection: the engine only
// tells it the new chain head after a commit (Committed(), never blocks), and the publisher
// reads the events from the ledger. So publishing costs the engine nothing, a slow subscriber
// costs it nothing (PUB drops at its high-water mark; the ledger keeps everything), and what
// is published is exactly what was committed.
#ifndef TAXHUB_HUB_EVENTS_PUBLISHER_H_
#define TAXHUB_HUB_EVENTS_PUBLISHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "hub/base/status.h"
#include "hub/ledger/ledger.h"

namespace taxhub::events {

struct PublisherOptions {
  std::string endpoint = "tcp://127.0.0.1:5557";  // port 0: the OS chooses (see endpoint())
  std::string stream;                              // the hub id: its chain
  int64_t heartbeat_ms = 1000;
  int send_hwm = 100'000;                          // messages queued per subscriber
  int send_buffer = 0;                             // the kernel's socket buffer (bytes); 0: OS default
  std::string curve_secret_key;                    // Z85: a CURVE server for subscribers the ZAP handler admits
};

class Publisher {
 public:
  // `reader` is a read-only ledger of its own; `head` the chain's head when the hub opened.
  Publisher(zmq::context_t& context, PublisherOptions options, std::unique_ptr<ledger::Ledger> reader,
            int64_t head);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  Status Bind();
  void Start();
  // Publishes what has been committed, then stops.
  void Stop();
  // The chain has grown to `head` (called on the engine thread after a commit).
  void Committed(int64_t head);

  const std::string& endpoint() const { return endpoint_; }
  int64_t published() const { return published_; }

 private:
  void Run();
  // Publishes the events after published_ up to `head`; false when the ledger could not be read.
  bool PublishUpTo(int64_t head);
  void Heartbeat();

  zmq::context_t& context_;
  PublisherOptions options_;
  std::unique_ptr<ledger::Ledger> reader_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::string endpoint_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int64_t head_;                       // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_
  std::atomic<int64_t> published_;
};

}  // namespace taxhub::events

#endif  // TAXHUB_HUB_EVENTS_PUBLISHER_H_
