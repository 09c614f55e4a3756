#include "hub/broker/broker.h"

#include <poll.h>

#include <zmq_addon.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hub/base/clock.h"
#include "hub/base/log.h"
#include "hub/broker/link.h"
#include "hub/wire/codec.h"

namespace taxhub::broker {

using namespace taxhub::mdp;  // NOLINT: the broker speaks MDP throughout

namespace {

constexpr const char* kLog = "broker";
constexpr std::string_view kTaskAddressPrefix = "taxhub.task/";
constexpr int kMaxMessagesPerWake = 256;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

size_t BodyBytes(const Frames& body) {
  size_t n = 0;
  for (const auto& frame : body) n += frame.size();
  return n;
}

}  // namespace

Broker::Broker(zmq::context_t& context, BrokerOptions options, std::string link_endpoint,
               const routing::RouteTableHolder& routes)
    : context_(context),
      options_(std::move(options)),
      link_endpoint_(std::move(link_endpoint)),
      routes_(routes),
      workers_(options_.heartbeat_ms, options_.liveness) {}

Broker::~Broker() = default;

Status Broker::Bind() {
  try {
    frontend_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::router);
    backend_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::router);
    link_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
    for (auto* socket : {frontend_.get(), backend_.get()}) {
      socket->set(zmq::sockopt::router_mandatory, 1);
      socket->set(zmq::sockopt::maxmsgsize, options_.socket_max_message_bytes);
      socket->set(zmq::sockopt::linger, 500);
    }
    if (!options_.curve_secret_key.empty()) {
      if (!options_.peers) return Status(ErrorCode::kBadRequest, "CURVE needs the list of peers", "curve");
      security::MakeCurveServer(*frontend_, options_.curve_secret_key, security::kFrontendDomain);
      security::MakeCurveServer(*backend_, options_.curve_secret_key, security::kBackendDomain);
    }
    link_->set(zmq::sockopt::linger, 0);
    link_->set(zmq::sockopt::sndhwm, link::kHighWaterMark);
    link_->set(zmq::sockopt::rcvhwm, link::kHighWaterMark);
    link_->set(zmq::sockopt::sndtimeo, link::kSendTimeoutMs);
    if (!options_.verify_endpoint.empty()) {
      verify_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::push);
      replies_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pull);
      verify_->set(zmq::sockopt::linger, 0);
      verify_->set(zmq::sockopt::sndhwm, link::kHighWaterMark);
      replies_->set(zmq::sockopt::linger, 0);
      verify_->bind(options_.verify_endpoint);
      replies_->bind(options_.replies_endpoint);
    }
    frontend_->bind(options_.frontend);
    frontend_endpoint_ = frontend_->get(zmq::sockopt::last_endpoint);
    backend_->bind(options_.backend);
    backend_endpoint_ = backend_->get(zmq::sockopt::last_endpoint);
    link_->connect(link_endpoint_);
  } catch (const zmq::error_t& e) {
    return Status(ErrorCode::kUnavailable, std::string("cannot bind broker sockets (") +
                                               options_.frontend + ", " + options_.backend +
                                               "): " + e.what());
  }
  TAXHUB_LOG(kInfo, kLog) << "frontend " << frontend_endpoint_ << " (MDPC01), backend "
                          << backend_endpoint_ << " (MDPW01)";
  return Status::Ok();
}

