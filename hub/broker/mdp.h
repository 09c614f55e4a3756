// The Majordomo Protocol, MDP/0.1 (ZeroMQ RFC 7/MDP), as seen by a broker: parsing what
// clients and workers send, and building what the broker sends back. Pure functions over
// frames; no sockets here.
//
// Frames as they arrive on a ROUTER socket, identity first:
//   client REQUEST : [identity][""]["MDPC01"][service][body...]          (4+ frames after id)
//   worker READY   : [identity][""]["MDPW01"][0x01][service]
//   worker REPLY   : [identity][""]["MDPW01"][0x03][client address][""][body...]
//   worker HEARTBEAT / DISCONNECT : [identity][""]["MDPW01"][0x04 | 0x05]
#ifndef TAXHUB_HUB_BROKER_MDP_H_
#define TAXHUB_HUB_BROKER_MDP_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "hub/base/status.h"

namespace taxhub::mdp {

inline constexpr std::string_view kClientHeader = "MDPC01";
inline constexpr std::string_view kWorkerHeader = "MDPW01";

enum class Command : uint8_t {
  kReady = 0x01,
  kRequest = 0x02,
  kReply = 0x03,
  kHeartbeat = 0x04,
  kDisconnect = 0x05,
};

std::string_view CommandName(Command command);

using Frames = std::vector<zmq::message_t>;

inline std::string_view View(const zmq::message_t& frame) {
  return std::string_view(static_cast<const char*>(frame.data()), frame.size());
}
inline std::string Str(const zmq::message_t& frame) { return std::string(View(frame)); }

// Frames holding copies of the given byte strings.
Frames MakeFrames(std::initializer_list<std::string_view> parts);

// Service names: 1 to 255 printable ASCII characters, no spaces.
bool IsValidServiceName(std::string_view name);

// A client message from the frontend. When `status` is not OK the message is malformed;
// `identity` and whatever `service` could be read are still filled in so that the broker can
// answer with an error.
struct ClientRequest {
  std::string identity;
  std::string service;
  Frames body;
  Status status;
};
ClientRequest ParseClientRequest(Frames& frames);

// A worker message from the backend. When `status` is not OK the message is invalid and the
// broker must treat the peer as broken (RFC 7: drop it, DISCONNECT it).
struct WorkerMessage {
  std::string identity;
  Command command = Command::kHeartbeat;
  std::string service;  // READY
  std::string client;   // REPLY: the client address frame
  Frames body;          // REPLY
  Status status;
};
WorkerMessage ParseWorkerMessage(Frames& frames);

// [identity][""]["MDPC01"][service][body...]
Frames BuildClientReply(std::string_view identity, std::string_view service, Frames body);
Frames BuildClientReply(std::string_view identity, std::string_view service,
                        std::string_view body);
// [identity][""]["MDPW01"][0x02][client][""][body...]
Frames BuildWorkerRequest(std::string_view identity, std::string_view client, Frames body);
// [identity][""]["MDPW01"][command] for HEARTBEAT and DISCONNECT.
Frames BuildWorkerCommand(std::string_view identity, Command command);

// Printable form of a binary identity for logs: "w:00a1b2c3d4".
std::string IdentityForLog(std::string_view identity);

}  // namespace taxhub::mdp

#endif  // TAXHUB_HUB_BROKER_MDP_H_
