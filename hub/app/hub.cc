#include "hub/app/hub.h"

#include <atomic>
#include <filesystem>

#include "hub/base/log.h"
#include "hub/base/thread_name.h"
#include "hub/security/curve_keys.h"

namespace taxhub::app {

Result<std::unique_ptr<ledger::Ledger>> OpenLedger(const HubConfig& config, bool read_only) {
  ledger::ChainOptions chain;
  if (!read_only) chain = ledger::ChainOptions{config.hub_id, config.ledger.hash};
  if (config.ledger.backend == "postgres") {
    return ledger::OpenPostgresLedger(config.ledger.postgres, chain);
  }
  if (read_only) {
    ledger::SqliteOptions options = config.ledger.sqlite;
    options.read_only = true;
    return ledger::OpenSqliteLedger(options);
  }
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(config.ledger.sqlite.path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error(ErrorCode::kUnavailable, "cannot create " + dir.string() + ": " + ec.message());
  }
  return ledger::OpenSqliteLedger(config.ledger.sqlite, chain);
}

namespace {

// The CURVE allow-list from the peers' key files.
Result<std::shared_ptr<const security::CurveAllowList>> ReadAllowList(const CurveConfig& curve,
                                                                     const std::string& hub_public) {
  auto peers = std::make_shared<security::CurveAllowList>();
  for (const auto& peer : curve.peers) {
    auto keys = security::ReadCurveKeys(peer.key_file);
    if (!keys) return Error(keys.error().WithContext("curve peer " + peer.name));
    for (size_t i = 0; i < keys->size(); ++i) {
      const std::string& key = (*keys)[i];
      if (key == hub_public) {
        return Error(ErrorCode::kBadRequest, "curve peer " + peer.name + " has the hub's own key", "curve.peers");
      }
      Status added = i == 0 ? peers->Add({peer.name, key, peer.role, peer.services}) : peers->AddKey(peer.name, key);
      if (!added.ok()) return Error(added.WithContext("curve"));
    }
  }
  return std::shared_ptr<const security::CurveAllowList>(std::move(peers));
}

}  // namespace

Result<std::unique_ptr<Hub>> Hub::Open(HubConfig config, const Clock& clock) {
  static std::atomic<int> instances{0};
  std::unique_ptr<Hub> hub(new Hub(std::move(config), clock));
  const HubConfig& c = hub->config_;
  auto opened = OpenLedger(c);
  if (!opened) return Error(opened.error().WithContext("ledger"));
  hub->ledger_ = std::move(*opened);

  const std::string instance = std::to_string(++instances);
  const std::string link = "inproc://taxhub-link-" + instance;
  if (!c.routes) return Error(ErrorCode::kBadRequest, "no route table", "routes");
  workflow::EngineOptions engine_options = c.engine;
  engine_options.checkpoint_interval_ms = c.ledger.checkpoint_interval_ms;
  engine_options.calendar = std::make_shared<const obligations::WorkCalendar>(c.calendar);
  broker::BrokerOptions options = c.broker;
  std::string curve_public;
  if (c.curve.enabled) {
    auto server = security::ReadCurveSecretKey(c.curve.server_key);
    if (!server) return Error(server.error().WithContext("curve.server_key"));
    curve_public = server->public_z85;
    auto peers = ReadAllowList(c.curve, curve_public);
    if (!peers) return Error(peers.error());
    options.curve_secret_key = server->secret_z85;
    options.peers = *peers;
    engine_options.peers = *peers;
    hub->zap_ = std::make_unique<security::ZapHandler>(hub->context_, *peers);
    hub->curve_public_ = curve_public;
    TAXHUB_RETURN_IF_ERROR(hub->zap_->Bind());
    hub->zap_->Start();
  }
  if (c.security.enabled && !c.security.hub_key.empty()) {
    auto key = security::PrivateKey::LoadPemFile(c.security.hub_key);
    if (!key) return Error(key.error().WithContext("security.hub_key"));
    auto certs = security::Certificate::LoadPemFile(c.security.hub_certificate);
    if (!certs) return Error(certs.error().WithContext("security.hub_certificate"));
    engine_options.checkpoint_key = std::make_shared<const security::PrivateKey>(*key);
    engine_options.checkpoint_certificate = certs->front().ToDer();
  }
  if (c.security.enabled) {
    if (!c.security.ca_bundle.empty()) {
      auto verifier = security::SignatureVerifier::Load(c.security.ca_bundle, c.security.crl_files);
      if (!verifier) return Error(verifier.error().WithContext("security"));
      hub->verifier_ = std::move(*verifier);
    }
    security::VerifyPoolOptions pool;
    pool.threads = c.security.verify_threads;
    pool.require_signatures = c.security.require_signatures;
    pool.limits = c.engine.limits;
    pool.in_endpoint = "inproc://taxhub-verify-" + instance;
    pool.replies_endpoint = "inproc://taxhub-replies-" + instance;
    pool.engine_endpoint = "inproc://taxhub-verified-" + instance;
    options.verified_services = {workflow::kSubmitService};
    options.verify_endpoint = pool.in_endpoint;
    options.replies_endpoint = pool.replies_endpoint;
    engine_options.verified_endpoint = pool.engine_endpoint;
    hub->verify_pool_ = std::make_unique<security::VerifyPool>(hub->context_, hub->verifier_.get(),
                                                               clock, pool);
  }
  hub->engine_ = std::make_unique<workflow::Engine>(hub->context_, link, *hub->ledger_,
                                                    hub->routes_, clock, engine_options);
  TAXHUB_RETURN_IF_ERROR(hub->engine_->Bind());
  TAXHUB_RETURN_IF_ERROR(hub->engine_->Recover());

  if (c.events.enabled) {
    auto reader = OpenLedger(c, /*read_only=*/true);
    if (!reader) return Error(reader.error().WithContext("the event publisher's ledger"));
    auto txn = hub->ledger_->Begin();
    if (!txn) return Error(txn.error());
    const int64_t head = (*txn)->Head().seq;
    txn->reset();
    events::PublisherOptions publisher;
    publisher.endpoint = c.events.publish;
    publisher.stream = c.hub_id;
    publisher.heartbeat_ms = c.events.heartbeat_ms;
    publisher.send_hwm = c.events.send_hwm;
    publisher.send_buffer = c.events.send_buffer;
    publisher.curve_secret_key = options.curve_secret_key;
    hub->publisher_ = std::make_unique<events::Publisher>(hub->context_, publisher, std::move(*reader), head);
    TAXHUB_RETURN_IF_ERROR(hub->publisher_->Bind());
    events::Publisher* raw = hub->publisher_.get();
    hub->ledger_->SetCommitListener([raw](const ledger::ChainHead& head) { raw->Committed(head.seq); });
  }

  options.hub_services = workflow::Engine::Services();
  hub->broker_ = std::make_unique<broker::Broker>(hub->context_, options, link, hub->routes_);
  TAXHUB_RETURN_IF_ERROR(hub->broker_->Bind());
  if (hub->zap_) {
    // The doors are proven locked before anyone is let in: a stranger's key must be refused.
    std::vector<std::pair<std::string, zmq::socket_type>> doors = {
        {hub->frontend_endpoint(), zmq::socket_type::dealer}, {hub->backend_endpoint(), zmq::socket_type::dealer}};
    if (hub->publisher_) doors.emplace_back(hub->events_endpoint(), zmq::socket_type::sub);
    for (const auto& [endpoint, type] : doors) {
      Status refused = security::ProveUnknownKeyRefused(hub->context_, endpoint, type, curve_public);
      if (!refused.ok()) return Error(refused.WithContext("CURVE is on but not enforced; refusing to start"));
    }
    TAXHUB_LOG(kInfo, "hub") << "CURVE: a stranger's key was refused on each of " << doors.size()
                             << " sockets (the refusals above are that check)";
  }
  TAXHUB_LOG(kInfo, "hub") << c.hub_id << " ready: ledger " << hub->ledger_->backend() << ", "
                           << c.routes->size() << " routes from " << c.routes->source()
                           << (hub->verify_pool_ ? ", signatures verified" : "")
                           << (hub->zap_ ? ", CURVE with " + std::to_string(c.curve.peers.size()) + " peers" : "");
  return hub;
}

void Hub::Start() {
  engine_thread_ = NamedThread("engine", [this] { engine_->Run(); });
  broker_thread_ = NamedThread("broker", [this] { broker_->Run(); });
  if (verify_pool_) verify_pool_->Start();
  if (publisher_) publisher_->Start();
}

Result<size_t> Hub::ReloadPeerKeys() {
  if (!zap_) return Error(ErrorCode::kBadRequest, "CURVE is off: there are no peer keys", "curve");
  auto peers = ReadAllowList(config_.curve, curve_public_);
  if (!peers) return Error(peers.error());
  const size_t keys = (*peers)->keys();
  zap_->Replace(*peers);
  TAXHUB_LOG(kInfo, "hub") << "CURVE peer keys reloaded: " << (*peers)->size() << " peers, " << keys << " keys";
  return keys;
}

Result<int64_t> Hub::ReloadRoutes(const std::string& by) {
  auto table = routing::LoadRouteTable(config_.routes_file);
  if (!table) {
    TAXHUB_LOG(kWarn, "hub") << "routes not reloaded: " << table.error().message();
    return Error(table.error());
  }
  auto version = engine_->RecordRoutes(**table, by);
  if (!version) return Error(version.error().WithContext("recording the route table"));
  routes_.Set(*table);
  TAXHUB_LOG(kInfo, "hub") << "routes reloaded from " << config_.routes_file << ": version "
                           << *version << ", " << (*table)->size() << " routes";
  return version;
}

void Hub::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (engine_thread_.joinable()) {
    broker_->BeginDrain();
    if (verify_pool_) verify_pool_->Stop();
    engine_->BeginDrain();
    engine_thread_.join();
  }
  if (publisher_) publisher_->Stop();  // after the engine: what it committed last goes out too
  if (broker_thread_.joinable()) {
    broker_->Stop();
    broker_thread_.join();
  }
  // The ZAP handler is not stopped here: it must outlive every CURVE socket (without it libzmq
  // admits any key), so it goes when the hub is destroyed, after the broker and publisher.
}

Hub::~Hub() { Shutdown(); }

}  // namespace taxhub::app
