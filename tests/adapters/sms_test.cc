// The sms adapter against the real Kannel (bearerbox, smsbox, fakesmsc on 127.0.0.1): Chinese
// text arrives intact as UCS-2, delivery reports come back through dlr-url, and no retry — after
// a timeout, a gateway that is down or a repeated task — sends the same message twice.

#include <gtest/gtest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "adapters/sms/delivery_reports.h"
#include "adapters/sms/sms_handler.h"
#include "tests/support/kannel.h"
#include "tests/support/temp_dir.h"

namespace taxhub::testing {
namespace {

using wire::StageOutcome;

TEST(SmsText, TemplatesMasksAndParts) {
  EXPECT_EQ(sms::MaskMobile("13800138000"), "138****8000");
  EXPECT_TRUE(sms::IsMobileNumber("13800138000"));
  EXPECT_FALSE(sms::IsMobileNumber("12800138000"));
  EXPECT_FALSE(sms::IsMobileNumber("1380013800"));
  EXPECT_FALSE(sms::IsMobileNumber("1380013800x"));
  auto text = RenderTemplate("您{period}期税款{tax_due}元已缴", {{"period", "2026-10"}, {"tax_due", "1300.00"}});
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "您2026-10期税款1300.00元已缴");
  auto missing = RenderTemplate("凭证号{voucher}", {{"period", "2026-10"}});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().field(), "voucher");
  EXPECT_FALSE(RenderTemplate("凭证号{voucher", {}).has_value());
  EXPECT_EQ(sms::CountCharacters("您好ab"), 4u);
  EXPECT_EQ(sms::UcsParts(70), 1);
  EXPECT_EQ(sms::UcsParts(71), 2);
  EXPECT_EQ(sms::UcsParts(134), 2);
  EXPECT_EQ(sms::UcsParts(135), 3);
  sms::KannelOptions options;
  options.username = "u";
  options.password = "p w";
  options.dlr_url = "http://127.0.0.1:9/dlr";
  const std::string target = sms::SendSmsTarget(options, "13800138000", "您好", "R-1/3");
  EXPECT_NE(target.find("coding=2"), std::string::npos) << target;
  EXPECT_NE(target.find("charset=UTF-8"), std::string::npos) << target;
  EXPECT_NE(target.find("text=%E6%82%A8%E5%A5%BD"), std::string::npos) << target;
  // The dlr-url is one encoded parameter carrying the task and Kannel's %d / %T / %A.
  EXPECT_NE(target.find("dlr-url=http%3A%2F%2F127.0.0.1%3A9%2Fdlr%3Ftask%3DR-1%252F3%26type%3D%25d"),
            std::string::npos)
      << target;
  EXPECT_EQ(sms::ReportType(1), "sms.delivered");
  EXPECT_EQ(sms::ReportType(8), "sms.smsc_accepted");
  EXPECT_EQ(sms::ReportType(16), "sms.smsc_rejected");
}

class SmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!KannelGateway::Installed()) {
      if (std::getenv("CI")) FAIL() << "Kannel (kannel, kannel-extras) is not installed";
      GTEST_SKIP() << "Kannel is not installed";
    }
    std::string why;
    gateway_ = KannelGateway::Start(dir_.path(), &why);
    ASSERT_TRUE(gateway_.has_value()) << why;
    auto outbox = sms::Outbox::Open(dir_.File("outbox.db"));
    ASSERT_TRUE(outbox.has_value()) << outbox.error().ToString();
    outbox_ = std::move(*outbox);
    reports_ = std::make_unique<sms::DeliveryReports>(sms::DeliveryReportOptions{}, *outbox_, clock_);
    ASSERT_TRUE(reports_->Start().ok());
    options_.kannel.port = gateway_->sendsms_port();
    options_.kannel.username = KannelGateway::kUser;
    options_.kannel.password = KannelGateway::kPassword;
    options_.kannel.timeout_ms = 1000;
    options_.kannel.dlr_url = "http://127.0.0.1:" + std::to_string(reports_->port()) + "/dlr";
    options_.templates["notify_paid"] = "您{period}期增值税{tax_due}元已缴款，电子缴款凭证号{voucher}。";
    options_.confirm_window_ms = 60'000;
  }
  void TearDown() override {
    if (reports_) reports_->Stop();
    if (gateway_) gateway_->Stop();
  }

  wire::StageTask Task(const std::string& task_id, const std::string& mobile = "13800138000") {
    wire::StageTask task;
    task.task_id = task_id;
    task.request_id = task_id.substr(0, task_id.find('/'));
    task.stage = "notify_paid";
    task.attempt = 1;
    task.taxpayer_id = "91310110666007217T";
    if (!mobile.empty()) task.attributes["mobile"] = mobile;
    task.payload = "{\"period\":\"2026-10\",\"tax_type\":\"10101\"}";
    task.inputs = {{"tax_due", "1300.00"}, {"voucher", "320000000012345678"}};
    return task;
  }

  std::vector<int> ReportTypes(const std::string& task_id) {
    std::vector<int> types;
    auto pending = outbox_->PendingReports(100);
    for (const auto& r : pending ? *pending : std::vector<sms::DeliveryReport>{}) {
      if (r.task_id == task_id) types.push_back(r.type);
    }
    return types;
  }

  bool Eventually(const std::function<bool()>& done, int timeout_ms = 10'000) {
    for (int waited = 0; waited < timeout_ms; waited += 50) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }

  TempDir dir_;
  SystemClock clock_;
  std::optional<KannelGateway> gateway_;
  std::unique_ptr<sms::Outbox> outbox_;
  std::unique_ptr<sms::DeliveryReports> reports_;
  sms::SmsOptions options_;
};

TEST_F(SmsTest, ChineseTextArrivesOnceAndItsDeliveryReportsComeBack) {
  sms::SmsHandler handler(options_, *outbox_, clock_);
  auto result = handler.Handle(Task("SMS-1/2"));
  ASSERT_EQ(result.outcome, StageOutcome::SUCCEEDED) << result.code << " " << result.message;
  EXPECT_EQ(result.outputs.at("sms_status"), "accepted");
  EXPECT_EQ(result.outputs.at("sms_to"), "138****8000");
  EXPECT_EQ(result.outputs.at("sms_parts"), "1");
  ASSERT_TRUE(Eventually([&] { return gateway_->Received().size() == 1; }));
  const ReceivedSms sms = gateway_->Received()[0];
  EXPECT_EQ(sms.to, "13800138000");
  EXPECT_EQ(sms.from, "12366");
  EXPECT_EQ(sms.text, "您2026-10期增值税1300.00元已缴款，电子缴款凭证号320000000012345678。");
  // Kannel reports "SMSC accepted" (8) and "delivered" (1) through the dlr-url, in either order.
  ASSERT_TRUE(Eventually([&] { return ReportTypes("SMS-1/2").size() == 2; }));
  std::vector<int> types = ReportTypes("SMS-1/2");
  std::sort(types.begin(), types.end());
  EXPECT_EQ(types, (std::vector<int>{1, 8}));

  // The same task again (a redelivery): the same answer, no second message.
  auto again = handler.Handle(Task("SMS-1/2"));
  EXPECT_EQ(again.outcome, StageOutcome::SUCCEEDED);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(gateway_->Received().size(), 1u);

  // A new handler on the same outbox (the adapter restarted) remembers it too.
  sms::SmsHandler restarted(options_, *outbox_, clock_);
  EXPECT_EQ(restarted.Handle(Task("SMS-1/2")).outcome, StageOutcome::SUCCEEDED);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(gateway_->Received().size(), 1u);

  // A template for the request kind and stage wins over the stage's own.
  options_.templates["notify"] = "通用通知{request_id}";
  options_.templates["payment.tax.notify"] = "缴款{tax_due}元成功，凭证号{voucher}";
  sms::SmsHandler by_kind(options_, *outbox_, clock_);
  wire::StageTask payment = Task("SMS-10/1");
  payment.kind = "payment.tax";
  payment.stage = "notify";
  ASSERT_EQ(by_kind.Handle(payment).outcome, StageOutcome::SUCCEEDED);
  wire::StageTask other = Task("SMS-11/1");
  other.kind = "registration.new";
  other.stage = "notify";
  ASSERT_EQ(by_kind.Handle(other).outcome, StageOutcome::SUCCEEDED);
  ASSERT_TRUE(Eventually([&] { return gateway_->Received().size() == 3; }));
  EXPECT_EQ(gateway_->Received()[1].text, "缴款1300.00元成功，凭证号320000000012345678");
  EXPECT_EQ(gateway_->Received()[2].text, "通用通知SMS-11");
}

