#include "adapters/sdk/worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "hub/base/clock.h"
#include "hub/base/log.h"
#include "hub/base/thread_name.h"
#include "hub/broker/mdp.h"

namespace taxhub::sdk {
namespace {

using mdp::Command;
using mdp::Frames;
using mdp::MakeFrames;
using mdp::View;

constexpr const char* kLog = "adapter";

std::string_view CommandFrame(Command c) {
  static constexpr char kCodes[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05};
  return std::string_view(&kCodes[static_cast<int>(c)], 1);
}

struct Connection {
  std::unique_ptr<zmq::socket_t> socket;
  int fd = -1;               // the socket's ZMQ_FD
  bool maybe_input = false;  // messages may wait that the descriptor will not signal again
  uint64_t epoch = 0;
  int64_t expires_at = 0;
  int64_t last_sent = 0;
  int64_t reconnect_at = 0;
  int64_t backoff = 0;
  int disconnects = 0;  // DISCONNECTs in a row, with nothing else from the hub between them
  bool busy = false;
};

}  // namespace

std::shared_ptr<zmq::context_t> NewWorkerContext(int connections) {
  auto context = std::make_shared<zmq::context_t>(1);
  context->set(zmq::ctxopt::max_sockets, std::max(ZMQ_MAX_SOCKETS_DFLT, 2 * connections + 16));
  return context;
}

WorkerPool::WorkerPool(WorkerOptions options, Handler& handler)
    : options_(std::move(options)), handler_(handler) {}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start() {
  if (started_) return;
  started_ = true;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  on_io_thread_ = !handler_.MayBlock();
  for (int i = 0; !on_io_thread_ && i < options_.concurrency; ++i) {
    handler_threads_.push_back(
        NamedThread(NumberedThreadName("handler", i), [this] { HandlerLoop(); }));
  }
  io_thread_ = NamedThread("worker-io", [this] { IoLoop(); });
}

void WorkerPool::Stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  jobs_ready_.notify_all();
  for (auto& t : handler_threads_) t.join();
  handler_threads_.clear();
  io_thread_.join();
  close(wake_fd_);
  wake_fd_ = -1;
}

std::string WorkerPool::RunHandler(const std::string& body) {
  wire::StageResult result;
  auto task = wire::Decode<wire::StageTask>(body, options_.limits);
  if (!task) {
    result.outcome = wire::StageOutcome::RETRY;
    result.code = "BAD_TASK";
    result.message = "adapter could not decode the task: " + task.error().ToString();
    return wire::Encode(result);
  }
  try {
    result = handler_.Handle(*task);
  } catch (const std::exception& e) {
    result = wire::StageResult();
    result.outcome = wire::StageOutcome::RETRY;
    result.code = "ADAPTER_ERROR";
    result.message = e.what();
  }
  result.task_id = task->task_id;
  result.fencing_token = task->fencing_token;
  return wire::Encode(result);
}

void WorkerPool::HandlerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      jobs_ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::string result = RunHandler(job.body);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.push_back(Done{job.connection, job.epoch, std::move(job.client), std::move(result)});
    }
    uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof one) < 0) {
      // The counter cannot overflow in practice; the I/O thread also polls done_ on timeouts.
    }
  }
}

