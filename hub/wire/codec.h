// Thrift TCompactProtocol encoding of the wire structs in schemas/taxhub.thrift, with limits.
//
// Decode never throws: a truncated, oversized, too deeply nested or otherwise malformed body
// comes back as DECODE_ERROR or TOO_LARGE. Trailing bytes after the struct are an error too,
// so that one body has exactly one meaning.
#ifndef TAXHUB_HUB_WIRE_CODEC_H_
#define TAXHUB_HUB_WIRE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "gen-cpp/taxhub_types.h"
#include "hub/base/status.h"

namespace taxhub::wire {

struct CodecLimits {
  int64_t max_message_bytes = 1 << 20;  // the whole encoded struct
  int32_t max_string_bytes = 1 << 20;   // one string or binary field
  int32_t max_container_items = 4096;   // one list or map
  int32_t max_depth = 16;               // struct nesting
};

template <typename T>
Result<T> Decode(std::string_view bytes, const CodecLimits& limits);

template <typename T>
std::string Encode(const T& value);

Error ToWire(const Status& status);
Status FromWire(const Error& error);

// The error in field 1 of any reply body, if there is one (see taxhub.thrift).
Status ReplyStatus(std::string_view reply_body);

// An encoded ErrorReply carrying `status`.
std::string EncodeErrorReply(const Status& status);

}  // namespace taxhub::wire

#endif  // TAXHUB_HUB_WIRE_CODEC_H_
