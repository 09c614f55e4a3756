// taxhub-adapter-tips: pays tax due through TIPS for the hub.
//   taxhub-adapter-tips --legacy HOST:PORT --key BUREAU.key --bank-cert BANK.pem
//       [--service tips.pay] [--node 132120000000] [--endpoint tcp://127.0.0.1:5556]
//       [--workers 4] [--timeout MS] [--heartbeat MS]

#include <iostream>
#include <memory>

#include "adapters/sdk/process.h"
#include "adapters/tips/tips_handler.h"
#include "hub/base/log.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  sdk::AdapterFlags flags;
  tips::TipsOptions options;
  std::string key_file, bank_file;
  Status parsed = sdk::ParseAdapterFlags(argc, argv, flags, [&](const std::string& flag, const auto& value) {
    if (flag == "--key") key_file = value();
    else if (flag == "--bank-cert") bank_file = value();
    else if (flag == "--node") options.node = value();
    else return false;
    return true;
  }, "tips");
  if (flags.process.services.empty()) flags.process.services.push_back("tips.pay");
  auto key = security::PrivateKey::LoadPemFile(key_file);
  auto bank = security::Certificate::LoadPemFile(bank_file);
  if (!parsed.ok() || flags.legacy_port == 0 || !key || !bank) {
    if (!parsed.ok()) std::cerr << "taxhub-adapter-tips: " << parsed.ToString() << "\n";
    std::cerr << "usage: taxhub-adapter-tips [--config FILE [--section NAME]] --legacy HOST:PORT --key BUREAU.key --bank-cert BANK.pem\n"
                 "       [--service tips.pay] [--node 12 digits] [--endpoint EP] [--workers N]\n"
                 "       [--timeout MS] [--heartbeat MS]\n";
    if (!key) std::cerr << key.error().ToString() << "\n";
    if (!bank) std::cerr << bank.error().ToString() << "\n";
    return 2;
  }
  options.host = flags.legacy_host;
  options.port = flags.legacy_port;
  options.timeout_ms = flags.timeout_ms;
  options.key = std::make_shared<const security::PrivateKey>(*key);
  options.bank = std::make_shared<const security::Certificate>(bank->front());
  const sigset_t signals = sdk::BlockStopSignals();
  tips::TipsHandler handler(options);
  TAXHUB_LOG(kInfo, "tips") << "paying through TIPS at " << options.host << ":" << options.port;
  sdk::ServeUntilStopped(flags.process, handler, signals);
  return 0;
}
