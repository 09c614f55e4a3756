#include "hub/base/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace taxhub::internal {
namespace {

struct Armed {
  std::string name;
  long remaining = 0;
};

Armed Parse() {
  const char* value = std::getenv("TAXHUB_FAILPOINT");
  if (value == nullptr) return {};
  const char* colon = std::strrchr(value, ':');
  const long count = colon == nullptr ? 0 : std::strtol(colon + 1, nullptr, 10);
  if (colon == nullptr || count <= 0) {
    std::fprintf(stderr, "TAXHUB_FAILPOINT=%s: not NAME:N (N > 0); no crash point armed\n", value);
    return {};
  }
  std::fprintf(stderr, "TAXHUB_FAILPOINT: crash point %s armed for pass %ld\n", value, count);
  return {std::string(value, colon), count};
}

Armed& Point() {
  static Armed point = Parse();
  return point;
}

}  // namespace

const bool kFailpointArmed = !Point().name.empty() && Point().remaining > 0;

void CrashPointSlow(const char* name) {
  static std::atomic<long> passes{0};
  if (Point().name != name) return;
  if (++passes == Point().remaining) {
    static const char kMessage[] = "TAXHUB_FAILPOINT: crashing here\n";
    (void)!write(2, kMessage, sizeof kMessage - 1);
    kill(getpid(), SIGKILL);
  }
}

}  // namespace taxhub::internal