void Broker::Run() {
  // The loop waits in poll() on the sockets' ZMQ_FDs rather than in zmq_poll(), which asks every
  // socket for its events before and after each wait, at two system calls an ask in libzmq
  // (getpid for its fork check, then a poll of the socket's mailbox). A ZMQ_FD signals only
  // that a socket's state changed, and any call on a socket, a send included, may take that
  // signal. So a socket is read until EAGAIN after its descriptor signals and after every send
  // on it (unread_), and the loop does not sleep while one may still hold messages.
  const std::array<zmq::socket_t*, kSources> sockets = {backend_.get(), link_.get(), replies_.get(),
                                                        frontend_.get()};
  std::array<int, kSources> fds{};
  for (int i = 0; i < kSources; ++i) {
    if (sockets[i]) fds[i] = sockets[i]->get(zmq::sockopt::fd);
  }
  std::vector<pollfd> items;
  std::vector<int> polled;
  while (!stopping_) {
    items.clear();
    polled.clear();
    bool unread = false;
    for (int i = 0; i < kSources; ++i) {
      if (!sockets[i] || (i == kFrontend && draining_)) continue;
      items.push_back({fds[i], POLLIN, 0});
      polled.push_back(i);
      unread = unread || unread_[i];
    }
    if (::poll(items.data(), items.size(), unread ? 0 : 100) < 0) {
      if (errno == EINTR) continue;
      TAXHUB_LOG(kError, kLog) << "poll failed: " << std::strerror(errno);
      break;
    }
    // Each socket is drained a bounded number of messages per wake so that none starves.
    for (size_t k = 0; k < items.size(); ++k) {
      const int i = polled[k];
      if (items[k].revents != 0) unread_[i] = true;
      if (!unread_[i]) continue;
      for (int n = 0; n < kMaxMessagesPerWake; ++n) {
        Frames frames;
        auto received = zmq::recv_multipart(*sockets[i], std::back_inserter(frames),
                                            zmq::recv_flags::dontwait);
        if (!received) {
          unread_[i] = false;  // read to EAGAIN: the descriptor signals the next message
          break;
        }
        switch (i) {
          case kBackend: HandleWorker(frames); break;
          case kLink:
          case kReplies: HandleEngine(frames); break;
          case kFrontend: HandleClient(frames); break;
        }
      }
    }
    OnTimers(MonotonicMs());
  }
  for (const auto& identity : workers_.Identities()) {
    SendBackend(BuildWorkerCommand(identity, Command::kDisconnect));
  }
  TAXHUB_LOG(kInfo, kLog) << "stopped; sent DISCONNECT to " << workers_.size() << " workers";
  frontend_.reset();
  backend_.reset();
  link_.reset();
  verify_.reset();
  replies_.reset();
}

// ---- clients ---------------------------------------------------------------------------------

void Broker::HandleClient(Frames& frames) {
  ++counters_.client_requests;
  const std::string peer = options_.peers ? security::PeerName(frames.back()) : "";
  ClientRequest request = ParseClientRequest(frames);
  if (!request.status.ok()) {
    TAXHUB_LOG(kWarn, kLog) << "malformed client message from "
                            << IdentityForLog(request.identity) << ": "
                            << request.status.ToString();
    ReplyError(request.identity, request.service, request.status);
    return;
  }
  if (static_cast<int64_t>(BodyBytes(request.body)) > options_.max_body_bytes) {
    ReplyError(request.identity, request.service,
               Status(ErrorCode::kTooLarge,
                      "body of " + std::to_string(BodyBytes(request.body)) +
                          " bytes exceeds the limit of " + std::to_string(options_.max_body_bytes),
                      "body"));
    return;
  }
  if (options_.peers) {
    const security::CurvePeer* who = options_.peers->FindByName(peer);
    if (who == nullptr || !security::CurveAllowList::MayCall(*who, request.service)) {
      ++counters_.peers_refused;
      ReplyError(request.identity, request.service,
                 Status(ErrorCode::kForbidden,
                        (who ? std::string(security::PeerRoleName(who->role)) + " " + who->name : "peer \"" + peer + "\"") +
                            " may not call " + request.service,
                        "service"));
      return;
    }
  }
  if (StartsWith(request.service, "mmi.")) {
    HandleMmi(request.identity, request.service, request.body);
    return;
  }
  if (auto it = in_flight_.find(request.identity);
      it != in_flight_.end() && it->second >= options_.max_in_flight_per_client) {
    ++counters_.clients_capped;
    ReplyError(request.identity, request.service,
               Status(ErrorCode::kUnavailable, std::to_string(it->second) +
                                                   " requests of this connection are under way; wait for "
                                                   "their answers, then retry"));
    return;
  }
  if (options_.hub_services.contains(request.service)) {
    if (request.body.size() != 1) {
      ReplyError(request.identity, request.service,
                 Status(ErrorCode::kBadRequest,
                        "hub services take exactly one body frame, got " +
                            std::to_string(request.body.size()),
                        "body"));
      return;
    }
    Frames out = MakeFrames({link::OpFrame(link::Op::kCall), request.identity, request.service});
    out.push_back(std::move(request.body[0]));
    bool sent;
    if (verify_ && options_.verified_services.contains(request.service)) {
      sent = zmq::send_multipart(*verify_, out, zmq::send_flags::dontwait).has_value();
    } else {
      if (options_.peers) out.push_back(zmq::message_t(peer.data(), peer.size()));  // who called
      sent = SendLink(std::move(out), /*may_wait=*/false);
    }
    if (!sent) {
      ReplyError(request.identity, request.service,
                 Status(ErrorCode::kUnavailable, "busy: the hub is behind; retry later"));
      return;
    }
    TakeOn(request.identity);
    return;
  }
  if (const routing::PassThroughRule* rule = routes_.Get()->PassThrough(request.service)) {
    HandlePassThrough(request.identity, request.service, rule->timeout_ms, std::move(request.body));
    return;
  }
  ReplyError(request.identity, request.service,
             Status(ErrorCode::kUnknownService,
                    "no hub service or pass-through route named \"" + request.service + "\"",
                    "service"));
}

