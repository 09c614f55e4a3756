// Length-framed messages over TCP, as the legacy systems speak them (and as a faithful stand-in
// for IBM MQ): a 4-byte big-endian length, then that many bytes. Reads loop until a whole frame
// is in — one read() is never trusted to return a whole message — and every wait has a deadline.
#ifndef TAXHUB_ADAPTERS_LEGACY_FRAMING_H_
#define TAXHUB_ADAPTERS_LEGACY_FRAMING_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "hub/base/status.h"

namespace taxhub::legacy {

class FramedConnection {
 public:
  FramedConnection() = default;
  explicit FramedConnection(int fd) : fd_(fd) {}
  FramedConnection(FramedConnection&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FramedConnection& operator=(FramedConnection&& other) noexcept;
  ~FramedConnection() { Close(); }

  // TIMEOUT when no connection within `timeout_ms`, UNAVAILABLE when refused.
  static Result<FramedConnection> Connect(const std::string& host, int port, int timeout_ms);

  Status Send(std::string_view message, int timeout_ms = 5000);
  // One whole frame. TOO_LARGE (and the connection closed) for a declared length above
  // `max_bytes`; UNAVAILABLE when the peer closes; TIMEOUT when the frame is not complete in time —
  // with the connection still open only if no byte of it had arrived.
  Result<std::string> Receive(int timeout_ms, size_t max_bytes = 1 << 20);

  bool open() const { return fd_ >= 0; }
  void Close();

 private:
  Status WaitFor(short events, int64_t deadline_ms);
  int fd_ = -1;
};

// A listening socket on 127.0.0.1 (port 0: any free port).
class FramedServer {
 public:
  static Result<FramedServer> Listen(const std::string& host, int port);
  FramedServer(FramedServer&& other) noexcept : fd_(other.fd_), port_(other.port_) { other.fd_ = -1; }
  ~FramedServer();
  int port() const { return port_; }
  // The next connection, or TIMEOUT.
  Result<FramedConnection> Accept(int timeout_ms);

 private:
  FramedServer(int fd, int port) : fd_(fd), port_(port) {}
  int fd_ = -1;
  int port_ = 0;
};

// Where a legacy system listens, and how long to wait for it at each step.
struct LegacyEndpoint {
  std::string host = "127.0.0.1";
  int port = 0;
  int timeout_ms = 5000;
};

// One request and its answer on a fresh connection, the way the legacy systems talk. An error
// names where it happened: field "connect" when the request never arrived whole (the legacy
// system cannot have acted on it), "answer" when it was sent but no whole answer came back (the
// system may have acted: ask, or retry under the same serial).
Result<std::string> Exchange(const LegacyEndpoint& system, std::string_view request, size_t max_answer = 1 << 16);

}  // namespace taxhub::legacy

#endif  // TAXHUB_ADAPTERS_LEGACY_FRAMING_H_
