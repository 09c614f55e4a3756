// taxhub-adapter-tips: pays tax due through TIPS for the hub.
//   taxhub-adapter-tips --legacy HOST:PORT --key BUREAU.key --bank-cert BANK.pem
//       [--service tips.pay] [--node 132120000000] [--endpoint tcp://127.0.0.1:5556]
//       [--workers 4] [--timeout MS] [--heartbeat MS]

#include <iostream>
#include <memory>
#include <vector>

#include "adapters/sdk/process.h"
#include "adapters/tips/tips_handler.h"
#include "hub/base/log.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  tips::TipsOptions options;
  std::string endpoint = "tcp://127.0.0.1:5556", key_file, bank_file;
  std::vector<std::string> services;
  int workers = 4;
  int64_t heartbeat_ms = 2500;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--legacy") {
      std::string hp = value();
      size_t colon = hp.rfind(':');
      if (colon == std::string::npos) return 2;
      options.host = hp.substr(0, colon);
      options.port = std::stoi(hp.substr(colon + 1));
    } else if (arg == "--key") key_file = value();
    else if (arg == "--bank-cert") bank_file = value();
    else if (arg == "--service") services.push_back(value());
    else if (arg == "--node") options.node = value();
    else if (arg == "--endpoint") endpoint = value();
    else if (arg == "--workers") workers = std::stoi(value());
    else if (arg == "--timeout") options.timeout_ms = std::stoi(value());
    else if (arg == "--heartbeat") heartbeat_ms = std::stoll(value());
    else return 2;
  }
  if (services.empty()) services.push_back("tips.pay");
  auto key = security::PrivateKey::LoadPemFile(key_file);
  auto bank = security::Certificate::LoadPemFile(bank_file);
  if (options.port == 0 || !key || !bank) {
    std::cerr << "usage: taxhub-adapter-tips --legacy HOST:PORT --key BUREAU.key --bank-cert BANK.pem\n"
                 "       [--service tips.pay] [--node 12 digits] [--endpoint EP] [--workers N]\n"
                 "       [--timeout MS] [--heartbeat MS]\n";
    if (!key) std::cerr << key.error().ToString() << "\n";
    if (!bank) std::cerr << bank.error().ToString() << "\n";
    return 2;
  }
  options.key = std::make_shared<const security::PrivateKey>(*key);
  options.bank = std::make_shared<const security::Certificate>(bank->front());
  const sigset_t signals = sdk::BlockStopSignals();
  tips::TipsHandler handler(options);
  TAXHUB_LOG(kInfo, "tips") << "paying through TIPS at " << options.host << ":" << options.port;
  sdk::ServeUntilStopped(sdk::AdapterProcess{endpoint, services, workers, heartbeat_ms}, handler,
                         signals);
  return 0;
}
