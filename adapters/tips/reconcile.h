// The daily reconciliation (对账) of TIPS payments: the bank's record of a day (3111-style
// per-transaction detail) against the ledger's. Pure: no sockets, no SQL.
#ifndef TAXHUB_ADAPTERS_TIPS_RECONCILE_H_
#define TAXHUB_ADAPTERS_TIPS_RECONCILE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace taxhub::tips {

// One payment as a side recorded it. On the bank's side `debited` means Result 90000 and not
// reversed; on the ledger's, a pay stage that SUCCEEDED with a voucher.
struct PaymentRecord {
  std::string tra_no;   // with TaxOrgCode and EntrustDate, the payment's identity
  int64_t amount_fen = 0;
  std::string voucher;  // TaxVouNo
  bool debited = false;
  std::string request_id;  // the ledger's side only: whose payment it is
};

struct Mismatch {
  enum class Kind {
    kBankOnly,    // the bank debited, the ledger does not show it paid: money taken, no receipt
    kLedgerOnly,  // the ledger shows it paid, the bank has no debit (reversed, or never made)
    kAmount,      // both paid, different amounts
    kVoucher,     // both paid, different voucher numbers
  };
  Kind kind;
  std::string tra_no;
  std::string request_id;  // whose payment it is, when the ledger has the task (paid or not)
  std::string detail;      // for operators: both sides' values
};

std::string_view MismatchName(Mismatch::Kind kind);  // "bank_only", "ledger_only", …

// Every disagreement between the two records of one day, ordered by TraNo. Payments neither
// side shows as debited are not mismatches (a refusal such as 24007 is the same on both); the
// ledger's unpaid records still name the request a bank-only debit belongs to.
std::vector<Mismatch> Reconcile(const std::vector<PaymentRecord>& bank, const std::vector<PaymentRecord>& ledger);

}  // namespace taxhub::tips

#endif  // TAXHUB_ADAPTERS_TIPS_RECONCILE_H_
