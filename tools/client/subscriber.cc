#include "tools/client/subscriber.h"

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include <zmq_addon.hpp>

#include "hub/base/log.h"
#include "hub/events/event_wire.h"
#include "tools/client/mdp_client.h"

namespace taxhub::client {

Result<int64_t> FileOffsetStore::Load() {
  std::ifstream in(path_);
  if (!in) return int64_t{0};
  int64_t offset = 0;
  if (!(in >> offset) || offset < 0) {
    return Error(ErrorCode::kInternal, "offset file " + path_ + " is damaged", "offset");
  }
  return offset;
}

Status FileOffsetStore::Save(int64_t offset) {
  const std::string tmp = path_ + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status(ErrorCode::kUnavailable, "cannot write " + tmp, "offset");
  const std::string text = std::to_string(offset) + "\n";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!written || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return Status(ErrorCode::kUnavailable, "cannot save the offset in " + path_, "offset");
  }
  return Status::Ok();
}

Subscriber::Subscriber(zmq::context_t& context, SubscriberOptions options, OffsetStore& offsets,
                       Handler handler)
    : context_(context), options_(std::move(options)), offsets_(offsets), handler_(std::move(handler)) {}

Subscriber::~Subscriber() = default;

Status Subscriber::Take(const wire::Event& event, bool replayed) {
  if (stopping_) return Status::Ok();
  if (event.seq <= offset_) {
    ++counters_.duplicates;
    return Status::Ok();
  }
  if (event.seq > offset_ + 1) {
    ++counters_.gaps;
    TAXHUB_LOG(kInfo, "subscriber") << "gap: event " << event.seq << " after " << offset_
                                    << "; replaying the rest from the ledger";
    TAXHUB_RETURN_IF_ERROR(CatchUp(event.seq - 1));
    if (event.seq <= offset_ || stopping_) return Status::Ok();  // the replay went past it
  }
  TAXHUB_RETURN_IF_ERROR(handler_(event));
  offset_ = event.seq;
  ++counters_.handled;
  if (replayed) ++counters_.replayed;
  return offsets_.Save(offset_);
}

Status Subscriber::CatchUp(int64_t until) {
  while (!stopping_ && (until == 0 || offset_ < until)) {
    const int64_t want = until == 0 ? options_.replay_batch : std::min<int64_t>(options_.replay_batch, until - offset_);
    auto page = hub_->Events(options_.stream, offset_, static_cast<int>(want));
    if (!page) return Status(page.error().code(), "replaying " + options_.stream + " after " +
                                                      std::to_string(offset_) + ": " + page.error().message());
    if (page->events.empty()) {
      if (until != 0 && offset_ < until) {
        return Status(ErrorCode::kInternal, "the ledger has no event " + std::to_string(offset_ + 1) + " of " +
                                                options_.stream);
      }
      return Status::Ok();
    }
    for (const wire::Event& e : page->events) {
      if (stopping_) return Status::Ok();
      if (e.seq != offset_ + 1) {
        return Status(ErrorCode::kInternal, "the ledger's stream " + options_.stream + " jumps from " +
                                                std::to_string(offset_) + " to " + std::to_string(e.seq));
      }
      TAXHUB_RETURN_IF_ERROR(handler_(e));
      offset_ = e.seq;
      ++counters_.handled;
      ++counters_.replayed;
      TAXHUB_RETURN_IF_ERROR(offsets_.Save(offset_));
    }
    if (until == 0 && offset_ >= page->head_seq) return Status::Ok();
  }
  return Status::Ok();
}

Status Subscriber::Run() {
  auto stored = offsets_.Load();
  if (!stored) return stored.error();
  offset_ = *stored;
  hub_ = std::make_unique<HubClient>(context_, options_.hub_endpoint, options_.curve);
  zmq::socket_t sub(context_, zmq::socket_type::sub);
  if (options_.curve) security::ApplyCurveClient(sub, *options_.curve);
  sub.set(zmq::sockopt::rcvhwm, options_.receive_hwm);
  sub.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
  if (options_.receive_buffer > 0) sub.set(zmq::sockopt::rcvbuf, options_.receive_buffer);
  sub.set(zmq::sockopt::subscribe, "");
  sub.set(zmq::sockopt::linger, 0);
  sub.connect(options_.events_endpoint);
  // A hub that cannot be reached, or a handler that cannot go on now (kTimeout, kUnavailable),
  // is waited for: the event stays unhandled, and the next heartbeat or event brings it again.
  // Any other error stops the subscriber.
  auto settle = [&](Status status) {
    if (status.code() == ErrorCode::kTimeout || status.code() == ErrorCode::kUnavailable) {
      TAXHUB_LOG(kWarn, "subscriber") << status.ToString() << "; will try again";
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return Status::Ok();
    }
    return status;
  };
  // Connected before catching up, so nothing falls between the replay and the live stream.
  TAXHUB_RETURN_IF_ERROR(settle(CatchUp(0)));
  auto last_heard = std::chrono::steady_clock::now();
  while (!stopping_) {
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal: look at stopping_ again
      return Status(ErrorCode::kUnavailable, std::string("polling the event stream: ") + e.what());
    }
    if (!(item.revents & ZMQ_POLLIN)) {
      if (std::chrono::steady_clock::now() - last_heard > std::chrono::milliseconds(options_.silence_ms)) {
        TAXHUB_RETURN_IF_ERROR(settle(CatchUp(0)));  // no heartbeat: the hub may be gone; ask the ledger
        last_heard = std::chrono::steady_clock::now();
      }
      continue;
    }
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(sub, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
    last_heard = std::chrono::steady_clock::now();
    if (frames.size() != 3) continue;
    auto position = events::ParsePosition(frames[1].to_string_view());
    if (!position || position->stream != options_.stream) continue;
    if (frames[0].to_string_view() == events::kHeartbeatTopic) {
      if (position->seq > offset_) {
        ++counters_.gaps;
        TAXHUB_LOG(kInfo, "subscriber") << "gap: the heartbeat says " << position->seq << ", handled " << offset_
                                        << "; replaying the rest from the ledger";
        TAXHUB_RETURN_IF_ERROR(settle(CatchUp(position->seq)));
      }
      continue;
    }
    wire::CodecLimits limits;
    limits.max_message_bytes = options_.max_message_bytes;
    limits.max_string_bytes = static_cast<int32_t>(std::min<int64_t>(options_.max_message_bytes, INT32_MAX));
    auto event = wire::Decode<wire::Event>(frames[2].to_string_view(), limits);
    if (!event) {
      TAXHUB_LOG(kWarn, "subscriber") << "undecodable event " << frames[1].to_string() << ": "
                                      << event.error().ToString();
      continue;  // the heartbeat or the next event shows the gap; the ledger has it
    }
    TAXHUB_RETURN_IF_ERROR(settle(Take(*event, false)));
  }
  return Status::Ok();
}

}  // namespace taxhub::client
