// Message digests through OpenSSL.
#ifndef TAXHUB_HUB_BASE_DIGEST_H_
#define TAXHUB_HUB_BASE_DIGEST_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "hub/base/status.h"

namespace taxhub {

// Lower-case hex digest of the parts, each prefixed by its 8-byte length so that ("ab","c")
// and ("a","bc") differ. `algorithm` is "sha256" or "sm3" (GM/T 0004); anything else is
// BAD_REQUEST.
Result<std::string> DigestHex(std::string_view algorithm,
                              std::initializer_list<std::string_view> parts);

// DigestHex("sha256", parts).
std::string Sha256Hex(std::initializer_list<std::string_view> parts);

std::string HexEncode(std::string_view bytes);

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_DIGEST_H_
