#include "hub/app/verify_ledger.h"

#include <map>

#include "hub/ledger/chain.h"
#include "hub/security/crypto.h"
#include "hub/workflow/engine.h"

namespace taxhub::app {
namespace {

constexpr int kPage = 5000;

class Checker {
 public:
  Checker(ledger::Transaction& txn, const VerifyLedgerOptions& options, LedgerReport& report)
      : txn_(txn), options_(options), report_(report) {}

  Status Chain(const ledger::ChainInfo& chain) {
    ++report_.chains;
    auto checkpoints = txn_.Checkpoints(chain.chain);
    if (!checkpoints) return checkpoints.error();
    std::map<int64_t, const ledger::CheckpointRecord*> by_seq;
    for (const auto& c : *checkpoints) {
      ++report_.checkpoints;
      by_seq[c.chain_seq] = &c;
      auto cert = security::Certificate::FromDer(c.certificate);
      Status signed_ok = cert ? cert->VerifySignature(
                                    ledger::CheckpointStatement(c.chain, c.chain_seq, c.hash),
                                    c.signature)
                              : cert.error();
      if (!signed_ok.ok()) {
        Problem("chain " + c.chain + " checkpoint at " + std::to_string(c.chain_seq) +
                ": its signature does not verify (" + signed_ok.message() + ")");
      }
    }
    int64_t expected = 1;
    std::string prev;
    int64_t after = 0;
    while (true) {
      auto rows = txn_.ScanChain(chain.chain, after, kPage);
      if (!rows) return rows.error();
      for (const ledger::EventRecord& e : *rows) {
        ++report_.events;
        const std::string where = "chain " + e.chain + " row " + std::to_string(e.chain_seq) +
                                  " (events.seq " + std::to_string(e.seq) + ", " + e.type + " " +
                                  e.request_id + ")";
        if (e.chain_seq != expected) {
          Problem(where + ": expected row " + std::to_string(expected) +
                  " here: rows were removed or reordered");
        } else if (e.prev_hash != prev) {
          Problem(where + ": does not link to the row before it: a row was removed, inserted or "
                          "reordered");
        }
        auto hash = ledger::EventHash(chain.algorithm, e.prev_hash, e);
        if (!hash) return hash.error();
        if (*hash != e.hash) Problem(where + ": its content does not match its hash: altered");
        if (auto c = by_seq.find(e.chain_seq); c != by_seq.end() && c->second->hash != e.hash) {
          Problem(where + ": differs from the signed checkpoint at this row");
        }
        // The latest recorded content: the accepted one, or the last correction.
        if (e.type == "request.accepted" || e.type == "request.corrected") {
          accepted_[e.request_id] = e.detail;
        }
        expected = e.chain_seq + 1;
        prev = e.hash;
        after = e.chain_seq;
      }
      if (static_cast<int>(rows->size()) < kPage) break;
    }
    if (!by_seq.empty() && by_seq.rbegin()->first > after) {
      Problem("chain " + chain.chain + ": a signed checkpoint is at row " +
              std::to_string(by_seq.rbegin()->first) + " but the chain ends at row " +
              std::to_string(after) + ": the newest rows were removed");
    }
    return Status::Ok();
  }

  // Rows no chain holds were checked by nothing above; the hub never writes them.
  Status Outside() {
    auto outside = txn_.CountEventsOutsideChains();
    if (!outside) return outside.error();
    if (*outside > 0) {
      Problem(std::to_string(*outside) + " events belong to no recorded chain: inserted by "
              "something other than a hub");
    }
    return Status::Ok();
  }

  Status Requests() {
    return ledger::ForEachRequest(txn_, [&](const ledger::RequestRecord& r) {
      ++report_.requests;
      Request(r);
      return Status::Ok();
    }, kPage);
  }

 private:
  void Request(const ledger::RequestRecord& r) {
    const std::string where = "request " + r.id;
    const std::string fingerprint =
        workflow::RequestFingerprint(r.kind, r.taxpayer_id, r.attributes, r.body);
    if (fingerprint != r.fingerprint) {
      Problem(where + ": its stored content does not match its fingerprint: altered");
    }
    auto accepted = accepted_.find(r.id);
    if (accepted == accepted_.end()) {
      Problem(where + ": no request.accepted event in any chain");
    } else if (accepted->second.find("fingerprint=" + fingerprint) == std::string::npos) {
      Problem(where + ": its content differs from what its events recorded");
    }
    if (r.verified_at_ms == 0) return;
    ++report_.signatures;
    Status verified;
    if (options_.verifier) {
      verified = options_.verifier->Verify(r.body, r.signature, r.certificate, r.taxpayer_id,
                                           r.verified_at_ms);
    } else {
      auto cert = security::Certificate::FromDer(r.certificate);
      verified = cert ? cert->VerifySignature(r.body, r.signature) : cert.error();
    }
    if (!verified.ok()) {
      Problem(where + ": the stored signature no longer verifies: " + verified.ToString());
    }
  }

  void Problem(std::string text) {
    if (report_.problems.size() < options_.max_problems) report_.problems.push_back(std::move(text));
  }

  ledger::Transaction& txn_;
  const VerifyLedgerOptions& options_;
  LedgerReport& report_;
  std::map<std::string, std::string> accepted_;  // request id -> request.accepted detail
};

}  // namespace

Result<LedgerReport> VerifyLedger(ledger::Ledger& ledger, const VerifyLedgerOptions& options) {
  LedgerReport report;
  auto txn = ledger.Begin();
  if (!txn) return Error(txn.error());
  Checker checker(**txn, options, report);
  auto chains = (*txn)->Chains();
  if (!chains) return Error(chains.error());
  for (const auto& chain : *chains) TAXHUB_RETURN_IF_ERROR(checker.Chain(chain));
  TAXHUB_RETURN_IF_ERROR(checker.Outside());
  TAXHUB_RETURN_IF_ERROR(checker.Requests());
  return report;
}

}  // namespace taxhub::app
