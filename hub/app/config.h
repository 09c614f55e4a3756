// The hub's configuration, read strictly from YAML (config/hub.yaml, config/dev.yaml): an
// unknown key or a bad value stops start-up naming the file, line and key.
#ifndef TAXHUB_HUB_APP_CONFIG_H_
#define TAXHUB_HUB_APP_CONFIG_H_

#include <string>
#include <vector>

#include "hub/base/log.h"
#include "hub/base/status.h"
#include "hub/broker/broker.h"
#include "hub/ledger/ledger.h"
#include "hub/workflow/engine.h"
#include "routing/route_table.h"

#include "hub/obligations/calendar.h"

namespace taxhub::app {

struct LedgerConfig {
  std::string backend = "sqlite";  // sqlite | postgres
  std::string hash = "sha256";     // the event chain's hash: sha256 | sm3
  int64_t checkpoint_interval_ms = 60'000;
  ledger::SqliteOptions sqlite;    // path resolved against hub.data_dir
  ledger::PostgresOptions postgres;
};

// The event stream (hub/events/publisher.h): published only when the config has an events
// section.
struct EventsConfig {
  bool enabled = false;
  std::string publish = "tcp://127.0.0.1:5557";
  int64_t heartbeat_ms = 1000;
  int send_hwm = 100'000;
  int send_buffer = 0;  // bytes; 0: the OS default
};

// The admin endpoint (hub/admin): HTTP(S) on `listen`, bearer JWTs verified with `token_key`.
// Without an admin section there is none.
struct AdminConfig {
  bool enabled = false;
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;                  // 0: any free port (tests)
  int64_t max_body_bytes = 1 << 20;        // larger requests: 413
  int threads = 8;                         // the bounded pool serving requests
  int queue = 64;                          // connections waiting for a thread
  int64_t timeout_ms = 10'000;             // reading a request, writing an answer
  std::string tls_certificate;             // PEM; with tls_key, HTTPS only (TLS 1.2 or later)
  std::string tls_key;
  std::string token_key;                   // PEM EC P-256 key (public, or private) for ES256 tokens
  std::string token_issuer = "taxhub";
  std::string token_audience = "taxhub-admin";
};

// A sample adapter that `taxhub dev` runs inside the hub process.
struct DevAdapterConfig {
  std::string name;
  std::vector<std::string> services;
  int workers = 2;          // per service
  int64_t delay_ms = 20;    // simulated handling time
  double retry_rate = 0;    // share of tasks answered RETRY
  double reject_rate = 0;   // share of tasks answered REJECTED
  StringMap outputs;        // added to every result (e.g. tax_due)
};

// A program `taxhub dev` runs next to the hub — a stand-in, a real adapter, Kannel — started in
// list order after the hub is up and stopped (SIGTERM, then SIGKILL) in reverse order with it.
// In `command` and in file values, ${data_dir}, ${config_dir}, ${bin} (where the taxhub binary
// is), ${frontend} and ${backend} are replaced.
struct DevProcessConfig {
  std::string name;                  // also its log: data_dir/<name>.log
  std::vector<std::string> command;
  int64_t delay_ms = 0;              // wait before starting it (e.g. for a server it connects to)
};

// A file `taxhub dev` writes before starting the processes: `from` (a template, relative to
// the config file) with every @KEY@ replaced by values[KEY].
struct DevFileConfig {
  std::string from;
  std::string to;
  StringMap values;
};

// A simulated member of hall staff for `taxhub dev`: claims and approves every task in the
// route table's staff queues once it has waited `delay_ms`.
struct DevClerkConfig {
  bool enabled = false;
  std::string name = "dev-clerk";
  int64_t delay_ms = 300;
};

// Electronic signatures on submits (hub/security). Without a security section the hub verifies
// nothing and ignores signatures.
struct SecurityConfig {
  bool enabled = false;
  std::string ca_bundle;               // PEM CAs trusted for taxpayer certificates
  std::vector<std::string> crl_files;  // PEM CRLs, each signed by one of those CAs
  bool require_signatures = true;      // refuse unsigned submits
  int verify_threads = 0;              // 0: one per core
  bool dev_pki = false;                // taxhub dev: generate a demo CA and keys under data_dir/pki
  std::string hub_key;                 // the hub's own key and certificate (PEM), which sign
  std::string hub_certificate;         // the checkpoints of its event chain
};

// CurveZMQ on the frontend, backend and event sockets (hub/security/curve_auth.h): only the
// listed peers get in, each in its role. Key files as `taxhub keygen` writes them.
struct CurvePeerConfig {
  std::string name;
  security::PeerRole role = security::PeerRole::kHall;
  std::vector<std::string> services;  // adapters: what they may serve (names or prefix.*)
  std::string key_file;               // its NAME.pub; default: keys/NAME.pub
};

struct CurveConfig {
  bool enabled = false;
  std::string keys_dir;    // default: data_dir/keys
  std::string server_key;  // the hub's secret key file; default: keys/hub.key
  std::vector<CurvePeerConfig> peers;
};

struct HubConfig {
  std::string source;  // the file it came from
  std::string hub_id = "hub-1";
  std::string data_dir = "./var/hub";
  LogLevel log_level = LogLevel::kInfo;
  broker::BrokerOptions broker;
  LedgerConfig ledger;
  workflow::EngineOptions engine;
  std::string routes_file;  // resolved against the config file's directory
  std::shared_ptr<const routing::RouteTable> routes;
  SecurityConfig security;
  CurveConfig curve;
  EventsConfig events;
  AdminConfig admin;
  obligations::WorkCalendar calendar;  // the tax calendar; no holidays without a calendar section
  std::vector<DevAdapterConfig> dev_adapters;
  DevClerkConfig dev_clerk;
  std::vector<DevFileConfig> dev_files;
  std::vector<DevProcessConfig> dev_processes;
  std::string config_dir;  // the directory of the config file
};

// Reads the hub config and the routes file it names; an error in either names its file and line.
Result<HubConfig> LoadHubConfig(const std::string& file);
// The same over text in memory; `name` stands in for the file name in messages, and the routes
// file is looked up relative to `base_dir`.
Result<HubConfig> ParseHubConfig(const std::string& name, const std::string& text,
                                 const std::string& base_dir = ".");

}  // namespace taxhub::app

#endif  // TAXHUB_HUB_APP_CONFIG_H_
