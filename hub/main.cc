// taxhub: the hub daemon.
//   taxhub serve --config FILE     run the hub (production: PostgreSQL DSN in the config)
//   taxhub dev [--config FILE]     hub + sample adapters + a simulated clerk in one process,
//                                  SQLite under ./var/dev; --curve: CurveZMQ on (the config's
//                                  curve section), keys under var/dev/keys made if missing
//   taxhub check-config FILE       validate a hub config (and its routes file) or a routes file
//                                  without starting anything
//   taxhub verify-ledger --config FILE
//                                  walk every event chain, checkpoint and stored signature;
//                                  exit 1 naming the first tampered row
// SIGTERM or SIGINT drains (no new requests, tasks that are out come back) and exits 0.
// SIGHUP reloads the routes file, validated completely, then swapped in; requests under way
// keep the plan they started with. With CURVE on it also reads the peers' key files again.

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "hub/app/config.h"
#include "hub/admin/admin_server.h"
#include "hub/admin/tokens.h"
#include "hub/app/dev.h"
#include "hub/app/hub.h"
#include "hub/app/verify_ledger.h"
#include "hub/base/log.h"
#include "hub/security/curve_keys.h"

namespace {

using namespace taxhub;

int Usage() {
  std::cerr << "usage: taxhub serve --config FILE\n"
               "       taxhub dev [--config FILE] [--curve]   --curve: CurveZMQ on, keys under\n"
               "                                  the config's keys dir (var/dev/keys), made if missing\n"
               "       taxhub check-config FILE\n"
               "       taxhub verify-ledger --config FILE\n"
               "       taxhub keygen [--dir DIR] NAME …   CurveZMQ key pairs: DIR/NAME.pub (Z85, to\n"
               "                             hand out) and DIR/NAME.key (0600); never overwrites\n"
               "       taxhub demo-pki DIR   the demo CA and taxpayer keys of taxhub dev, for\n"
               "                             trials and benchmarks (DIR/ca.pem, DIR/taxpayers/)\n";
  return 2;
}

sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads started later inherit the mask
  return signals;
}

