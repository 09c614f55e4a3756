// Who may connect to the hub when CURVE is on (RFC 26/CurveZMQ, RFC 27/ZAP).
//
// Every client key is listed with a role:
//   hall        the taxpayers' portal: the frontend, any service but taxhub.report;
//   adapter     the backend, registering only the services it was given (exact names, or
//               "prefix.*"); on the frontend only taxhub.report (what a legacy system said);
//   subscriber  the event stream; on the frontend only taxhub.events (replaying what it missed).
// The ZAP handler refuses a key that is not listed, or whose role does not fit the socket (each
// socket has its own ZAP domain), during the handshake: such a peer never sends a message. The
// broker checks services per message, from the name the handler gave the connection (its
// User-Id).
#ifndef TAXHUB_HUB_SECURITY_CURVE_AUTH_H_
#define TAXHUB_HUB_SECURITY_CURVE_AUTH_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "hub/base/status.h"

namespace taxhub::security {

// The ZAP domains of the hub's three CURVE sockets.
inline constexpr const char* kFrontendDomain = "taxhub.frontend";
inline constexpr const char* kBackendDomain = "taxhub.backend";
inline constexpr const char* kEventsDomain = "taxhub.events";

enum class PeerRole { kHall, kAdapter, kSubscriber };
std::string_view PeerRoleName(PeerRole role);
Result<PeerRole> ParsePeerRole(std::string_view name);

struct CurvePeer {
  std::string name;        // the connection's User-Id, in logs and refusals
  std::string public_z85;  // 40 characters
  PeerRole role = PeerRole::kHall;
  std::vector<std::string> services;  // adapters: what they may serve
};

class CurveAllowList {
 public:
  // Refuses a bad key, a name or key listed twice, services for a role other than adapter and
  // a bad service pattern; the error names the field.
  Status Add(CurvePeer peer);
  // Another key for a listed peer (while it changes keys): the same name, role and services.
  Status AddKey(std::string_view name, const std::string& public_z85);
  // By the 32-byte binary key a ZAP request carries.
  const CurvePeer* FindByKey(std::string_view binary_key) const;
  const CurvePeer* FindByName(std::string_view name) const;
  size_t size() const { return by_name_.size(); }
  size_t keys() const { return name_by_key_.size(); }

  static bool MayConnect(const CurvePeer& peer, std::string_view domain);
  // A request to `service` on the frontend.
  static bool MayCall(const CurvePeer& peer, std::string_view service);
  // An adapter's READY for `service`.
  static bool MayServe(const CurvePeer& peer, std::string_view service);

 private:
  // The 32-byte form of a peer's key in `binary`, unless it is not a key or is listed already.
  Status CheckKey(std::string_view name, const std::string& public_z85, std::string& binary) const;

  std::map<std::string, CurvePeer, std::less<>> by_name_;
  std::map<std::string, std::string, std::less<>> name_by_key_;  // binary key -> name
};

struct ZapCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
};

// The RFC 27 handler: a REP socket at inproc://zeromq.zap.01 of `context`, answering on its own
// thread. Bind() it before any CURVE socket of that context binds; without a handler libzmq lets
// every key in.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, std::shared_ptr<const CurveAllowList> peers);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  Status Bind();
  void Start();
  void Stop();
  const ZapCounters& counters() const { return counters_; }
  // Judges handshakes from now on by `peers` (connections already made are not asked again).
  void Replace(std::shared_ptr<const CurveAllowList> peers);

  // The reply to one ZAP request (frames as RFC 27 gives them); public for tests.
  std::vector<std::string> Answer(const std::vector<std::string>& request);

 private:
  void Run();

  zmq::context_t& context_;
  mutable std::mutex peers_mutex_;
  std::shared_ptr<const CurveAllowList> peers_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  ZapCounters counters_;
};

// Makes `socket` a CURVE server with `secret_z85` whose handshakes the ZAP handler judges
// under `domain`; call before bind().
void MakeCurveServer(zmq::socket_t& socket, const std::string& secret_z85, const char* domain);

// The name the ZAP handler gave the connection `frame` came from; "" without CURVE. Ask a frame
// the peer sent: the identity frame a ROUTER socket puts in front carries no metadata.
std::string PeerName(const zmq::message_t& frame);

// Connects a socket of `type` with a fresh key nobody listed to `endpoint` and waits up to
// `timeout_ms` for the server to refuse it. OK only if it was refused for authentication.
Status ProveUnknownKeyRefused(zmq::context_t& context, const std::string& endpoint, zmq::socket_type type,
                              const std::string& server_public_z85, int64_t timeout_ms = 3000);

}  // namespace taxhub::security

#endif  // TAXHUB_HUB_SECURITY_CURVE_AUTH_H_
