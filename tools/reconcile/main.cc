// taxhub-reconcile-tips: the daily reconciliation (对账) of TIPS payments. Reads the day's pay
// stages from the ledger (read-only, while the hub runs), fetches the bank's per-transaction
// record of the same day (3111) for every tax office that paid, and raises every disagreement:
// printed one per line, recorded on the request's pay stage as a `tips.mismatch` report when
// --hub is given (operators see it in the request's progress), and the exit status is 1.
//   taxhub-reconcile-tips --config HUB.yaml --date YYYYMMDD --legacy HOST:PORT
//       --key BUREAU.key --bank-cert BANK.pem [--service tips.pay] [--org TAXORGCODE …]
//       [--hub FRONTEND_EP] [--node 12 digits] [--timeout MS]
// Exit: 0 the day agrees, 1 mismatches were raised, 2 it could not run.

#include <iostream>
#include <map>
#include <set>
#include <tuple>

#include <zmq.hpp>

#include "adapters/legacy/values.h"
#include "adapters/sdk/process.h"
#include "adapters/tips/reconcile.h"
#include "adapters/tips/tips_handler.h"
#include "hub/app/config.h"
#include "hub/app/hub.h"
#include "tools/client/mdp_client.h"

namespace {

using namespace taxhub;

int Usage(const std::string& why = "") {
  if (!why.empty()) std::cerr << "taxhub-reconcile-tips: " << why << "\n";
  std::cerr << "usage: taxhub-reconcile-tips --config HUB.yaml --date YYYYMMDD --legacy HOST:PORT\n"
               "       --key BUREAU.key --bank-cert BANK.pem [--service tips.pay] [--org TAXORGCODE …]\n"
               "       [--hub FRONTEND_EP] [--node 12 digits] [--timeout MS]\n";
  return 2;
}

// The ledger's payments of `date` (EntrustDate: the day their request was accepted), per tax
// office. Every pay task is listed, paid or not, so that a debit the ledger lost still names
// its request.
Result<std::map<std::string, std::vector<tips::PaymentRecord>>> LedgerDay(ledger::Ledger& ledger,
                                                                          const std::string& date,
                                                                          const std::string& service) {
  std::map<std::string, std::vector<tips::PaymentRecord>> day;
  auto txn = ledger.Begin();
  if (!txn) return Error(txn.error());
  Status walked = ledger::ForEachRequest(**txn, [&](const ledger::RequestRecord& request) -> Status {
    if (tips::TipsHandler::EntrustDateFor(request.accepted_at_ms) != date) return Status::Ok();
    auto stages = (*txn)->GetStages(request.id);
    if (!stages) return stages.error();
    // The amount an earlier stage assessed, else the request's own (as the TIPS adapter pays).
    auto own_due = request.attributes.find("tax_due");
    std::string tax_due = own_due == request.attributes.end() ? "" : own_due->second;
    for (const ledger::StageRecord& stage : *stages) {
      if (stage.service != service) {
        if (auto due = stage.outputs.find("tax_due"); due != stage.outputs.end()) tax_due = due->second;
        continue;
      }
      if (stage.state == ledger::StageState::kSkipped || stage.state == ledger::StageState::kPending) continue;
      tips::PaymentRecord p;
      p.tra_no = tips::TipsHandler::TraNoFor(stage.task_id());
      p.amount_fen = legacy::ToFen(tax_due).value_or(0);
      p.debited = stage.state == ledger::StageState::kDone;
      if (auto voucher = stage.outputs.find("voucher"); voucher != stage.outputs.end()) p.voucher = voucher->second;
      p.request_id = stage.task_id();  // the task, so that a report can name its stage
      auto office = request.attributes.find("tax_office");
      day[office == request.attributes.end() ? "" : office->second].push_back(std::move(p));
    }
    return Status::Ok();
  });
  if (!walked.ok()) return Error(walked);
  return day;
}

}  // namespace

