// The TIPS adapter against the bank stand-in, over real TCP with SM2-signed CFX messages: a
// payment is made once, whatever is lost or repeated.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <tuple>

#include "adapters/legacy/values.h"
#include "adapters/standins/tips_standin.h"
#include "adapters/tips/cfx.h"
#include "adapters/tips/reconcile.h"
#include "adapters/tips/tips_handler.h"
#include "hub/base/clock.h"
#include "tests/support/process.h"

namespace taxhub::tips {
namespace {

using security::Certificate;
using security::CertificateSpec;
using security::KeyType;
using security::PrivateKey;

struct Party {
  std::shared_ptr<const PrivateKey> key;
  std::shared_ptr<const Certificate> cert;
};

Party MakeParty(const std::string& name) {
  const int64_t now = SystemClock().NowMs();
  auto key = std::make_shared<const PrivateKey>(*PrivateKey::Generate(KeyType::kSm2));
  auto cert = std::make_shared<const Certificate>(*security::IssueCertificate(
      CertificateSpec{name, "", "t", 1, now - 86'400'000, now + 86'400'000, false, true}, *key,
      *key, nullptr));
  return {key, cert};
}

class TipsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bureau_ = MakeParty("税务局");
    bank_ = MakeParty("bank");
    standins::TipsBankOptions options;
    options.key = bank_.key;
    options.tax_bureau = bureau_.cert;
    options.accounts = {{"6222000011112222", {500'000, false}},   // 5 000.00 yuan
                        {"6222000033334444", {10'000, false}},    //   100.00 yuan
                        {"6222000055556666", {900'000, true}}};   // frozen
    bank_server_ = std::make_unique<standins::TipsBank>(options);
    ASSERT_TRUE(bank_server_->Start().ok());
    TipsOptions tips;
    tips.port = bank_server_->port();
    tips.timeout_ms = 300;
    tips.key = bureau_.key;
    tips.bank = bank_.cert;
    handler_ = std::make_unique<TipsHandler>(tips);
    tips_ = tips;
  }

  wire::StageTask Pay(const std::string& task_id, const std::string& amount,
                      const std::string& account = "6222000011112222") {
    wire::StageTask t;
    t.task_id = task_id;
    t.stage = "pay";
    t.attempt = 1;
    t.taxpayer_id = "91310110666007217T";
    t.accepted_at_ms = 1'796'000'000'000;
    t.attributes = {{"tax_office", "13212000000"}, {"pay_account", account},
                    {"taxpayer_name", "泰州示范企业有限公司"}};
    t.inputs = {{"tax_due", amount}};
    return t;
  }

  Party bureau_, bank_;
  TipsOptions tips_;
  std::unique_ptr<standins::TipsBank> bank_server_;
  std::unique_ptr<TipsHandler> handler_;
};

TEST_F(TipsTest, APaymentIsMadeOnceHoweverOftenTheTaskComes) {
  wire::StageResult paid = handler_->Handle(Pay("R1/3", "1300.50"));
  ASSERT_EQ(paid.outcome, wire::StageOutcome::SUCCEEDED) << paid.code << " " << paid.message;
  EXPECT_FALSE(paid.outputs.at("voucher").empty());
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000 - 130'050);
  // Redelivered (a lost stage result, a lapsed lease): the bank sees the same serial (94051),
  // the adapter asks for the payment's status and reports the first voucher.
  wire::StageTask again = Pay("R1/3", "1300.50");
  again.attempt = 2;
  wire::StageResult repeat = handler_->Handle(again);
  ASSERT_EQ(repeat.outcome, wire::StageOutcome::SUCCEEDED) << repeat.code;
  EXPECT_EQ(repeat.outputs.at("voucher"), paid.outputs.at("voucher"));
  EXPECT_EQ(bank_server_->debits(), 1);
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000 - 130'050);
}

// The day's reconciliation: the bank's 3111 detail, fetched signed over TCP, against what the
// ledger recorded from the stage results. A day that agrees raises nothing; a payment the
// ledger lost (its result never recorded) is raised as bank_only.
TEST_F(TipsTest, TheDaysPaymentsReconcileWithTheBanksRecord) {
  std::vector<PaymentRecord> ledger;
  for (const auto& [task, amount, account] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"D1/3", "100.00", "6222000011112222"}, {"D2/3", "250.00", "6222000011112222"},
           {"D3/3", "999.00", "6222000033334444"}}) {  // the last: 24007, short funds
    wire::StageResult r = handler_->Handle(Pay(task, amount, account));
    ledger.push_back({TipsHandler::TraNoFor(task), *legacy::ToFen(amount),
                      r.outcome == wire::StageOutcome::SUCCEEDED ? r.outputs.at("voucher") : "",
                      r.outcome == wire::StageOutcome::SUCCEEDED, task.substr(0, 2)});
  }
  const std::string date = TipsHandler::EntrustDateFor(1'796'000'000'000);
  auto bank = FetchBankDay(tips_, "13212000000", date);
  ASSERT_TRUE(bank.has_value()) << bank.error().ToString();
  EXPECT_EQ(bank->size(), 3u) << "the refusal is in the bank's detail too";
  EXPECT_TRUE(Reconcile(*bank, ledger).empty());

  ledger.erase(ledger.begin() + 1);  // D2's result never reached the ledger
  auto mismatches = Reconcile(*bank, ledger);
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_EQ(mismatches[0].kind, Mismatch::Kind::kBankOnly);
  EXPECT_EQ(mismatches[0].tra_no, TipsHandler::TraNoFor("D2/3"));
  EXPECT_NE(mismatches[0].detail.find("250.00"), std::string::npos) << mismatches[0].detail;

  auto other_day = FetchBankDay(tips_, "13212000000", "20200101");
  ASSERT_TRUE(other_day.has_value());
  EXPECT_TRUE(other_day->empty());
}

TEST_F(TipsTest, ALostAnswerIsSettledByAStatusQueryNotASecondPayment) {
  bank_server_->SetDropAnswers(true);  // the bank debits, the answer never arrives
  wire::StageResult unknown = handler_->Handle(Pay("R2/3", "10.00"));
  EXPECT_EQ(unknown.outcome, wire::StageOutcome::RETRY) << "the status query is lost too";
  EXPECT_EQ(unknown.code, "UNKNOWN_OUTCOME");
  EXPECT_EQ(bank_server_->debits(), 1);
  bank_server_->SetDropAnswers(false);
  wire::StageResult settled = handler_->Handle(Pay("R2/3", "10.00"));
  ASSERT_EQ(settled.outcome, wire::StageOutcome::SUCCEEDED) << settled.code << " " << settled.message;
  EXPECT_EQ(bank_server_->debits(), 1) << "exactly one debit";
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000 - 1'000);
}

// A redelivery past the stage's time limit settles what the earlier attempts did and pays
// nothing new: a debit whose outcome stays unknown is reversed (1021, the same serial), a
// payment the bank never received is not sent. Either way the request ends REJECTED.
TEST_F(TipsTest, PastItsTimeLimitAnUnknownPaymentIsReversedNeverPaidAgain) {
  bank_server_->DropNextAnswers(2);  // the 1001 and the 1024 answers are lost
  wire::StageResult unknown = handler_->Handle(Pay("R9/3", "10.00"));
  EXPECT_EQ(unknown.code, "UNKNOWN_OUTCOME");
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000 - 1'000);

  wire::StageTask late = Pay("R9/3", "10.00");
  late.attempt = 2;
  late.deadline_ms = 1'000;  // long past
  bank_server_->DropNextAnswers(1);  // the status query gets no answer: reverse
  wire::StageResult reversed = handler_->Handle(late);
  EXPECT_EQ(reversed.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(reversed.code, "PAYMENT_REVERSED") << reversed.message;
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000) << "the debit was reversed";
  late.attempt = 3;  // and once more: the bank's status says reversed
  wire::StageResult again = handler_->Handle(late);
  EXPECT_EQ(again.code, "PAYMENT_REVERSED") << again.message;
  EXPECT_EQ(bank_server_->debits(), 0) << "no debit stands, and none was made again";
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000);

  wire::StageTask never = Pay("R10/3", "20.00");
  never.attempt = 2;
  never.deadline_ms = 1'000;
  wire::StageResult expired = handler_->Handle(never);
  EXPECT_EQ(expired.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(expired.code, "PAYMENT_EXPIRED") << expired.message;
  EXPECT_EQ(bank_server_->debits(), 0) << "a payment the bank never received is not sent late";
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000);

  // The day's reconciliation sees the reversal: the bank holds no debit, nor does the ledger.
  auto bank = FetchBankDay(tips_, "13212000000", TipsHandler::EntrustDateFor(1'796'000'000'000));
  ASSERT_TRUE(bank.has_value()) << bank.error().ToString();
  EXPECT_TRUE(Reconcile(*bank, {{TipsHandler::TraNoFor("R9/3"), 1000, "", false, "R9/3"}}).empty());
}

// Fault 4: over many payments the bank debits and then drops its answer (and sometimes the
// status query's too), or answers too late, at random; each task comes again until it settles,
// as the hub delivers it again. Exactly one debit per payment, every voucher the bank's, and the
// day reconciles. `make soak` runs ten times as many (TAXHUB_SOAK_SCALE).
TEST_F(TipsTest, AnswersLostOrLateAtRandomLeaveExactlyOneDebitPerPayment) {
  const int payments = 40 * testing::SoakScale();
  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  std::vector<PaymentRecord> ledger;
  int lost = 0, dropped = 0, late = 0, attempts = 0;
  int64_t total_fen = 0;
  for (int i = 0; i < payments; ++i) {
    const std::string task_id = "F4-" + std::to_string(i) + "/3";
    const int64_t fen = 100 + (i % 10) * 10;
    total_fen += fen;
    const int mode = std::uniform_int_distribution<int>(0, 19)(random);
    if (mode < 3) {
      bank_server_->DropNextAnswers(1);  // the debit's answer
      ++dropped;
    } else if (mode < 5) {
      bank_server_->DropNextAnswers(2);  // and the status query's
      ++dropped;
    } else if (mode < 8) {
      bank_server_->SetDelay(450);  // later than the adapter waits (300 ms)
      ++late;
    }
    wire::StageResult result;
    for (int attempt = 1; attempt <= 10; ++attempt) {
      wire::StageTask task = Pay(task_id, std::to_string(fen / 100) + "." + std::to_string(fen % 100 / 10) + "0");
      task.attempt = attempt;
      result = handler_->Handle(task);
      ++attempts;
      bank_server_->SetDelay(0);
      if (result.outcome != wire::StageOutcome::RETRY) break;
    }
    if (result.outcome != wire::StageOutcome::SUCCEEDED) {
      ++lost;
      continue;
    }
    ledger.push_back({TipsHandler::TraNoFor(task_id), fen, result.outputs.at("voucher"), true, task_id});
  }
  auto bank = FetchBankDay(tips_, "13212000000", TipsHandler::EntrustDateFor(1'796'000'000'000));
  ASSERT_TRUE(bank.has_value()) << bank.error().ToString();
  // The bank keeps one payment per serial, so a second debit shows in its count, not its day.
  const int duplicated = std::max(0, bank_server_->debits() - payments);
  const auto mismatches = Reconcile(*bank, ledger);
  const int unexpected = static_cast<int>(mismatches.size());
  std::cout << "fault 4 (TIPS answers lost or late, seed " << seed << "): payments=" << payments << " lost=" << lost
            << " duplicated=" << duplicated << " unexpected=" << unexpected << " (answers dropped for " << dropped
            << ", late for " << late << "; " << attempts << " deliveries; bank debits=" << bank_server_->debits()
            << ")" << std::endl;
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(unexpected, 0) << (mismatches.empty() ? "" : mismatches[0].detail);
  EXPECT_EQ(bank_server_->debits(), payments);
  EXPECT_EQ(bank_server_->Balance("6222000011112222"), 500'000 - total_fen);
  EXPECT_GT(attempts, payments) << "some answers were lost";
}

TEST_F(TipsTest, TheBanksRefusalsAreRejectionsWithItsWords) {
  wire::StageResult short_funds = handler_->Handle(Pay("R3/3", "1300.00", "6222000033334444"));
  EXPECT_EQ(short_funds.outcome, wire::StageOutcome::REJECTED);
  EXPECT_EQ(short_funds.code, "24007");
  EXPECT_NE(short_funds.message.find("余额不足"), std::string::npos);
  EXPECT_EQ(handler_->Handle(Pay("R4/3", "1.00", "6222000055556666")).code, "24004");
  EXPECT_EQ(bank_server_->debits(), 0);
}

TEST_F(TipsTest, ADownBankMeansRetryAndBadInputMeansRejected) {
  EXPECT_EQ(handler_->Handle(Pay("R5/3", "12,00")).code, "BAD_AMOUNT");
  wire::StageTask no_account = Pay("R6/3", "1.00");
  no_account.attributes.erase("pay_account");
  EXPECT_EQ(handler_->Handle(no_account).code, "BAD_PAYMENT");
  bank_server_->Stop();
  wire::StageResult down = handler_->Handle(Pay("R7/3", "1.00"));
  EXPECT_EQ(down.outcome, wire::StageOutcome::UNAVAILABLE);
  EXPECT_EQ(down.code, "TIPS_DOWN");
}

TEST_F(TipsTest, AnAnswerSignedByAnImpostorIsNotBelieved) {
  Party impostor = MakeParty("impostor");
  standins::TipsBankOptions options;
  options.key = impostor.key;  // signs with the wrong key
  options.tax_bureau = bureau_.cert;
  options.accounts = {{"6222000011112222", {500'000, false}}};
  standins::TipsBank fake(options);
  ASSERT_TRUE(fake.Start().ok());
  TipsOptions tips;
  tips.port = fake.port();
  tips.timeout_ms = 300;
  tips.key = bureau_.key;
  tips.bank = bank_.cert;
  TipsHandler handler(tips);
  wire::StageResult r = handler.Handle(Pay("R8/3", "1.00"));
  EXPECT_EQ(r.outcome, wire::StageOutcome::RETRY);
  EXPECT_EQ(r.code, "BAD_SIGNATURE");
}

TEST(Cfx, SignedMessagesRoundTripAndAnyChangeIsCaught) {
  Party sender = MakeParty("sender");
  CfxMessage m;
  m.src = "132120000000";
  m.des = std::string(kTipsNode);
  m.msg_no = "1001";
  m.msg_id = "20261130000000000001";
  m.msg_ref = m.msg_id;
  m.work_date = "20261130";
  m.fields = {{"RealHead1001/TraNo", "00012345"},
              {"Payment1001/TaxPayName", "泰州 <示范> & 公司"},
              {"Payment1001/TraAmt", "1300.50"}};
  auto bytes = EncodeCfx(m, *sender.key);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_NE(bytes->find("encoding=\"GBK\""), std::string::npos);
  auto back = DecodeCfx(*bytes, *sender.cert);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->msg_no, "1001");
  EXPECT_EQ(back->Get("Payment1001/TaxPayName"), "泰州 <示范> & 公司");
  EXPECT_EQ(back->Get("RealHead1001/TraNo"), "00012345");

  std::string changed = *bytes;
  changed[changed.find("1300.50")] = '9';
  EXPECT_EQ(DecodeCfx(changed, *sender.cert).error().code(), ErrorCode::kBadSignature);
  std::string unsigned_message = bytes->substr(0, bytes->find("</CFX>") + 6);
  EXPECT_EQ(DecodeCfx(unsigned_message, *sender.cert).error().code(), ErrorCode::kBadSignature);
  EXPECT_EQ(DecodeCfx("garbage", *sender.cert).error().code(), ErrorCode::kDecodeError);

  // Repeated groups (the per-transaction detail of a reconciliation) keep their boundaries.
  m.msg_no = "3111";
  m.fields = {{"BatchHead3111/EntrustDate", "20261130"},
              {"Detail3111[0]/TraNo", "00000001"}, {"Detail3111[0]/TraAmt", "10.00"},
              {"Detail3111[1]/TraNo", "00000002"}, {"Detail3111[1]/TraAmt", "20.00"},
              {"Detail3111[2]/TraNo", "00000003"}, {"Detail3111[2]/TraAmt", "30.00"}};
  auto batch = EncodeCfx(m, *sender.key);
  ASSERT_TRUE(batch.has_value());
  EXPECT_NE(batch->find("</Detail3111><Detail3111>"), std::string::npos) << "one element per group";
  auto read = DecodeCfx(*batch, *sender.cert);
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  EXPECT_EQ(read->fields, m.fields) << "read back with the same indexed paths";
  auto details = read->Groups("Detail3111");
  ASSERT_EQ(details.size(), 3u);
  EXPECT_EQ(details[1].at("TraNo"), "00000002");
  EXPECT_EQ(details[2].at("TraAmt"), "30.00");
  ASSERT_EQ(read->Groups("BatchHead3111").size(), 1u);
  EXPECT_EQ(read->Groups("BatchHead3111")[0].at("EntrustDate"), "20261130");
  EXPECT_TRUE(read->Groups("Detail").empty()) << "a prefix of a name is not the name";

  EXPECT_TRUE(IsCfxAmount("-1300.50"));
  EXPECT_FALSE(IsCfxAmount("1300.5"));
  EXPECT_FALSE(IsCfxAmount("1,300.50"));
}

TEST(Reconcile, EveryDisagreementIsRaisedAndAgreementIsSilent) {
  auto paid = [](std::string tra_no, int64_t fen, std::string voucher, std::string request = "") {
    return PaymentRecord{std::move(tra_no), fen, std::move(voucher), true, std::move(request)};
  };
  PaymentRecord refused{"00000006", 500, "", false, "R6"};  // 24007 on both sides
  const std::vector<PaymentRecord> bank = {paid("00000001", 130050, "V1"), paid("00000002", 1000, "V2"),
                                           paid("00000004", 2000, "V4"), paid("00000005", 3000, "V5"),
                                           refused};
  const std::vector<PaymentRecord> ledger = {paid("00000001", 130050, "V1", "R1"), paid("00000003", 700, "V3", "R3"),
                                             paid("00000004", 2500, "V4", "R4"), paid("00000005", 3000, "V9", "R5"),
                                             refused,
                                             // the ledger has the task but not its result
                                             PaymentRecord{"00000002", 1000, "", false, "R2"}};
  auto mismatches = Reconcile(bank, ledger);
  ASSERT_EQ(mismatches.size(), 4u);
  EXPECT_EQ(mismatches[0].tra_no, "00000002");
  EXPECT_EQ(mismatches[0].kind, Mismatch::Kind::kBankOnly);
  EXPECT_NE(mismatches[0].detail.find("10.00"), std::string::npos) << mismatches[0].detail;
  EXPECT_EQ(mismatches[0].request_id, "R2") << "a bank-only debit names the request it belongs to";
  EXPECT_EQ(mismatches[1].kind, Mismatch::Kind::kLedgerOnly);
  EXPECT_EQ(mismatches[1].request_id, "R3");
  EXPECT_EQ(mismatches[2].kind, Mismatch::Kind::kAmount);
  EXPECT_NE(mismatches[2].detail.find("20.00"), std::string::npos);
  EXPECT_NE(mismatches[2].detail.find("25.00"), std::string::npos);
  EXPECT_EQ(mismatches[3].kind, Mismatch::Kind::kVoucher);
  EXPECT_EQ(MismatchName(mismatches[3].kind), "voucher");
  EXPECT_TRUE(Reconcile(bank, bank).empty()) << "a day that agrees raises nothing";
  EXPECT_TRUE(Reconcile({}, {}).empty());
}

// Fault 6: a day's bank file with rows missing, rows the ledger never saw, and wrong amounts,
// chosen at random over many payments: every one is flagged as what it is, once, and nothing
// else is (no false alarms). `make soak` runs ten times as many rows.
TEST(Reconcile, RandomlyDamagedBankFilesAreFlaggedExactly) {
  const int rows = 500 * testing::SoakScale();
  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  std::vector<PaymentRecord> ledger, bank;
  std::map<std::string, Mismatch::Kind> injected;
  auto tra_no = [](int i) {
    char text[16];
    std::snprintf(text, sizeof text, "%08d", i);
    return std::string(text);
  };
  for (int i = 1; i <= rows; ++i) {
    PaymentRecord paid{tra_no(i), 100 + i, "V" + std::to_string(i), true, "R" + std::to_string(i)};
    ledger.push_back(paid);
    paid.request_id.clear();
    switch (std::uniform_int_distribution<int>(0, 19)(random)) {
      case 0:  // missing from the bank's file
        injected[paid.tra_no] = Mismatch::Kind::kLedgerOnly;
        break;
      case 1:  // a wrong amount
        paid.amount_fen += std::uniform_int_distribution<int>(1, 10'000)(random);
        injected[paid.tra_no] = Mismatch::Kind::kAmount;
        bank.push_back(paid);
        break;
      default:
        bank.push_back(paid);
    }
  }
  for (int i = rows + 1; i <= rows + rows / 20; ++i) {  // debits the ledger never recorded
    bank.push_back({tra_no(i), 100 + i, "V" + std::to_string(i), true, ""});
    injected[tra_no(i)] = Mismatch::Kind::kBankOnly;
  }
  std::shuffle(bank.begin(), bank.end(), random);
  const auto mismatches = Reconcile(bank, ledger);
  std::map<std::string, int> flagged;
  int lost = 0, duplicated = 0, unexpected = 0;
  for (const auto& m : mismatches) {
    auto it = injected.find(m.tra_no);
    if (it == injected.end() || it->second != m.kind) ++unexpected;
    if (++flagged[m.tra_no] == 2) ++duplicated;
  }
  for (const auto& [tra, kind] : injected) {
    if (!flagged.contains(tra)) ++lost;
  }
  std::cout << "fault 6 (damaged reconciliation file, seed " << seed << "): rows=" << bank.size()
            << " damaged=" << injected.size() << " lost=" << lost << " duplicated=" << duplicated
            << " unexpected=" << unexpected << std::endl;
  EXPECT_EQ(lost, 0) << "every damaged row flagged";
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(unexpected, 0) << "no false alarms, each flagged as what it is";
  EXPECT_GT(injected.size(), 0u);
}

}  // namespace
}  // namespace taxhub::tips
