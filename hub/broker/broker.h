// The MDP/0.1 broker (RFC 7/MDP with 8/MMI): a frontend ROUTER for clients (MDPC01) and a
// backend ROUTER for workers (MDPW01).
//
// Requests to the hub's own services (taxhub.*) go over the inproc link to the engine, which
// answers them after its ledger commit. Requests to a configured pass-through service go to an
// idle worker of that service, or wait in a bounded queue until one frees up or the route's
// timeout passes (pass-through routes come from the route table, so a reload changes them).
// mmi.service is answered here. Anything else gets UNKNOWN_SERVICE.
//
// Workers: READY registers a worker for one service (never mmi.* or taxhub.*); any traffic
// refreshes its expiry (heartbeat x liveness); HEARTBEATs go to every worker the broker has not
// sent anything to for one interval. Invalid or unexpected commands are answered with
// DISCONNECT and the worker is forgotten, as RFC 7 requires. A worker lost while holding a
// stage task is reported to the engine, which puts the task back in the ledger.
//
// Threading: Bind() on any thread, then Run() on the broker's own thread, which owns the
// sockets from then on. BeginDrain() and Stop() may be called from any thread.
#ifndef TAXHUB_HUB_BROKER_BROKER_H_
#define TAXHUB_HUB_BROKER_BROKER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "hub/base/status.h"
#include "hub/broker/mdp.h"
#include "hub/broker/worker_registry.h"
#include "hub/security/curve_auth.h"
#include "routing/route_table.h"

namespace taxhub::broker {

using mdp::Frames;
using mdp::WorkerMessage;

struct BrokerOptions {
  std::string frontend = "tcp://127.0.0.1:5555";
  std::string backend = "tcp://127.0.0.1:5556";
  int64_t heartbeat_ms = 2500;
  int liveness = 3;
  // Request bodies above this get a TOO_LARGE error reply.
  int64_t max_body_bytes = 1 << 20;
  // ZMQ_MAXMSGSIZE: a peer sending a bigger frame is disconnected by libzmq itself.
  int64_t socket_max_message_bytes = 4 << 20;
  // Pass-through requests waiting for a worker, per service; beyond this: UNAVAILABLE (busy).
  int passthrough_queue_limit = 1000;
  // Requests one client connection may have under way at once (hub services and pass-through);
  // beyond this it is told UNAVAILABLE (busy) at once, so that one connection cannot fill the
  // engine's queue for everyone (CURVE's allow-list bounds how many connections a stranger gets:
  // none).
  int max_in_flight_per_client = 1000;
  // Service names served by the engine over the link.
  std::set<std::string> hub_services;
  // When set, these hub services go to the signature verification pool instead (inproc PUSH
  // bound at verify_endpoint), whose error replies come back on replies_endpoint (PULL).
  std::set<std::string> verified_services;
  std::string verify_endpoint;
  std::string replies_endpoint;
  // CURVE (hub/security/curve_auth.h): with a secret key both sockets are CURVE servers whose
  // peers the context's ZAP handler admits, and `peers` decides which services each may call
  // (frontend) or serve (backend).
  std::string curve_secret_key;  // Z85; empty: no CURVE
  std::shared_ptr<const security::CurveAllowList> peers;
};

struct BrokerCounters {
  std::atomic<uint64_t> client_requests{0};
  std::atomic<uint64_t> client_errors{0};
  std::atomic<uint64_t> worker_protocol_errors{0};
  std::atomic<uint64_t> workers_expired{0};
  std::atomic<uint64_t> tasks_dispatched{0};
  std::atomic<uint64_t> peers_refused{0};  // CURVE peers calling or serving what they may not
  std::atomic<uint64_t> clients_capped{0};  // requests refused: their client had too many under way
};

// One connected worker as the admin endpoint shows it.
struct WorkerView {
  std::string service;
  std::string worker;           // its identity, printable
  bool idle = false;
  std::string task_id;          // the task it holds, if any
  int64_t heartbeat_age_ms = 0;  // since the broker last heard from it
  int64_t connected_ms = 0;      // since it registered
};

class Broker {
 public:
  // Pass-through routes come from the route table in force in `routes` at each request.
  Broker(zmq::context_t& context, BrokerOptions options, std::string link_endpoint,
         const routing::RouteTableHolder& routes);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Creates and binds the sockets and connects the engine link. Endpoints may use port "*";
  // the bound ones are then available from frontend_endpoint() and backend_endpoint().
  Status Bind();
  const std::string& frontend_endpoint() const { return frontend_endpoint_; }
  const std::string& backend_endpoint() const { return backend_endpoint_; }

