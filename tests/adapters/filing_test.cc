// The filing adapter against the core-system stand-in, over real TCP.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "adapters/filing/filing_handler.h"
#include "adapters/filing/filing_protocol.h"
#include "adapters/invoice/invoice_handler.h"
#include "adapters/standins/filing_standin.h"
#include "adapters/standins/invoice_standin.h"

namespace taxhub::filing {
namespace {

wire::StageTask Task(const std::string& task_id, const std::string& kind,
                     const std::string& taxpayer = "91310110666007217T",
                     const std::string& tax_type = "10101") {
  wire::StageTask t;
  t.task_id = task_id;
  t.request_id = task_id.substr(0, task_id.find('/'));
  t.stage = kind == "invoice.copy_report" ? "report" : "file";
  t.kind = kind;
  t.attempt = 1;
  t.taxpayer_id = taxpayer;
  t.payload = "{\"tax_type\":\"" + tax_type +
              "\",\"period\":\"2026-10\",\"sales\":\"100000.00\",\"output_tax\":\"13000.00\","
              "\"input_tax\":\"11699.50\"}";
  return t;
}

class FilingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    standins::FilingOptions options;
    options.unregistered = {"91350100M000100Y43:10104"};
    standin_ = std::make_unique<standins::FilingStandIn>(options);
    ASSERT_TRUE(standin_->Start().ok());
    handler_ = std::make_unique<FilingHandler>(FilingHandlerOptions{"127.0.0.1", standin_->port(), 300});
    // The copy report reaches the core system through the invoice system, as in production.
    standins::InvoiceOptions invoice_options;
    invoice_options.core = {"127.0.0.1", standin_->port(), 300};
    invoice_system_ = std::make_unique<standins::InvoiceStandIn>(invoice_options);
    ASSERT_TRUE(invoice_system_->Start().ok());
    invoice_ = std::make_unique<invoice::InvoiceHandler>(invoice::InvoiceHandlerOptions{"127.0.0.1", invoice_system_->port(), 1000});
  }

  wire::StageResult CopyReport(const std::string& task_id) {
    wire::StageTask t = Task(task_id, "invoice.copy_report");
    t.payload = "{\"period\":\"2026-10\",\"invoices\":[{\"code\":\"3200261130\",\"number\":\"00000009\","
                "\"date\":\"2026-10-09\",\"amount\":\"100000.00\",\"tax\":\"13000.00\","
                "\"buyer\":\"91320200MA1MXXXX5H\"}]}";
    return invoice_->Handle(t);
  }

  std::unique_ptr<standins::FilingStandIn> standin_;
  std::unique_ptr<FilingHandler> handler_;
  std::unique_ptr<standins::InvoiceStandIn> invoice_system_;
  std::unique_ptr<invoice::InvoiceHandler> invoice_;
};

