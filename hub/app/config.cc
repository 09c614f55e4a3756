#include "hub/app/config.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "hub/base/text.h"
#include "hub/base/yaml_reader.h"
#include "hub/broker/mdp.h"

namespace taxhub::app {
namespace {

bool Reserved(const std::string& service) {
  return service.starts_with("mmi.") || service.starts_with("taxhub.");
}

void ParseHub(const ConfigNode& node, HubConfig& config) {
  config.hub_id = node.String("id", config.hub_id);
  if (config.hub_id.empty() || config.hub_id.size() > 32 || !IsTokenText(config.hub_id, "_-")) {
    node.Fail("id", "must be 1-32 characters of A-Z a-z 0-9 _ -");
  }
  config.data_dir = node.String("data_dir", config.data_dir);
  std::string level = node.String("log_level", "info");
  auto parsed = ParseLogLevel(level);
  if (!parsed) node.Fail("log_level", parsed.error().message() + ", got \"" + level + "\"");
  config.log_level = *parsed;
  node.Finish();
}

void ParseBroker(const ConfigNode& node, broker::BrokerOptions& b) {
  b.frontend = node.String("frontend", b.frontend);
  b.backend = node.String("backend", b.backend);
  b.heartbeat_ms = node.DurationMs("heartbeat", b.heartbeat_ms);
  if (b.heartbeat_ms < 100) node.Fail("heartbeat", "must be at least 100ms");
  b.liveness = static_cast<int>(node.Int("liveness", b.liveness, 1, 100));
  b.max_body_bytes = node.Bytes("max_body", b.max_body_bytes);
  b.socket_max_message_bytes = node.Bytes("socket_max_message", b.socket_max_message_bytes);
  if (b.max_body_bytes < 1024) node.Fail("max_body", "must be at least 1KiB");
  if (b.socket_max_message_bytes < b.max_body_bytes) {
    node.Fail("socket_max_message", "must be at least max_body");
  }
  b.passthrough_queue_limit =
      static_cast<int>(node.Int("passthrough_queue", b.passthrough_queue_limit, 1, 1'000'000));
  b.max_in_flight_per_client =
      static_cast<int>(node.Int("max_in_flight_per_client", b.max_in_flight_per_client, 1, 1'000'000));
  node.Finish();
}

void ParseEvents(const ConfigNode& node, EventsConfig& e) {
  e.enabled = true;
  e.publish = node.String("publish", e.publish);
  e.heartbeat_ms = node.DurationMs("heartbeat", e.heartbeat_ms);
  if (e.heartbeat_ms < 50) node.Fail("heartbeat", "must be at least 50ms");
  // Events past a slow subscriber's queue are dropped for it; it replays them from the ledger.
  e.send_hwm = static_cast<int>(node.Int("send_hwm", e.send_hwm, 1, 100'000'000));
  e.send_buffer = static_cast<int>(node.Bytes("send_buffer", e.send_buffer));
  node.Finish();
}

std::string Resolve(const std::string& path, const std::string& base_dir);

void ParseAdmin(const ConfigNode& node, AdminConfig& a, const std::string& base_dir, const std::string& data_dir) {
  a.enabled = true;
  const std::string listen = node.String("listen", a.listen_host + ":" + std::to_string(a.listen_port));
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) node.Fail("listen", "expected HOST:PORT, got \"" + listen + "\"");
  a.listen_host = listen.substr(0, colon);
  try {
    size_t used = 0;
    a.listen_port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || a.listen_port < 0 || a.listen_port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    node.Fail("listen", "expected HOST:PORT, got \"" + listen + "\"");
  }
  a.max_body_bytes = node.Bytes("max_body", a.max_body_bytes);
  if (a.max_body_bytes < 1024) node.Fail("max_body", "must be at least 1KiB");
  a.threads = static_cast<int>(node.Int("threads", a.threads, 1, 256));
  a.queue = static_cast<int>(node.Int("queue", a.queue, 1, 10'000));
  a.timeout_ms = node.DurationMs("timeout", a.timeout_ms);
  if (a.timeout_ms < 100) node.Fail("timeout", "must be at least 100ms");
  a.tls_certificate = Resolve(node.String("tls_certificate", ""), base_dir);
  a.tls_key = Resolve(node.String("tls_key", ""), base_dir);
  if (a.tls_certificate.empty() != a.tls_key.empty()) {
    node.Fail(a.tls_certificate.empty() ? "tls_certificate" : "tls_key", "tls_certificate and tls_key go together");
  }
  // Given: relative to the config file; by default in the data directory (dev mode makes it).
  a.token_key = node.Has("token_key") ? Resolve(node.String("token_key"), base_dir) : data_dir + "/pki/admin-token.key";
  a.token_issuer = node.String("token_issuer", a.token_issuer);
  a.token_audience = node.String("token_audience", a.token_audience);
  node.Finish();
}

// calendar: {holidays: [2026-10-01, …], workdays: [2026-10-10, …], deadlines: {2026-10: 2026-10-26}}
void ParseCalendar(const ConfigNode& node, obligations::WorkCalendar& calendar) {
  auto days = [&](const char* key) {
    std::set<std::chrono::sys_days> out;
    if (auto list = node.OptionalChild(key)) {
      for (const ConfigNode& item : list->Items()) {
        auto date = obligations::ParseDate(item.AsString());
        if (!date) item.FailHere(date.error().message());
        out.insert(std::chrono::sys_days(*date));
      }
    }
    return out;
  };
  std::set<std::chrono::sys_days> holidays = days("holidays");
  std::set<std::chrono::sys_days> workdays = days("workdays");
  std::map<obligations::Month, obligations::Date> deadlines;
  if (auto published = node.OptionalChild("deadlines")) {
    for (auto& [month_text, value] : published->Entries()) {
      auto month = obligations::ParseMonth(month_text);
      if (!month) value.FailHere(month.error().message());
      auto date = obligations::ParseDate(value.AsString());
      if (!date) value.FailHere(date.error().message());
      deadlines[*month] = *date;
    }
  }
  node.Finish();
  calendar = obligations::WorkCalendar(std::move(holidays), std::move(workdays), std::move(deadlines));
}

void ParseLedger(const ConfigNode& node, LedgerConfig& l) {
  l.backend = node.String("backend", l.backend);
  if (l.backend != "sqlite" && l.backend != "postgres") {
    node.Fail("backend", "must be sqlite or postgres, got \"" + l.backend + "\"");
  }
  l.hash = node.String("hash", l.hash);
  if (l.hash != "sha256" && l.hash != "sm3") node.Fail("hash", "must be sha256 or sm3");
  l.checkpoint_interval_ms = node.DurationMs("checkpoint_interval", l.checkpoint_interval_ms);
  if (l.checkpoint_interval_ms < 100) node.Fail("checkpoint_interval", "must be at least 100ms");
  l.sqlite.path = "ledger.db";
  if (auto sqlite = node.OptionalChild("sqlite")) {
    l.sqlite.path = sqlite->String("path", l.sqlite.path);
    l.sqlite.synchronous = sqlite->String("synchronous", l.sqlite.synchronous);
    static const std::set<std::string> kModes = {"off", "normal", "full", "extra"};
    if (!kModes.contains(l.sqlite.synchronous)) {
      sqlite->Fail("synchronous", "must be off, normal, full or extra");
    }
    l.sqlite.busy_timeout_ms = static_cast<int>(
        sqlite->DurationMs("busy_timeout", l.sqlite.busy_timeout_ms));
    sqlite->Finish();
  }
  if (auto postgres = node.OptionalChild("postgres")) {
    l.postgres.dsn = postgres->String("dsn", "");
    postgres->Finish();
  }
  if (l.backend == "postgres" && l.postgres.dsn.empty()) {
    node.Fail("postgres", "needs a dsn when backend is postgres");
  }
  node.Finish();
}

void ParseEngine(const ConfigNode& node, workflow::EngineOptions& e) {
  e.batch_max = static_cast<int>(node.Int("batch_max", e.batch_max, 1, 100'000));
  e.tick_ms = node.DurationMs("tick", e.tick_ms);
  if (e.tick_ms < 10) node.Fail("tick", "must be at least 10ms");
  e.drain_timeout_ms = node.DurationMs("drain_timeout", e.drain_timeout_ms);
  e.gather_window_us = node.DurationUs("gather_window", e.gather_window_us);
  if (e.gather_window_us > 100'000) node.Fail("gather_window", "must be at most 100ms");
  e.gather_count = static_cast<int>(node.Int("gather_count", e.gather_count, 2, 100'000));
  if (e.gather_window_us > 0 && e.gather_count > e.batch_max) {
    node.Fail("gather_count", "must be at most batch_max, or a batch would always wait out the window");
  }
  e.commit_behind = node.Bool("commit_behind", e.commit_behind);
  node.Finish();
}

void ParseReminders(const ConfigNode& node, workflow::EngineOptions& e) {
  e.reminder_days_before = static_cast<int>(node.Int("days_before", e.reminder_days_before, 0, 60));
  e.reminder_interval_ms = node.DurationMs("interval", e.reminder_interval_ms);
  if (e.reminder_interval_ms != 0 && e.reminder_interval_ms < 50) node.Fail("interval", "must be at least 50ms (0: off)");
  node.Finish();
}

// notices: [{name, title, text, taxpayer_types: [general], industries: ["51"], from: 2026-11-01,
//            until: 2026-12-31}]  — dates are China midnight; until is exclusive.
void ParseNotices(const ConfigNode& list, std::vector<workflow::PolicyNotice>& notices) {
  auto midnight = [](const ConfigNode& item, const char* key) -> int64_t {
    if (!item.Has(key)) return 0;
    auto date = obligations::ParseDate(item.String(key));
    if (!date) item.Fail(key, date.error().message());
    return (std::chrono::sys_days(*date).time_since_epoch() - std::chrono::hours(8)) / std::chrono::milliseconds(1);
  };
  for (const ConfigNode& item : list.Items()) {
    workflow::PolicyNotice n;
    n.name = item.String("name");
    n.title = item.String("title");
    n.text = item.String("text", "");
    for (const auto& t : item.StringList("taxpayer_types")) n.taxpayer_types.insert(t);
    for (const auto& i : item.StringList("industries")) n.industries.insert(i);
    n.from_ms = midnight(item, "from");
    n.until_ms = midnight(item, "until");
    item.Finish();
    notices.push_back(std::move(n));
  }
}

// risk: [{name, type: zero_run | above_history | rejections, title, text, kind, output, months,
//         min_history, factor, min_value, count, days}]  — see hub/obligations/risk.h.
void ParseRisk(const ConfigNode& list, std::vector<obligations::RiskRule>& rules) {
  using Type = obligations::RiskRule::Type;
  static const std::map<std::string, Type> kTypes = {
      {"zero_run", Type::kZeroRun}, {"above_history", Type::kAboveHistory}, {"rejections", Type::kRejections}};
  std::set<std::string> names;
  for (const ConfigNode& item : list.Items()) {
    obligations::RiskRule r;
    r.name = item.String("name");
    if (!IsTokenText(r.name, "_-.") || r.name.size() > 64) item.Fail("name", "must be 1-64 of [A-Za-z0-9_-.]");
    if (!names.insert(r.name).second) item.Fail("name", "\"" + r.name + "\" is used twice");
    const std::string type = item.String("type");
    auto t = kTypes.find(type);
    if (t == kTypes.end()) item.Fail("type", "must be zero_run, above_history or rejections");
    r.type = t->second;
    r.title = item.String("title");
    r.text = item.String("text");
    StringMap placeholders = {{"period", "x"}, {"months", "x"}, {"value", "x"}, {"from", "x"}};
    if (r.type == Type::kRejections) {
      r.count = static_cast<int>(item.Int("count", r.count, 1, 1000));
      r.days = static_cast<int>(item.Int("days", r.days, 1, 366));
      placeholders = {{"period", "x"}, {"count", "x"}, {"days", "x"}};
    } else {
      r.kind = item.String("kind");
      r.output = item.String("output");
      r.months = static_cast<int>(item.Int("months", r.months, 1, 36));
      if (r.type == Type::kAboveHistory) {
        r.min_history = static_cast<int>(item.Int("min_history", std::min(r.min_history, r.months), 1, r.months));
        r.factor = item.Double("factor", r.factor, 1.0, 1e6);
        r.min_value = item.Double("min_value", r.min_value, 0, 1e15);
        placeholders.erase("from");
        placeholders.insert({{"mean", "x"}, {"history", "x"}});
      }
    }
    if (auto rendered = RenderTemplate(r.text, placeholders); !rendered) {
      item.Fail("text", rendered.error().field() == "template"
                            ? rendered.error().message()
                            : "{" + rendered.error().field() + "} is not a placeholder of a " + type + " rule");
    }
    item.Finish();
    rules.push_back(std::move(r));
  }
}

void ParseLimits(const ConfigNode& node, wire::CodecLimits& l) {
  l.max_message_bytes = node.Bytes("thrift_max_message", l.max_message_bytes);
  l.max_string_bytes = static_cast<int32_t>(node.Bytes("thrift_max_string", l.max_string_bytes));
  l.max_container_items =
      static_cast<int32_t>(node.Int("thrift_max_container", l.max_container_items, 1, 1 << 24));
  l.max_depth = static_cast<int32_t>(node.Int("thrift_max_depth", l.max_depth, 2, 64));
  if (l.max_message_bytes > (int64_t{1} << 30)) node.Fail("thrift_max_message", "must be at most 1GiB");
  node.Finish();
}

std::string Resolve(const std::string& path, const std::string& base_dir) {
  return path.empty() || path.front() == '/' ? path : base_dir + "/" + path;
}

void ParseSecurity(const ConfigNode& node, HubConfig& config, const std::string& base_dir) {
  SecurityConfig& s = config.security;
  s.enabled = true;
  s.dev_pki = node.Bool("dev_pki", false);
  s.ca_bundle = Resolve(node.String("ca_bundle", ""), base_dir);
  if (s.dev_pki && s.ca_bundle.empty()) s.ca_bundle = config.data_dir + "/pki/ca.pem";
  for (const auto& crl : node.StringList("crl")) s.crl_files.push_back(Resolve(crl, base_dir));
  s.require_signatures = node.Bool("require_signatures", s.require_signatures);
  s.hub_key = Resolve(node.String("hub_key", ""), base_dir);
  s.hub_certificate = Resolve(node.String("hub_certificate", ""), base_dir);
  if (s.dev_pki && s.hub_key.empty()) {
    s.hub_key = config.data_dir + "/pki/hub.key";
    s.hub_certificate = config.data_dir + "/pki/hub.pem";
  }
  if (s.hub_key.empty() != s.hub_certificate.empty()) {
    node.Fail(s.hub_key.empty() ? "hub_key" : "hub_certificate",
              "hub_key and hub_certificate go together");
  }
  s.verify_threads = static_cast<int>(node.Int("verify_threads", 0, 0, 256));
  if (s.require_signatures && s.ca_bundle.empty()) {
    node.Fail("ca_bundle", "is needed to require signatures (or set dev_pki in dev mode)");
  }
  node.Finish();
}

void ParseCurve(const ConfigNode& node, HubConfig& config, const std::string& base_dir) {
  CurveConfig& c = config.curve;
  c.enabled = node.Bool("enabled", true);
  c.keys_dir = node.Has("keys") ? Resolve(node.String("keys"), base_dir) : config.data_dir + "/keys";
  c.server_key = node.Has("server_key") ? Resolve(node.String("server_key"), base_dir) : c.keys_dir + "/hub.key";
  std::set<std::string> names;
  if (auto peers = node.OptionalChild("peers")) {
    for (const ConfigNode& item : peers->Items()) {
      CurvePeerConfig p;
      p.name = item.String("name");
      if (p.name.empty() || !IsTokenText(p.name, "._-")) item.Fail("name", "must be letters, digits, . _ or -");
      if (!names.insert(p.name).second) item.Fail("name", "is listed twice");
      if (p.name == std::filesystem::path(c.server_key).stem().string()) {
        item.Fail("name", "is the hub's own key pair's name");
      }
      auto role = security::ParsePeerRole(item.String("role"));
      if (!role) item.Fail("role", role.error().message());
      p.role = *role;
      p.services = item.StringList("services");
      if (p.role == security::PeerRole::kAdapter && p.services.empty()) {
        item.Fail("services", "an adapter needs the services it may serve");
      }
      if (p.role != security::PeerRole::kAdapter && !p.services.empty()) {
        item.Fail("services", "only adapters are given services");
      }
      for (const auto& service : p.services) {
        const std::string name = service.ends_with(".*") ? service.substr(0, service.size() - 2) : service;
        if (!mdp::IsValidServiceName(name) || Reserved(service)) item.Fail("services", "bad service " + service);
      }
      p.key_file = item.Has("key") ? Resolve(item.String("key"), base_dir) : c.keys_dir + "/" + p.name + ".pub";
      item.Finish();
      c.peers.push_back(std::move(p));
    }
  }
  if (c.peers.empty()) node.Fail("peers", "lists who may connect; with none, nobody could");
  node.Finish();
}

void ParseDev(const ConfigNode& node, HubConfig& config, const std::string& base_dir) {
  std::vector<DevAdapterConfig>& adapters = config.dev_adapters;
  if (auto list = node.OptionalChild("adapters")) {
    for (const ConfigNode& item : list->Items()) {
      DevAdapterConfig a;
      a.name = item.String("name");
      a.services = item.StringList("services");
      if (a.services.empty()) item.Fail("services", "needs at least one service");
      for (const auto& s : a.services) {
        if (!mdp::IsValidServiceName(s) || Reserved(s)) item.Fail("services", "bad service " + s);
      }
      a.workers = static_cast<int>(item.Int("workers", a.workers, 1, 256));
      a.delay_ms = item.DurationMs("delay", a.delay_ms);
      a.retry_rate = item.Double("retry_rate", 0, 0, 1);
      a.reject_rate = item.Double("reject_rate", 0, 0, 1);
      if (auto outputs = item.OptionalChild("outputs")) {
        for (auto& [key, value] : outputs->Entries()) a.outputs[key] = value.AsString();
      }
      item.Finish();
      adapters.push_back(std::move(a));
    }
  }
  if (auto files = node.OptionalChild("files")) {
    for (const ConfigNode& item : files->Items()) {
      DevFileConfig f;
      f.from = Resolve(item.String("from"), base_dir);
      f.to = item.String("to");
      if (auto values = item.OptionalChild("values")) {
        for (auto& [key, value] : values->Entries()) f.values[key] = value.AsString();
      }
      item.Finish();
      config.dev_files.push_back(std::move(f));
    }
  }
  if (auto processes = node.OptionalChild("processes")) {
    std::set<std::string> names;
    for (const ConfigNode& item : processes->Items()) {
      DevProcessConfig p;
      p.name = item.String("name");
      if (p.name.empty() || !IsTokenText(p.name, "._-")) item.Fail("name", "must be letters, digits, . _ or -");
      if (!names.insert(p.name).second) item.Fail("name", "is used twice");
      p.command = item.StringList("command");
      if (p.command.empty()) item.Fail("command", "needs the program and its arguments");
      p.delay_ms = item.DurationMs("delay", 0);
      item.Finish();
      config.dev_processes.push_back(std::move(p));
    }
  }
  if (auto clerk = node.OptionalChild("clerk")) {
    config.dev_clerk.enabled = clerk->Bool("enabled", true);
    config.dev_clerk.name = clerk->String("name", config.dev_clerk.name);
    config.dev_clerk.delay_ms = clerk->DurationMs("delay", config.dev_clerk.delay_ms);
    clerk->Finish();
  }
  node.Finish();
}

void Parse(ConfigNode& root, HubConfig& config, const std::string& base_dir) {
  if (auto n = root.OptionalChild("hub")) ParseHub(*n, config);
  if (auto n = root.OptionalChild("broker")) ParseBroker(*n, config.broker);
  if (auto n = root.OptionalChild("ledger")) ParseLedger(*n, config.ledger);
  if (auto n = root.OptionalChild("engine")) ParseEngine(*n, config.engine);
  if (auto n = root.OptionalChild("limits")) ParseLimits(*n, config.engine.limits);
  if (auto n = root.OptionalChild("reminders")) ParseReminders(*n, config.engine);
  if (auto n = root.OptionalChild("notices")) ParseNotices(*n, config.engine.notices);
  if (auto n = root.OptionalChild("risk")) ParseRisk(*n, config.engine.risk_rules);
  config.routes_file = Resolve(root.String("routes"), base_dir);
  if (auto n = root.OptionalChild("security")) ParseSecurity(*n, config, base_dir);
  if (auto n = root.OptionalChild("curve")) ParseCurve(*n, config, base_dir);
  if (auto n = root.OptionalChild("events")) ParseEvents(*n, config.events);
  if (auto n = root.OptionalChild("admin")) ParseAdmin(*n, config.admin, base_dir, config.data_dir);
  if (auto n = root.OptionalChild("calendar")) ParseCalendar(*n, config.calendar);
  if (auto n = root.OptionalChild("dev")) ParseDev(*n, config, base_dir);
  config.config_dir = base_dir;
  root.Finish();
  config.engine.hub_id = config.hub_id;
  if (config.ledger.sqlite.path.empty()) config.ledger.sqlite.path = "ledger.db";
  if (config.ledger.sqlite.path.front() != '/') {
    config.ledger.sqlite.path = config.data_dir + "/" + config.ledger.sqlite.path;
  }
}

}  // namespace

Result<HubConfig> ParseHubConfig(const std::string& name, const std::string& text,
                                 const std::string& base_dir) {
  HubConfig config;
  config.source = name;
  Status status =
      ReadConfigText(name, text, [&](ConfigNode& root) { Parse(root, config, base_dir); });
  if (!status.ok()) return Error(status);
  auto routes = routing::LoadRouteTable(config.routes_file);
  if (!routes) return Error(routes.error());
  config.routes = std::move(*routes);
  return config;
}

Result<HubConfig> LoadHubConfig(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Error(ErrorCode::kNotFound, file + ": cannot open config file");
  std::stringstream text;
  text << in.rdbuf();
  std::string dir = std::filesystem::path(file).parent_path().string();
  return ParseHubConfig(file, text.str(), dir.empty() ? "." : dir);
}

}  // namespace taxhub::app
