#include "adapters/tips/reconcile.h"

#include <map>

#include "adapters/legacy/values.h"

namespace taxhub::tips {

std::string_view MismatchName(Mismatch::Kind kind) {
  switch (kind) {
    case Mismatch::Kind::kBankOnly: return "bank_only";
    case Mismatch::Kind::kLedgerOnly: return "ledger_only";
    case Mismatch::Kind::kAmount: return "amount";
    case Mismatch::Kind::kVoucher: return "voucher";
  }
  return "unknown";
}

std::vector<Mismatch> Reconcile(const std::vector<PaymentRecord>& bank, const std::vector<PaymentRecord>& ledger) {
  std::map<std::string, const PaymentRecord*> bank_paid, ledger_paid, ledger_any;
  for (const auto& p : bank) {
    if (p.debited) bank_paid[p.tra_no] = &p;
  }
  for (const auto& p : ledger) {
    ledger_any[p.tra_no] = &p;  // whose payment a TraNo is, paid or not
    if (p.debited) ledger_paid[p.tra_no] = &p;
  }
  std::map<std::string, int> all;  // every TraNo either side paid, in order
  for (const auto& [tra_no, p] : bank_paid) all[tra_no] |= 1;
  for (const auto& [tra_no, p] : ledger_paid) all[tra_no] |= 2;
  std::vector<Mismatch> out;
  for (const auto& [tra_no, sides] : all) {
    const PaymentRecord* b = sides & 1 ? bank_paid[tra_no] : nullptr;
    const PaymentRecord* l = sides & 2 ? ledger_paid[tra_no] : nullptr;
    const auto known = ledger_any.find(tra_no);
    const std::string request = known != ledger_any.end() ? known->second->request_id : "";
    if (!l) {
      out.push_back({Mismatch::Kind::kBankOnly, tra_no, request,
                     "the bank debited " + legacy::FromFen(b->amount_fen) + " (voucher " + b->voucher +
                         ") that the ledger does not show paid"});
    } else if (!b) {
      out.push_back({Mismatch::Kind::kLedgerOnly, tra_no, request,
                     "the ledger shows " + legacy::FromFen(l->amount_fen) + " paid (voucher " + l->voucher +
                         ") that the bank has not debited"});
    } else if (b->amount_fen != l->amount_fen) {
      out.push_back({Mismatch::Kind::kAmount, tra_no, request,
                     "the bank debited " + legacy::FromFen(b->amount_fen) + ", the ledger shows " +
                         legacy::FromFen(l->amount_fen)});
    } else if (b->voucher != l->voucher) {
      out.push_back({Mismatch::Kind::kVoucher, tra_no, request,
                     "the bank's voucher is " + b->voucher + ", the ledger's " + l->voucher});
    }
  }
  return out;
}

}  // namespace taxhub::tips