// smsbox takes the request but does not answer in time: whether it will send is unknown, so the
// adapter sends nothing more until either a delivery report proves the first send or the
// confirmation window passes without one. Either way the taxpayer gets exactly one message.
TEST_F(SmsTest, AnUnansweredSendIsNeverSentTwice) {
  options_.confirm_window_ms = 2000;
  sms::SmsHandler handler(options_, *outbox_, clock_);
  gateway_->PauseSmsbox();
  auto first = handler.Handle(Task("SMS-2/2"));
  EXPECT_EQ(first.outcome, StageOutcome::RETRY);
  EXPECT_EQ(first.code, "SMS_UNCONFIRMED") << first.message;
  auto second = handler.Handle(Task("SMS-2/2"));
  EXPECT_EQ(second.outcome, StageOutcome::UNAVAILABLE) << "waiting spends no attempt";
  EXPECT_EQ(second.code, "SMS_UNCONFIRMED");
  auto stored = outbox_->Find("SMS-2/2");
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->sends, 1) << "the retry inside the window sent nothing";
  gateway_->ResumeSmsbox();
  wire::StageResult last;
  ASSERT_TRUE(Eventually([&] {
    last = handler.Handle(Task("SMS-2/2"));
    return last.outcome == StageOutcome::SUCCEEDED;
  }, 15'000)) << last.code << " " << last.message;
  ASSERT_TRUE(Eventually([&] { return !gateway_->Received().empty(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_EQ(gateway_->Received().size(), 1u);
  EXPECT_EQ(gateway_->Received()[0].text, "您2026-10期增值税1300.00元已缴款，电子缴款凭证号320000000012345678。");
  stored = outbox_->Find("SMS-2/2");
  std::cout << "sms: smsbox " << ((*stored)->sends == 1 ? "sent the unanswered request after resuming"
                                                        : "dropped the unanswered request; sent again after the window")
            << "\n";
}

TEST_F(SmsTest, AGatewayThatIsDownSendsNothingAndSpendsNoAttempt) {
  sms::SmsHandler handler(options_, *outbox_, clock_);
  gateway_->StopSmsbox();
  auto down = handler.Handle(Task("SMS-3/2"));
  EXPECT_EQ(down.outcome, StageOutcome::UNAVAILABLE);
  EXPECT_EQ(down.code, "SMS_GATEWAY_DOWN") << down.message;
  ASSERT_TRUE(gateway_->StartSmsbox());
  auto up = handler.Handle(Task("SMS-3/2"));
  EXPECT_EQ(up.outcome, StageOutcome::SUCCEEDED) << up.code << " " << up.message;
  ASSERT_TRUE(Eventually([&] { return gateway_->Received().size() == 1; }));
}

TEST_F(SmsTest, WhatCannotBeSentSaysWhy) {
  sms::SmsOptions wrong = options_;
  wrong.kannel.password = "wrong";
  sms::SmsHandler refused(wrong, *outbox_, clock_);
  auto auth = refused.Handle(Task("SMS-4/2"));
  EXPECT_EQ(auth.outcome, StageOutcome::UNAVAILABLE);
  EXPECT_EQ(auth.code, "SMS_AUTH") << auth.message;

  sms::SmsHandler handler(options_, *outbox_, clock_);
  auto no_mobile = handler.Handle(Task("SMS-5/2", ""));
  EXPECT_EQ(no_mobile.outcome, StageOutcome::SUCCEEDED);
  EXPECT_EQ(no_mobile.code, "NO_MOBILE");
  EXPECT_EQ(no_mobile.outputs.at("sms_status"), "not_sent");
  auto bad_mobile = handler.Handle(Task("SMS-6/2", "010-12366"));
  EXPECT_EQ(bad_mobile.code, "BAD_MOBILE");
  wire::StageTask no_voucher = Task("SMS-7/2");
  no_voucher.inputs.erase("voucher");
  auto template_error = handler.Handle(no_voucher);
  EXPECT_EQ(template_error.outcome, StageOutcome::RETRY);
  EXPECT_EQ(template_error.code, "SMS_TEMPLATE");
  EXPECT_NE(template_error.message.find("{voucher}"), std::string::npos) << template_error.message;
  wire::StageTask unknown = Task("SMS-8/2");
  unknown.stage = "other";
  EXPECT_EQ(handler.Handle(unknown).code, "SMS_NO_TEMPLATE");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(gateway_->Received().empty());

  // The delivery-report listener refuses what is not a Kannel report.
  auto get = [&](const std::string& target) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(reports_->port()));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, target, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    session.receiveResponse(response);
    return static_cast<int>(response.getStatus());
  };
  EXPECT_EQ(get("/dlr?type=1"), 400);
  EXPECT_EQ(get("/dlr?task=SMS-1%2F2&type=x"), 400);
  EXPECT_EQ(get("/elsewhere"), 404);
  EXPECT_EQ(get("/dlr?task=SMS-9%2F2&type=8&ts=1796000000"), 200);
  EXPECT_EQ(ReportTypes("SMS-9/2"), (std::vector<int>{8}));

  // Only a report that the message went out confirms an unanswered send; an SMSC rejection
  // (16) is recorded, and the send stays unconfirmed.
  sms::Message unanswered;
  unanswered.task_id = "SMS-12/2";
  unanswered.to = "13800138000";
  unanswered.text = "x";
  unanswered.state = sms::MessageState::kUnconfirmed;
  unanswered.sends = 1;
  ASSERT_TRUE(outbox_->Save(unanswered, clock_.NowMs()).ok());
  EXPECT_EQ(get("/dlr?task=SMS-12%2F2&type=16&reply=%E6%8B%92%E7%BB%9D"), 200);
  EXPECT_EQ((*outbox_->Find("SMS-12/2"))->state, sms::MessageState::kUnconfirmed);
  EXPECT_EQ(get("/dlr?task=SMS-12%2F2&type=8"), 200);
  EXPECT_EQ((*outbox_->Find("SMS-12/2"))->state, sms::MessageState::kAccepted);

  // A send cut off by a stop of the adapter itself: waited for, then never sent again.
  options_.confirm_window_ms = 2000;
  sms::SmsHandler after_crash(options_, *outbox_, clock_);
  sms::Message cut;
  cut.task_id = "SMS-13/2";
  cut.to = "13800138000";
  cut.text = "x";
  cut.state = sms::MessageState::kSending;
  cut.sends = 1;
  ASSERT_TRUE(outbox_->Save(cut, clock_.NowMs()).ok());
  EXPECT_EQ(after_crash.Handle(Task("SMS-13/2")).outcome, StageOutcome::UNAVAILABLE) << "inside the window: wait";
  ASSERT_TRUE(outbox_->Save(cut, clock_.NowMs() - 5000).ok());
  auto given_up = after_crash.Handle(Task("SMS-13/2"));
  EXPECT_EQ(given_up.outcome, StageOutcome::SUCCEEDED);
  EXPECT_EQ(given_up.code, "SMS_UNKNOWN");
  EXPECT_EQ(given_up.outputs.at("sms_status"), "unknown");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(gateway_->Received().empty()) << "at most once: not sent again";
}

}  // namespace
}  // namespace taxhub::testing