  // The broker loop; returns after Stop(), having sent DISCONNECT to every worker.
  void Run();
  // Stops reading new client requests; replies and worker traffic still flow.
  void BeginDrain() { draining_ = true; }
  void Stop() { stopping_ = true; }

  const BrokerCounters& counters() const { return counters_; }
  // The workers as of the last timer round (at most a heartbeat old); safe from any thread.
  std::vector<WorkerView> Workers() const;

 private:
  struct Pending {
    std::string client;
    Frames body;
    int64_t deadline_ms;
  };

  void HandleClient(Frames& frames);
  void HandleWorker(Frames& frames);
  void HandleEngine(Frames& frames);
  void HandleMmi(const std::string& client, const std::string& service, Frames& body);
  void HandlePassThrough(const std::string& client, const std::string& service,
                         int64_t timeout_ms, Frames body);
  void HandleReply(Worker& worker, WorkerMessage& message);
  void OnTimers(int64_t now);

  void WorkerIdle(Worker& worker);
  void SendToWorker(Worker& worker, Job job, Frames body);
  void DropWorker(const std::string& identity, std::string_view why, bool send_disconnect);
  void ReleaseJob(const Worker& worker);

  // A refusal of a request that was never taken on.
  void ReplyError(const std::string& client, const std::string& service, const Status& status);
  // A client's requests under way: counted when taken on (TakeOn), and answered — however it
  // ends — through Answer or AnswerError, which settle the count and send the reply.
  void TakeOn(const std::string& client) { ++in_flight_[client]; }
  void Answer(const std::string& client, const std::string& service, Frames body);
  void AnswerError(const std::string& client, const std::string& service, const Status& status);
  void Settle(const std::string& client);
  bool SendFrontend(Frames frames);
  bool SendBackend(Frames frames);
  // Sends to the engine; with `may_wait`, waits up to link::kSendTimeoutMs for room.
  bool SendLink(Frames frames, bool may_wait = true);
  void SendCredit(const std::string& service, int delta);

  zmq::context_t& context_;
  BrokerOptions options_;
  std::string link_endpoint_;
  const routing::RouteTableHolder& routes_;
  std::unique_ptr<zmq::socket_t> frontend_;
  std::unique_ptr<zmq::socket_t> backend_;
  std::unique_ptr<zmq::socket_t> link_;
  std::unique_ptr<zmq::socket_t> verify_;   // to the verification pool
  std::unique_ptr<zmq::socket_t> replies_;  // its error replies
  // The sockets Run() reads, by priority; the frontend comes last and is left out while draining.
  enum Source { kBackend, kLink, kReplies, kFrontend, kSources };
  // Whether a socket may hold messages its ZMQ_FD will not signal again: until it has been read
  // to EAGAIN since its descriptor signalled and since the last send on it (see Run()).
  std::array<bool, kSources> unread_{true, true, true, true};
  std::string frontend_endpoint_;
  std::string backend_endpoint_;
  WorkerRegistry workers_;
  std::map<std::string, std::deque<Pending>> pending_;  // pass-through, per service
  std::unordered_map<std::string, int> in_flight_;      // per client identity, while above 0
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  BrokerCounters counters_;
  mutable std::mutex workers_view_mutex_;
  std::vector<WorkerView> workers_view_;
  int64_t next_view_ms_ = 0;
  uint64_t next_address_ = 0;
};

}  // namespace taxhub::broker

#endif  // TAXHUB_HUB_BROKER_BROKER_H_
