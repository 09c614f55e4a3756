#include "hub/base/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace taxhub {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FormatTimeMs(int64_t epoch_ms) {
  if (epoch_ms <= 0) return "-";
  time_t secs = static_cast<time_t>(epoch_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(epoch_ms % 1000));
  return buf;
}

int PollUntil(pollfd* fds, size_t count, std::chrono::steady_clock::time_point deadline) {
  const auto now = std::chrono::steady_clock::now();
  if (deadline <= now) return 0;  // compared before subtracting: min() would overflow
  const int64_t left_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count();
  const timespec left{left_ns / 1'000'000'000, left_ns % 1'000'000'000};
  return ppoll(fds, count, &left, nullptr);
}

}  // namespace taxhub
