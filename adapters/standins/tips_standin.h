// A stand-in for the treasury-tax-bank network and a bank behind it (TIPS): CFX over
// length-framed TCP, SM2 signatures checked on every request and put on every answer. It keeps
// accounts with balances and the payments it has made, keyed — as TIPS keys them — by
// (TaxOrgCode, EntrustDate, TraNo):
//   1001 real-time deduction → 2001: 90000 debited; 94051 duplicate (that key was seen before);
//        24007 insufficient balance; 24004 account frozen; 24001 no such account (*inferred*)
//   1024 status query → 2024: the original result, or 94052 no such transaction (*inferred*)
//   1021 reversal → 2021: 90000 credited back, or 94052
// It can be told to be slow, to drop answers after doing the work, or to be down.
#ifndef TAXHUB_ADAPTERS_STANDINS_TIPS_STANDIN_H_
#define TAXHUB_ADAPTERS_STANDINS_TIPS_STANDIN_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/standins/framed_standin.h"
#include "hub/security/crypto.h"

namespace taxhub::standins {

struct BankAccount {
  int64_t balance_fen = 0;
  bool frozen = false;
};

struct TipsBankOptions {
  ListenOptions listen;
  std::shared_ptr<const security::PrivateKey> key;          // the bank's, signs answers
  std::shared_ptr<const security::Certificate> tax_bureau;  // verifies requests
  std::map<std::string, BankAccount> accounts;
};

class TipsBank final : public FramedStandIn {
 public:
  explicit TipsBank(TipsBankOptions options) : FramedStandIn(options.listen), options_(std::move(options)) {}
  ~TipsBank() override { Stop(); }

  int debits() const;                     // payments made and not reversed
  int64_t Balance(const std::string& account) const;

 private:
  struct Payment {
    std::string result;
    std::string voucher;
    std::string account;
    int64_t amount_fen = 0;
    bool reversed = false;
  };
  std::string Answer(std::string_view request) override;

  TipsBankOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Payment> payments_;  // TaxOrgCode|EntrustDate|TraNo
  int vouchers_ = 0;
};

}  // namespace taxhub::standins

#endif  // TAXHUB_ADAPTERS_STANDINS_TIPS_STANDIN_H_
