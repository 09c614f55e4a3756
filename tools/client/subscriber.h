// A subscriber to a hub's event stream (hub/events/publisher.h) that hands every event to the
// application once and in order, whatever PUB drops.
//
// It keeps the sequence number of the last event handled (its offset) in an OffsetStore. Live
// events come from the PUB socket; an event whose seq is not offset + 1, or a heartbeat ahead
// of the offset, is a gap: the missing events are fetched from the ledger through
// taxhub.events, in order, before anything newer. Events at or below the offset (a replay that
// overlapped the live stream) are dropped. At start it first catches up from the stored
// offset. So events reach the handler exactly once per offset: the offset is saved after each
// handled event; an application whose effects must not repeat even across a crash between its
// handler and that save keeps the offset with its own data (its own OffsetStore), or makes its
// effect idempotent by the event's (stream, seq).
#ifndef TAXHUB_TOOLS_CLIENT_SUBSCRIBER_H_
#define TAXHUB_TOOLS_CLIENT_SUBSCRIBER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "hub/base/status.h"
#include "hub/security/curve_keys.h"
#include "hub/wire/codec.h"

namespace taxhub::client {

class OffsetStore {
 public:
  virtual ~OffsetStore() = default;
  virtual Result<int64_t> Load() = 0;  // 0 when nothing was stored
  virtual Status Save(int64_t offset) = 0;
};

// The offset in a small file, replaced atomically (write, fsync, rename).
class FileOffsetStore final : public OffsetStore {
 public:
  explicit FileOffsetStore(std::string path) : path_(std::move(path)) {}
  Result<int64_t> Load() override;
  Status Save(int64_t offset) override;

 private:
  std::string path_;
};

struct SubscriberOptions {
  std::string events_endpoint;         // the hub's PUB socket
  std::string hub_endpoint;            // its frontend, for taxhub.events
  std::string stream;                  // the hub id
  int replay_batch = 500;
  int receive_hwm = 100'000;
  int receive_buffer = 0;              // the kernel's socket buffer (bytes); 0: OS default
  // A larger message on the event socket drops the connection (ZMQ_MAXMSGSIZE) unread, and is
  // not decoded; the ledger has the event. The hub's largest event is far below this.
  int64_t max_message_bytes = 16 << 20;
  int64_t silence_ms = 5000;           // no heartbeat for this long: ask the ledger how far it is
  // CURVE keys for both sockets; by default the process's (security/curve_keys.h).
  std::optional<security::CurveClientKeys> curve = security::ProcessCurveClientKeys();
};

struct SubscriberCounters {
  std::atomic<uint64_t> handled{0};
  std::atomic<uint64_t> replayed{0};   // handled events that came from the ledger
  std::atomic<uint64_t> gaps{0};       // losses noticed on the live stream
  std::atomic<uint64_t> duplicates{0}; // live or replayed events at or below the offset
};

class Subscriber {
 public:
  // A handler's kTimeout or kUnavailable means "not now": the event comes again shortly. Any
  // other error stops Run() with it; the event is not handled, so it comes again after a restart.
  using Handler = std::function<Status(const wire::Event&)>;

  Subscriber(zmq::context_t& context, SubscriberOptions options, OffsetStore& offsets, Handler handler);
  ~Subscriber();

  // Catches up, then follows the stream until Stop() or a handler error.
  Status Run();
  void Stop() { stopping_ = true; }
  int64_t offset() const { return offset_; }
  const SubscriberCounters& counters() const { return counters_; }

 private:
  // Hands one event on if it is the next; a later one first brings the gap from the ledger.
  Status Take(const wire::Event& event, bool replayed);
  // Fetches and hands on every event after the offset up to `until` (or to the head if 0).
  Status CatchUp(int64_t until);

  zmq::context_t& context_;
  SubscriberOptions options_;
  OffsetStore& offsets_;
  Handler handler_;
  std::unique_ptr<class HubClient> hub_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> offset_{0};
  SubscriberCounters counters_;
};

}  // namespace taxhub::client

#endif  // TAXHUB_TOOLS_CLIENT_SUBSCRIBER_H_
