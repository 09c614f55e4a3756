#include "hub/security/curve_keys.h"

#include <fcntl.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <fstream>
#include <sstream>

namespace taxhub::security {
namespace {

constexpr size_t kZ85KeyLength = 40;

bool ValidName(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Creates `path` with `mode`, refusing one that exists.
Status WriteNew(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Status(errno == EEXIST ? ErrorCode::kConflict : ErrorCode::kUnavailable,
                  path + ": " + (errno == EEXIST ? "exists; remove it to replace the key" : strerror(errno)), "name");
  }
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!written) {
    unlink(path.c_str());
    return Status(ErrorCode::kUnavailable, "cannot write " + path + ": " + strerror(errno), "name");
  }
  return Status::Ok();
}

}  // namespace

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char public_key[kZ85KeyLength + 1] = {};
  char secret_key[kZ85KeyLength + 1] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return Error(ErrorCode::kInternal, std::string("CURVE is not available in this libzmq: ") + zmq_strerror(errno));
  }
  return CurveKeyPair{public_key, secret_key};
}

Status WriteCurveKeyPair(const std::string& dir, const std::string& name) {
  if (!ValidName(name)) {
    return Status(ErrorCode::kBadRequest,
                  "a key name is letters, digits, '.', '_' and '-', not starting with '.': \"" + name + "\"", "name");
  }
  auto pair = GenerateCurveKeyPair();
  if (!pair) return pair.error();
  const std::string stem = dir + "/" + name;
  // The secret first: a public key without its secret is useless, the other way round is not.
  TAXHUB_RETURN_IF_ERROR(WriteNew(stem + ".key", pair->secret_z85 + "\n", 0600));
  Status pub = WriteNew(stem + ".pub", pair->public_z85 + "\n", 0644);
  if (!pub.ok()) unlink((stem + ".key").c_str());
  return pub;
}

std::optional<std::string> Z85KeyToBinary(std::string_view z85) {
  if (z85.size() != kZ85KeyLength) return std::nullopt;
  const std::string text(z85);  // zmq_z85_decode reads a NUL-terminated string
  uint8_t binary[32];
  if (zmq_z85_decode(binary, text.c_str()) == nullptr) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(binary), sizeof binary);
}

Result<std::vector<std::string>> ReadCurveKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kNotFound, path + ": cannot open key file: " + strerror(errno), "key");
  std::vector<std::string> keys;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const size_t begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos || line[begin] == '#') continue;
    const size_t end = line.find_last_not_of(" \t\r");
    std::string key = line.substr(begin, end - begin + 1);
    if (!Z85KeyToBinary(key)) {
      return Error(ErrorCode::kBadRequest,
                   path + ":" + std::to_string(number) + ": not a Z85 CURVE key (40 characters)", "key");
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return Error(ErrorCode::kBadRequest, path + ": holds no key", "key");
  return keys;
}

Result<std::string> ReadCurveKey(const std::string& path) {
  auto keys = ReadCurveKeys(path);
  if (!keys) return Error(keys.error());
  if (keys->size() != 1) {
    return Error(ErrorCode::kBadRequest, path + ": holds " + std::to_string(keys->size()) + " keys, one expected",
                 "key");
  }
  return std::move(keys->front());
}

Result<CurveKeyPair> ReadCurveSecretKey(const std::string& path) {
  auto secret = ReadCurveKey(path);
  if (!secret) return Error(secret.error());
  char public_key[kZ85KeyLength + 1] = {};
  if (zmq_curve_public(public_key, secret->c_str()) != 0) {
    return Error(ErrorCode::kBadRequest, path + ": not a CURVE secret key", "key");
  }
  return CurveKeyPair{public_key, *secret};
}

Result<CurveClientKeys> LoadCurveClientKeys(const std::string& server_pub_file, const std::string& key_file) {
  auto server = ReadCurveKey(server_pub_file);
  if (!server) return Error(server.error());
  auto pair = ReadCurveSecretKey(key_file);
  if (!pair) return Error(pair.error());
  return CurveClientKeys{*server, pair->public_z85, pair->secret_z85};
}

Result<std::optional<CurveClientKeys>> CurveClientKeysFromEnvironment() {
  const char* server = std::getenv(kCurveServerVariable);
  const char* key = std::getenv(kCurveKeyVariable);
  const bool has_server = server != nullptr && *server != '\0';
  const bool has_key = key != nullptr && *key != '\0';
  if (!has_server && !has_key) return std::optional<CurveClientKeys>();
  if (!has_server || !has_key) {
    return Error(ErrorCode::kBadRequest,
                 std::string(kCurveServerVariable) + " and " + kCurveKeyVariable + " go together",
                 has_server ? kCurveKeyVariable : kCurveServerVariable);
  }
  auto server_public = ReadCurveKey(server);
  if (!server_public) {
    return Error(ErrorCode::kBadRequest, std::string(kCurveServerVariable) + ": " + server_public.error().message(),
                 kCurveServerVariable);
  }
  auto pair = ReadCurveSecretKey(key);
  if (!pair) {
    return Error(ErrorCode::kBadRequest, std::string(kCurveKeyVariable) + ": " + pair.error().message(),
                 kCurveKeyVariable);
  }
  return std::optional<CurveClientKeys>(CurveClientKeys{*server_public, pair->public_z85, pair->secret_z85});
}

const std::optional<CurveClientKeys>& ProcessCurveClientKeys() {
  static const std::optional<CurveClientKeys> keys = [] {
    auto loaded = CurveClientKeysFromEnvironment();
    if (!loaded) {
      std::cerr << "CURVE settings: " << loaded.error().ToString() << "\n";
      std::exit(2);
    }
    return *loaded;
  }();
  return keys;
}

void ApplyCurveClient(zmq::socket_t& socket, const CurveClientKeys& keys) {
  socket.set(zmq::sockopt::curve_serverkey, keys.server_public);
  socket.set(zmq::sockopt::curve_publickey, keys.public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

}  // namespace taxhub::security