void Broker::HandleMmi(const std::string& client, const std::string& service, Frames& body) {
  std::string answer = "501";
  if (service == "mmi.service") {
    std::string name = body.empty() ? "" : Str(body[0]);
    bool found = options_.hub_services.contains(name) || workers_.WorkerCount(name) > 0;
    answer = found ? "200" : "404";
  }
  SendFrontend(BuildClientReply(client, service, answer));
}

void Broker::HandlePassThrough(const std::string& client, const std::string& service,
                               int64_t timeout_ms, Frames body) {
  const int64_t deadline = MonotonicMs() + timeout_ms;
  if (Worker* worker = workers_.TakeIdle(service)) {
    SendCredit(service, -1);
    TakeOn(client);
    Job job;
    job.kind = Job::Kind::kClient;
    job.client = client;
    job.deadline_ms = deadline;
    SendToWorker(*worker, std::move(job), std::move(body));
    return;
  }
  auto& queue = pending_[service];
  if (static_cast<int>(queue.size()) >= options_.passthrough_queue_limit) {
    ReplyError(client, service,
               Status(ErrorCode::kUnavailable, "busy: too many requests waiting for " + service +
                                                   "; retry later"));
    return;
  }
  TakeOn(client);
  queue.push_back(Pending{client, std::move(body), deadline});
}

void Broker::Settle(const std::string& client) {
  auto it = in_flight_.find(client);
  if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
}

void Broker::Answer(const std::string& client, const std::string& service, Frames body) {
  Settle(client);
  SendFrontend(BuildClientReply(client, service, std::move(body)));
}

void Broker::AnswerError(const std::string& client, const std::string& service, const Status& status) {
  Settle(client);
  ReplyError(client, service, status);
}

void Broker::ReplyError(const std::string& client, const std::string& service,
                        const Status& status) {
  ++counters_.client_errors;
  SendFrontend(BuildClientReply(client, service, wire::EncodeErrorReply(status)));
}

// ---- workers ---------------------------------------------------------------------------------

