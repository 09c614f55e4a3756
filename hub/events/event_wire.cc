#include "hub/events/event_wire.h"

#include <charconv>

namespace taxhub::events {

wire::Event ToWireEvent(const ledger::EventRecord& e) {
  wire::Event out;
  out.stream = e.chain;
  out.seq = e.chain_seq;
  out.type = e.type;
  out.request_id = e.request_id;
  out.stage = e.stage;
  out.at_ms = e.at_ms;
  out.detail = e.detail;
  out.hash = e.hash;
  return out;
}

std::string Position(std::string_view stream, int64_t seq) {
  return std::string(stream) + ":" + std::to_string(seq);
}

std::optional<StreamPosition> ParsePosition(std::string_view frame) {
  const size_t colon = frame.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == frame.size()) return std::nullopt;
  StreamPosition p;
  p.stream = std::string(frame.substr(0, colon));
  const char* first = frame.data() + colon + 1;
  const char* last = frame.data() + frame.size();
  auto [end, ec] = std::from_chars(first, last, p.seq);
  if (ec != std::errc() || end != last || p.seq < 0) return std::nullopt;
  return p;
}

}  // namespace taxhub::events
