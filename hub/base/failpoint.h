// Crash points for fault tests: with TAXHUB_FAILPOINT=NAME:N in the environment, the Nth pass
// through CrashPoint(NAME) kills the process with SIGKILL — a kill -9 landing exactly there
// (between a ledger commit and the replies it owes, say), which a kill from outside hits only
// by luck. Without the variable a crash point is one load of a flag.
#ifndef TAXHUB_HUB_BASE_FAILPOINT_H_
#define TAXHUB_HUB_BASE_FAILPOINT_H_

namespace taxhub {

namespace internal {
extern const bool kFailpointArmed;
void CrashPointSlow(const char* name);
}  // namespace internal

inline void CrashPoint(const char* name) {
  if (internal::kFailpointArmed) internal::CrashPointSlow(name);
}

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_FAILPOINT_H_
