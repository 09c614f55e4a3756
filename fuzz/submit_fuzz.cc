// A submit as the hub receives it: the Thrift envelope decoded under the hub's limits, then
// validated. Huge lengths, deep nesting and any bytes must give an error, never a crash or an
// allocation beyond the limits; what validates must encode back to something that decodes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hub/wire/codec.h"
#include "hub/workflow/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taxhub;
  const wire::CodecLimits limits;  // the hub's defaults (engine.limits)
  auto request = wire::Decode<wire::SubmitRequest>(
      std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!request) return 0;
  if (!workflow::ValidateSubmit(*request).ok()) return 0;
  const std::string again = wire::Encode(*request);
  wire::CodecLimits roomy;  // our own encoding back: only the round trip is in question
  roomy.max_message_bytes = roomy.max_string_bytes = 1 << 30;
  roomy.max_container_items = 1 << 24;
  auto round = wire::Decode<wire::SubmitRequest>(again, roomy);
  if (!round || round->request_id != request->request_id || round->body != request->body) __builtin_trap();
  return 0;
}