void Broker::HandleWorker(Frames& frames) {
  const int64_t now = MonotonicMs();
  const std::string peer = options_.peers ? security::PeerName(frames.back()) : "";
  WorkerMessage message = ParseWorkerMessage(frames);
  Worker* worker = workers_.Find(message.identity);
  if (worker && worker->peer != peer) {
    // Another key speaking with a registered worker's identity (it reconnected under that
    // routing id): nothing it says counts, and the worker it copies expires on its own.
    ++counters_.peers_refused;
    TAXHUB_LOG(kWarn, kLog) << "key " << peer << " used the identity of " << worker->peer << "'s worker "
                            << IdentityForLog(message.identity) << "; ignored";
    return;
  }
  if (!message.status.ok()) {
    ++counters_.worker_protocol_errors;
    TAXHUB_LOG(kWarn, kLog) << "worker " << IdentityForLog(message.identity)
                            << " broke the protocol: " << message.status.ToString();
    if (worker) {
      DropWorker(message.identity, "protocol error", true);
    } else {
      SendBackend(BuildWorkerCommand(message.identity, Command::kDisconnect));
    }
    return;
  }
  if (worker) workers_.Touch(*worker, now);

  switch (message.command) {
    case Command::kReady: {
      if (worker) {
        DropWorker(message.identity, "second READY", true);
        return;
      }
      if (StartsWith(message.service, "mmi.") || StartsWith(message.service, "taxhub.")) {
        ++counters_.worker_protocol_errors;
        TAXHUB_LOG(kWarn, kLog) << "worker " << IdentityForLog(message.identity)
                                << " tried to register reserved service " << message.service;
        SendBackend(BuildWorkerCommand(message.identity, Command::kDisconnect));
        return;
      }
      if (options_.peers) {
        const security::CurvePeer* who = options_.peers->FindByName(peer);
        if (who == nullptr || !security::CurveAllowList::MayServe(*who, message.service)) {
          ++counters_.peers_refused;
          TAXHUB_LOG(kWarn, kLog) << "worker " << IdentityForLog(message.identity) << " (key " << peer
                                  << ") may not serve " << message.service << "; disconnected";
          SendBackend(BuildWorkerCommand(message.identity, Command::kDisconnect));
          return;
        }
      }
      Worker& added = workers_.Add(message.identity, message.service, now);
      added.peer = peer;
      TAXHUB_LOG(kInfo, kLog) << "worker " << IdentityForLog(added.identity) << " ready for "
                              << added.service << " (" << workers_.WorkerCount(added.service)
                              << " now)";
      WorkerIdle(added);
      return;
    }
    case Command::kHeartbeat:
      if (!worker) SendBackend(BuildWorkerCommand(message.identity, Command::kDisconnect));
      return;
    case Command::kDisconnect:
      if (worker) DropWorker(message.identity, "worker sent DISCONNECT", false);
      return;
    case Command::kReply:
      if (!worker || worker->idle || worker->job.kind == Job::Kind::kNone) {
        ++counters_.worker_protocol_errors;
        if (worker) {
          DropWorker(message.identity, "REPLY without a REQUEST", true);
        } else {
          SendBackend(BuildWorkerCommand(message.identity, Command::kDisconnect));
        }
        return;
      }
      HandleReply(*worker, message);
      return;
    case Command::kRequest:
      ++counters_.worker_protocol_errors;
      if (worker) {
        DropWorker(message.identity, "REQUEST is a broker command", true);
      } else {
        SendBackend(BuildWorkerCommand(message.identity, Command::kDisconnect));
      }
      return;
  }
}

void Broker::HandleReply(Worker& worker, WorkerMessage& message) {
  Job job = worker.job;
  if (message.client != job.address) {
    ++counters_.worker_protocol_errors;
    DropWorker(worker.identity, "REPLY to a client address it was not given", true);
    return;
  }
  if (job.kind == Job::Kind::kClient) {
    if (!job.answered) {
      Answer(job.client, worker.service, std::move(message.body));
    }
  } else {
    Frames out = MakeFrames({link::OpFrame(link::Op::kResult), job.task_id, std::to_string(job.token),
                             worker.identity});
    // A task result is one Thrift frame; anything else reaches the engine as an empty body,
    // which it records as an undecodable result.
    if (message.body.size() == 1) {
      out.push_back(std::move(message.body[0]));
    } else {
      out.emplace_back();
    }
    SendLink(std::move(out));
  }
  WorkerIdle(worker);
}

