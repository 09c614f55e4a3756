#include "adapters/tips/tips_handler.h"

#include <ctime>

#include "adapters/legacy/framing.h"
#include "adapters/legacy/values.h"
#include "adapters/tips/cfx.h"
#include "hub/base/clock.h"
#include "hub/base/digest.h"

namespace taxhub::tips {
namespace {

wire::StageResult Outcome(wire::StageOutcome::type outcome, std::string code, std::string message) {
  return sdk::MakeResult(outcome, "tips", std::move(code), std::move(message));
}

std::string Digits(std::string_view hex, size_t n) {
  std::string out;
  for (char c : hex) {
    if (out.size() == n) break;
    out += static_cast<char>('0' + (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c - 'a') % 10));
  }
  return out;
}

// A message from this tax bureau's node to TIPS.
CfxMessage ToTips(const TipsOptions& options, std::string no, const std::string& msg_id, const std::string& date,
                  std::vector<std::pair<std::string, std::string>> fields) {
  CfxMessage m;
  m.src = options.node;
  m.des = std::string(kTipsNode);
  m.msg_no = std::move(no);
  m.msg_id = msg_id;
  m.msg_ref = msg_id;
  m.work_date = date;
  m.fields = std::move(fields);
  return m;
}

}  // namespace

std::string TipsHandler::TraNoFor(const std::string& task_id) {
  return Digits(Sha256Hex({"tips", task_id}), 8);
}

