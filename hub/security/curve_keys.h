// CurveZMQ key pairs (RFC 26/CurveZMQ) as Z85 text files, as `taxhub keygen` writes them and the
// hub's config names them: NAME.pub (the public key, 40 Z85 characters and a newline, safe to
// hand out) and NAME.key (the secret key, created mode 0600).
#ifndef TAXHUB_HUB_SECURITY_CURVE_KEYS_H_
#define TAXHUB_HUB_SECURITY_CURVE_KEYS_H_

#include <string>

#include "hub/base/status.h"

namespace taxhub::security {

struct CurveKeyPair {
  std::string public_z85;  // 40 characters
  std::string secret_z85;  // 40 characters
};

Result<CurveKeyPair> GenerateCurveKeyPair();

// Writes DIR/NAME.pub and DIR/NAME.key. Never overwrites: an existing file of either name is
// an error (a key in use must be replaced on purpose), and the secret file is created 0600, so
// that it is never readable by others, not even for a moment. NAME: letters, digits, '.', '_'
// and '-', not starting with '.'.
Status WriteCurveKeyPair(const std::string& dir, const std::string& name);

// A Z85 key file's key (40 characters; whitespace around it ignored), checked to decode.
Result<std::string> ReadCurveKey(const std::string& path);

}  // namespace taxhub::security

#endif  // TAXHUB_HUB_SECURITY_CURVE_KEYS_H_
