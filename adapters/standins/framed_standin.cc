#include "adapters/standins/framed_standin.h"

#include <chrono>

namespace taxhub::standins {

FramedStandIn::~FramedStandIn() { Stop(); }

Status FramedStandIn::Start() {
  // Started again after Stop(), it comes back on the same port, like a legacy system restarted.
  auto server = legacy::FramedServer::Listen(listen_.host, port_ != 0 ? port_ : listen_.port);
  if (!server) return server.error();
  port_ = server->port();
  stopping_ = false;
  acceptor_ = std::thread([this, s = std::move(*server)]() mutable { Serve(std::move(s)); });
  return Status::Ok();
}

void FramedStandIn::Stop() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::unique_lock<std::mutex> lock(active_mutex_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

void FramedStandIn::Serve(legacy::FramedServer server) {
  while (!stopping_) {
    auto connection = server.Accept(100);
    if (!connection) continue;
    {
      std::lock_guard<std::mutex> lock(active_mutex_);
      ++active_;
    }
    // Detached, counted: a long-running stand-in does not keep a thread object per connection.
    std::thread([this, c = std::move(*connection)]() mutable {
      ServeConnection(std::move(c));
      std::lock_guard<std::mutex> lock(active_mutex_);
      if (--active_ == 0) idle_.notify_all();
    }).detach();
  }
}

void FramedStandIn::ServeConnection(legacy::FramedConnection connection) {
  while (connection.open() && !stopping_) {
    auto request = connection.Receive(1000, listen_.max_request);
    if (!request) {
      if (request.error().code() == ErrorCode::kTimeout) continue;  // idle; look at stopping_
      return;
    }
    ++requests_;
    std::string answer = Answer(*request);
    if (int64_t delay = delay_ms_; delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    int drop_next = drop_next_.load();
    while (drop_next > 0 && !drop_next_.compare_exchange_weak(drop_next, drop_next - 1)) {
    }
    // The work is done; the answer is lost with the connection.
    if (drop_answers_ || drop_next > 0) return;
    if (!connection.Send(answer).ok()) return;
  }
}

}  // namespace taxhub::standins
