// The invoice adapter against the authentication-system stand-in, over real TCP.

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "adapters/invoice/invoice_handler.h"
#include "adapters/invoice/invoice_protocol.h"
#include "adapters/standins/invoice_standin.h"

namespace taxhub::invoice {
namespace {

constexpr char kBuyer[] = "91310110666007217T";
constexpr char kSeller[] = "91320200MA1MXXXX5H";

std::string Invoice(const std::string& number, const std::string& amount = "10000.00",
                    const std::string& tax = "1300.00", const std::string& seller = kSeller) {
  return "{\"code\":\"3200261130\",\"number\":\"" + number + "\",\"date\":\"2026-10-15\",\"amount\":\"" +
         amount + "\",\"tax\":\"" + tax + "\",\"seller\":\"" + seller + "\"}";
}

wire::StageTask Task(const std::string& task_id, const std::string& invoices) {
  wire::StageTask t;
  t.task_id = task_id;
  t.request_id = task_id.substr(0, task_id.find('/'));
  t.stage = "authenticate";
  t.kind = "invoice.authenticate";
  t.attempt = 1;
  t.taxpayer_id = kBuyer;
  t.payload = "{\"period\":\"2026-10\",\"invoices\":[" + invoices + "]}";
  return t;
}

std::vector<std::pair<std::string, std::string>> Statuses(const wire::StageResult& r) {
  std::vector<std::pair<std::string, std::string>> out;
  Poco::JSON::Parser parser;
  auto array = parser.parse(r.outputs.at("results")).extract<Poco::JSON::Array::Ptr>();
  for (size_t i = 0; i < array->size(); ++i) {
    auto o = array->getObject(static_cast<unsigned>(i));
    out.emplace_back(o->getValue<std::string>("number"), o->getValue<std::string>("status"));
  }
  return out;
}

class InvoiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    standin_ = std::make_unique<standins::InvoiceStandIn>(standins::InvoiceOptions{});
    for (const char* number : {"00000001", "00000002", "00000003"}) {
      standin_->Issue({"3200261130", number, "20261015", 1'000'000, 130'000, kSeller, kBuyer});
    }
    ASSERT_TRUE(standin_->Start().ok());
    handler_ = std::make_unique<InvoiceHandler>(InvoiceHandlerOptions{"127.0.0.1", standin_->port(), 300});
  }

  std::unique_ptr<standins::InvoiceStandIn> standin_;
  std::unique_ptr<InvoiceHandler> handler_;
};

TEST_F(InvoiceTest, EachInvoiceInABatchGetsItsOwnAnswer) {
  wire::StageResult first = handler_->Handle(Task("A1/0", Invoice("00000001") + "," + Invoice("00000002")));
  ASSERT_EQ(first.outcome, wire::StageOutcome::SUCCEEDED) << first.code << " " << first.message;
  EXPECT_EQ(first.outputs.at("authenticated"), "2");

  wire::StageResult second = handler_->Handle(
      Task("A2/0", Invoice("00000001") + "," + Invoice("00000009") + "," + Invoice("00000003", "10000.00", "1200.00") +
                       "," + Invoice("00000003")));
  ASSERT_EQ(second.outcome, wire::StageOutcome::SUCCEEDED) << second.code << " " << second.message;
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(Statuses(second), (std::vector<P>{{"00000001", "already_authenticated"},
                                              {"00000009", "not_found"},
                                              {"00000003", "mismatch"},
                                              {"00000003", "authenticated"}}));
  EXPECT_EQ(second.outputs.at("already_authenticated"), "1");
  EXPECT_EQ(second.outputs.at("not_found"), "1");
  EXPECT_EQ(second.outputs.at("mismatch"), "1");
  EXPECT_EQ(second.outputs.at("authenticated"), "1");
  EXPECT_NE(second.message.find("1 not_found"), std::string::npos) << second.message;
  EXPECT_EQ(standin_->authentications(), 3);
}

TEST_F(InvoiceTest, AnInvoiceBoughtBySomeoneElseIsAMismatch) {
  wire::StageTask task = Task("A3/0", Invoice("00000001"));
  task.taxpayer_id = "91350100M000100Y43";
  task.payload = "{\"period\":\"2026-10\",\"invoices\":[" + Invoice("00000001") + "]}";
  wire::StageResult r = handler_->Handle(task);
  ASSERT_EQ(r.outcome, wire::StageOutcome::SUCCEEDED);
  EXPECT_EQ(r.outputs.at("mismatch"), "1");
  EXPECT_EQ(standin_->authentications(), 0);
}

TEST_F(InvoiceTest, ALostAnswerIsRetriedUnderTheSameSerialAndAuthenticatesOnce) {
  standin_->SetDropAnswers(true);
  wire::StageResult lost = handler_->Handle(Task("A4/0", Invoice("00000002")));
  EXPECT_EQ(lost.outcome, wire::StageOutcome::RETRY);
  EXPECT_EQ(lost.code, "LEGACY_TIMEOUT");
  EXPECT_EQ(standin_->authentications(), 1) << "the system did the work";
  standin_->SetDropAnswers(false);
  wire::StageResult retried = handler_->Handle(Task("A4/0", Invoice("00000002")));
  ASSERT_EQ(retried.outcome, wire::StageOutcome::SUCCEEDED);
  EXPECT_EQ(retried.outputs.at("authenticated"), "1") << "the first answer, not 'already authenticated'";
  EXPECT_EQ(standin_->authentications(), 1);
}

TEST_F(InvoiceTest, BadBatchesAreRefusedNamingTheField) {
  struct Case {
    std::string invoices, field;
  };
  for (const Case& c : std::vector<Case>{
           {"", "invoices"},
           {Invoice("0000001"), "invoices[0].number"},
           {Invoice("00000001") + "," + Invoice("00000002", "12,000"), "invoices[1].amount"},
           {Invoice("00000001", "1.00", "-3"), "invoices[0].tax"},
           {"{\"code\":\"32002611\",\"number\":\"00000001\"}", "invoices[0].code"},
           {Invoice("00000001", "1.00", "0.13", std::string(19, '9')), "invoices[0].seller"},
       }) {
    wire::StageResult r = handler_->Handle(Task("B/0", c.invoices));
    EXPECT_EQ(r.outcome, wire::StageOutcome::REJECTED) << c.field;
    EXPECT_EQ(r.code, "BAD_BATCH");
    EXPECT_EQ(r.message.rfind(c.field + " ", 0), 0u) << r.message;
  }
  wire::StageTask not_json = Task("B/1", "");
  not_json.payload = "[1,2";
  EXPECT_EQ(handler_->Handle(not_json).code, "BAD_BATCH");
  EXPECT_EQ(standin_->requests(), 0) << "nothing malformed reaches the legacy system";
}

TEST_F(InvoiceTest, ADownSystemMeansRetry) {
  standin_->Stop();
  wire::StageResult down = handler_->Handle(Task("A5/0", Invoice("00000003")));
  EXPECT_EQ(down.outcome, wire::StageOutcome::UNAVAILABLE);
  EXPECT_EQ(down.code, "LEGACY_DOWN");
}

TEST(InvoiceProtocol, ABatchDecodesOnlyWhenItsCountAgreesWithItsLength) {
  legacy::Batch batch{{{"msg", "A001"}, {"serial", "S1"}, {"taxpayer", kBuyer}, {"period", "202610"}},
                      {{{"code", "3200261130"}, {"number", "00000001"}, {"amount", "1"}},
                       {{"code", "3200261130"}, {"number", "00000002"}, {"amount", "2"}}}};
  auto bytes = legacy::EncodeBatch(RequestHead(), RequestItem(), batch);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), RequestHead().width() + 2 * RequestItem().width());
  auto back = legacy::DecodeBatch(RequestHead(), RequestItem(), *bytes, kMaxBatch);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->items.at(1).at("number"), "00000002");
  EXPECT_EQ(back->head.at("count"), "2");

  auto cut = legacy::DecodeBatch(RequestHead(), RequestItem(), bytes->substr(0, bytes->size() - 1), kMaxBatch);
  ASSERT_FALSE(cut.has_value());
  EXPECT_EQ(cut.error().field(), "count");
  auto too_many = legacy::DecodeBatch(RequestHead(), RequestItem(), *bytes, 1);
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().code(), ErrorCode::kTooLarge);
  std::string bad_item = *bytes;
  bad_item[RequestHead().width() + RequestItem().width() + 64] = '\xff';  // not GBK, in item 1's seller
  auto bad = legacy::DecodeBatch(RequestHead(), RequestItem(), bad_item, kMaxBatch);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().field(), "items[1].seller");
  EXPECT_NE(SerialFor("A1/0"), legacy::SerialFor("filing", "A1/0")) << "serials are per system";
}

}  // namespace
}  // namespace taxhub::invoice
