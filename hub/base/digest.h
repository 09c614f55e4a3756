// Message digests through OpenSSL.
#ifndef TAXHUB_HUB_BASE_DIGEST_H_
#define TAXHUB_HUB_BASE_DIGEST_H_

#include <initializer_list>
#include <string>
#include <string_view>

namespace taxhub {

// Lower-case hex SHA-256 of the parts, each prefixed by its length so that ("ab","c") and
// ("a","bc") differ.
std::string Sha256Hex(std::initializer_list<std::string_view> parts);

std::string HexEncode(std::string_view bytes);

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_DIGEST_H_
