#include "adapters/legacy/framing.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hub/base/clock.h"

namespace taxhub::legacy {
namespace {

Status SocketError(std::string_view what) {
  return Status(ErrorCode::kUnavailable, std::string(what) + ": " + std::strerror(errno));
}

bool SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

Result<sockaddr_in> Address(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Error(ErrorCode::kBadRequest, "not an IPv4 address: " + host, "host");
  }
  return addr;
}

}  // namespace

FramedConnection& FramedConnection::operator=(FramedConnection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void FramedConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status FramedConnection::WaitFor(short events, int64_t deadline_ms) {
  while (true) {
    const int64_t left = deadline_ms - MonotonicMs();
    if (left <= 0) return Status(ErrorCode::kTimeout, "the legacy system did not answer in time");
    pollfd p{fd_, events, 0};
    int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) return SocketError("poll");
  }
}

Result<FramedConnection> FramedConnection::Connect(const std::string& host, int port,
                                                   int timeout_ms) {
  auto addr = Address(host, port);
  if (!addr) return Error(addr.error());
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(SocketError("socket"));
  FramedConnection connection(fd);
  SetNonBlocking(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0) {
    if (errno != EINPROGRESS) return Error(SocketError("connect to " + host + ":" + std::to_string(port)));
    TAXHUB_RETURN_IF_ERROR(connection.WaitFor(POLLOUT, MonotonicMs() + timeout_ms));
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      errno = error;
      return Error(SocketError("connect to " + host + ":" + std::to_string(port)));
    }
  }
  return connection;
}

Status FramedConnection::Send(std::string_view message, int timeout_ms) {
  if (fd_ < 0) return Status(ErrorCode::kUnavailable, "not connected");
  if (message.size() > 0x7fffffff) return Status(ErrorCode::kTooLarge, "message too large");
  const uint32_t n = static_cast<uint32_t>(message.size());
  std::string frame = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  frame.append(message);
  const int64_t deadline = MonotonicMs() + timeout_ms;
  size_t sent = 0;
  while (sent < frame.size()) {
    ssize_t w = send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<size_t>(w);
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      TAXHUB_RETURN_IF_ERROR(WaitFor(POLLOUT, deadline));
    } else {
      Status status = SocketError("send");
      Close();
      return status;
    }
  }
  return Status::Ok();
}

Result<std::string> FramedConnection::Receive(int timeout_ms, size_t max_bytes) {
  if (fd_ < 0) return Error(ErrorCode::kUnavailable, "not connected");
  const int64_t deadline = MonotonicMs() + timeout_ms;
  auto read_exactly = [&](char* out, size_t n, bool frame_started) -> Status {
    size_t got = 0;
    while (got < n) {
      ssize_t r = recv(fd_, out + got, n - got, 0);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r == 0) {
        Close();
        return Status(ErrorCode::kUnavailable, "the legacy system closed the connection");
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (Status waited = WaitFor(POLLIN, deadline); !waited.ok()) {
          // Part of a frame read: the stream is out of step, so the connection is unusable.
          if (got > 0 || frame_started) Close();
          return waited;
        }
      } else {
        Status status = SocketError("recv");
        Close();
        return status;
      }
    }
    return Status::Ok();
  };
  unsigned char header[4];
  TAXHUB_RETURN_IF_ERROR(read_exactly(reinterpret_cast<char*>(header), 4, false));
  const size_t n = (static_cast<size_t>(header[0]) << 24) | (header[1] << 16) | (header[2] << 8) | header[3];
  if (n > max_bytes) {
    Close();
    return Error(ErrorCode::kTooLarge,
                 "a frame of " + std::to_string(n) + " bytes exceeds the limit of " +
                     std::to_string(max_bytes),
                 "length");
  }
  std::string message(n, '\0');
  TAXHUB_RETURN_IF_ERROR(read_exactly(message.data(), n, true));
  return message;
}

Result<FramedServer> FramedServer::Listen(const std::string& host, int port) {
  auto addr = Address(host, port);
  if (!addr) return Error(addr.error());
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(SocketError("socket"));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0 || listen(fd, 64) != 0) {
    Status status = SocketError("listen on " + host + ":" + std::to_string(port));
    close(fd);
    return Error(status);
  }
  socklen_t len = sizeof *addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&*addr), &len);
  return FramedServer(fd, ntohs(addr->sin_port));
}

FramedServer::~FramedServer() {
  if (fd_ >= 0) close(fd_);
}

Result<FramedConnection> FramedServer::Accept(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms);
  if (n == 0) return Error(ErrorCode::kTimeout, "no connection");
  if (n < 0) return Error(SocketError("poll"));
  int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return Error(SocketError("accept"));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return FramedConnection(fd);
}

Result<std::string> Exchange(const LegacyEndpoint& system, std::string_view request, size_t max_answer) {
  const int timeout_ms = system.timeout_ms;
  auto connection = FramedConnection::Connect(system.host, system.port, timeout_ms);
  if (!connection) return Error(ErrorCode::kUnavailable, connection.error().message(), "connect");
  if (Status sent = connection->Send(request, timeout_ms); !sent.ok()) {
    return Error(ErrorCode::kUnavailable, sent.message(), "connect");
  }
  auto answer = connection->Receive(timeout_ms, max_answer);
  if (!answer) return Error(answer.error().code(), answer.error().message(), "answer");
  return answer;
}

}  // namespace taxhub::legacy
