// What every stand-in of a legacy system shares: a length-framed TCP server on loopback that
// answers each request frame, several requests per connection, with faults switchable while it
// runs — slow answers, answers dropped after the work is done, or the whole system down.
// A stand-in says only how it answers one request.
#ifndef TAXHUB_ADAPTERS_STANDINS_FRAMED_STANDIN_H_
#define TAXHUB_ADAPTERS_STANDINS_FRAMED_STANDIN_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "adapters/legacy/framing.h"

namespace taxhub::standins {

struct ListenOptions {
  std::string host = "127.0.0.1";
  int port = 0;                  // 0: any free port
  int64_t delay_ms = 0;          // before each answer
  size_t max_request = 1 << 16;  // a longer declared frame closes the connection
  int drop_first = 0;            // the answers to the first N requests are lost (work done)
};

class FramedStandIn {
 public:
  explicit FramedStandIn(ListenOptions listen)
      : listen_(std::move(listen)), delay_ms_(listen_.delay_ms), drop_next_(listen_.drop_first) {}
  virtual ~FramedStandIn();  // derived classes call Stop() in theirs, before their state goes
  FramedStandIn(const FramedStandIn&) = delete;
  FramedStandIn& operator=(const FramedStandIn&) = delete;

  Status Start();  // again after Stop(): the same port
  // Stops accepting, waits for the connections being served, closes the port ("down").
  void Stop();
  int port() const { return port_; }
  int requests() const { return requests_; }

  void SetDelay(int64_t ms) { delay_ms_ = ms; }
  void SetDropAnswers(bool drop) { drop_answers_ = drop; }
  // Drops the answers to the next `count` requests only (the work is still done).
  void DropNextAnswers(int count) { drop_next_ = count; }

 protected:
  // The answer frame for one request frame; called from several connection threads at once.
  virtual std::string Answer(std::string_view request) = 0;

 private:
  void Serve(legacy::FramedServer server);
  void ServeConnection(legacy::FramedConnection connection);

  ListenOptions listen_;
  int port_ = 0;
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<bool> drop_answers_{false};
  std::atomic<int> drop_next_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex active_mutex_;
  std::condition_variable idle_;
  int active_ = 0;  // connections being served
};

}  // namespace taxhub::standins

#endif  // TAXHUB_ADAPTERS_STANDINS_FRAMED_STANDIN_H_