TEST_F(FilingTest, AVatReturnNeedsTheMonthsCopyReportThenFilesOnce) {
  wire::StageResult early = handler_->Handle(Task("R1/1", "filing.vat"));
  EXPECT_EQ(early.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(early.code, "E103");
  EXPECT_NE(early.message.find("抄报"), std::string::npos) << "the legacy reason, from GBK";

  wire::StageResult report = CopyReport("C1/0");
  ASSERT_EQ(report.outcome, wire::StageOutcome::SUCCEEDED) << report.code << " " << report.message;
  EXPECT_EQ(report.outputs.at("invoices_reported"), "1");
  EXPECT_EQ(report.outputs.at("obligations"), "[{\"kind\":\"invoice.copy_report\",\"period\":\"2026-11\"}]");
  EXPECT_EQ(invoice_system_->copy_reports(), 1);

  wire::StageResult filed = handler_->Handle(Task("R2/1", "filing.vat"));
  ASSERT_EQ(filed.outcome, wire::StageOutcome::SUCCEEDED) << filed.message;
  EXPECT_EQ(filed.outputs.at("tax_due"), "1300.50");
  EXPECT_EQ(filed.outputs.at("obligations"), "[{\"kind\":\"filing.vat\",\"period\":\"2026-11\"}]")
      << "filing October makes November owed";
  EXPECT_EQ(filed.outputs.at("obligations_met"), "[{\"kind\":\"filing.vat\",\"period\":\"2026-10\"}]");
  EXPECT_EQ(filed.outputs.at("sales"), "100000.00");
  const std::string number = filed.outputs.at("filing_no");

  // The same task delivered again (after a lost answer, say) is the same filing.
  wire::StageTask again = Task("R2/1", "filing.vat");
  again.attempt = 2;
  wire::StageResult repeat = handler_->Handle(again);
  ASSERT_EQ(repeat.outcome, wire::StageOutcome::SUCCEEDED);
  EXPECT_EQ(repeat.outputs.at("filing_no"), number);
  EXPECT_EQ(standin_->filings(), 1);

  // Another request for the same period is a second return: refused.
  wire::StageResult second = handler_->Handle(Task("R3/1", "filing.vat"));
  EXPECT_EQ(second.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(second.code, "E101");
}

// The invoice system passes the copy report on before answering: with the core system down it
// records nothing and says so (UNAVAILABLE, no attempt spent), and the retry goes through once.
TEST_F(FilingTest, ACopyReportWaitsForTheCoreSystem) {
  standin_->Stop();
  wire::StageResult down = CopyReport("C9/0");
  EXPECT_EQ(down.outcome, wire::StageOutcome::UNAVAILABLE);
  EXPECT_EQ(down.code, "CORE_DOWN") << down.message;
  EXPECT_EQ(invoice_system_->copy_reports(), 0);
  ASSERT_TRUE(standin_->Start().ok());
  EXPECT_EQ(CopyReport("C9/0").outcome, wire::StageOutcome::SUCCEEDED);
  EXPECT_EQ(CopyReport("C9/0").outcome, wire::StageOutcome::SUCCEEDED) << "a redelivery: the first answer";
  EXPECT_EQ(invoice_system_->copy_reports(), 1);
  EXPECT_EQ(handler_->Handle(Task("R9/1", "filing.vat")).outcome, wire::StageOutcome::SUCCEEDED);

  // Only invoices the reporter issued belong in a copy report.
  wire::StageTask foreign = Task("C10/0", "invoice.copy_report");
  foreign.payload = "{\"period\":\"2026-11\",\"invoices\":[{\"code\":\"3200261130\",\"number\":\"00000010\","
                    "\"date\":\"2026-11-09\",\"amount\":\"1.00\",\"tax\":\"0.13\",\"seller\":\"91320200MA1MXXXX5H\","
                    "\"buyer\":\"91310110666007217T\"}]}";
  wire::StageResult refused = invoice_->Handle(foreign);
  EXPECT_EQ(refused.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(refused.code, "I199");
  // A month without invoices is still reported.
  wire::StageTask empty = Task("C11/0", "invoice.copy_report");
  empty.payload = "{\"period\":\"2026-12\"}";
  wire::StageResult none = invoice_->Handle(empty);
  EXPECT_EQ(none.outcome, wire::StageOutcome::SUCCEEDED) << none.code << " " << none.message;
  EXPECT_EQ(none.outputs.at("invoices_reported"), "0");
}

TEST_F(FilingTest, ATaxpayerNotRegisteredForTheTaxIsRefused) {
  wire::StageResult r = handler_->Handle(Task("R4/1", "filing.cit", "91350100M000100Y43", "10104"));
  EXPECT_EQ(r.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(r.code, "E102");
}

// Registration: the core system recognises the tax types (税种认定), after which their returns
// are accepted; the first period of each is owed — VAT monthly, corporate income tax by quarter.
TEST_F(FilingTest, RegistrationRecognisesTaxTypesAndOwesTheirFirstReturns) {
  wire::StageTask registration = Task("REG1/2", "registration.new", "91350100M000100Y43");
  registration.stage = "record";
  registration.payload = "{\"name\":\"示范企业\",\"tax_types\":[\"10101\",\"10104\",\"10111\"],\"start\":\"2026-11\"}";
  wire::StageResult r = handler_->Handle(registration);
  ASSERT_EQ(r.outcome, wire::StageOutcome::SUCCEEDED) << r.code << " " << r.message;
  EXPECT_EQ(r.outputs.at("tax_types"), "10101,10104,10111");
  EXPECT_EQ(r.outputs.at("obligations"),
            "[{\"kind\":\"filing.vat\",\"period\":\"2026-11\"},{\"kind\":\"filing.cit\",\"period\":\"2026-12\"}]")
      << "stamp duty (10111) is recognised but has no return the hub knows";
  wire::StageResult cit = handler_->Handle(Task("R5/1", "filing.cit", "91350100M000100Y43", "10104"));
  ASSERT_EQ(cit.outcome, wire::StageOutcome::SUCCEEDED) << cit.code << " " << cit.message << " (E102 before)";
  EXPECT_EQ(cit.outputs.at("obligations_met"), "[{\"kind\":\"filing.cit\",\"period\":\"2026-12\"}]")
      << "October is in the quarter that ends in December";
  EXPECT_EQ(cit.outputs.at("obligations"), "[{\"kind\":\"filing.cit\",\"period\":\"2027-03\"}]")
      << "the next quarter's prepayment";

  // Without a start, the month the hall accepted the registration (China time).
  registration.task_id = "REG2/2";
  registration.payload = "{}";
  registration.accepted_at_ms = 1'798'761'600'000 - 3'600'000;  // 2026-12-31 23:00 UTC = 2027-01-01 07:00 CST
  r = handler_->Handle(registration);
  ASSERT_EQ(r.outcome, wire::StageOutcome::SUCCEEDED);
  EXPECT_EQ(r.outputs.at("obligations"), "[{\"kind\":\"filing.vat\",\"period\":\"2027-01\"}]");

  registration.payload = "{\"tax_types\":[\"VAT\"]}";
  r = handler_->Handle(registration);
  EXPECT_EQ(r.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(r.message, "tax_types[0] is not a 5-digit levy code");
  registration.payload = "{\"tax_types\":\"10101\"}";
  EXPECT_EQ(handler_->Handle(registration).message, "tax_types must be a list of levy codes");
  registration.payload = "{\"start\":\"2026-13\"}";
  EXPECT_EQ(handler_->Handle(registration).code, "BAD_REGISTRATION");

  // Deregistration: no return is accepted afterwards, and the unused invoices must be cancelled.
  wire::StageTask deregistration = registration;
  deregistration.task_id = "DEREG1/2";
  deregistration.kind = "registration.cancel";
  deregistration.accepted_at_ms = 1'798'761'600'000 - 3'600'000;
  r = handler_->Handle(deregistration);
  ASSERT_EQ(r.outcome, wire::StageOutcome::SUCCEEDED) << r.code << " " << r.message;
  EXPECT_EQ(r.outputs.at("obligations"), "[{\"kind\":\"invoice.cancel\",\"period\":\"2027-01\"}]");
  wire::StageResult late = handler_->Handle(Task("R6/1", "filing.cit", "91350100M000100Y43", "10104"));
  EXPECT_EQ(late.code, "E102") << "deregistered";

  standin_->Stop();
  registration.payload = "{}";
  EXPECT_EQ(handler_->Handle(registration).outcome, wire::StageOutcome::UNAVAILABLE);
}

TEST(FilingProtocol, PeriodsOfTaxTypes) {
  EXPECT_EQ(AddMonths("2026-10", 1), "2026-11");
  EXPECT_EQ(AddMonths("202612", 1), "2027-01");
  EXPECT_EQ(AddMonths("2026-01", -1), "2025-12");
  EXPECT_EQ(AddMonths("2026-13", 0), "");
  EXPECT_EQ(AddMonths("2026/10", 0), "");
  const TaxTypeReturn* cit = ReturnFor("10104");
  ASSERT_NE(cit, nullptr);
  EXPECT_EQ(PeriodContaining(*cit, "2026-11"), "2026-12");
  EXPECT_EQ(PeriodContaining(*cit, "2026-12"), "2026-12");
  EXPECT_EQ(PeriodContaining(*cit, "2027-01"), "2027-03");
  EXPECT_EQ(PeriodContaining(*ReturnFor("10101"), "2027-01"), "2027-01");
  EXPECT_EQ(ReturnFor("10111"), nullptr);
}

TEST_F(FilingTest, ALostAnswerIsRetriedUnderTheSameSerial) {
  ASSERT_EQ(CopyReport("C2/0").outcome,
            wire::StageOutcome::SUCCEEDED);
  standin_->SetDropAnswers(true);  // the legacy system files, the answer is lost
  wire::StageResult lost = handler_->Handle(Task("R5/1", "filing.vat"));
  EXPECT_EQ(lost.outcome, wire::StageOutcome::RETRY);
  EXPECT_EQ(lost.code, "LEGACY_TIMEOUT");
  standin_->SetDropAnswers(false);
  wire::StageResult retried = handler_->Handle(Task("R5/1", "filing.vat"));
  EXPECT_EQ(retried.outcome, wire::StageOutcome::SUCCEEDED) << retried.code << " " << retried.message;
  EXPECT_EQ(standin_->filings(), 1) << "recognised as the same filing, not filed twice";
}

TEST_F(FilingTest, ADownSystemMeansRetryAndABadReturnMeansRejected) {
  wire::StageTask bad = Task("R6/1", "filing.vat");
  bad.payload = "not json";
  EXPECT_EQ(handler_->Handle(bad).code, "BAD_RETURN");
  bad.payload = "{\"period\":\"2026-10\",\"sales\":\"12,000\"}";
  EXPECT_EQ(handler_->Handle(bad).code, "BAD_RETURN");
  standin_->Stop();
  wire::StageResult down = handler_->Handle(Task("R7/1", "filing.vat"));
  EXPECT_EQ(down.outcome, wire::StageOutcome::UNAVAILABLE) << "never delivered: no attempt spent";
  EXPECT_EQ(down.code, "LEGACY_DOWN");
  // Back up, on the same port, with what it had recorded.
  const int port = standin_->port();
  ASSERT_TRUE(standin_->Start().ok());
  EXPECT_EQ(standin_->port(), port);
  ASSERT_EQ(CopyReport("C7/0").outcome, wire::StageOutcome::SUCCEEDED);
  wire::StageResult up = handler_->Handle(Task("R7/1", "filing.vat"));
  EXPECT_EQ(up.outcome, wire::StageOutcome::SUCCEEDED) << up.code << " " << up.message;
}

TEST_F(FilingTest, ManyConnectionsAtOnceAndAStopThatWaitsForThem) {
  ASSERT_EQ(CopyReport("C8/0").outcome, wire::StageOutcome::SUCCEEDED);
  standin_->SetDelay(50);
  std::vector<std::thread> clients;
  std::atomic<int> filed{0}, refused{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      wire::StageResult r = handler_->Handle(Task("P" + std::to_string(i) + "/1", "filing.vat"));
      if (r.outcome == wire::StageOutcome::SUCCEEDED) ++filed;
      if (r.code == "E101") ++refused;
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(filed, 1) << "one return per period, however many arrive at once";
  EXPECT_EQ(refused, 15);
  EXPECT_EQ(standin_->requests(), 17);
  standin_->Stop();
}

TEST(FilingProtocol, AmountsAndSerials) {
  EXPECT_EQ(ToFen("1300.5"), 130050);
  EXPECT_EQ(ToFen("0"), 0);
  EXPECT_EQ(ToFen("12.34"), 1234);
  EXPECT_FALSE(ToFen("12.345").has_value());
  EXPECT_FALSE(ToFen("-1").has_value());
  EXPECT_FALSE(ToFen("1e3").has_value());
  EXPECT_FALSE(ToFen("").has_value());
  EXPECT_EQ(FromFen(130050), "1300.50");
  EXPECT_EQ(FromFen(5), "0.05");
  EXPECT_EQ(SerialFor("R1/2"), SerialFor("R1/2"));
  EXPECT_NE(SerialFor("R1/2"), SerialFor("R1/3"));
  EXPECT_EQ(SerialFor("R1/2").size(), 20u);
}

}  // namespace
}  // namespace taxhub::filing
