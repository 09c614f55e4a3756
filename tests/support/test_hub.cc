#include "tests/support/test_hub.h"

#include <chrono>

#include <zmq_addon.hpp>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace taxhub::testing {

const char* const kTestRoutes = R"(
defaults:
  retry: {max_attempts: 3, initial_backoff: 50ms, multiplier: 2, max_backoff: 500ms, attempt_timeout: 5s}
passthrough:
  - {service: t.echo, timeout: 1s}
routes:
  - name: filing
    match: {kind: filing.vat}
    stages:
      - {name: accept, label: 受理, service: t.accept, time_limit: 1h}
      - {name: verify, label: 核查, service: t.verify, time_limit: 4h}
      - {name: notify, label: 通知, service: t.notify, time_limit: 1h}
  - name: single
    match: {kind: single}
    stages:
      - {name: one, label: 受理, service: t.one, time_limit: 1m, retry: {max_attempts: 2}}
  - name: twice
    match: {kind: twice}
    stages:
      - {name: first, label: 受理, service: t.one, time_limit: 1m}
      - {name: second, label: 核查, service: t.one, time_limit: 1m}
)";

const char* const kE2eRoutes = R"(
defaults:
  retry: {initial_backoff: 100ms, max_backoff: 1s, attempt_timeout: 5s}
routes:
  - name: vat
    match: {kind: filing.vat}
    stages:
      - {name: accept, label: 受理, service: e.accept, time_limit: 1h}
      - {name: verify, label: 核查, service: e.verify, time_limit: 4h}
      - {name: notify, label: 通知, service: e.notify, time_limit: 1h}
)";

void WriteRoutes(const TempDir& dir, const std::string& routes) {
  std::ofstream(dir.File("routes.yaml")) << routes;
}

app::HubConfig TestHubConfig(const TempDir& dir, const std::string& backend,
                             const std::string& dsn, const std::string& routes) {
  app::HubConfig config;
  config.hub_id = "test-hub";
  config.data_dir = dir.path();
  config.log_level = LogLevel::kWarn;
  config.broker.frontend = "tcp://127.0.0.1:*";
  config.broker.backend = "tcp://127.0.0.1:*";
  config.broker.heartbeat_ms = 250;
  config.broker.liveness = 3;
  config.broker.max_body_bytes = 64 << 10;
  config.broker.socket_max_message_bytes = 256 << 10;
  config.ledger.backend = backend;
  config.ledger.sqlite.path = dir.File("ledger.db");
  config.ledger.postgres.dsn = dsn;
  config.engine.hub_id = config.hub_id;
  config.engine.tick_ms = 50;
  config.engine.drain_timeout_ms = 2000;
  config.engine.limits.max_message_bytes = 64 << 10;
  WriteRoutes(dir, routes);
  config.routes_file = dir.File("routes.yaml");
  auto table = routing::ParseRouteTable(config.routes_file, routes);
  if (!table) throw std::runtime_error("test routes: " + table.error().ToString());
  config.routes = *table;
  return config;
}

TestHub::TestHub(app::HubConfig config) {
  SetLogLevel(config.log_level);
  auto hub = app::Hub::Open(std::move(config), clock_);
  if (!hub) {
    status_ = hub.error();
    return;
  }
  hub_ = std::move(*hub);
  hub_->Start();
}

TestHub::~TestHub() { Shutdown(); }

wire::StageResult ScriptedHandler::Handle(const wire::StageTask& task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls_[task.task_id];
    tasks_.push_back(task);
    threads_[task.stage].insert(std::this_thread::get_id());
  }
  ++total_;
  return script_ ? script_(task) : Succeeded();
}

std::map<std::string, std::set<std::thread::id>> ScriptedHandler::ThreadsByStage() {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_;
}

std::set<std::thread::id> TestWorkers::IoThreads() const {
  std::set<std::thread::id> threads;
  for (const auto& pool : pools_) threads.insert(pool->io_thread());
  return threads;
}

int ScriptedHandler::CallsFor(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = calls_.find(task_id);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<wire::StageTask> ScriptedHandler::Tasks() {
  std::lock_guard<std::mutex> lock(mutex_);
  return tasks_;
}

wire::StageResult Succeeded(const std::string& handler) {
  wire::StageResult result;
  result.outcome = wire::StageOutcome::SUCCEEDED;
  result.handler = handler;
  return result;
}

TestWorkers::TestWorkers(const std::string& endpoint, const std::vector<std::string>& services,
                         sdk::Handler& handler, int concurrency,
                         std::optional<security::CurveClientKeys> curve) {
  for (const auto& service : services) {
    sdk::WorkerOptions options;
    options.endpoint = endpoint;
    options.service = service;
    options.concurrency = concurrency;
    options.heartbeat_ms = 250;
    options.liveness = 3;
    options.curve = curve;
    pools_.push_back(std::make_unique<sdk::WorkerPool>(options, handler));
    pools_.back()->Start();
  }
}

TestWorkers::~TestWorkers() { Stop(); }

void TestWorkers::Stop() {
  for (auto& pool : pools_) pool->Stop();
  pools_.clear();
}

EchoWorker::EchoWorker(const std::string& endpoint, const std::string& service) {
  thread_ = std::thread([this, endpoint, service] {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
    auto send = [&](std::vector<std::string> parts) {
      std::vector<zmq::message_t> frames;
      for (const auto& p : parts) frames.emplace_back(p.data(), p.size());
      zmq::send_multipart(socket, frames);
    };
    send({"", "MDPW01", "\x01", service});
    int64_t last_sent = MonotonicMs();
    while (!stopping_) {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      if (item.revents & ZMQ_POLLIN) {
        std::vector<zmq::message_t> frames;
        (void)zmq::recv_multipart(socket, std::back_inserter(frames));
        if (frames.size() >= 6 && frames[2].to_string() == "\x02") {
          send({"", "MDPW01", "\x03", frames[3].to_string(), "", "echo: " + frames[5].to_string()});
          last_sent = MonotonicMs();
        }
      }
      if (MonotonicMs() - last_sent >= 200) {
        send({"", "MDPW01", "\x04"});
        last_sent = MonotonicMs();
      }
    }
    send({"", "MDPW01", "\x05"});
  });
}

EchoWorker::~EchoWorker() {
  stopping_ = true;
  thread_.join();
}

bool Eventually(const std::function<bool()>& condition, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace taxhub::testing