int main(int argc, char** argv) {
  taxhub::security::ProcessCurveClientKeys();  // a bad CURVE setting stops here, before any thread
  std::string config_file, date, legacy, key_file, bank_file, hub, service = "tips.pay";
  std::set<std::string> orgs;
  tips::TipsOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(flag + ": needs a value");
    const std::string value = argv[++i];
    if (flag == "--config") config_file = value;
    else if (flag == "--date") date = value;
    else if (flag == "--legacy") legacy = value;
    else if (flag == "--key") key_file = value;
    else if (flag == "--bank-cert") bank_file = value;
    else if (flag == "--service") service = value;
    else if (flag == "--org") orgs.insert(value);
    else if (flag == "--hub") hub = value;
    else if (flag == "--node") options.node = value;
    else if (flag == "--timeout") options.timeout_ms = std::atoi(value.c_str());
    else return Usage(flag + ": unknown flag");
  }
  if (config_file.empty() || date.size() != 8 || date.find_first_not_of("0123456789") != std::string::npos ||
      legacy.empty()) {
    return Usage("--config, --date YYYYMMDD and --legacy HOST:PORT are required");
  }
  try {
    std::tie(options.host, options.port) = sdk::ParseHostPort(legacy);
  } catch (const std::exception& e) {
    return Usage(std::string("--legacy: ") + e.what());
  }
  auto key = security::PrivateKey::LoadPemFile(key_file);
  auto bank_cert = security::Certificate::LoadPemFile(bank_file);
  if (!key || !bank_cert) return Usage(!key ? key.error().ToString() : bank_cert.error().ToString());
  options.key = std::make_shared<const security::PrivateKey>(*key);
  options.bank = std::make_shared<const security::Certificate>(bank_cert->front());

  auto config = app::LoadHubConfig(config_file);
  if (!config) return Usage(config.error().message());
  auto ledger = app::OpenLedger(*config, /*read_only=*/true);
  if (!ledger) return Usage("cannot open the ledger: " + ledger.error().ToString());
  auto day = LedgerDay(**ledger, date, service);
  if (!day) return Usage("cannot read the ledger: " + day.error().ToString());
  for (const auto& [org, payments] : *day) {
    if (!org.empty()) orgs.insert(org);
  }

  std::vector<tips::Mismatch> mismatches;
  size_t bank_count = 0, ledger_count = 0;
  for (const std::string& org : orgs) {
    auto bank = tips::FetchBankDay(options, org, date);
    if (!bank) return Usage("the bank's record of " + org + " " + date + ": " + bank.error().ToString());
    const auto& ours = (*day)[org];
    for (const auto& p : *bank) bank_count += p.debited;
    for (const auto& p : ours) ledger_count += p.debited;
    for (auto& m : tips::Reconcile(*bank, ours)) mismatches.push_back(std::move(m));
  }
  std::cout << "reconcile-tips " << date << ": " << orgs.size() << " tax offices, " << bank_count
            << " debits at the bank, " << ledger_count << " payments in the ledger, " << mismatches.size()
            << " mismatches\n";
  zmq::context_t context(1);
  std::unique_ptr<client::HubClient> client;
  if (!hub.empty()) client = std::make_unique<client::HubClient>(context, hub);
  int unrecorded = 0;
  for (const tips::Mismatch& m : mismatches) {
    std::cout << "MISMATCH " << tips::MismatchName(m.kind) << " TraNo " << m.tra_no << " task "
              << (m.request_id.empty() ? "-" : m.request_id) << ": " << m.detail << "\n";
    if (!client || m.request_id.empty()) continue;
    wire::TaskReport report;
    report.task_id = m.request_id;
    report.type = "tips.mismatch";
    report.reporter = "reconcile-tips";
    report.details = {{"kind", std::string(tips::MismatchName(m.kind))}, {"tra_no", m.tra_no},
                      {"entrust_date", date}, {"detail", m.detail}};
    if (auto recorded = client->Report(report); !recorded) {
      ++unrecorded;
      std::cerr << "taxhub-reconcile-tips: could not record it in the ledger: " << recorded.error().ToString() << "\n";
    }
  }
  if (unrecorded > 0) return 2;
  return mismatches.empty() ? 0 : 1;
}
