// CurveZMQ key pairs (RFC 26/CurveZMQ) as Z85 text files, as `taxhub keygen` writes them and the
// hub's config names them: NAME.pub (the public key, 40 Z85 characters and a newline, safe to
// hand out) and NAME.key (the secret key, created mode 0600).
#ifndef TAXHUB_HUB_SECURITY_CURVE_KEYS_H_
#define TAXHUB_HUB_SECURITY_CURVE_KEYS_H_

#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

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
// The 32-byte key a Z85 key (40 characters) stands for; nullopt when it is not one.
std::optional<std::string> Z85KeyToBinary(std::string_view z85);

// A peer's NAME.pub as the hub reads it: one key per line (blank lines and # comments
// ignored). Two keys while a peer changes over to a new one: add the new line, reload
// (SIGHUP), move the peer to its new key, take the old line out, reload.
Result<std::vector<std::string>> ReadCurveKeys(const std::string& path);
// A NAME.key file's secret with the public half derived from it.
Result<CurveKeyPair> ReadCurveSecretKey(const std::string& path);

// What a client of the hub (hall, adapter, subscriber) needs to connect with CURVE: the hub's
// public key and its own pair.
struct CurveClientKeys {
  std::string server_public;  // Z85
  std::string public_key;     // Z85
  std::string secret_key;     // Z85
};

// `server_pub_file`: the hub's NAME.pub; `key_file`: this client's NAME.key (its public half is
// derived from the secret, so NAME.pub need not be there).
Result<CurveClientKeys> LoadCurveClientKeys(const std::string& server_pub_file, const std::string& key_file);

// The environment's CURVE settings: TAXHUB_CURVE_SERVER (the hub's .pub file) and
// TAXHUB_CURVE_KEY (this program's .key file). Neither set: no CURVE. One without the other, or
// a file that is missing or not a key: an error.
inline constexpr const char* kCurveServerVariable = "TAXHUB_CURVE_SERVER";
inline constexpr const char* kCurveKeyVariable = "TAXHUB_CURVE_KEY";
Result<std::optional<CurveClientKeys>> CurveClientKeysFromEnvironment();

// This process's CURVE settings from the environment, read once. A program told to use CURVE
// must never fall back to plain text, so a bad setting ends the process (exit status 2) with
// the reason on stderr.
const std::optional<CurveClientKeys>& ProcessCurveClientKeys();

// Makes `socket` a CURVE client of the server with `keys`; call before connect().
void ApplyCurveClient(zmq::socket_t& socket, const CurveClientKeys& keys);

}  // namespace taxhub::security

#endif  // TAXHUB_HUB_SECURITY_CURVE_KEYS_H_