void Broker::WorkerIdle(Worker& worker) {
  const int64_t now = MonotonicMs();
  auto queue = pending_.find(worker.service);
  while (queue != pending_.end() && !queue->second.empty()) {
    Pending pending = std::move(queue->second.front());
    queue->second.pop_front();
    if (pending.deadline_ms <= now) {
      AnswerError(pending.client, worker.service,
                 Status(ErrorCode::kTimeout, "no " + worker.service + " worker answered in time"));
      continue;
    }
    worker.idle = false;
    Job job;
    job.kind = Job::Kind::kClient;
    job.client = pending.client;
    job.deadline_ms = pending.deadline_ms;
    SendToWorker(worker, std::move(job), std::move(pending.body));
    return;
  }
  workers_.MarkIdle(worker);
  SendCredit(worker.service, +1);
}

void Broker::SendToWorker(Worker& worker, Job job, Frames body) {
  job.address = job.kind == Job::Kind::kTask
                    ? std::string(kTaskAddressPrefix) + job.task_id
                    : job.client;
  worker.job = job;
  workers_.MarkSent(worker, MonotonicMs());
  if (!SendBackend(BuildWorkerRequest(worker.identity, job.address, std::move(body)))) {
    DropWorker(worker.identity, "unreachable", false);
  }
}

void Broker::ReleaseJob(const Worker& worker) {
  const Job& job = worker.job;
  if (job.kind == Job::Kind::kTask) {
    SendLink(MakeFrames({link::OpFrame(link::Op::kLost), job.task_id, std::to_string(job.token),
                         link::kWorkerGone}));
  } else if (job.kind == Job::Kind::kClient && !job.answered) {
    AnswerError(job.client, worker.service,
               Status(ErrorCode::kUnavailable,
                      "the " + worker.service + " worker went away; retry"));
  }
}

void Broker::DropWorker(const std::string& identity, std::string_view why, bool send_disconnect) {
  auto removed = workers_.Remove(identity);
  if (!removed) return;
  TAXHUB_LOG(kInfo, kLog) << "worker " << IdentityForLog(identity) << " (" << removed->service
                          << ") dropped: " << why;
  if (send_disconnect) SendBackend(BuildWorkerCommand(identity, Command::kDisconnect));
  if (removed->idle) SendCredit(removed->service, -1);
  ReleaseJob(*removed);
}

// ---- engine ----------------------------------------------------------------------------------

void Broker::HandleEngine(Frames& frames) {
  if (frames.empty() || frames[0].size() != 1) return;
  const auto op = static_cast<link::Op>(View(frames[0])[0]);
  if (op == link::Op::kReply && frames.size() == 4) {
    std::string client = Str(frames[1]);
    std::string service = Str(frames[2]);
    Frames body;
    body.push_back(std::move(frames[3]));
    Answer(client, service, std::move(body));
  } else if (op == link::Op::kDispatch && frames.size() == 5) {
    std::string service = Str(frames[1]);
    Job job;
    job.kind = Job::Kind::kTask;
    job.task_id = Str(frames[2]);
    job.token = std::stoll(Str(frames[3]));
    Worker* worker = workers_.TakeIdle(service);
    if (!worker) {
      SendLink(MakeFrames({link::OpFrame(link::Op::kLost), job.task_id, std::to_string(job.token),
                           link::kUndelivered}));
      return;
    }
    ++counters_.tasks_dispatched;
    Frames body;
    body.push_back(std::move(frames[4]));
    SendToWorker(*worker, std::move(job), std::move(body));
  } else {
    TAXHUB_LOG(kError, kLog) << "bad link message from the engine";
  }
}

// ---- timers ----------------------------------------------------------------------------------

std::vector<WorkerView> Broker::Workers() const {
  std::lock_guard<std::mutex> lock(workers_view_mutex_);
  return workers_view_;
}

