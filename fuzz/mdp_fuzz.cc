// The MDP frame parsers (RFC 7/MDP) on whatever arrives: the input is split into frames at each
// 0xFF byte (a frame may hold any other byte) and given to the client and the worker parser,
// as the broker's frontend and backend do. Neither may crash, whatever the frames.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hub/broker/mdp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taxhub::mdp;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto split = [&] {
    Frames frames;
    size_t start = 0;
    for (size_t i = 0; i <= input.size(); ++i) {
      if (i == input.size() || input[i] == '\xff') {
        frames.emplace_back(input.data() + start, i - start);
        start = i + 1;
      }
    }
    return frames;
  };
  Frames client = split();
  ClientRequest request = ParseClientRequest(client);
  if (request.status.ok() && request.service.empty()) __builtin_trap();  // a request names its service
  Frames worker = split();
  WorkerMessage message = ParseWorkerMessage(worker);
  (void)message;
  return 0;
}
