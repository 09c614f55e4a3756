#include "adapters/standins/tips_standin.h"

#include "adapters/legacy/values.h"
#include "adapters/tips/cfx.h"

namespace taxhub::standins {

using tips::CfxMessage;

int TipsBank::debits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const auto& [key, p] : payments_) n += p.result == "90000" && !p.reversed;
  return n;
}

int64_t TipsBank::Balance(const std::string& account) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = options_.accounts.find(account);
  return it == options_.accounts.end() ? 0 : it->second.balance_fen;
}

std::string TipsBank::Answer(std::string_view bytes) {
  CfxMessage reply;
  reply.src = std::string(tips::kTipsNode);
  auto request = tips::DecodeCfx(bytes, *options_.tax_bureau);
  auto sign = [&](CfxMessage& m) { return *tips::EncodeCfx(m, *options_.key); };
  if (!request) {
    reply.des = "000000000000";
    reply.msg_no = "9120";
    reply.fields = {{"Result", request.error().code() == ErrorCode::kBadSignature ? "94001" : "90002"},
                    {"AddWord", request.error().message()}};
    return sign(reply);
  }
  reply.des = request->src;
  reply.msg_id = request->msg_id;
  reply.msg_ref = request->msg_id;
  reply.work_date = request->work_date;
  if (request->msg_no == "3111") {  // the day's per-transaction detail, for reconciliation
    const std::string org = request->Get("BatchHead3111/TaxOrgCode");
    const std::string date = request->Get("BatchHead3111/EntrustDate");
    reply.msg_no = "3111";
    reply.fields = {{"BatchHead3111/TaxOrgCode", org}, {"BatchHead3111/EntrustDate", date}};
    std::lock_guard<std::mutex> lock(mutex_);
    int i = 0;
    for (const auto& [key, p] : payments_) {
      if (!key.starts_with(org + "|" + date + "|")) continue;
      const std::string at = "Detail3111[" + std::to_string(i++) + "]/";
      reply.fields.insert(reply.fields.end(), {{at + "TraNo", key.substr(key.rfind('|') + 1)},
                                               {at + "TraAmt", legacy::FromFen(p.amount_fen)},
                                               {at + "TaxVouNo", p.voucher},
                                               {at + "Result", p.result},
                                               {at + "Reversed", p.reversed ? "1" : "0"}});
    }
    return sign(reply);
  }
  // 1001 heads its payment's identity RealHead1001/…; a reversal 1021 names the original's Ori….
  const std::string prefix = request->msg_no == "1001" ? "RealHead1001/" : request->msg_no == "1021" ? "Ori" : "";
  const std::string org = request->Get(prefix + "TaxOrgCode");
  const std::string date = request->Get(prefix + "EntrustDate");
  const std::string tra_no = request->Get(prefix + "TraNo");
  const std::string key = org + "|" + date + "|" + tra_no;
  auto head = [&](const std::string& no) {
    reply.msg_no = no;
    reply.fields = {{"RealHead" + no + "/OriTaxOrgCode", org},
                    {"RealHead" + no + "/OriEntrustDate", date},
                    {"RealHead" + no + "/OriTraNo", tra_no}};
  };
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = payments_.find(key);
  if (request->msg_no == "1001") {
    head("2001");
    std::string result, word, voucher;
    if (found != payments_.end()) {
      result = "94051";
      word = "重复交易 duplicate transaction";
    } else {
      const std::string account_no = request->Get("Payment1001/PayAcct");
      const std::string amount = request->Get("Payment1001/TraAmt");
      auto fen = legacy::ToFen(amount);
      auto account = options_.accounts.find(account_no);
      if (!fen) {
        result = "90002";
        word = "金额格式错误 bad amount";
      } else if (account == options_.accounts.end()) {
        result = "24001";
        word = "账户不存在 no such account";
      } else if (account->second.frozen) {
        result = "24004";
        word = "账户冻结 account frozen";
      } else if (account->second.balance_fen < *fen) {
        result = "24007";
        word = "余额不足 insufficient balance";
      } else {
        account->second.balance_fen -= *fen;
        result = "90000";
        word = "扣款成功";
        voucher = "V" + date + std::to_string(100000 + ++vouchers_);
      }
      payments_[key] = Payment{result, voucher, account_no, fen.value_or(0), false};
    }
    reply.fields.emplace_back("TaxVouNo", found != payments_.end() ? found->second.voucher : voucher);
    reply.fields.emplace_back("TaxDate", date);
    reply.fields.emplace_back("Result", result);
    reply.fields.emplace_back("AddWord", word);
  } else if (request->msg_no == "1024") {
    head("2024");
    reply.fields.emplace_back("TaxVouNo", found != payments_.end() ? found->second.voucher : "");
    reply.fields.emplace_back("Result", found != payments_.end() ? found->second.result : "94052");
    reply.fields.emplace_back("AddWord", found != payments_.end() ? "原交易" : "无此交易 no such transaction");
    reply.fields.emplace_back("Reversed", found != payments_.end() && found->second.reversed ? "1" : "0");
  } else if (request->msg_no == "1021") {
    head("2021");
    bool reversible = found != payments_.end() && found->second.result == "90000" && !found->second.reversed;
    if (reversible) {
      found->second.reversed = true;
      options_.accounts[found->second.account].balance_fen += found->second.amount_fen;
    }
    reply.fields.emplace_back("Result", reversible ? "90000" : "94052");
    reply.fields.emplace_back("AddWord", reversible ? "冲正成功 reversed" : "无可冲正交易");
  } else {
    reply.msg_no = "9120";
    reply.fields = {{"Result", "90002"}, {"AddWord", "未知报文 unknown message"}};
  }
  return sign(reply);
}

}  // namespace taxhub::standins
