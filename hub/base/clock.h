// Time for the hub: wall-clock milliseconds since the Unix epoch, behind an interface so that
// tests can move time by hand (deadlines, leases, backoff).
#ifndef TAXHUB_HUB_BASE_CLOCK_H_
#define TAXHUB_HUB_BASE_CLOCK_H_

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace taxhub {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }
  void Set(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
};

// Monotonic milliseconds for timeouts and heartbeats (never goes back when the wall clock does).
int64_t MonotonicMs();

// ppoll(2) on `fds` until `deadline`, to the nanosecond (poll and zmq_poll count whole
// milliseconds). Returns ppoll's result: 0 at once when the deadline has passed (any
// time_point, min() included), -1 with errno set on failure (EINTR included).
int PollUntil(pollfd* fds, size_t count, std::chrono::steady_clock::time_point deadline);

// "2026-11-30T08:15:02.123Z".
std::string FormatTimeMs(int64_t epoch_ms);

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_CLOCK_H_
