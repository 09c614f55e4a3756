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
  wire::CodecLimits limits;
  limits.max_message_bytes = 64 << 10;
  limits.max_string_bytes = 32 << 10;
  limits.max_container_items = 256;
  limits.max_depth = 8;
  auto request = wire::Decode<wire::SubmitRequest>(
      std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!request) return 0;
  if (!workflow::ValidateSubmit(*request).ok()) return 0;
  const std::string again = wire::Encode(*request);
  auto round = wire::Decode<wire::SubmitRequest>(again, limits);
  if (!round || round->request_id != request->request_id || round->body != request->body) __builtin_trap();
  return 0;
}
