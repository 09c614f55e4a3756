// The TIPS adapter: pays a request's tax due through the treasury-tax-bank network (1001
// real-time deduction). The payment's identity is derived from the request, never invented on
// retry: TaxOrgCode is the request's tax office, EntrustDate the day it was accepted (China
// time), TraNo eight digits from the stage task id. So a redelivered task is the same payment to
// the bank (94051), and an unknown outcome — a timeout, a lost answer — is settled by asking the
// bank for that payment's status (1024), never by paying again. A redelivery past the stage's
// time limit pays nothing new: it settles by status query, reverses (1021, the same serial) a
// debit whose outcome is still unknown, and does not send a payment the bank never received.
//   SUCCEEDED  outputs voucher (TaxVouNo), tax_date, tra_no
//   REJECTED   24007 insufficient balance, 24004 frozen, 24001 no account — with the bank's words;
//              PAYMENT_REVERSED, PAYMENT_EXPIRED past the time limit
//   RETRY      the bank or network is down, busy, or the outcome is still unknown
#ifndef TAXHUB_ADAPTERS_TIPS_TIPS_HANDLER_H_
#define TAXHUB_ADAPTERS_TIPS_TIPS_HANDLER_H_

#include <memory>
#include <string>

#include "adapters/sdk/handler.h"
#include "adapters/tips/reconcile.h"
#include "hub/base/status.h"
#include "hub/security/crypto.h"

namespace taxhub::tips {

struct TipsOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  int timeout_ms = 5000;
  std::string node = "132120000000";  // this tax bureau's 12-digit TIPS node (SRC)
  std::shared_ptr<const security::PrivateKey> key;    // signs requests (SM2)
  std::shared_ptr<const security::Certificate> bank;  // verifies answers
};

class TipsHandler final : public sdk::Handler {
 public:
  explicit TipsHandler(TipsOptions options) : options_(std::move(options)) {}
  wire::StageResult Handle(const wire::StageTask& task) override;

  // The payment's identity for a task: (TaxOrgCode, EntrustDate, TraNo).
  static std::string TraNoFor(const std::string& task_id);
  static std::string EntrustDateFor(int64_t accepted_at_ms);

 private:
  TipsOptions options_;
};

// The bank's record of one day's payments for a tax office (3111-style per-transaction detail),
// for Reconcile (reconcile.h). The answer must be signed by the bank.
Result<std::vector<PaymentRecord>> FetchBankDay(const TipsOptions& options, const std::string& tax_org,
                                                const std::string& entrust_date);

}  // namespace taxhub::tips

#endif  // TAXHUB_ADAPTERS_TIPS_TIPS_HANDLER_H_
