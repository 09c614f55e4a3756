#include "tools/client/mdp_client.h"

#include <poll.h>

#include <cerrno>
#include <cstring>

#include <zmq_addon.hpp>

#include "hub/base/clock.h"
#include "hub/broker/mdp.h"

namespace taxhub::client {

MdpClient::MdpClient(zmq::context_t& context, std::string endpoint,
                     std::optional<security::CurveClientKeys> curve)
    : context_(context), endpoint_(std::move(endpoint)), curve_(std::move(curve)) {
  Connect();
}

void MdpClient::Connect() {
  socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
  socket_->set(zmq::sockopt::linger, 0);
  // A reply is at most a page of events or a progress report; anything far larger is not the hub.
  socket_->set(zmq::sockopt::maxmsgsize, int64_t{64} << 20);
  if (curve_) security::ApplyCurveClient(*socket_, *curve_);
  socket_->connect(endpoint_);
}

Status MdpClient::Send(std::string_view service, std::string_view body) {
  try {
    auto frames = mdp::MakeFrames({"", mdp::kClientHeader, service, body});
    if (!zmq::send_multipart(*socket_, frames, zmq::send_flags::dontwait)) {
      return Status(ErrorCode::kUnavailable, "hub not reachable (send queue full)");
    }
  } catch (const zmq::error_t& e) {
    return Status(ErrorCode::kUnavailable, std::string("send failed: ") + e.what());
  }
  return Status::Ok();
}

Result<Reply> MdpClient::Recv(int64_t timeout_ms) {
  auto reply = RecvUntil(std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms));
  if (!reply && reply.error().code() == ErrorCode::kTimeout) {
    return Error(ErrorCode::kTimeout, "no reply within " + std::to_string(timeout_ms) + " ms");
  }
  return reply;
}

bool MdpClient::Readable() {
  try {
    return (socket_->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
  } catch (const zmq::error_t&) {
    return false;
  }
}

int MdpClient::Fd() {
  try {
    return socket_->get(zmq::sockopt::fd);
  } catch (const zmq::error_t&) {
    return -1;  // poll skips it
  }
}

// ppoll on the socket's ZMQ_FD, which signals when the socket's state may have changed; the
// state itself is read from ZMQ_EVENTS before each wait, which also rearms the signal.
Result<Reply> MdpClient::RecvUntil(std::chrono::steady_clock::time_point deadline) {
  while (true) {
    try {
      if (!(socket_->get(zmq::sockopt::events) & ZMQ_POLLIN)) {
        if (deadline <= std::chrono::steady_clock::now()) return Error(ErrorCode::kTimeout, "no reply in time");
        pollfd fd{socket_->get(zmq::sockopt::fd), POLLIN, 0};
        if (PollUntil(&fd, 1, deadline) < 0 && errno != EINTR) {
          return Error(ErrorCode::kUnavailable, std::string("poll failed: ") + std::strerror(errno));
        }
        continue;
      }
      mdp::Frames frames;
      if (!zmq::recv_multipart(*socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
      if (frames.size() < 4 || frames[0].size() != 0 || mdp::View(frames[1]) != mdp::kClientHeader) {
        return Error(ErrorCode::kProtocolError, "malformed reply from the hub");
      }
      Reply reply;
      reply.service = mdp::Str(frames[2]);
      for (size_t i = 3; i < frames.size(); ++i) reply.body += mdp::View(frames[i]);
      return reply;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Error(ErrorCode::kUnavailable, std::string("receive failed: ") + e.what());
    }
  }
}

Result<std::string> MdpClient::Call(std::string_view service, std::string_view body,
                                    int64_t timeout_ms, int retries) {
  for (int attempt = 0;; ++attempt) {
    TAXHUB_RETURN_IF_ERROR(Send(service, body));
    auto reply = Recv(timeout_ms);
    if (reply) return std::move(reply->body);
    // A reply that comes after all must not be taken for the next request's: new socket.
    if (reply.error().code() == ErrorCode::kTimeout) Connect();
    if (reply.error().code() != ErrorCode::kTimeout || attempt >= retries) {
      return Error(reply.error());
    }
  }
}

template <typename T>
Result<T> DecodeReply(std::string_view body) {
  wire::CodecLimits limits;
  limits.max_message_bytes = 64 << 20;
  limits.max_string_bytes = 64 << 20;
  limits.max_container_items = 1 << 20;
  auto decoded = wire::Decode<T>(body, limits);
  if (!decoded) {
    // Not a T: maybe an ErrorReply from the broker itself.
    Status status = wire::ReplyStatus(body);
    return Error(status.ok() ? decoded.error() : status);
  }
  if (decoded->__isset.error) return Error(wire::FromWire(decoded->error));
  return decoded;
}

template Result<wire::SubmitReply> DecodeReply<wire::SubmitReply>(std::string_view);
template Result<wire::ProgressReply> DecodeReply<wire::ProgressReply>(std::string_view);
template Result<wire::ErrorReply> DecodeReply<wire::ErrorReply>(std::string_view);
template Result<wire::TaskReportReply> DecodeReply<wire::TaskReportReply>(std::string_view);
template Result<wire::EventsReply> DecodeReply<wire::EventsReply>(std::string_view);
template Result<wire::RateReply> DecodeReply<wire::RateReply>(std::string_view);
template Result<wire::ComplainReply> DecodeReply<wire::ComplainReply>(std::string_view);
template Result<wire::ItemsReply> DecodeReply<wire::ItemsReply>(std::string_view);

Result<wire::SubmitReply> HubClient::Submit(const wire::SubmitRequest& request,
                                            int64_t timeout_ms) {
  auto body = mdp_.Call("taxhub.submit", wire::Encode(request), timeout_ms);
  if (!body) return Error(body.error());
  return DecodeReply<wire::SubmitReply>(*body);
}

Result<wire::ProgressReply> HubClient::Progress(const std::string& request_id,
                                                const std::string& taxpayer_id,
                                                int64_t timeout_ms) {
  wire::ProgressRequest request;
  request.request_id = request_id;
  request.taxpayer_id = taxpayer_id;
  auto body = mdp_.Call("taxhub.progress", wire::Encode(request), timeout_ms);
  if (!body) return Error(body.error());
  return DecodeReply<wire::ProgressReply>(*body);
}

Result<wire::EventsReply> HubClient::Events(const std::string& stream, int64_t after_seq, int limit,
                                            int64_t timeout_ms) {
  wire::EventsRequest request;
  request.stream = stream;
  request.after_seq = after_seq;
  request.limit = limit;
  auto body = mdp_.Call("taxhub.events", wire::Encode(request), timeout_ms);
  if (!body) return Error(body.error());
  return DecodeReply<wire::EventsReply>(*body);
}

Result<wire::TaskReportReply> HubClient::Report(const wire::TaskReport& report, int64_t timeout_ms) {
  auto body = mdp_.Call("taxhub.report", wire::Encode(report), timeout_ms);
  if (!body) return Error(body.error());
  return DecodeReply<wire::TaskReportReply>(*body);
}

}  // namespace taxhub::client
