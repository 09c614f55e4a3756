// A taxpayer's month through the whole electronic chain, every part a real process: the hub,
// the four adapters (invoice, filing, tips, sms), the stand-ins of the invoice, core-tax and
// treasury-tax-bank systems, and Kannel (bearerbox, smsbox, fakesmsc) as the SMS gateway.
//
// MonthTest.ChainThroughput (run by `make bench-chain`, not by `make test`) pushes many returns
// through the same chain and prints completed chains per second and the time per stage.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

#include "adapters/sms/delivery_reports.h"
#include "adapters/sms/kannel_client.h"
#include "adapters/tips/tips_handler.h"
#include "hub/base/clock.h"
#include "hub/security/crypto.h"
#include "tests/support/kannel.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

const char* const kTaxpayer = "91310110666007217T";
const char* const kMobile = "13800138000";
const char* const kRichAccount = "6222000011112222";
const char* const kPoorAccount = "6222000033334444";
const char* const kPaidTemplate =
    "notify_paid=【国家税务总局】您{period}期增值税{tax_due}元已缴款成功，电子缴款凭证号{voucher}。";
const char* const kRefusalTemplate =
    "notify_refusal=【国家税务总局】您的申请{request_id}未办结：{rejected_reason}（{rejected_code}）。";

struct ChainOptions {
  bool copy_report_check = true;
  int drop_first_bank_answers = 0;
  int workers = 4;
  std::string rich_balance = "50000.00";
};

class MonthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!KannelGateway::Installed()) {
      if (std::getenv("CI")) FAIL() << "Kannel (kannel, kannel-extras) is not installed";
      GTEST_SKIP() << "Kannel is not installed";
    }
  }

  void TearDown() override {
    for (auto* p : {&sms_, &tips_, &invoice_, &filing_}) {
      if (*p) (*p)->Stop(5000);
    }
    if (hub_) hub_->Stop(10'000);
    for (auto* p : {&core_, &invoices_, &bank_}) {
      if (*p) (*p)->Stop(5000);
    }
    if (kannel_) kannel_->Stop();
  }

  void Party(const std::string& name) {
    const int64_t now = SystemClock().NowMs();
    auto key = *security::PrivateKey::Generate(security::KeyType::kSm2);
    auto cert = *security::IssueCertificate(
        security::CertificateSpec{name, "", "t", 1, now - 86'400'000, now + 86'400'000, false, true},
        key, key, nullptr);
    std::ofstream(dir_.File(name + ".key")) << key.ToPem();
    std::ofstream(dir_.File(name + ".pem")) << cert.ToPem();
  }

  // Starts everything; a part that does not come up fails the test.
  void StartChain(const ChainOptions& o) {
    Party("bureau");
    Party("bank");
    frontend_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
    backend_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
    std::ofstream(dir_.File("hub.yaml")) << "hub:\n  id: month\n  data_dir: " << dir_.path()
                                          << "\n  log_level: warn\n"
                                             "broker:\n  frontend: " << frontend_ << "\n  backend: " << backend_
                                          << "\n  heartbeat: 250ms\n"
                                             "engine:\n  drain_timeout: 3s\n"
                                             "routes: routes.yaml\n";
    std::ofstream(dir_.File("routes.yaml"))
        << "defaults:\n  retry: {max_attempts: 5, initial_backoff: 200ms, max_backoff: 2s, attempt_timeout: 10s}\n"
           "routes:\n"
           "  - name: invoice-authentication\n"
           "    match: {kind: invoice.authenticate}\n"
           "    stages: [{name: authenticate, label: 认证, service: invoice.authenticate, time_limit: 1h}]\n"
           "  - name: copy-report\n"
           "    match: {kind: invoice.copy_report}\n"
           "    stages: [{name: report, label: 抄报, service: invoice.copy_report, time_limit: 1d}]\n"
           "  - name: vat\n"
           "    match: {kind: filing.vat}\n"
           "    stages:\n"
           "      - {name: file, label: 申报, service: filing, shard_by: tax_office, time_limit: 1d}\n"
           "      - {name: pay, label: 缴款, service: tips.pay, time_limit: 1d, when: {tax_due: {\">\": 0}}}\n"
           "      - {name: notify_paid, label: 通知, service: sms.send, time_limit: 1h, when: {tax_due: {\">\": 0}}}\n"
           "      - {name: notify_refusal, label: 告知, service: sms.send, time_limit: 1h, on_rejection: true}\n";
    std::ofstream(dir_.File("issued.csv"))
        << "# code,number,date,amount,tax,seller,buyer\n"
           "3200261130,00000001,20261015,10000.00,1300.00,91320200MA1MXXXX5H,91310110666007217T\n"
           "3200261130,00000002,20261020,20000.00,2600.00,91320200MA1MXXXX5H,91310110666007217T\n";

    std::string why;
    std::filesystem::create_directories(dir_.File("kannel"));
    kannel_ = KannelGateway::Start(dir_.File("kannel"), &why);
    ASSERT_TRUE(kannel_.has_value()) << why;
    const int core_port = FreePort(), invoice_port = FreePort(), bank_port = FreePort();
    bank_address_ = "127.0.0.1:" + std::to_string(bank_port);
    std::vector<std::string> core_args = {BinDir() + "/taxhub-standin-filing", "--port", std::to_string(core_port)};
    if (!o.copy_report_check) core_args.push_back("--no-copy-report-check");
    core_ = Process::Start(core_args, dir_.File("core.log"));
    invoices_ = Process::Start({BinDir() + "/taxhub-standin-invoice", "--port", std::to_string(invoice_port),
                                "--issued", dir_.File("issued.csv"), "--core", "127.0.0.1:" + std::to_string(core_port)},
                               dir_.File("invoice-standin.log"));
    bank_ = Process::Start({BinDir() + "/taxhub-standin-tips", "--port", std::to_string(bank_port), "--key",
                            dir_.File("bank.key"), "--tax-bureau-cert", dir_.File("bureau.pem"), "--account",
                            std::string(kRichAccount) + ":" + o.rich_balance, "--account",
                            std::string(kPoorAccount) + ":10.00", "--drop-first",
                            std::to_string(o.drop_first_bank_answers)},
                           dir_.File("bank.log"));
    for (auto* p : {&core_, &invoices_, &bank_}) {
      ASSERT_TRUE(p->has_value());
      ASSERT_TRUE(Eventually([&] { return (*p)->Log().find("listening") != std::string::npos; })) << (*p)->Log();
    }
    hub_ = Process::Start({BinDir() + "/taxhub", "serve", "--config", dir_.File("hub.yaml")}, dir_.File("hub.log"));
    ASSERT_TRUE(hub_.has_value());
    ASSERT_TRUE(Eventually([&] { return hub_->Log().find("up\n") != std::string::npos; })) << hub_->Log();
    const std::string workers = std::to_string(o.workers);
    auto adapter = [&](std::vector<std::string> args, const std::string& log) {
      args.insert(args.end(), {"--endpoint", backend_, "--heartbeat", "250", "--workers", workers});
      return Process::Start(args, dir_.File(log));
    };
    filing_ = adapter({BinDir() + "/taxhub-adapter-filing", "--legacy", "127.0.0.1:" + std::to_string(core_port),
                       "--service", "filing.13212000000"},
                      "filing.log");
    invoice_ = adapter({BinDir() + "/taxhub-adapter-invoice", "--legacy", "127.0.0.1:" + std::to_string(invoice_port)},
                       "invoice.log");
    tips_ = adapter({BinDir() + "/taxhub-adapter-tips", "--legacy", "127.0.0.1:" + std::to_string(bank_port), "--key",
                     dir_.File("bureau.key"), "--bank-cert", dir_.File("bank.pem"), "--timeout", "1000"},
                    "tips.log");
    sms_ = adapter({BinDir() + "/taxhub-adapter-sms", "--legacy", kannel_->sendsms_address(), "--user",
                    KannelGateway::kUser, "--password", KannelGateway::kPassword, "--outbox", dir_.File("sms-outbox.db"),
                    "--dlr-listen", "127.0.0.1:0", "--hub", frontend_, "--template", kPaidTemplate, "--template",
                    kRefusalTemplate, "--name", "sms-month"},
                   "sms.log");
    for (auto* p : {&filing_, &invoice_, &tips_, &sms_}) ASSERT_TRUE(p->has_value());
    client_ = std::make_unique<client::HubClient>(context_, frontend_);
  }

  CommandResult Hall(std::vector<std::string> args) {
    args.insert(args.begin(), {BinDir() + "/taxhub-hall", "--endpoint", frontend_});
    return RunCommand(args, 30'000);
  }

  Result<wire::SubmitReply> Submit(const std::string& id, const std::string& kind, const std::string& body,
                                   StringMap attributes = {}) {
    wire::SubmitRequest request;
    request.request_id = id;
    request.kind = kind;
    request.taxpayer_id = kTaxpayer;
    request.attributes = std::move(attributes);
    request.attributes["tax_office"] = "13212000000";
    request.attributes["mobile"] = kMobile;
    request.body = body;
    return client_->Submit(request);
  }

  // The request once it has ended, or its last progress after `timeout_ms`.
  wire::ProgressReply WaitForEnd(const std::string& id, int timeout_ms = 20'000) {
    wire::ProgressReply last;
    Eventually(
        [&] {
          auto p = client_->Progress(id, kTaxpayer);
          if (p) last = *p;
          return p && (p->state == wire::RequestState::COMPLETED || p->state == wire::RequestState::REJECTED ||
                       p->state == wire::RequestState::FAILED);
        },
        timeout_ms);
    return last;
  }

  static std::string VatReturn(const std::string& period, const std::string& output_tax,
                               const std::string& input_tax) {
    return "{\"tax_type\":\"10101\",\"period\":\"" + period + "\",\"sales\":\"100000.00\",\"output_tax\":\"" +
           output_tax + "\",\"input_tax\":\"" + input_tax + "\"}";
  }

  std::string Logs() {
    std::string out;
    for (auto* p : {&hub_, &filing_, &invoice_, &tips_, &sms_, &core_, &invoices_, &bank_}) {
      if (*p) out += "---- " + (*p)->log_file() + "\n" + (*p)->Log();
    }
    return out;
  }

  TempDir dir_;
  std::string frontend_, backend_, bank_address_;
  std::optional<KannelGateway> kannel_;
  std::optional<Process> hub_, filing_, invoice_, tips_, sms_, core_, invoices_, bank_;
  zmq::context_t context_{1};
  std::unique_ptr<client::HubClient> client_;
};

std::string TextOf(const std::vector<ReceivedSms>& received) {
  std::string out;
  for (const auto& sms : received) out += sms.to + ": " + sms.text + "\n";
  return out;
}

TEST_F(MonthTest, InvoicesCopyReportReturnPaymentAndAnSmsWithTheVoucher) {
  ChainOptions options;
  options.drop_first_bank_answers = 1;  // the bank debits, its first answer is lost
  StartChain(options);
  if (HasFatalFailure()) return;

  // 1. The month's invoices, authenticated.
  ASSERT_TRUE(Submit("M-INV", "invoice.authenticate",
                     "{\"period\":\"2026-10\",\"invoices\":["
                     "{\"code\":\"3200261130\",\"number\":\"00000001\",\"date\":\"2026-10-15\",\"amount\":\"10000.00\","
                     "\"tax\":\"1300.00\",\"seller\":\"91320200MA1MXXXX5H\"},"
                     "{\"code\":\"3200261130\",\"number\":\"00000002\",\"date\":\"2026-10-20\",\"amount\":\"20000.00\","
                     "\"tax\":\"2600.00\",\"seller\":\"91320200MA1MXXXX5H\"}]}")
                  .has_value());
  auto invoices = WaitForEnd("M-INV");
  ASSERT_EQ(invoices.state, wire::RequestState::COMPLETED) << Logs();
  EXPECT_NE(invoices.stages[0].message.find("2 authenticated"), std::string::npos) << invoices.stages[0].message;
  // 2. The IC-card copy report of the invoices it issued, which must precede filing: the invoice
  // system passes it on to the core system.
  ASSERT_TRUE(Submit("M-COPY", "invoice.copy_report",
                     "{\"period\":\"2026-10\",\"invoices\":[{\"code\":\"3100261130\",\"number\":\"00000031\","
                     "\"date\":\"2026-10-31\",\"amount\":\"100000.00\",\"tax\":\"13000.00\","
                     "\"buyer\":\"91320200MA1MXXXX5H\"}]}")
                  .has_value());
  auto copy = WaitForEnd("M-COPY");
  ASSERT_EQ(copy.state, wire::RequestState::COMPLETED) << Logs();
  EXPECT_EQ(copy.stages[0].outputs.at("invoices_reported"), "1");
  // 3. The VAT return: filed, the tax due paid through TIPS, the taxpayer told by SMS.
  ASSERT_TRUE(Submit("M-VAT", "filing.vat", VatReturn("2026-10", "13000.00", "3900.00"),
                     {{"pay_account", kRichAccount}})
                  .has_value());
  auto vat = WaitForEnd("M-VAT", 30'000);
  ASSERT_EQ(vat.state, wire::RequestState::COMPLETED) << Logs();
  ASSERT_EQ(vat.stages.size(), 4u);
  EXPECT_EQ(vat.stages[0].outputs.at("tax_due"), "9100.00");
  const std::string voucher = vat.stages[1].outputs.at("voucher");
  EXPECT_FALSE(voucher.empty());
  // The bank's answer was lost; the adapter asked the bank (1024) what became of the payment.
  EXPECT_EQ(vat.stages[1].message, "settled by status query");
  EXPECT_EQ(vat.stages[2].state, wire::StageState::DONE);
  EXPECT_EQ(vat.stages[2].outputs.at("sms_to"), "138****8000");
  EXPECT_EQ(vat.stages[3].state, wire::StageState::SKIPPED);
  const std::string expected =
      "【国家税务总局】您2026-10期增值税9100.00元已缴款成功，电子缴款凭证号" + voucher + "。";
  ASSERT_TRUE(Eventually([&] { return TextOf(kannel_->Received()).find(expected) != std::string::npos; }))
      << TextOf(kannel_->Received());
  // Kannel's delivery reports reach the ledger through the sms adapter.
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Progress("M-VAT", kTaxpayer);
    if (!p) return false;
    for (const auto& r : p->stages[2].reports) {
      if (r.type == "sms.delivered") return true;
    }
    return false;
  })) << Logs();

  // The progress timeline names every node with its times.
  auto progress = Hall({"progress", "M-VAT", "--taxpayer", kTaxpayer});
  ASSERT_EQ(progress.exit_code, 0) << progress.output;
  for (const char* node : {"file 申报", "pay 缴款", "notify_paid 通知", "notify_refusal 告知", "sms.delivered"}) {
    EXPECT_NE(progress.output.find(node), std::string::npos) << node << "\n" << progress.output;
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GE(vat.stages[i].started_at_ms, vat.stages[i].ready_at_ms);
    EXPECT_GE(vat.stages[i].finished_at_ms, vat.stages[i].started_at_ms);
  }

  // 4. Next month the account is short: REJECTED with the bank's words, and an SMS saying so.
  ASSERT_TRUE(Submit("M-COPY-11", "invoice.copy_report", "{\"period\":\"2026-11\"}").has_value());  // none issued
  ASSERT_EQ(WaitForEnd("M-COPY-11").state, wire::RequestState::COMPLETED);
  ASSERT_TRUE(Submit("M-VAT-11", "filing.vat", VatReturn("2026-11", "13000.00", "3900.00"),
                     {{"pay_account", kPoorAccount}})
                  .has_value());
  auto shorted = WaitForEnd("M-VAT-11", 30'000);
  ASSERT_EQ(shorted.state, wire::RequestState::REJECTED) << Logs();
  EXPECT_EQ(shorted.stages[1].code, "24007");
  EXPECT_EQ(shorted.stages[2].state, wire::StageState::SKIPPED);
  EXPECT_EQ(shorted.stages[3].state, wire::StageState::DONE);
  ASSERT_TRUE(Eventually([&] {
    const std::string all = TextOf(kannel_->Received());
    return all.find("未办结：余额不足") != std::string::npos && all.find("（24007）") != std::string::npos;
  })) << TextOf(kannel_->Received());

  // The day's reconciliation with the bank agrees: one debit on both sides.
  const std::string date = tips::TipsHandler::EntrustDateFor(vat.accepted_at_ms);
  auto reconcile = [&] {
    return RunCommand({BinDir() + "/taxhub-reconcile-tips", "--config", dir_.File("hub.yaml"), "--date", date,
                       "--legacy", bank_address_, "--key", dir_.File("bureau.key"), "--bank-cert",
                       dir_.File("bank.pem"), "--hub", frontend_});
  };
  auto agreed = reconcile();
  EXPECT_EQ(agreed.exit_code, 0) << agreed.output;
  EXPECT_NE(agreed.output.find("1 debits at the bank, 1 payments in the ledger, 0 mismatches"), std::string::npos)
      << agreed.output;
  // Someone changes the voucher the ledger holds: the next reconciliation raises it, on the
  // request's pay stage where operators look. (The hub is running: RunSqlite waits for its
  // write lock.)
  auto forged = RunSqlite(dir_.File("ledger.db"),
                          "UPDATE stages SET outputs = json_set(outputs, '$.voucher', 'V-FORGED') "
                          "WHERE request_id = 'M-VAT' AND idx = 1;");
  ASSERT_EQ(forged.exit_code, 0) << forged.output;
  auto raised = reconcile();
  EXPECT_EQ(raised.exit_code, 1) << raised.output;
  EXPECT_NE(raised.output.find("MISMATCH voucher TraNo " + vat.stages[1].outputs.at("tra_no") + " task M-VAT/1"),
            std::string::npos)
      << raised.output;
  auto reported = client_->Progress("M-VAT", kTaxpayer);
  ASSERT_TRUE(reported.has_value());
  bool seen = false;
  for (const auto& r : reported->stages[1].reports) {
    seen |= r.type == "tips.mismatch" && r.details.at("kind") == "voucher" &&
            r.details.at("detail").find("V-FORGED") != std::string::npos;
  }
  EXPECT_TRUE(seen) << Hall({"progress", "M-VAT", "--taxpayer", kTaxpayer}).output;

  // Exactly one debit for the paid return, although the bank's first answer was lost; one SMS
  // per notice.
  ASSERT_EQ(tips_->Stop(5000), 0);
  ASSERT_EQ(bank_->Stop(5000), 0);
  EXPECT_NE(bank_->Log().find("1 debits"), std::string::npos) << bank_->Log();
  EXPECT_EQ(kannel_->Received().size(), 2u) << TextOf(kannel_->Received());
  EXPECT_EQ(sms_->Stop(5000), 0) << sms_->Log();
}

