#include "hub/base/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "hub/base/clock.h"
#include "hub/base/text.h"

namespace taxhub {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_mutex;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO ";
    case LogLevel::kWarn: return "WARN ";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kOff: return "OFF  ";
  }
  return "?";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }

Result<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return Error(ErrorCode::kBadRequest, "expected debug, info, warn, error or off");
}

void LogLine(LogLevel level, std::string_view component, std::string_view text) {
  if (level < g_level) return;
  std::string line = FormatTimeMs(SystemClock().NowMs());
  line += ' ';
  line += LevelName(level);
  line += " [";
  line += component;
  line += "] ";
  // One event, one line: whatever the text holds (a taxpayer's comment, a reporter's name).
  line += Printable(text);
  line += '\n';
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace taxhub
