// The inproc link between the broker thread (which owns the MDP sockets) and the engine thread
// (which owns the ledger). One PAIR socket on each side; every message starts with an op frame.
//
// broker -> engine
//   CALL    [client identity][service][body]          a request to a hub service (taxhub.*);
//           with CURVE one more frame: [the caller's key name]
// verify pool -> engine (its own PULL socket), when signatures are verified
//   VCALL   [client identity][service][body][verified at ms][signer]  a submit, checked
//   CREDIT  [service][delta]                          idle workers of a service changed by delta
//   RESULT  [task id][token][worker][body]            a worker's REPLY to a stage task
//   LOST    [task id][token][reason]                  a task that did not reach or lost its worker
// engine -> broker
//   REPLY   [client identity][service][body]          the answer to a CALL
//   DISPATCH[service][task id][token][body]           a stage task for an idle worker
//
// Credit is how stage work stays in the ledger rather than in memory: the engine claims at most
// as many tasks for a service as the broker has reported idle workers for it.
#ifndef TAXHUB_HUB_BROKER_LINK_H_
#define TAXHUB_HUB_BROKER_LINK_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace taxhub::link {

enum class Op : char {
  kCall = 'C',
  kCredit = 'K',
  kResult = 'R',
  kLost = 'L',
  kReply = 'P',
  kDispatch = 'D',
  kVerifiedCall = 'V',
};

// The op as a one-byte frame.
inline std::string_view OpFrame(Op op) {
  static constexpr char kOps[] = "CKRLPDV";
  const char* at = std::char_traits<char>::find(kOps, sizeof kOps - 1, static_cast<char>(op));
  return std::string_view(at, 1);
}

// Messages queued on the link, each way, before a sender must wait. The broker never waits
// for long: a CALL that finds the link full is answered "busy, retry later", and other messages
// wait at most kSendTimeoutMs (see Broker::SendLink).
inline constexpr int kHighWaterMark = 100'000;
inline constexpr int kSendTimeoutMs = 1000;

// LOST reasons.
inline constexpr std::string_view kUndelivered = "undelivered";  // no idle worker after all
inline constexpr std::string_view kWorkerGone = "worker-gone";   // expired or disconnected

}  // namespace taxhub::link

#endif  // TAXHUB_HUB_BROKER_LINK_H_
