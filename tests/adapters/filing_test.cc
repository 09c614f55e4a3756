// The filing adapter against the core-system stand-in, over real TCP.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "adapters/filing/filing_handler.h"
#include "adapters/filing/filing_protocol.h"
#include "adapters/standins/filing_standin.h"

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
  }

  std::unique_ptr<standins::FilingStandIn> standin_;
  std::unique_ptr<FilingHandler> handler_;
};

TEST_F(FilingTest, AVatReturnNeedsTheMonthsCopyReportThenFilesOnce) {
  wire::StageResult early = handler_->Handle(Task("R1/1", "filing.vat"));
  EXPECT_EQ(early.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(early.code, "E103");
  EXPECT_NE(early.message.find("抄报"), std::string::npos) << "the legacy reason, from GBK";

  wire::StageResult report = handler_->Handle(Task("C1/0", "invoice.copy_report"));
  ASSERT_EQ(report.outcome, wire::StageOutcome::SUCCEEDED) << report.message;

  wire::StageResult filed = handler_->Handle(Task("R2/1", "filing.vat"));
  ASSERT_EQ(filed.outcome, wire::StageOutcome::SUCCEEDED) << filed.message;
  EXPECT_EQ(filed.outputs.at("tax_due"), "1300.50");
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

TEST_F(FilingTest, ATaxpayerNotRegisteredForTheTaxIsRefused) {
  wire::StageResult r = handler_->Handle(Task("R4/1", "filing.cit", "91350100M000100Y43", "10104"));
  EXPECT_EQ(r.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(r.code, "E102");
}

TEST_F(FilingTest, ALostAnswerIsRetriedUnderTheSameSerial) {
  ASSERT_EQ(handler_->Handle(Task("C2/0", "invoice.copy_report")).outcome,
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
  ASSERT_EQ(handler_->Handle(Task("C7/0", "invoice.copy_report")).outcome, wire::StageOutcome::SUCCEEDED);
  wire::StageResult up = handler_->Handle(Task("R7/1", "filing.vat"));
  EXPECT_EQ(up.outcome, wire::StageOutcome::SUCCEEDED) << up.code << " " << up.message;
}

TEST_F(FilingTest, ManyConnectionsAtOnceAndAStopThatWaitsForThem) {
  ASSERT_EQ(handler_->Handle(Task("C8/0", "invoice.copy_report")).outcome, wire::StageOutcome::SUCCEEDED);
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