int Run(const std::string& config_file, bool dev, bool curve = false) {
  sigset_t signals = BlockSignals();
  auto config = app::LoadHubConfig(config_file);
  if (!config) {
    std::cerr << "taxhub: " << config.error().message() << "\n";
    return 1;
  }
  SetLogLevel(config->log_level);
  if (curve) {
    if (config->curve.peers.empty()) {
      std::cerr << "taxhub dev --curve: " << config_file << " has no curve section listing the peers\n";
      return 1;
    }
    config->curve.enabled = true;
  }
  if (dev && config->curve.enabled) {
    if (Status keys = app::EnsureDevCurveKeys(config->curve); !keys.ok()) {
      std::cerr << "taxhub dev: CURVE keys: " << keys.ToString() << "\n";
      return 1;
    }
  }
  if (dev && config->security.dev_pki) {
    Status pki = app::EnsureDevPki(config->data_dir + "/pki", app::DevTaxpayers());
    if (!pki.ok()) {
      std::cerr << "taxhub: demo PKI: " << pki.ToString() << "\n";
      return 1;
    }
  }
  SystemClock clock;
  auto hub = app::Hub::Open(*config, clock);
  if (!hub) {
    std::cerr << "taxhub: cannot start: " << hub.error().ToString() << "\n";
    return 1;
  }
  (*hub)->Start();
  std::unique_ptr<admin::AdminServer> admin_server;
  if (config->admin.enabled) {
    if (dev) {
      if (Status key = admin::TokenKey::CreateIfMissing(config->admin.token_key); !key.ok()) {
        std::cerr << "taxhub: admin token key: " << key.ToString() << "\n";
        (*hub)->Shutdown();
        return 1;
      }
    }
    auto started = admin::AdminServer::Start(**hub, clock);
    if (!started) {
      std::cerr << "taxhub: " << started.error().ToString() << "\n";
      (*hub)->Shutdown();
      return 1;
    }
    admin_server = std::move(*started);
  }
  std::unique_ptr<app::DevAdapters> adapters;
  std::unique_ptr<app::DevClerk> clerk;
  std::unique_ptr<app::DevProcesses> processes;
  if (dev) {
    char self[4096] = {};
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    const std::string bin = n > 0 ? std::filesystem::path(std::string(self, n)).parent_path().string() : ".";
    processes = std::make_unique<app::DevProcesses>(
        *config, StringMap{{"data_dir", config->data_dir}, {"config_dir", config->config_dir}, {"bin", bin},
                           {"frontend", (*hub)->frontend_endpoint()}, {"backend", (*hub)->backend_endpoint()},
                           {"hub_id", config->hub_id}, {"events", config->events.publish}});
    if (Status started = processes->Start(); !started.ok()) {
      std::cerr << "taxhub dev: " << started.ToString() << "\n";
      processes->Stop();
      (*hub)->Shutdown();
      return 1;
    }
    auto created = app::DevAdapters::Create(*config, (*hub)->backend_endpoint());
    if (!created) {
      std::cerr << "taxhub dev: " << created.error().ToString() << "\n";
      processes->Stop();
      (*hub)->Shutdown();
      return 1;
    }
    adapters = std::move(*created);
    adapters->Start();
    clerk = std::make_unique<app::DevClerk>(**hub, config->dev_clerk);
    clerk->Start();
  }
  std::cout << "taxhub " << (dev ? "dev" : "serve") << ": " << config->hub_id << " up\n"
            << "  frontend (hall clients, MDPC01): " << (*hub)->frontend_endpoint() << "\n"
            << "  backend (adapter workers, MDPW01): " << (*hub)->backend_endpoint() << "\n"
            << "  ledger: " << config->ledger.backend
            << (config->ledger.backend == "sqlite" ? " " + config->ledger.sqlite.path : "") << "\n"
            << "  routes: " << config->routes->size() << " from " << config->routes_file << "\n";
  if (!(*hub)->events_endpoint().empty()) {
    std::cout << "  events (PUB, stream " << config->hub_id << "): " << (*hub)->events_endpoint() << "\n";
  }
  if (admin_server) {
    std::cout << "  admin endpoint: " << (admin_server->https() ? "https" : "http") << "://" << config->admin.listen_host
              << ":" << admin_server->port() << " (tokens: taxhubctl token --key " << config->admin.token_key << ")\n";
  }
  if (adapters) std::cout << "  sample adapters: " << adapters->size() << " services\n";
  if (processes && processes->size() > 0) {
    std::cout << "  processes: " << processes->size() << " (logs in " << config->data_dir << ")\n";
  }
  if (config->curve.enabled) {
    std::cout << "  CURVE: on, " << config->curve.peers.size() << " peers allowed, keys in " << config->curve.keys_dir
              << "\n";
  }
  if (config->security.enabled) {
    std::cout << "  signatures: " << (config->security.require_signatures ? "required" : "checked if present")
              << ", CAs from " << config->security.ca_bundle << "\n";
  }
  std::cout.flush();

  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
    auto version = (*hub)->ReloadRoutes();
    if (!version) std::cerr << "taxhub: routes not reloaded: " << version.error().message() << "\n";
    if (config->curve.enabled) {
      auto keys = (*hub)->ReloadPeerKeys();
      if (!keys) std::cerr << "taxhub: CURVE peer keys not reloaded: " << keys.error().message() << "\n";
    }
  }
  TAXHUB_LOG(kInfo, "hub") << "signal " << strsignal(signal) << ": draining";
  if (clerk) clerk->Stop();
  if (admin_server) admin_server->Stop();
  (*hub)->Shutdown();
  if (adapters) adapters->Stop();
  if (processes) processes->Stop();
  const auto& counters = (*hub)->engine_counters();
  std::cout << "taxhub: stopped; accepted " << counters.accepted << ", completed "
            << counters.completed << ", dispatched " << counters.dispatched << "\n";
  return 0;
}