std::string TipsHandler::EntrustDateFor(int64_t accepted_at_ms) {
  time_t china = static_cast<time_t>(accepted_at_ms / 1000 + 8 * 3600);  // UTC+8, no DST
  struct tm tm;
  gmtime_r(&china, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

wire::StageResult TipsHandler::Handle(const wire::StageTask& task) {
  auto attribute = [&](const char* name) {
    auto it = task.attributes.find(name);
    return it == task.attributes.end() ? std::string() : it->second;
  };
  // The amount an earlier stage assessed (filing), or the request's own (a payment of arrears).
  const std::string amount = task.inputs.count("tax_due") ? task.inputs.at("tax_due") : attribute("tax_due");
  if (!IsCfxAmount(amount)) {
    return Outcome(wire::StageOutcome::REJECTED, "BAD_AMOUNT", "tax_due \"" + amount + "\" is not an amount");
  }
  const std::string org = attribute("tax_office");
  const std::string account = attribute("pay_account");
  if (org.size() != 11 || account.empty()) {
    return Outcome(wire::StageOutcome::REJECTED, "BAD_PAYMENT",
                   "a TIPS payment needs the tax_office (11 digits) and pay_account attributes");
  }
  const std::string date = EntrustDateFor(task.accepted_at_ms);
  const std::string tra_no = TraNoFor(task.task_id);
  const std::string msg_id = date + Digits(Sha256Hex({"msg", task.task_id, std::to_string(task.attempt)}), 12);

  auto message = [&](const std::string& no, std::vector<std::pair<std::string, std::string>> fields) {
    return ToTips(options_, no, msg_id, date, std::move(fields));
  };
  // One request, one answer, on a fresh connection; nullopt-like error on any failure.
  auto exchange = [&](const CfxMessage& m) -> Result<CfxMessage> {
    auto bytes = EncodeCfx(m, *options_.key);
    if (!bytes) return Error(bytes.error());
    auto answer = legacy::Exchange({options_.host, options_.port, options_.timeout_ms}, *bytes);
    if (!answer) return Error(answer.error());  // field "connect": never reached the bank
    return DecodeCfx(*answer, *options_.bank);
  };
  auto settle = [&](const CfxMessage& answer, std::string_view how) -> wire::StageResult {
    const std::string result = answer.Get("Result");
    if (result == "90000") {
      wire::StageResult ok = Outcome(wire::StageOutcome::SUCCEEDED, result, std::string(how));
      ok.outputs["voucher"] = answer.Get("TaxVouNo");
      ok.outputs["tax_date"] = answer.Get("TaxDate").empty() ? date : answer.Get("TaxDate");
      ok.outputs["tra_no"] = tra_no;
      return ok;
    }
    if (result.rfind("24", 0) == 0) {
      return Outcome(wire::StageOutcome::REJECTED, result, answer.Get("AddWord"));
    }
    return Outcome(wire::StageOutcome::RETRY, result, answer.Get("AddWord"));
  };
  // Past the stage's time limit a payment whose outcome is unknown is not left to settle some
  // day: it is reversed (1021, same serial), and a payment the bank never received is not sent.
  const bool expired = task.deadline_ms > 0 && SystemClock().NowMs() > task.deadline_ms;
  auto reverse = [&]() -> wire::StageResult {
    auto answer = exchange(message("1021", {{"OriTaxOrgCode", org}, {"OriEntrustDate", date}, {"OriTraNo", tra_no}}));
    if (!answer) {
      return Outcome(wire::StageOutcome::RETRY, "UNKNOWN_OUTCOME",
                     "past its time limit with its outcome unknown; the reversal got no answer: " +
                         answer.error().message() + "; it will be sent again");
    }
    if (answer->Get("Result") == "90000") {
      return Outcome(wire::StageOutcome::REJECTED, "PAYMENT_REVERSED",
                     "缴款超时，已冲正 the payment passed its time limit with its outcome unknown and was "
                     "reversed at the bank; nothing was taken");
    }
    if (answer->Get("Result") != "94052") {
      // The bank did not reverse, and does not say there is nothing to reverse: still unknown.
      return Outcome(wire::StageOutcome::RETRY, answer->Get("Result"),
                     "the reversal was not made: " + answer->Get("AddWord") + "; it will be asked again");
    }
    return Outcome(wire::StageOutcome::REJECTED, "PAYMENT_EXPIRED",
                   "缴款超时 the payment passed its time limit; the bank holds no debit for it (" +
                       answer->Get("AddWord") + ")");
  };
  // What became of this payment? Asked after a duplicate or an unknown outcome.
  auto query = [&]() -> wire::StageResult {
    auto answer = exchange(message("1024", {{"TaxOrgCode", org}, {"EntrustDate", date}, {"TraNo", tra_no}}));
    if (!answer) {
      if (expired) return reverse();
      return Outcome(wire::StageOutcome::RETRY, "UNKNOWN_OUTCOME",
                     "the payment's outcome is unknown and the status query failed: " +
                         answer.error().message() + "; the same serial will be used again");
    }
    if (answer->Get("Reversed") == "1") {
      return Outcome(wire::StageOutcome::REJECTED, "PAYMENT_REVERSED",
                     "缴款已冲正 the payment was reversed at the bank; nothing was taken");
    }
    if (answer->Get("Result") == "94052") {
      if (expired) {
        return Outcome(wire::StageOutcome::REJECTED, "PAYMENT_EXPIRED",
                       "缴款超时 the payment passed its time limit before the bank received it; not sent again");
      }
      return Outcome(wire::StageOutcome::RETRY, "NOT_RECEIVED",
                     "the bank has no such payment yet; it will be sent again with the same serial");
    }
    return settle(*answer, "settled by status query");
  };
  // A redelivery past the time limit settles what the earlier attempts did; it pays nothing new.
  if (expired && task.attempt > 1) return query();

  auto answer = exchange(message(
      "1001", {{"RealHead1001/TaxOrgCode", org},
               {"RealHead1001/EntrustDate", date},
               {"RealHead1001/TraNo", tra_no},
               {"Payment1001/PayAcct", account},
               {"Payment1001/TaxPayCode", task.taxpayer_id},
               {"Payment1001/TaxPayName", attribute("taxpayer_name")},
               {"Payment1001/TraAmt", amount},
               {"Payment1001/TaxVouNo", ""},
               {"Payment1001/TaxTypeList/TaxTypeName", "增值税"},
               {"Payment1001/TaxTypeList/TaxTypeAmt", amount}}));
  if (!answer) {
    if (answer.error().code() == ErrorCode::kBadSignature) {
      return Outcome(wire::StageOutcome::RETRY, "BAD_SIGNATURE", "the answer's signature does not verify");
    }
    if (answer.error().field() == "connect") {
      return Outcome(wire::StageOutcome::UNAVAILABLE, "TIPS_DOWN", answer.error().message());
    }
    return query();  // sent, but no answer: the outcome is unknown
  }
  if (answer->Get("Result") == "94051") return query();  // a redelivery of a known payment
  return settle(*answer, "debited");
}

Result<std::vector<PaymentRecord>> FetchBankDay(const TipsOptions& options, const std::string& tax_org,
                                                const std::string& entrust_date) {
  const CfxMessage m = ToTips(options, "3111", entrust_date + Digits(Sha256Hex({"3111", tax_org, entrust_date}), 12),
                             entrust_date,
                             {{"BatchHead3111/TaxOrgCode", tax_org}, {"BatchHead3111/EntrustDate", entrust_date}});
  auto bytes = EncodeCfx(m, *options.key);
  if (!bytes) return Error(bytes.error());
  auto answer = legacy::Exchange({options.host, options.port, options.timeout_ms}, *bytes, 8 << 20);
  if (!answer) return Error(answer.error());
  auto reply = DecodeCfx(*answer, *options.bank);
  if (!reply) return Error(reply.error());
  if (reply->msg_no != "3111") {
    return Error(ErrorCode::kProtocolError, "the bank answered " + reply->msg_no + ": " + reply->Get("AddWord"),
                 "MsgNo");
  }
  std::vector<PaymentRecord> day;
  for (StringMap& d : reply->Groups("Detail3111")) {
    auto fen = legacy::ToFen(d["TraAmt"]);
    if (!fen) return Error(ErrorCode::kDecodeError, "TraAmt " + d["TraAmt"] + " is not an amount", "TraAmt");
    day.push_back(PaymentRecord{d["TraNo"], *fen, d["TaxVouNo"], d["Result"] == "90000" && d["Reversed"] != "1", ""});
  }
  return day;
}

}  // namespace taxhub::tips
