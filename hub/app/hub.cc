#include "hub/app/hub.h"

#include <atomic>
#include <filesystem>

#include "hub/base/log.h"

namespace taxhub::app {

Result<std::unique_ptr<ledger::Ledger>> OpenLedger(const HubConfig& config) {
  if (config.ledger.backend == "postgres") return ledger::OpenPostgresLedger(config.ledger.postgres);
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(config.ledger.sqlite.path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error(ErrorCode::kUnavailable, "cannot create " + dir.string() + ": " + ec.message());
  }
  return ledger::OpenSqliteLedger(config.ledger.sqlite);
}

Result<std::unique_ptr<Hub>> Hub::Open(HubConfig config, const Clock& clock) {
  static std::atomic<int> instances{0};
  std::unique_ptr<Hub> hub(new Hub(std::move(config), clock));
  const HubConfig& c = hub->config_;
  auto opened = OpenLedger(c);
  if (!opened) return Error(opened.error().WithContext("ledger"));
  hub->ledger_ = std::move(*opened);

  const std::string link = "inproc://taxhub-link-" + std::to_string(++instances);
  if (!c.routes) return Error(ErrorCode::kBadRequest, "no route table", "routes");
  hub->engine_ = std::make_unique<workflow::Engine>(hub->context_, link, *hub->ledger_,
                                                    hub->routes_, clock, c.engine);
  TAXHUB_RETURN_IF_ERROR(hub->engine_->Bind());
  TAXHUB_RETURN_IF_ERROR(hub->engine_->Recover());

  broker::BrokerOptions options = c.broker;
  options.hub_services = workflow::Engine::Services();
  hub->broker_ = std::make_unique<broker::Broker>(hub->context_, options, link, hub->routes_);
  TAXHUB_RETURN_IF_ERROR(hub->broker_->Bind());
  TAXHUB_LOG(kInfo, "hub") << c.hub_id << " ready: ledger " << hub->ledger_->backend() << ", "
                           << c.routes->size() << " routes from " << c.routes->source();
  return hub;
}

void Hub::Start() {
  engine_thread_ = std::thread([this] { engine_->Run(); });
  broker_thread_ = std::thread([this] { broker_->Run(); });
}

Result<int64_t> Hub::ReloadRoutes() {
  auto table = routing::LoadRouteTable(config_.routes_file);
  if (!table) {
    TAXHUB_LOG(kWarn, "hub") << "routes not reloaded: " << table.error().message();
    return Error(table.error());
  }
  auto version = engine_->RecordRoutes(**table);
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
    engine_->BeginDrain();
    engine_thread_.join();
  }
  if (broker_thread_.joinable()) {
    broker_->Stop();
    broker_thread_.join();
  }
}

Hub::~Hub() { Shutdown(); }

}  // namespace taxhub::app
