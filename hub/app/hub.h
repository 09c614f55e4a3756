// Wiring: one hub is a ledger, an engine thread and a broker thread, built from a HubConfig.
// Only this file and main know the concrete ledger classes.
#ifndef TAXHUB_HUB_APP_HUB_H_
#define TAXHUB_HUB_APP_HUB_H_

#include <memory>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "hub/app/config.h"
#include "hub/events/publisher.h"
#include "hub/base/clock.h"
#include "hub/broker/broker.h"
#include "hub/ledger/ledger.h"
#include "hub/security/curve_auth.h"
#include "hub/security/verifier.h"
#include "hub/security/verify_pool.h"
#include "hub/workflow/engine.h"

namespace taxhub::app {

// The ledger the config names. A writing connection writes the hub's own event chain; a
// read-only one (for verify-ledger) writes nothing and takes no lock.
Result<std::unique_ptr<ledger::Ledger>> OpenLedger(const HubConfig& config, bool read_only = false);

class Hub {
 public:
  // Opens (and migrates) the ledger, takes back leases of a previous run and binds the
  // sockets. Nothing runs until Start().
  static Result<std::unique_ptr<Hub>> Open(HubConfig config, const Clock& clock);
  ~Hub();

  void Start();
  // Stops taking new requests, lets tasks that are out come back (up to the drain timeout),
  // then disconnects the workers and stops. Idempotent.
  void Shutdown();

  // Reads the routes file again; if it is valid, records its version in the ledger and swaps it
  // in. Requests already accepted keep the plan they were made with. Returns the new version;
  // an invalid file changes nothing and its error names the file, line, route and field.
  // `by`: who asked (a user of the admin endpoint, or "SIGHUP"), recorded in the ledger.
  Result<int64_t> ReloadRoutes(const std::string& by = "SIGHUP");
  // With CURVE on: reads the peers' key files again (security::ReadCurveKeys) and admits new
  // handshakes by them; peers, roles and services stay as configured. Connections already made
  // stay up. A bad file changes nothing. Returns the number of keys listed.
  Result<size_t> ReloadPeerKeys();
  std::shared_ptr<const routing::RouteTable> routes() const { return routes_.Get(); }
  workflow::Engine& engine() { return *engine_; }

  const std::string& frontend_endpoint() const { return broker_->frontend_endpoint(); }
  const std::string& backend_endpoint() const { return broker_->backend_endpoint(); }
  // The event PUB socket; "" when the config publishes no events.
  std::string events_endpoint() const { return publisher_ ? publisher_->endpoint() : ""; }
  const HubConfig& config() const { return config_; }
  const workflow::EngineCounters& engine_counters() const { return engine_->counters(); }
  const broker::BrokerCounters& broker_counters() const { return broker_->counters(); }
  std::vector<broker::WorkerView> workers() const { return broker_->Workers(); }
  // The last seq of this hub's stream published on the PUB socket; -1 without an events section.
  int64_t events_published() const { return publisher_ ? publisher_->published() : -1; }
  // Null when the config has no security section.
  const security::VerifyPool* verify_pool() const { return verify_pool_.get(); }
  // Null without CURVE.
  const security::ZapCounters* zap_counters() const { return zap_ ? &zap_->counters() : nullptr; }

 private:
  Hub(HubConfig config, const Clock& clock)
      : config_(std::move(config)), clock_(clock), routes_(config_.routes) {}

  HubConfig config_;
  const Clock& clock_;
  routing::RouteTableHolder routes_;
  zmq::context_t context_{1};
  // Bound before every socket of the context binds; declared before them, so destroyed after.
  std::unique_ptr<security::ZapHandler> zap_;
  std::string curve_public_;  // the hub's own public key, which no peer may hold
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<workflow::Engine> engine_;
  std::unique_ptr<broker::Broker> broker_;
  std::unique_ptr<security::SignatureVerifier> verifier_;
  std::unique_ptr<security::VerifyPool> verify_pool_;
  std::unique_ptr<events::Publisher> publisher_;
  std::thread engine_thread_;
  std::thread broker_thread_;
  bool stopped_ = false;
};

}  // namespace taxhub::app

#endif  // TAXHUB_HUB_APP_HUB_H_