void Broker::OnTimers(int64_t now) {
  for (Worker& expired : workers_.Expire(now)) {
    ++counters_.workers_expired;
    TAXHUB_LOG(kInfo, kLog) << "worker " << IdentityForLog(expired.identity) << " ("
                            << expired.service << ") expired";
    if (expired.idle) SendCredit(expired.service, -1);
    ReleaseJob(expired);
  }
  for (const auto& identity : workers_.DueForHeartbeat(now)) {
    Worker* worker = workers_.Find(identity);
    workers_.MarkSent(*worker, now);
    if (!SendBackend(BuildWorkerCommand(identity, Command::kHeartbeat))) {
      DropWorker(identity, "unreachable", false);
    }
  }
  for (auto& [service, queue] : pending_) {
    while (!queue.empty() && queue.front().deadline_ms <= now) {
      AnswerError(queue.front().client, service,
                 Status(ErrorCode::kTimeout, "no " + service + " worker was free in time"));
      queue.pop_front();
    }
  }
  workers_.ForEach([&](Worker& worker) {
    Job& job = worker.job;
    if (job.kind == Job::Kind::kClient && !job.answered && job.deadline_ms <= now) {
      job.answered = true;
      AnswerError(job.client, worker.service,
                 Status(ErrorCode::kTimeout, "the " + worker.service + " worker did not answer in time"));
    }
  });
  if (now < next_view_ms_) return;  // the admin endpoint's view, four times a second
  next_view_ms_ = now + 250;
  std::vector<WorkerView> view;
  view.reserve(workers_.size());
  workers_.ForEach([&](Worker& worker) {
    view.push_back({worker.service, IdentityForLog(worker.identity), worker.idle,
                    worker.job.kind == Job::Kind::kTask ? worker.job.task_id : "",
                    now - (worker.expires_at_ms - workers_.expiry_ms()), now - worker.registered_at_ms});
  });
  std::lock_guard<std::mutex> lock(workers_view_mutex_);
  workers_view_ = std::move(view);
}

// ---- sending ---------------------------------------------------------------------------------

bool Broker::SendFrontend(Frames frames) {
  unread_[kFrontend] = true;  // a send may take the socket's signal (Run())
  try {
    if (zmq::send_multipart(*frontend_, frames, zmq::send_flags::dontwait)) return true;
    TAXHUB_LOG(kWarn, kLog) << "client " << IdentityForLog(View(frames[0]))
                            << " is not reading; reply dropped";
  } catch (const zmq::error_t& e) {
    TAXHUB_LOG(kInfo, kLog) << "client " << IdentityForLog(View(frames[0]))
                            << " went away before its reply: " << e.what();
  }
  return false;
}

bool Broker::SendBackend(Frames frames) {
  unread_[kBackend] = true;
  try {
    if (zmq::send_multipart(*backend_, frames, zmq::send_flags::dontwait)) return true;
  } catch (const zmq::error_t& e) {
    TAXHUB_LOG(kDebug, kLog) << "worker " << IdentityForLog(View(frames[0]))
                             << " unreachable: " << e.what();
  }
  return false;
}

bool Broker::SendLink(Frames frames, bool may_wait) {
  unread_[kLink] = true;
  try {
    auto sent = zmq::send_multipart(*link_, frames,
                                    may_wait ? zmq::send_flags::none : zmq::send_flags::dontwait);
    if (sent) return true;
  } catch (const zmq::error_t& e) {
    TAXHUB_LOG(kError, kLog) << "engine link: " << e.what();
    return false;
  }
  if (may_wait && !stopping_) {
    TAXHUB_LOG(kError, kLog) << "engine link full for " << link::kSendTimeoutMs
                             << " ms; message dropped (leases and retries will recover it)";
  }
  return false;
}

void Broker::SendCredit(const std::string& service, int delta) {
  SendLink(MakeFrames({link::OpFrame(link::Op::kCredit), service, std::to_string(delta)}));
}

}  // namespace taxhub::broker
