// taxhub verify-ledger: proves the ledger has not been tampered with, or names the first row
// that has been. For every hub's chain it walks the events in order, checking that chain_seq
// has no gap, that each row links to the one before, and that each row's content matches its
// hash; it checks every checkpoint's signature and that the chain still reaches it (so the
// newest rows cannot be cut off unnoticed). For every request it recomputes the fingerprint of
// the stored content, compares it with the one its chained request.accepted event recorded,
// and verifies the stored taxpayer signature again.
#ifndef TAXHUB_HUB_APP_VERIFY_LEDGER_H_
#define TAXHUB_HUB_APP_VERIFY_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "hub/base/status.h"
#include "hub/ledger/ledger.h"
#include "hub/security/verifier.h"

namespace taxhub::app {

struct LedgerReport {
  int64_t chains = 0;
  int64_t events = 0;
  int64_t checkpoints = 0;
  int64_t requests = 0;
  int64_t signatures = 0;   // taxpayer signatures verified again
  std::vector<std::string> problems;  // in the order found; the first names the first bad row
  bool ok() const { return problems.empty(); }
};

struct VerifyLedgerOptions {
  // With CAs, a stored signature's certificate chain is checked again at its verification time.
  const security::SignatureVerifier* verifier = nullptr;
  size_t max_problems = 50;
};

Result<LedgerReport> VerifyLedger(ledger::Ledger& ledger, const VerifyLedgerOptions& options);

}  // namespace taxhub::app

#endif  // TAXHUB_HUB_APP_VERIFY_LEDGER_H_
