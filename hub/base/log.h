// A small thread-safe logger: one line per event on stderr, with time, level and component.
// The level is process-wide and set once at start-up from config.
#ifndef TAXHUB_HUB_BASE_LOG_H_
#define TAXHUB_HUB_BASE_LOG_H_

#include <sstream>
#include <string>
#include <string_view>

#include "hub/base/status.h"

namespace taxhub {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
Result<LogLevel> ParseLogLevel(std::string_view name);
void LogLine(LogLevel level, std::string_view component, std::string_view text);

// Streams a line: TAXHUB_LOG(kInfo, "broker") << "worker " << id << " expired";
// The stream is only built when the level is enabled.
class LogMessage {
 public:
  LogMessage(LogLevel level, std::string_view component) : level_(level), component_(component) {}
  ~LogMessage() { LogLine(level_, component_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::string_view component_;
  std::ostringstream stream_;
};

// Turns the streamed expression into void so that TAXHUB_LOG is one expression, safe in an
// unbraced if/else.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace taxhub

#define TAXHUB_LOG(level, component)                                            \
  (::taxhub::LogLevel::level < ::taxhub::GetLogLevel())                         \
      ? (void)0                                                                 \
      : ::taxhub::LogVoidify() &                                                \
            ::taxhub::LogMessage(::taxhub::LogLevel::level, component).stream()

#endif  // TAXHUB_HUB_BASE_LOG_H_