// make bench-chain: completed chains per second through file → pay → notify, and the time per
// stage. Set CHAIN_RETURNS (default 300) to change the load.
TEST_F(MonthTest, DISABLED_ChainThroughput) {
  ChainOptions options;
  options.copy_report_check = false;
  options.rich_balance = "100000000.00";
  options.workers = 8;
  StartChain(options);
  if (HasFatalFailure()) return;
  const int n = std::getenv("CHAIN_RETURNS") ? std::atoi(std::getenv("CHAIN_RETURNS")) : 300;
  // Warm up: one chain end to end.
  ASSERT_TRUE(Submit("W-0", "filing.vat", VatReturn("2000-01", "13.00", "3.00"), {{"pay_account", kRichAccount}})
                  .has_value());
  ASSERT_EQ(WaitForEnd("W-0").state, wire::RequestState::COMPLETED) << Logs();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    // One return per period: the core system refuses a second return for the same period.
    const std::string period = std::to_string(2100 + i / 12) + "-" + (i % 12 < 9 ? "0" : "") + std::to_string(i % 12 + 1);
    auto r = Submit("B-" + std::to_string(i), "filing.vat", VatReturn(period, "13.00", "3.00"),
                    {{"pay_account", kRichAccount}});
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  std::map<std::string, std::vector<int64_t>> work, wait;
  std::vector<int64_t> whole;
  for (int i = 0; i < n; ++i) {
    auto p = WaitForEnd("B-" + std::to_string(i), 120'000);
    ASSERT_EQ(p.state, wire::RequestState::COMPLETED) << "B-" << i << "\n" << Logs();
    for (const auto& s : p.stages) {
      if (s.state != wire::StageState::DONE) continue;
      work[s.name].push_back(s.finished_at_ms - s.started_at_ms);
      wait[s.name].push_back(s.started_at_ms - s.ready_at_ms);
    }
    whole.push_back(p.finished_at_ms - p.accepted_at_ms);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto pct = [](std::vector<int64_t> v, double q) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
  };
  std::cout << std::fixed << std::setprecision(1) << "chain: " << n << " VAT returns filed, paid and notified in "
            << seconds << " s = " << n / seconds << " completed chains/s\n"
            << "chain: accepted -> completed p50 " << pct(whole, 0.5) << " ms, p99 " << pct(whole, 0.99) << " ms\n";
  for (const char* stage : {"file", "pay", "notify_paid"}) {
    std::cout << "chain: stage " << std::setw(11) << stage << "  adapter+legacy p50 " << pct(work[stage], 0.5)
              << " ms p99 " << pct(work[stage], 0.99) << " ms   waiting for a worker p50 " << pct(wait[stage], 0.5)
              << " ms p99 " << pct(wait[stage], 0.99) << " ms\n";
  }
  ASSERT_TRUE(Eventually([&] { return kannel_->Received().size() >= static_cast<size_t>(n + 1); }, 60'000));
  std::cout << "chain: " << kannel_->Received().size() << " SMS reached fakesmsc\n";

  // Baseline, same run: the slowest leg alone — as many sendsms calls straight to smsbox from as
  // many threads as the sms adapter has workers, without hub, ledger or outbox, with the same
  // delivery reports asked for (Kannel's work per message is the same).
  auto outbox = sms::Outbox::Open(dir_.File("raw-outbox.db"));
  ASSERT_TRUE(outbox.has_value());
  SystemClock clock;
  sms::DeliveryReports reports(sms::DeliveryReportOptions{}, **outbox, clock);
  ASSERT_TRUE(reports.Start().ok());
  sms::KannelOptions kannel;
  kannel.dlr_url = "http://127.0.0.1:" + std::to_string(reports.port()) + "/dlr";
  kannel.port = kannel_->sendsms_port();
  kannel.username = KannelGateway::kUser;
  kannel.password = KannelGateway::kPassword;
  std::atomic<int> next{0}, accepted{0};
  const auto raw_start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < options.workers; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        auto sent = sms::SendSms(kannel, kMobile, "【国家税务总局】基线短信 " + std::to_string(i), "RAW/" + std::to_string(i));
        if (sent.kind == sms::SendResult::Kind::kAccepted) ++accepted;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double raw_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - raw_start).count();
  const double raw_rate = n / raw_seconds;
  std::cout << "chain: baseline " << accepted << " raw sendsms calls to smsbox (" << options.workers
            << " threads) at " << raw_rate << "/s; the whole chain runs at " << std::setprecision(2)
            << (n / seconds) / raw_rate << "x that\n";
}

}  // namespace
}  // namespace taxhub::testing
