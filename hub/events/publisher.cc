#include "hub/events/publisher.h"

#include <chrono>

#include "hub/base/log.h"
#include "hub/base/thread_name.h"
#include "hub/events/event_wire.h"
#include "hub/security/curve_auth.h"
#include "hub/wire/codec.h"

namespace taxhub::events {

Publisher::Publisher(zmq::context_t& context, PublisherOptions options,
                     std::unique_ptr<ledger::Ledger> reader, int64_t head)
    : context_(context), options_(std::move(options)), reader_(std::move(reader)), head_(head),
      published_(head) {}

Publisher::~Publisher() { Stop(); }

Status Publisher::Bind() {
  try {
    socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pub);
    socket_->set(zmq::sockopt::sndhwm, options_.send_hwm);
    if (options_.send_buffer > 0) socket_->set(zmq::sockopt::sndbuf, options_.send_buffer);
    socket_->set(zmq::sockopt::linger, 0);
    if (!options_.curve_secret_key.empty()) {
      security::MakeCurveServer(*socket_, options_.curve_secret_key, security::kEventsDomain);
    }
    socket_->bind(options_.endpoint);
    endpoint_ = socket_->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status(ErrorCode::kUnavailable, "cannot bind the event publisher to " + options_.endpoint + ": " + e.what(),
                  "events.publish");
  }
  return Status::Ok();
}

void Publisher::Start() {
  if (!thread_.joinable()) thread_ = NamedThread("publisher", [this] { Run(); });
}

void Publisher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  socket_.reset();
}

void Publisher::Committed(int64_t head) {
  {
    std::lock_guard lock(mutex_);
    if (head <= head_) return;
    head_ = head;
  }
  wake_.notify_one();
}

bool Publisher::PublishUpTo(int64_t head) {
  while (published_ < head) {
    auto txn = reader_->Begin();
    if (!txn) {
      TAXHUB_LOG(kError, "events") << "cannot read the ledger: " << txn.error().ToString();
      return false;
    }
    auto events = (*txn)->ScanChain(options_.stream, published_, 1000);
    if (!events) {
      TAXHUB_LOG(kError, "events") << "cannot read the chain: " << events.error().ToString();
      return false;
    }
    if (events->empty()) return false;  // committed but not visible yet: try again shortly
    for (const ledger::EventRecord& e : *events) {
      if (e.chain_seq != published_ + 1) {
        TAXHUB_LOG(kError, "events") << "chain " << options_.stream << " jumps from " << published_ << " to "
                                     << e.chain_seq;
        return false;
      }
      const std::string body = wire::Encode(ToWireEvent(e));
      const std::string position = Position(options_.stream, e.chain_seq);
      socket_->send(zmq::buffer(e.type), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(position), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(body), zmq::send_flags::none);
      published_ = e.chain_seq;
    }
  }
  return true;
}

void Publisher::Heartbeat() {
  const std::string position = Position(options_.stream, published_);
  socket_->send(zmq::buffer(kHeartbeatTopic), zmq::send_flags::sndmore);
  socket_->send(zmq::buffer(position), zmq::send_flags::sndmore);
  socket_->send(zmq::const_buffer(nullptr, 0), zmq::send_flags::none);
}

void Publisher::Run() {
  auto next_heartbeat = std::chrono::steady_clock::now();
  for (;;) {
    int64_t head;
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_heartbeat, [&] { return stopping_ || head_ > published_; });
      head = head_;
      stopping = stopping_;
    }
    bool complete = PublishUpTo(head);
    if (std::chrono::steady_clock::now() >= next_heartbeat) {
      Heartbeat();
      next_heartbeat = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.heartbeat_ms);
    }
    if (stopping) {
      if (!complete) PublishUpTo(head);
      Heartbeat();
      return;
    }
    if (!complete) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace taxhub::events