// A routes file has a top-level `routes:` list; a hub config names its routes file.
int CheckConfig(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  bool routes_file = false;
  while (std::getline(in, line)) {
    if (line.rfind("routes:", 0) == 0) {
      routes_file = line.find_first_not_of(" \t", 7) == std::string::npos;  // a list follows
      break;
    }
  }
  if (routes_file) {
    auto table = routing::LoadRouteTable(file);
    if (!table) {
      std::cerr << table.error().message() << "\n";
      return 1;
    }
    std::cout << file << ": OK (" << (*table)->size() << " routes, "
              << (*table)->passthrough().size() << " pass-through services)\n";
    return 0;
  }
  auto config = app::LoadHubConfig(file);
  if (!config) {
    std::cerr << config.error().message() << "\n";
    return 1;
  }
  std::cout << file << ": OK (ledger " << config->ledger.backend << "; "
            << config->routes->size() << " routes from " << config->routes_file << ")\n";
  return 0;
}

int VerifyLedgerCommand(const std::string& file) {
  auto config = app::LoadHubConfig(file);
  if (!config) {
    std::cerr << "taxhub: " << config.error().message() << "\n";
    return 2;
  }
  auto ledger = app::OpenLedger(*config, /*read_only=*/true);
  if (!ledger) {
    std::cerr << "taxhub: cannot open the ledger: " << ledger.error().ToString() << "\n";
    return 2;
  }
  std::unique_ptr<security::SignatureVerifier> verifier;
  if (config->security.enabled && !config->security.ca_bundle.empty()) {
    auto loaded = security::SignatureVerifier::Load(config->security.ca_bundle,
                                                    config->security.crl_files);
    if (loaded) verifier = std::move(*loaded);
  }
  app::VerifyLedgerOptions options;
  options.verifier = verifier.get();
  auto report = app::VerifyLedger(**ledger, options);
  if (!report) {
    std::cerr << "taxhub: verification could not run: " << report.error().ToString() << "\n";
    return 2;
  }
  std::cout << "verify-ledger: " << report->chains << " chains, " << report->events << " events, "
            << report->checkpoints << " signed checkpoints, " << report->requests
            << " requests, " << report->signatures << " taxpayer signatures verified again\n";
  if (report->ok()) {
    std::cout << "ledger OK\n";
    return 0;
  }
  std::cout << "ledger NOT OK: " << report->problems.front() << "\n";
  for (size_t i = 1; i < report->problems.size(); ++i) {
    std::cout << "  also: " << report->problems[i] << "\n";
  }
  return 1;
}

int Keygen(const std::vector<std::string>& args) {
  std::string dir = ".";
  std::vector<std::string> names;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--dir" && i + 1 < args.size()) {
      dir = args[++i];
    } else if (!args[i].empty() && args[i][0] == '-') {
      return Usage();
    } else {
      names.push_back(args[i]);
    }
  }
  if (names.empty()) return Usage();
  for (const std::string& name : names) {
    if (Status written = security::WriteCurveKeyPair(dir, name); !written.ok()) {
      std::cerr << "taxhub keygen: " << written.ToString() << "\n";
      return 1;
    }
    std::cout << dir << "/" << name << ".pub  " << dir << "/" << name << ".key\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage();
  const std::string command = args[0];
  if (command == "keygen") return Keygen(args);
  std::string config_file;
  bool curve = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_file = args[++i];
    } else if (args[i] == "--curve" && command == "dev") {
      curve = true;
    } else if ((command == "check-config" || command == "demo-pki") && config_file.empty()) {
      config_file = args[i];
    } else {
      return Usage();
    }
  }
  if (command == "serve") return config_file.empty() ? Usage() : Run(config_file, false);
  if (command == "dev") return Run(config_file.empty() ? "config/dev.yaml" : config_file, true, curve);
  if (command == "check-config") return config_file.empty() ? Usage() : CheckConfig(config_file);
  if (command == "demo-pki") {
    if (config_file.empty()) return Usage();
    Status pki = app::EnsureDevPki(config_file, app::DevTaxpayers());
    if (!pki.ok()) std::cerr << "taxhub: demo PKI: " << pki.ToString() << "\n";
    return pki.ok() ? 0 : 1;
  }
  if (command == "verify-ledger") {
    return config_file.empty() ? Usage() : VerifyLedgerCommand(config_file);
  }
  return Usage();
}
