// Ledger events as the wire carries them (schemas/taxhub.thrift: Event, the PUB frames).
#ifndef TAXHUB_HUB_EVENTS_EVENT_WIRE_H_
#define TAXHUB_HUB_EVENTS_EVENT_WIRE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gen-cpp/taxhub_types.h"
#include "hub/ledger/ledger.h"

namespace taxhub::events {

inline constexpr std::string_view kHeartbeatTopic = "hub.heartbeat";

wire::Event ToWireEvent(const ledger::EventRecord& event);

// The second frame: "<stream>:<seq>".
std::string Position(std::string_view stream, int64_t seq);
struct StreamPosition {
  std::string stream;
  int64_t seq = 0;
};
// nullopt for anything that is not "<stream>:<digits>".
std::optional<StreamPosition> ParsePosition(std::string_view frame);

}  // namespace taxhub::events

#endif  // TAXHUB_HUB_EVENTS_EVENT_WIRE_H_
