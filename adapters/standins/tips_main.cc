// taxhub-standin-tips: the treasury-tax-bank network and a bank, stood in for tests and dev.
//   taxhub-standin-tips --key BANK.key --tax-bureau-cert BUREAU.pem
//       [--account NUMBER:BALANCE_YUAN[:frozen] …] [--port N] [--delay MS] [--drop-answers]
//       [--drop-first N]   (the first N answers are lost after the work is done)
// Prints its port; on SIGTERM prints the debits it made.

#include <iostream>

#include "adapters/sdk/process.h"

#include "adapters/legacy/values.h"
#include "adapters/standins/tips_standin.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  standins::TipsBankOptions options;
  std::string key_file, bureau_file;
  bool drop = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--key") key_file = value();
    else if (arg == "--tax-bureau-cert") bureau_file = value();
    else if (arg == "--port") options.listen.port = std::stoi(value());
    else if (arg == "--delay") options.listen.delay_ms = std::stoll(value());
    else if (arg == "--drop-answers") drop = true;
    else if (arg == "--drop-first") options.listen.drop_first = std::stoi(value());
    else if (arg == "--account") {
      std::string spec = value();
      size_t a = spec.find(':');
      size_t b = spec.find(':', a + 1);
      auto fen = legacy::ToFen(spec.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1));
      if (a == std::string::npos || !fen) return 2;
      options.accounts[spec.substr(0, a)] =
          standins::BankAccount{*fen, b != std::string::npos && spec.substr(b + 1) == "frozen"};
    } else {
      return 2;
    }
  }
  auto key = security::PrivateKey::LoadPemFile(key_file);
  auto bureau = security::Certificate::LoadPemFile(bureau_file);
  if (!key || !bureau) {
    std::cerr << "usage: taxhub-standin-tips --key BANK.key --tax-bureau-cert BUREAU.pem\n"
                 "       [--account NUMBER:BALANCE[:frozen]] [--port N] [--delay MS] [--drop-answers]\n"
                 "       [--drop-first N]\n";
    return 2;
  }
  options.key = std::make_shared<const security::PrivateKey>(*key);
  options.tax_bureau = std::make_shared<const security::Certificate>(bureau->front());
  const sigset_t signals = taxhub::sdk::BlockStopSignals();
  standins::TipsBank bank(options);
  bank.SetDropAnswers(drop);
  if (Status started = bank.Start(); !started.ok()) {
    std::cerr << "taxhub-standin-tips: " << started.ToString() << "\n";
    return 1;
  }
  std::cout << "taxhub-standin-tips listening on 127.0.0.1:" << bank.port() << std::endl;
  taxhub::sdk::WaitForStopSignal(signals);
  bank.Stop();
  std::cout << "taxhub-standin-tips: " << bank.debits() << " debits" << std::endl;
  return 0;
}
