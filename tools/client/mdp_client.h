// An MDP/0.1 client (RFC 7/MDP, MDPC01) over a DEALER socket, and typed calls to the hub's own
// services on top of it.
//
// Call() follows the RFC's recommended recovery: no reply within the timeout closes the socket,
// opens a new one and sends again, up to `retries` times. Submits carry a request id, so a
// resend after a lost reply returns the original reply instead of a second request.
#ifndef TAXHUB_TOOLS_CLIENT_MDP_CLIENT_H_
#define TAXHUB_TOOLS_CLIENT_MDP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <zmq.hpp>

#include "hub/base/status.h"
#include "hub/security/curve_keys.h"
#include "hub/wire/codec.h"

namespace taxhub::client {

struct Reply {
  std::string service;
  std::string body;
};

class MdpClient {
 public:
  // `curve`: the keys to connect with when the hub has CURVE on; by default the process's
  // (TAXHUB_CURVE_SERVER and TAXHUB_CURVE_KEY, security/curve_keys.h).
  MdpClient(zmq::context_t& context, std::string endpoint,
            std::optional<security::CurveClientKeys> curve = security::ProcessCurveClientKeys());

  // Asynchronous use (several requests in flight): Send, then Recv the replies in any order.
  Status Send(std::string_view service, std::string_view body);
  Result<Reply> Recv(int64_t timeout_ms);
  // The same, waiting until `deadline` at most, to the microsecond: a paced load generator
  // wakes on time for its next send (zmq_poll counts whole milliseconds). A deadline already
  // past (time_point::min() too) only takes a reply that is waiting.
  Result<Reply> RecvUntil(std::chrono::steady_clock::time_point deadline);
  // For one thread driving several clients: whether a reply is waiting, and the file descriptor
  // to poll for "look again" (ZMQ_FD; -1 if the socket is gone). Readable(), or RecvUntil() with
  // a past deadline, must be called after the client's last send or receive and before polling,
  // since reading the socket's state is what rearms the descriptor.
  bool Readable();
  int Fd();

  // One request, one reply, with resend on timeout.
  Result<std::string> Call(std::string_view service, std::string_view body,
                           int64_t timeout_ms = 5000, int retries = 2);

 private:
  void Connect();

  zmq::context_t& context_;
  std::string endpoint_;
  std::optional<security::CurveClientKeys> curve_;
  std::unique_ptr<zmq::socket_t> socket_;
};

// taxhub.submit, taxhub.progress, taxhub.events and taxhub.report, decoded. A reply carrying an error comes back as that
// error's Status.
class HubClient {
 public:
  HubClient(zmq::context_t& context, std::string endpoint,
            std::optional<security::CurveClientKeys> curve = security::ProcessCurveClientKeys())
      : mdp_(context, std::move(endpoint), std::move(curve)) {}

  Result<wire::SubmitReply> Submit(const wire::SubmitRequest& request, int64_t timeout_ms = 5000);
  // The progress of one of `taxpayer_id`'s own requests.
  Result<wire::ProgressReply> Progress(const std::string& request_id,
                                       const std::string& taxpayer_id, int64_t timeout_ms = 5000);
  // Events of `stream` after `after_seq` from the ledger (taxhub.events).
  Result<wire::EventsReply> Events(const std::string& stream, int64_t after_seq, int limit,
                                   int64_t timeout_ms = 5000);
  // Records what a legacy system said about a task (taxhub.report).
  Result<wire::TaskReportReply> Report(const wire::TaskReport& report, int64_t timeout_ms = 5000);
  MdpClient& mdp() { return mdp_; }

 private:
  MdpClient mdp_;
};

// Decodes a reply body of type T, turning its error field into a Status.
template <typename T>
Result<T> DecodeReply(std::string_view body);

}  // namespace taxhub::client

#endif  // TAXHUB_TOOLS_CLIENT_MDP_CLIENT_H_