void WorkerPool::IoLoop() {
  std::shared_ptr<zmq::context_t> context =
      options_.context ? options_.context : NewWorkerContext(options_.concurrency);
  std::vector<Connection> connections(options_.concurrency);
  const int64_t expiry = options_.heartbeat_ms * options_.liveness;

  auto send = [&](Connection& c, Frames frames) {
    c.last_sent = MonotonicMs();
    c.maybe_input = true;  // sending may have taken the descriptor's signal
    try {
      zmq::send_multipart(*c.socket, frames, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      TAXHUB_LOG(kWarn, kLog) << options_.service << ": send failed: " << e.what();
    }
  };
  // A task's result, to the client that asked for it; the connection may take the next task.
  auto reply = [&](Connection& c, std::string_view client, std::string_view result) {
    c.busy = false;
    ++stats_.tasks;
    send(c, MakeFrames({"", mdp::kWorkerHeader, CommandFrame(Command::kReply), client, "", result}));
  };
  // Without its socket until a reconnection after the next, longer backoff.
  auto retry_later = [&](Connection& c) {
    c.socket.reset();
    c.fd = -1;
    c.busy = false;
    c.backoff = c.backoff == 0 ? options_.reconnect_initial_ms
                               : std::min(options_.reconnect_max_ms, c.backoff * 2);
    c.reconnect_at = MonotonicMs() + c.backoff;
  };
  auto drop = [&](Connection& c, std::string_view why) {
    TAXHUB_LOG(kInfo, kLog) << options_.service << ": connection to hub lost (" << why
                            << "); reconnecting";
    retry_later(c);
  };
  auto connect = [&](Connection& c) {
    try {
      c.socket = std::make_unique<zmq::socket_t>(*context, zmq::socket_type::dealer);
      c.socket->set(zmq::sockopt::linger, 200);
      c.socket->set(zmq::sockopt::maxmsgsize, options_.limits.max_message_bytes * 2 + 4096);
      if (options_.curve) security::ApplyCurveClient(*c.socket, *options_.curve);
      c.socket->connect(options_.endpoint);
      c.fd = c.socket->get(zmq::sockopt::fd);
    } catch (const zmq::error_t& e) {  // no socket to be had (the context's limit, the process's files)
      TAXHUB_LOG(kWarn, kLog) << options_.service << ": cannot open a connection (" << e.what()
                              << "); trying again later";
      retry_later(c);
      return;
    }
    ++c.epoch;
    c.busy = false;
    c.expires_at = MonotonicMs() + expiry;
    ++stats_.connects;
    send(c, MakeFrames({"", mdp::kWorkerHeader, CommandFrame(Command::kReady), options_.service}));
  };

  for (auto& c : connections) connect(c);

  // The loop waits in poll() on the sockets' ZMQ_FDs rather than in zmq_poll(). zmq_poll()
  // asks every socket for its events before and after it waits, and on each ask libzmq makes two
  // system calls (getpid, for its fork check, and a poll of the socket's mailbox): with 16
  // connections, some 170 system calls for each wait. A ZMQ_FD signals only that a socket's
  // state changed, and any call on the socket, a send included, may take that signal; so a
  // socket is read until it says EAGAIN after its descriptor signals and after every send on
  // it (maybe_input), and the loop does not sleep while one may still hold input.
  std::vector<pollfd> fds;
  std::vector<int> owners;
  while (!stopping_) {
    fds.clear();
    owners.clear();
    bool unread = false;
    for (int i = 0; i < static_cast<int>(connections.size()); ++i) {
      if (!connections[i].socket) continue;
      fds.push_back({connections[i].fd, POLLIN, 0});
      owners.push_back(i);
      unread = unread || connections[i].maybe_input;
    }
    fds.push_back({wake_fd_, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), unread ? 0 : 50) < 0) {
      if (errno == EINTR) continue;
      TAXHUB_LOG(kError, kLog) << options_.service << ": poll failed: " << std::strerror(errno);
      break;
    }
    int64_t now = MonotonicMs();
    for (size_t k = 0; k < owners.size(); ++k) {
      Connection& c = connections[owners[k]];
      if (fds[k].revents != 0) c.maybe_input = true;
      if (!c.maybe_input) continue;
      while (c.socket) {
        Frames frames;
        if (!zmq::recv_multipart(*c.socket, std::back_inserter(frames),
                                 zmq::recv_flags::dontwait)) {
          c.maybe_input = false;  // read to EAGAIN: the descriptor signals the next message
          break;
        }
        if (frames.size() < 3 || frames[0].size() != 0 || View(frames[1]) != mdp::kWorkerHeader ||
            frames[2].size() != 1) {
          TAXHUB_LOG(kWarn, kLog) << options_.service << ": malformed message from hub ignored";
          continue;
        }
        c.expires_at = now + expiry;
        const auto command = static_cast<Command>(View(frames[2])[0]);
        if (command != Command::kDisconnect) {
          c.backoff = 0;
          c.disconnects = 0;
        }
        if (command == Command::kRequest && frames.size() >= 6 && frames[4].size() == 0) {
          std::string body;
          for (size_t i = 5; i < frames.size(); ++i) body += View(frames[i]);
          if (on_io_thread_) {
            reply(c, View(frames[3]), RunHandler(body));
            now = MonotonicMs();
            continue;
          }
          c.busy = true;
          {
            std::lock_guard<std::mutex> lock(mutex_);
            jobs_.push_back(Job{owners[k], c.epoch, mdp::Str(frames[3]), std::move(body)});
          }
          jobs_ready_.notify_one();
        } else if (command == Command::kDisconnect) {
          drop(c, "hub sent DISCONNECT");
          // The hub asked us to register again: at once the first time; a hub that keeps saying
          // so (this key may not serve the service) is asked with growing pauses, not in a loop.
          if (c.disconnects++ == 0) c.reconnect_at = now;
        }
      }
    }
    // Finished handlers.
    if (fds.back().revents & POLLIN) {
      uint64_t count;
      if (read(wake_fd_, &count, sizeof count) < 0) count = 0;
    }
    std::deque<Done> finished;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished.swap(done_);
    }
    for (Done& d : finished) {
      Connection& c = connections[d.connection];
      if (!c.socket || c.epoch != d.epoch) {
        ++stats_.dropped_results;
        continue;
      }
      reply(c, d.client, d.result);
    }
    // Heartbeats, liveness, reconnection.
    for (Connection& c : connections) {
      if (!c.socket) {
        if (now >= c.reconnect_at) connect(c);
        continue;
      }
      if (now >= c.expires_at) {
        drop(c, "no heartbeat from hub");
        continue;
      }
      if (now - c.last_sent >= options_.heartbeat_ms) {
        send(c, MakeFrames({"", mdp::kWorkerHeader, CommandFrame(Command::kHeartbeat)}));
      }
    }
  }
  for (Connection& c : connections) {
    if (c.socket) send(c, MakeFrames({"", mdp::kWorkerHeader, CommandFrame(Command::kDisconnect)}));
  }
  connections.clear();
}

}  // namespace taxhub::sdk
