// End to end with real processes: `taxhub serve`, `taxhub-adapter-sample` and `taxhub-hall`
// as separate programs on 127.0.0.1, stopped by PID.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <thread>

#include "hub/base/clock.h"
#include "hub/security/crypto.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_hub.h"

namespace taxhub::testing {
namespace {

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    frontend_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
    backend_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
    config_ = dir_.File("hub.yaml");
    std::ofstream(config_) << "hub:\n  id: e2e\n  data_dir: " << dir_.path()
                           << "\n  log_level: info\n"
                              "broker:\n  frontend: " << frontend_ << "\n  backend: " << backend_
                           << "\n  heartbeat: 250ms\n"
                              "engine:\n  drain_timeout: 3s\n"
                              "routes: routes.yaml\n";
    WriteRoutes(dir_, kE2eRoutes);
    std::ofstream(dir_.File("body.json")) << "{\"tax_type\":\"10101\",\"period\":\"2026-10\"}";
  }

  std::optional<Process> StartHub() {
    auto hub = Process::Start({BinDir() + "/taxhub", "serve", "--config", config_},
                              dir_.File("hub.log"));
    EXPECT_TRUE(hub.has_value());
    // Ready once it prints its endpoints.
    EXPECT_TRUE(Eventually([&] { return hub->Log().find("up\n") != std::string::npos; }, 10'000))
        << hub->Log();
    return hub;
  }

  std::optional<Process> StartAdapter() {
    return Process::Start({BinDir() + "/taxhub-adapter-sample", "--endpoint", backend_,
                           "--service", "e.accept", "--service", "e.verify", "--service",
                           "e.notify", "--delay", "5", "--name", "sample-e2e", "--heartbeat", "250"},
                          dir_.File("adapter.log"));
  }

  CommandResult Hall(std::vector<std::string> args) {
    args.insert(args.begin(), {BinDir() + "/taxhub-hall", "--endpoint", frontend_});
    return RunCommand(args, 30'000);
  }

  bool WaitCompleted(const std::string& id) {
    return Eventually(
        [&] { return Hall({"progress", id, "--taxpayer", "91310110666007217T"}).output.find("COMPLETED") != std::string::npos; },
        15'000);
  }

  TempDir dir_;
  std::string frontend_, backend_, config_;
};

TEST_F(ChainTest, HallSubmitFlowsThroughAdapterProcessesToCompletion) {
  auto hub = StartHub();
  auto adapter = StartAdapter();
  ASSERT_TRUE(adapter.has_value());
  auto submit = Hall({"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T",
                      "--body", dir_.File("body.json"), "--id", "E2E-1", "--attr",
                      "tax_office=13212000000"});
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  EXPECT_NE(submit.output.find("accepted E2E-1"), std::string::npos) << submit.output;
  ASSERT_TRUE(WaitCompleted("E2E-1")) << Hall({"progress", "E2E-1", "--taxpayer", "91310110666007217T"}).output << hub->Log();

  auto progress = Hall({"progress", "E2E-1", "--taxpayer", "91310110666007217T"});
  for (const char* node : {"accept 受理", "verify 核查", "notify 通知"}) {
    EXPECT_NE(progress.output.find(std::string(node)), std::string::npos) << node;
  }
  EXPECT_EQ(std::count(progress.output.begin(), progress.output.end(), '\n') > 6, true);
  EXPECT_NE(progress.output.find("handler sample-e2e"), std::string::npos) << progress.output;

  // A refused submit exits non-zero with the code and field.
  auto refused = Hall({"submit", "--kind", "filing.vat", "--taxpayer", "",
                       "--body", dir_.File("body.json")});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("MISSING_FIELD"), std::string::npos) << refused.output;

  // SIGTERM drains and exits 0.
  EXPECT_EQ(hub->Stop(10'000), 0) << hub->Log();
  EXPECT_NE(hub->Log().find("draining"), std::string::npos);
  EXPECT_EQ(adapter->Stop(5000), 0);
}

TEST_F(ChainTest, AcceptedRequestSurvivesKillNineOfTheHub) {
  auto hub = StartHub();
  auto submit = Hall({"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T",
                      "--body", dir_.File("body.json"), "--id", "E2E-KILL"});
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  hub->Signal(SIGKILL);
  ASSERT_TRUE(hub->Wait(5000).has_value());

  hub = StartHub();  // same SQLite file: the request is still there
  auto adapter = StartAdapter();
  ASSERT_TRUE(WaitCompleted("E2E-KILL")) << Hall({"progress", "E2E-KILL", "--taxpayer", "91310110666007217T"}).output;
  EXPECT_EQ(hub->Stop(10'000), 0);
  adapter->Stop(5000);
}

TEST_F(ChainTest, VerifyLedgerExitsNonZeroNamingTheTamperedRow) {
  auto hub = StartHub();
  auto adapter = StartAdapter();
  ASSERT_EQ(Hall({"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T", "--body",
                  dir_.File("body.json"), "--id", "E2E-V"})
                .exit_code,
            0);
  ASSERT_TRUE(WaitCompleted("E2E-V"));
  // It reads while the hub runs (a read-only connection), and after it stops.
  auto live = RunCommand({BinDir() + "/taxhub", "verify-ledger", "--config", config_});
  EXPECT_EQ(live.exit_code, 0) << live.output;
  EXPECT_NE(live.output.find("ledger OK"), std::string::npos) << live.output;
  EXPECT_EQ(hub->Stop(10'000), 0);
  adapter->Stop(5000);
  auto tampered = RunSqlite(dir_.File("ledger.db"),
                            "DROP TRIGGER events_no_delete; DELETE FROM events WHERE chain_seq = 3;");
  ASSERT_EQ(tampered.exit_code, 0) << tampered.output;
  auto result = RunCommand({BinDir() + "/taxhub", "verify-ledger", "--config", config_});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("ledger NOT OK: chain e2e row 4"), std::string::npos) << result.output;
}

// A taxpayer's month through the invoice and filing adapters and their stand-ins, as processes:
// the month's invoices authenticated (one of them never issued), a VAT return refused until the
// copy report is in, then filed — the legacy systems' own words in the progress.
TEST_F(ChainTest, FilingThroughTheLegacyStandIn) {
  const int legacy_port = FreePort();
  const int invoice_port = FreePort();
  std::ofstream(dir_.File("issued.csv"))
      << "# code,number,date,amount,tax,seller,buyer\n"
         "3200261130,00000001,20261015,10000.00,1300.00,91320200MA1MXXXX5H,91310110666007217T\n";
  std::ofstream(dir_.File("routes.yaml"))
      << "defaults:\n  retry: {initial_backoff: 100ms, max_backoff: 1s, attempt_timeout: 5s}\n"
         "routes:\n"
         "  - name: invoice-authentication\n"
         "    match: {kind: invoice.authenticate}\n"
         "    stages: [{name: authenticate, label: 认证, service: invoice.authenticate, time_limit: 1h}]\n"
         "  - name: copy-report\n"
         "    match: {kind: invoice.copy_report}\n"
         "    stages: [{name: report, label: 抄报, service: invoice.copy_report, time_limit: 1d}]\n"
         "  - name: vat\n"
         "    match: {kind: filing.vat}\n"
         "    stages: [{name: file, label: 申报, service: filing, shard_by: tax_office, time_limit: 1d}]\n"
         "  - name: registration\n"
         "    match: {kind: registration.new}\n"
         "    stages: [{name: record, label: 登记, service: core.register, time_limit: 1h}]\n";
  auto standin = Process::Start({BinDir() + "/taxhub-standin-filing", "--port",
                                 std::to_string(legacy_port)},
                                dir_.File("standin.log"));
  auto invoices = Process::Start({BinDir() + "/taxhub-standin-invoice", "--port", std::to_string(invoice_port),
                                  "--issued", dir_.File("issued.csv"), "--core",
                                  "127.0.0.1:" + std::to_string(legacy_port)},
                                 dir_.File("invoice-standin.log"));
  ASSERT_TRUE(Eventually([&] { return standin->Log().find("listening") != std::string::npos; }));
  ASSERT_TRUE(Eventually([&] { return invoices->Log().find("listening") != std::string::npos; })) << invoices->Log();
  auto hub = StartHub();
  auto adapter = Process::Start({BinDir() + "/taxhub-adapter-filing", "--legacy",
                                 "127.0.0.1:" + std::to_string(legacy_port), "--endpoint", backend_,
                                 "--service", "filing.13212000000", "--service", "core.register", "--heartbeat", "250"},
                                dir_.File("adapter.log"));
  auto invoice_adapter = Process::Start({BinDir() + "/taxhub-adapter-invoice", "--legacy",
                                         "127.0.0.1:" + std::to_string(invoice_port), "--endpoint", backend_,
                                         "--heartbeat", "250"},
                                        dir_.File("invoice-adapter.log"));
  std::ofstream(dir_.File("invoices.json"))
      << "{\"period\":\"2026-10\",\"invoices\":["
         "{\"code\":\"3200261130\",\"number\":\"00000001\",\"date\":\"2026-10-15\",\"amount\":\"10000.00\","
         "\"tax\":\"1300.00\",\"seller\":\"91320200MA1MXXXX5H\"},"
         "{\"code\":\"3200261130\",\"number\":\"00000077\",\"date\":\"2026-10-16\",\"amount\":\"500.00\","
         "\"tax\":\"65.00\",\"seller\":\"91320200MA1MXXXX5H\"}]}";
  ASSERT_EQ(Hall({"submit", "--kind", "invoice.authenticate", "--taxpayer", "91310110666007217T", "--body",
                  dir_.File("invoices.json"), "--id", "INV-10"})
                .exit_code,
            0);
  EXPECT_TRUE(WaitCompleted("INV-10")) << invoice_adapter->Log();
  const std::string authenticated = Hall({"progress", "INV-10", "--taxpayer", "91310110666007217T"}).output;
  EXPECT_NE(authenticated.find("1 authenticated, 1 not_found"), std::string::npos) << authenticated;
  std::ofstream(dir_.File("return.json"))
      << "{\"tax_type\":\"10101\",\"period\":\"2026-10\",\"sales\":\"100000.00\","
         "\"output_tax\":\"13000.00\",\"input_tax\":\"9000.00\"}";
  auto submit = [&](const std::string& id, const std::string& kind) {
    return Hall({"submit", "--kind", kind, "--taxpayer", "91310110666007217T", "--body",
                 dir_.File("return.json"), "--id", id, "--attr", "tax_office=13212000000"});
  };
  auto progress = [&](const std::string& id) {
    return Hall({"progress", id, "--taxpayer", "91310110666007217T"}).output;
  };
  // Registration: the core system recognises VAT from October, so October's return is owed.
  std::ofstream(dir_.File("registration.json")) << "{\"tax_types\":[\"10101\"],\"start\":\"2026-10\"}";
  ASSERT_EQ(Hall({"submit", "--kind", "registration.new", "--taxpayer", "91310110666007217T", "--body",
                  dir_.File("registration.json"), "--id", "REG-10"})
                .exit_code,
            0);
  EXPECT_TRUE(WaitCompleted("REG-10")) << adapter->Log();
  auto items = [&] { return Hall({"items", "--taxpayer", "91310110666007217T"}).output; };
  EXPECT_NE(items().find("obligation\tfiling.vat 2026-10"), std::string::npos) << items();
  ASSERT_EQ(submit("VAT-EARLY", "filing.vat").exit_code, 0);
  ASSERT_TRUE(Eventually([&] { return progress("VAT-EARLY").find("REJECTED") != std::string::npos; }))
      << progress("VAT-EARLY") << adapter->Log();
  EXPECT_NE(progress("VAT-EARLY").find("E103 未完成抄报税"), std::string::npos) << progress("VAT-EARLY");
  ASSERT_EQ(submit("COPY-10", "invoice.copy_report").exit_code, 0);
  EXPECT_TRUE(WaitCompleted("COPY-10"));
  ASSERT_EQ(submit("VAT-10", "filing.vat").exit_code, 0);
  EXPECT_TRUE(WaitCompleted("VAT-10")) << progress("VAT-10");
  // Filing October met its obligation and owes November's; the copy report owes November's too.
  const std::string area = items();
  EXPECT_EQ(area.find("filing.vat 2026-10"), std::string::npos) << area;
  EXPECT_NE(area.find("obligation\tfiling.vat 2026-11"), std::string::npos) << area;
  EXPECT_NE(area.find("obligation\tinvoice.copy_report 2026-11"), std::string::npos) << area;
  EXPECT_EQ(hub->Stop(10'000), 0);
  adapter->Stop(5000);
  invoice_adapter->Stop(5000);
  standin->Stop(5000);
  EXPECT_EQ(invoices->Stop(5000), 0);
  EXPECT_NE(standin->Log().find("1 returns filed"), std::string::npos) << standin->Log();
  EXPECT_NE(invoices->Log().find("1 invoices authenticated, 1 copy reports"), std::string::npos) << invoices->Log();
}

// The core system is down when the returns arrive: the adapter answers UNAVAILABLE (LEGACY_DOWN),
// which spends no attempt — two are allowed here — the circuit opens and the requests wait in the
// ledger; once the system is back on its port the next probe closes the circuit and every return
// is filed, once.
TEST_F(ChainTest, ALegacySystemThatIsDownDelaysTheChainButLosesNothing) {
  const int legacy_port = FreePort();
  std::ofstream(dir_.File("routes.yaml"))
      << "defaults:\n  retry: {max_attempts: 2, initial_backoff: 100ms, max_backoff: 500ms, attempt_timeout: 5s}\n"
         "  circuit: {failures: 5, open_for: 1s}\n"
         "routes:\n"
         "  - name: vat\n"
         "    match: {kind: filing.vat}\n"
         "    stages: [{name: file, label: 申报, service: filing, shard_by: tax_office, time_limit: 1d}]\n";
  auto hub = StartHub();
  auto adapter = Process::Start({BinDir() + "/taxhub-adapter-filing", "--legacy",
                                 "127.0.0.1:" + std::to_string(legacy_port), "--endpoint", backend_,
                                 "--service", "filing.13212000000", "--heartbeat", "250", "--timeout", "1000"},
                                dir_.File("adapter.log"));
  const std::vector<std::string> periods = {"2026-07", "2026-08", "2026-09"};
  for (const auto& period : periods) {
    std::ofstream(dir_.File("return.json"), std::ios::trunc)
        << "{\"tax_type\":\"10101\",\"period\":\"" << period
        << "\",\"sales\":\"100.00\",\"output_tax\":\"13.00\",\"input_tax\":\"3.00\"}";
    ASSERT_EQ(Hall({"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T", "--body",
                    dir_.File("return.json"), "--id", "DOWN-" + period, "--attr", "tax_office=13212000000"})
                  .exit_code,
              0);
  }
  auto progress = [&](const std::string& id) {
    return Hall({"progress", id, "--taxpayer", "91310110666007217T"}).output;
  };
  ASSERT_TRUE(Eventually([&] { return progress("DOWN-2026-07").find("LEGACY_DOWN") != std::string::npos; }))
      << progress("DOWN-2026-07");
  std::this_thread::sleep_for(std::chrono::seconds(60));  // down for a minute
  for (const auto& period : periods) EXPECT_EQ(progress("DOWN-" + period).find("COMPLETED"), std::string::npos);

  auto standin = Process::Start({BinDir() + "/taxhub-standin-filing", "--port", std::to_string(legacy_port),
                                 "--no-copy-report-check"},
                                dir_.File("standin.log"));
  for (const auto& period : periods) {
    EXPECT_TRUE(WaitCompleted("DOWN-" + period)) << progress("DOWN-" + period) << adapter->Log();
  }
  EXPECT_EQ(hub->Stop(10'000), 0);
  adapter->Stop(5000);
  EXPECT_EQ(standin->Stop(5000), 0);
  EXPECT_NE(standin->Log().find("3 returns filed"), std::string::npos) << standin->Log();
}

// The worked Python adapter (adapters/python) serves a stage through the same MDP/0.1 worker
// protocol and Thrift structs as the C++ SDK: one refund checked, one over its limit REJECTED
// with its own code and words.
TEST_F(ChainTest, APythonAdapterServesAStage) {
  std::ofstream(dir_.File("routes.yaml"))
      << "defaults:\n  retry: {initial_backoff: 100ms, max_backoff: 1s, attempt_timeout: 5s}\n"
         "routes:\n"
         "  - name: refund\n"
         "    match: {kind: refund.apply}\n"
         "    stages: [{name: check, label: 核查, service: refund.check, time_limit: 1d}]\n";
  auto hub = StartHub();
  auto python = Process::Start({"/usr/bin/python3", std::string(TAXHUB_SOURCE_DIR) + "/adapters/python/taxhub_adapter.py",
                                "--endpoint", backend_, "--service", "refund.check", "--heartbeat", "250",
                                "--gen-py", BinDir() + "/../gen-py"},
                               dir_.File("python.log"));
  ASSERT_TRUE(python.has_value());
  auto submit = [&](const std::string& id, const std::string& amount) {
    std::ofstream(dir_.File("refund.json"), std::ios::trunc) << "{\"amount\":\"" << amount << "\"}";
    return Hall({"submit", "--kind", "refund.apply", "--taxpayer", "91310110666007217T", "--body",
                 dir_.File("refund.json"), "--id", id});
  };
  auto progress = [&](const std::string& id) {
    return Hall({"progress", id, "--taxpayer", "91310110666007217T"}).output;
  };
  ASSERT_EQ(submit("PY-1", "8600.50").exit_code, 0);
  EXPECT_TRUE(WaitCompleted("PY-1")) << progress("PY-1") << python->Log();
  EXPECT_NE(progress("PY-1").find("python-example"), std::string::npos) << progress("PY-1");
  ASSERT_EQ(submit("PY-2", "152000.00").exit_code, 0);
  ASSERT_TRUE(Eventually([&] { return progress("PY-2").find("REJECTED") != std::string::npos; }))
      << progress("PY-2") << python->Log();
  EXPECT_NE(progress("PY-2").find("OVER_LIMIT"), std::string::npos) << progress("PY-2");
  EXPECT_EQ(hub->Stop(10'000), 0);
  EXPECT_EQ(python->Stop(5000), 0);
  EXPECT_NE(python->Log().find("2 tasks handled"), std::string::npos) << python->Log();
}

// File and pay: the filing adapter assesses the tax due at the core-system stand-in, the TIPS
// adapter pays it at the bank stand-in with SM2-signed CFX — all as processes. Short funds end
// REJECTED with the bank's words; the bank debits exactly once per paid request.
TEST_F(ChainTest, FileAndPayThroughTheStandIns) {
  const int64_t now = SystemClock().NowMs();
  auto party = [&](const std::string& name) {
    auto key = *security::PrivateKey::Generate(security::KeyType::kSm2);
    auto cert = *security::IssueCertificate(
        security::CertificateSpec{name, "", "t", 1, now - 86'400'000, now + 86'400'000, false, true},
        key, key, nullptr);
    std::ofstream(dir_.File(name + ".key")) << key.ToPem();
    std::ofstream(dir_.File(name + ".pem")) << cert.ToPem();
  };
  party("bureau");
  party("bank");
  const int filing_port = FreePort();
  const int bank_port = FreePort();
  std::ofstream(dir_.File("routes.yaml"))
      << "defaults:\n  retry: {initial_backoff: 100ms, max_backoff: 1s, attempt_timeout: 5s}\n"
         "routes:\n"
         "  - name: vat\n"
         "    match: {kind: filing.vat}\n"
         "    stages:\n"
         "      - {name: file, label: 申报, service: filing, shard_by: tax_office, time_limit: 1d}\n"
         "      - {name: pay, label: 缴款, service: tips.pay, time_limit: 1d, when: {tax_due: {\">\": 0}}}\n";
  auto core = Process::Start({BinDir() + "/taxhub-standin-filing", "--port",
                              std::to_string(filing_port), "--no-copy-report-check"},
                             dir_.File("core.log"));
  auto bank = Process::Start({BinDir() + "/taxhub-standin-tips", "--port", std::to_string(bank_port),
                              "--key", dir_.File("bank.key"), "--tax-bureau-cert",
                              dir_.File("bureau.pem"), "--account", "6222000011112222:5000.00",
                              "--account", "6222000033334444:10.00"},
                             dir_.File("bank.log"));
  ASSERT_TRUE(Eventually([&] { return bank->Log().find("listening") != std::string::npos; })) << bank->Log();
  auto hub = StartHub();
  auto filing = Process::Start({BinDir() + "/taxhub-adapter-filing", "--legacy",
                                "127.0.0.1:" + std::to_string(filing_port), "--endpoint", backend_,
                                "--service", "filing.13212000000", "--heartbeat", "250"},
                               dir_.File("filing.log"));
  auto tips = Process::Start({BinDir() + "/taxhub-adapter-tips", "--legacy",
                              "127.0.0.1:" + std::to_string(bank_port), "--key",
                              dir_.File("bureau.key"), "--bank-cert", dir_.File("bank.pem"),
                              "--endpoint", backend_, "--heartbeat", "250"},
                             dir_.File("tips.log"));
  std::ofstream(dir_.File("return.json"))
      << "{\"tax_type\":\"10101\",\"period\":\"2026-10\",\"sales\":\"100000.00\","
         "\"output_tax\":\"13000.00\",\"input_tax\":\"11700.00\"}";
  auto submit = [&](const std::string& id, const std::string& account) {
    return Hall({"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T", "--body",
                 dir_.File("return.json"), "--id", id, "--attr", "tax_office=13212000000",
                 "--attr", "pay_account=" + account});
  };
  ASSERT_EQ(submit("PAY-1", "6222000011112222").exit_code, 0);
  EXPECT_TRUE(WaitCompleted("PAY-1")) << Hall({"progress", "PAY-1", "--taxpayer", "91310110666007217T"}).output
                                      << tips->Log();
  std::ofstream(dir_.File("return.json"), std::ios::trunc)
      << "{\"tax_type\":\"10101\",\"period\":\"2026-11\",\"sales\":\"100000.00\","
         "\"output_tax\":\"13000.00\",\"input_tax\":\"11700.00\"}";
  ASSERT_EQ(submit("PAY-2", "6222000033334444").exit_code, 0);
  auto progress = [&] { return Hall({"progress", "PAY-2", "--taxpayer", "91310110666007217T"}).output; };
  ASSERT_TRUE(Eventually([&] { return progress().find("REJECTED") != std::string::npos; })) << progress();
  EXPECT_NE(progress().find("24007 余额不足"), std::string::npos) << progress();
  EXPECT_EQ(hub->Stop(10'000), 0);
  filing->Stop(5000);
  tips->Stop(5000);
  core->Stop(5000);
  EXPECT_EQ(bank->Stop(5000), 0);
  EXPECT_NE(bank->Log().find("1 debits"), std::string::npos) << bank->Log();
}

// taxhub dev runs the programs of its dev section — here a stand-in and the real filing adapter —
// after writing its files, and stops every one of them by PID when it stops.
TEST_F(ChainTest, DevModeRunsItsProcessesAndStopsThemAll) {
  const int legacy_port = FreePort();
  std::ofstream(dir_.File("template.txt")) << "frontend=@FRONTEND@\n";
  std::ofstream(dir_.File("routes.yaml"))
      << "routes:\n"
         "  - name: vat\n"
         "    match: {kind: filing.vat}\n"
         "    stages: [{name: file, label: 申报, service: filing, shard_by: tax_office, time_limit: 1d}]\n";
  auto write_config = [&](const std::string& extra_arg) {
    std::ofstream(config_, std::ios::trunc)
        << "hub:\n  id: devtest\n  data_dir: " << dir_.path() << "\n  log_level: info\n"
        << "broker:\n  frontend: " << frontend_ << "\n  backend: " << backend_ << "\n  heartbeat: 250ms\n"
        << "routes: routes.yaml\n"
           "dev:\n"
           "  files:\n"
           "    - {from: template.txt, to: \"${data_dir}/written/out.txt\", values: {FRONTEND: \"${frontend}\"}}\n"
           "  processes:\n"
           "    - name: standin-filing\n"
           "      command: [\"${bin}/taxhub-standin-filing\", --port, \""
        << legacy_port << "\", --no-copy-report-check" << extra_arg << "]\n"
        << "    - name: adapter-filing\n"
           "      command: [\"${bin}/taxhub-adapter-filing\", --legacy, \"127.0.0.1:"
        << legacy_port << "\", --service, filing.13212000000, --endpoint, \"${backend}\", --heartbeat, \"250\"]\n"
        << "    - name: short-lived\n"
           "      command: [/bin/false]\n";
  };
  write_config("");
  auto hub = Process::Start({BinDir() + "/taxhub", "dev", "--config", config_}, dir_.File("dev.log"));
  ASSERT_TRUE(Eventually([&] { return hub->Log().find("up\n") != std::string::npos; })) << hub->Log();
  EXPECT_NE(hub->Log().find("processes: 3"), std::string::npos) << hub->Log();
  // One that exits by itself is reported at once, naming its log.
  EXPECT_TRUE(Eventually([&] {
    return hub->Log().find("short-lived exited on its own (exit 1); see " + dir_.path() + "/short-lived.log") !=
           std::string::npos;
  })) << hub->Log();
  std::ifstream written(dir_.File("written/out.txt"));
  std::string line;
  std::getline(written, line);
  EXPECT_EQ(line, "frontend=" + frontend_);
  std::ofstream(dir_.File("body.json"), std::ios::trunc)
      << "{\"tax_type\":\"10101\",\"period\":\"2026-10\",\"sales\":\"100.00\",\"output_tax\":\"13.00\",\"input_tax\":\"3.00\"}";
  ASSERT_EQ(Hall({"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T", "--body",
                  dir_.File("body.json"), "--id", "DEV-1", "--attr", "tax_office=13212000000"})
                .exit_code,
            0);
  EXPECT_TRUE(WaitCompleted("DEV-1")) << Hall({"progress", "DEV-1", "--taxpayer", "91310110666007217T"}).output
                                      << hub->Log();
  std::vector<pid_t> children;
  const std::string log = hub->Log();
  const std::regex started(R"(started \(pid (\d+))");
  for (std::sregex_iterator it(log.begin(), log.end(), started), end; it != end; ++it) {
    children.push_back(std::stoi((*it)[1]));
  }
  ASSERT_EQ(children.size(), 3u) << log;
  children.pop_back();  // the short-lived one, already reaped
  for (pid_t pid : children) EXPECT_EQ(kill(pid, 0), 0) << "running: " << pid;
  EXPECT_EQ(hub->Stop(15'000), 0) << hub->Log();
  for (pid_t pid : children) EXPECT_NE(kill(pid, 0), 0) << "stopped and reaped: " << pid;
  EXPECT_NE(hub->Log().find("adapter-filing stopped (exit 0)"), std::string::npos) << hub->Log();
  std::ifstream standin_log(dir_.File("standin-filing.log"));
  std::string standin((std::istreambuf_iterator<char>(standin_log)), std::istreambuf_iterator<char>());
  EXPECT_NE(standin.find("1 returns filed"), std::string::npos) << standin;

  // An unknown variable stops dev mode before anything runs, naming it.
  write_config(", \"${nowhere}\"");
  auto refused = RunCommand({BinDir() + "/taxhub", "dev", "--config", config_}, 20'000);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("unknown variable ${nowhere}"), std::string::npos) << refused.output;
}

// `taxhub dev --curve`: keys made under the data dir, each process handed its own, and only a
// hall holding the hall's key gets a request in.
TEST_F(ChainTest, DevModeWithCurveLocksTheDoors) {
  const int legacy_port = FreePort();
  std::ofstream(dir_.File("routes.yaml"))
      << "routes:\n"
         "  - name: vat\n"
         "    match: {kind: filing.vat}\n"
         "    stages: [{name: file, label: 申报, service: filing, shard_by: tax_office, time_limit: 1d}]\n";
  std::ofstream(config_, std::ios::trunc)
      << "hub:\n  id: devcurve\n  data_dir: " << dir_.path() << "\n  log_level: info\n"
      << "broker:\n  frontend: " << frontend_ << "\n  backend: " << backend_ << "\n  heartbeat: 250ms\n"
      << "routes: routes.yaml\n"
         "curve:\n"
         "  enabled: false\n"
         "  peers:\n"
         "    - {name: hall, role: hall}\n"
         "    - {name: adapter-filing, role: adapter, services: [filing.*]}\n"
         "dev:\n"
         "  processes:\n"
         "    - name: standin-filing\n"
         "      command: [\"${bin}/taxhub-standin-filing\", --port, \""
      << legacy_port << "\", --no-copy-report-check]\n"
      << "    - name: adapter-filing\n"
         "      command: [\"${bin}/taxhub-adapter-filing\", --legacy, \"127.0.0.1:"
      << legacy_port << "\", --service, filing.13212000000, --endpoint, \"${backend}\", --heartbeat, \"250\"]\n";
  std::ofstream(dir_.File("body.json"), std::ios::trunc)
      << "{\"tax_type\":\"10101\",\"period\":\"2026-10\",\"sales\":\"100.00\",\"output_tax\":\"13.00\",\"input_tax\":\"3.00\"}";
  auto hub = Process::Start({BinDir() + "/taxhub", "dev", "--curve", "--config", config_}, dir_.File("dev.log"));
  ASSERT_TRUE(Eventually([&] { return hub->Log().find("up\n") != std::string::npos; })) << hub->Log();
  EXPECT_NE(hub->Log().find("CURVE: on, 2 peers allowed"), std::string::npos) << hub->Log();
  const std::string keys = dir_.File("keys");
  struct stat info {};
  ASSERT_EQ(stat(keys.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  for (const char* name : {"hub", "hall", "adapter-filing"}) {
    EXPECT_EQ(stat((keys + "/" + name + ".pub").c_str(), &info), 0) << name;
    ASSERT_EQ(stat((keys + "/" + name + ".key").c_str(), &info), 0) << name;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << name;
  }
  auto hall = [&](std::vector<std::string> args, const std::string& key) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    if (!key.empty()) {
      argv.push_back("TAXHUB_CURVE_SERVER=" + keys + "/hub.pub");
      argv.push_back("TAXHUB_CURVE_KEY=" + key);
    }
    argv.insert(argv.end(), {BinDir() + "/taxhub-hall", "--endpoint", frontend_});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, 30'000);
  };
  const std::vector<std::string> submit = {"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T",
                                           "--body", dir_.File("body.json"), "--attr", "tax_office=13212000000",
                                           "--timeout", "400"};
  auto with = [](std::vector<std::string> args, const std::string& id) {
    args.insert(args.end(), {"--id", id});
    return args;
  };
  auto plain = hall(with(submit, "PLAIN-1"), "");
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
  EXPECT_NE(plain.output.find("TIMEOUT"), std::string::npos) << "a plain-text hall never gets in: " << plain.output;
  auto wrong = hall(with(submit, "WRONG-1"), keys + "/adapter-filing.key");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("FORBIDDEN"), std::string::npos) << "an adapter's key may not submit: " << wrong.output;
  auto accepted = hall(with(submit, "CURVE-1"), keys + "/hall.key");
  ASSERT_EQ(accepted.exit_code, 0) << accepted.output << hub->Log();
  EXPECT_TRUE(Eventually([&] {
    return hall({"progress", "CURVE-1", "--taxpayer", "91310110666007217T"}, keys + "/hall.key")
               .output.find("COMPLETED") != std::string::npos;
  }, 15'000)) << "the adapter process got in with its own key: " << hub->Log();
  auto unknown = hall({"progress", "PLAIN-1", "--taxpayer", "91310110666007217T"}, keys + "/hall.key");
  EXPECT_NE(unknown.output.find("NOT_FOUND"), std::string::npos) << "nothing of the refused ones was written";

  // The hall changes keys while the hub runs: a new pair, its line added to hall.pub, SIGHUP.
  auto made = RunCommand({BinDir() + "/taxhub", "keygen", "--dir", keys, "hall-next"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto next_refused = hall(with(submit, "NEXT-0"), keys + "/hall-next.key");
  EXPECT_NE(next_refused.output.find("TIMEOUT"), std::string::npos) << "not listed yet: " << next_refused.output;
  {
    std::ifstream in(keys + "/hall-next.pub");
    std::string line;
    std::getline(in, line);
    std::ofstream(keys + "/hall.pub", std::ios::app) << line << "\n";
  }
  hub->Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] { return hub->Log().find("CURVE peer keys reloaded: 2 peers, 3 keys") != std::string::npos; }))
      << hub->Log();
  auto next = hall(with(submit, "NEXT-1"), keys + "/hall-next.key");
  EXPECT_EQ(next.exit_code, 0) << "the new key is in, without a restart: " << next.output;
  EXPECT_EQ(hall(with(submit, "OLD-1"), keys + "/hall.key").exit_code, 0) << "and the old one still, until taken out";
  EXPECT_EQ(hub->Stop(15'000), 0) << hub->Log();
}

// The hall's `events` command follows a running hub's stream with the subscriber library: from
// the start of the stream, then — on the same offset file — exactly where it left off.
TEST_F(ChainTest, TheEventStreamCanBeFollowedAndResumed) {
  const std::string events = "tcp://127.0.0.1:" + std::to_string(FreePort());
  std::ofstream(config_, std::ios::app) << "events:\n  publish: " << events << "\n  heartbeat: 200ms\n";
  auto hub = StartHub();
  EXPECT_NE(hub->Log().find("events (PUB, stream e2e): " + events), std::string::npos) << hub->Log();
  auto adapter = StartAdapter();
  ASSERT_EQ(Hall({"submit", "--kind", "filing.vat", "--taxpayer", "91310110666007217T", "--body",
                  dir_.File("body.json"), "--id", "EV-1"})
                .exit_code,
            0);
  ASSERT_TRUE(WaitCompleted("EV-1"));
  auto follow = [&](const std::string& count) {
    return Hall({"events", "--stream", "e2e", "--events", events, "--offset", dir_.File("offset"), "--count", count});
  };
  auto first = follow("5");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("e2e:1  "), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("request.accepted  EV-1"), std::string::npos) << first.output;
  EXPECT_EQ(std::count(first.output.begin(), first.output.end(), '\n'), 5) << first.output;
  auto next = follow("1");
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_EQ(next.output.rfind("e2e:6  ", 0), 0u) << "resumed after the stored offset: " << next.output;
  EXPECT_EQ(hub->Stop(10'000), 0);
  adapter->Stop(5000);
}

// The benchmark's signed path end to end: taxhub demo-pki writes a CA and taxpayer keys, a hub
// trusting that CA takes load signed with either algorithm (signed before the clock starts,
// one certificate per taxpayer, so the verifier checks each certificate once and remembers
// it), paced load keeps to its rate, and what is not signed by a trusted key is refused.
TEST_F(ChainTest, ADemoPkiSignsLoadThatASecuredHubAccepts) {
  const std::string pki = dir_.File("pki");
  ASSERT_EQ(RunCommand({BinDir() + "/taxhub", "demo-pki", pki}).exit_code, 0);
  EXPECT_EQ(RunCommand({BinDir() + "/taxhub", "demo-pki"}).exit_code, 2);
  for (const char* secret : {"/ca-sm2.key", "/hub.key", "/taxpayers/91310110666007217T.sm2.key"}) {
    struct stat info {};
    ASSERT_EQ(stat((pki + secret).c_str(), &info), 0) << secret;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << secret << " is readable by others";
  }
  std::ofstream(config_, std::ios::app) << "security: {ca_bundle: " << pki << "/ca.pem}\n";
  auto hub = StartHub();
  for (const char* algorithm : {"sm2", "ecdsa"}) {
    auto load = Hall({"load", "--clients", "2", "--requests", "60", "--inflight", "4", "--pki", pki,
                      "--algorithm", algorithm});
    EXPECT_EQ(load.exit_code, 0) << load.output;
    EXPECT_NE(load.output.find("accepted: 60  errors: 0"), std::string::npos) << algorithm << ": " << load.output;
  }
  auto paced = Hall({"load", "--clients", "2", "--requests", "40", "--rate", "100", "--pki", pki});
  EXPECT_NE(paced.output.find("accepted: 40  errors: 0"), std::string::npos) << paced.output;
  double seconds = 0;
  const size_t took = paced.output.find("each) in ");  // "load: 40 submitted by 2 clients (1 in flight each) in 0.41 s"
  ASSERT_NE(took, std::string::npos) << paced.output;
  ASSERT_EQ(std::sscanf(paced.output.c_str() + took + 9, "%lf", &seconds), 1) << paced.output;
  EXPECT_GE(seconds, 0.35) << "40 requests at 100/s take about 0.4 s: " << paced.output;
  EXPECT_LT(seconds, 2.0) << "40 requests at 100/s take about 0.4 s: " << paced.output;
  // Paced, the load says how late it sent, since the latencies count from when each was due.
  EXPECT_NE(paced.output.find("sends late ms: p50 "), std::string::npos) << paced.output;
  auto unsigned_load = Hall({"load", "--clients", "1", "--requests", "3"});
  EXPECT_NE(unsigned_load.exit_code, 0) << unsigned_load.output;
  EXPECT_NE(unsigned_load.output.find("MISSING_FIELD: the signer's certificate is required (field certificate)"),
            std::string::npos)
      << unsigned_load.output;
  EXPECT_EQ(Hall({"load", "--requests", "1", "--pki", pki, "--algorithm", "rsa"}).exit_code, 2);
  EXPECT_EQ(hub->Stop(10'000), 0);
}

TEST_F(ChainTest, KeygenWritesKeyPairsAndNeverOverwritesOne) {
  auto made = RunCommand({BinDir() + "/taxhub", "keygen", "--dir", dir_.path(), "hub", "hall"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::ifstream hall(dir_.File("hall.pub"));
  std::string key;
  std::getline(hall, key);
  EXPECT_EQ(key.size(), 40u);
  auto again = RunCommand({BinDir() + "/taxhub", "keygen", "--dir", dir_.path(), "hall"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.output.find("hall.key: exists"), std::string::npos) << again.output;
  EXPECT_EQ(RunCommand({BinDir() + "/taxhub", "keygen", "--dir", dir_.path()}).exit_code, 2);
}

TEST_F(ChainTest, CheckConfigNamesTheBadLine) {
  std::ofstream(dir_.File("bad.yaml")) << "hub:\n  id: x\n  colour: blue\nroutes: routes.yaml\n";
  auto result = RunCommand({BinDir() + "/taxhub", "check-config", dir_.File("bad.yaml")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("bad.yaml:3: hub.colour: unknown key"), std::string::npos)
      << result.output;
  result = RunCommand({BinDir() + "/taxhub", "check-config", config_});
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(ChainTest, CheckConfigValidatesARoutesFile) {
  auto shipped = RunCommand({BinDir() + "/taxhub", "check-config", SourceDir() + "/config/routes.yaml"});
  EXPECT_EQ(shipped.exit_code, 0) << shipped.output;
  EXPECT_NE(shipped.output.find("routes"), std::string::npos);
  std::ofstream(dir_.File("bad-routes.yaml"))
      << "routes:\n  - name: vat\n    match: {kind: filing.vat}\n    stages:\n"
         "      - {name: file, service: filing, time_limit: soon}\n";
  auto bad = RunCommand({BinDir() + "/taxhub", "check-config", dir_.File("bad-routes.yaml")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("bad-routes.yaml:5: route vat.stages[0].time_limit: expected a "
                            "duration"),
            std::string::npos)
      << bad.output;
}

TEST_F(ChainTest, SighupReloadsTheRoutesAndABadFileChangesNothing) {
  auto hub = StartHub();
  auto adapter = StartAdapter();
  std::ofstream(dir_.File("routes.yaml"), std::ios::app)
      << "  - name: extra\n    match: {kind: extra.kind}\n"
         "    stages: [{name: accept, service: e.accept, time_limit: 1h}]\n";
  hub->Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] { return hub->Log().find("routes reloaded") != std::string::npos; }))
      << hub->Log();
  auto submit = Hall({"submit", "--kind", "extra.kind", "--taxpayer", "91310110666007217T",
                      "--body", dir_.File("body.json"), "--id", "E2E-EXTRA"});
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  EXPECT_TRUE(WaitCompleted("E2E-EXTRA"));

  std::ofstream(dir_.File("routes.yaml"), std::ios::app) << "  - name: broken\n";
  hub->Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] { return hub->Log().find("routes not reloaded") != std::string::npos; }))
      << hub->Log();
  EXPECT_TRUE(hub->Running());
  submit = Hall({"submit", "--kind", "extra.kind", "--taxpayer", "91310110666007217T", "--body",
                 dir_.File("body.json"), "--id", "E2E-EXTRA-2"});
  EXPECT_EQ(submit.exit_code, 0) << "the last good table is still in force: " << submit.output;
  EXPECT_EQ(hub->Stop(10'000), 0);
  adapter->Stop(5000);
}

TEST_F(ChainTest, ASecondHubOnTheSameSqliteLedgerIsRefused) {
  auto hub = StartHub();
  std::string other = dir_.File("other.yaml");
  std::ifstream in(config_);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = std::regex_replace(text, std::regex(frontend_), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  text = std::regex_replace(text, std::regex(backend_), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  std::ofstream(other) << text;
  auto result = RunCommand({BinDir() + "/taxhub", "serve", "--config", other}, 10'000);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("in use by another hub"), std::string::npos) << result.output;
  hub->Stop(10'000);
}

}  // namespace
}  // namespace taxhub::testing
