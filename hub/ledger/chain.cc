#include "hub/ledger/chain.h"

#include "hub/ledger/ledger.h"
#include "hub/base/digest.h"

namespace taxhub::ledger {

Result<std::string> EventHash(const std::string& algorithm, const std::string& prev_hash,
                              const EventRecord& e) {
  return DigestHex(algorithm, {prev_hash, e.chain, std::to_string(e.chain_seq),
                                         e.request_id, std::to_string(e.stage), e.type,
                                         std::to_string(e.at_ms), e.detail});
}

Status LinkEvent(const ChainOptions& chain, ChainHead& head, EventRecord& event) {
  if (chain.chain.empty()) {
    return Status(ErrorCode::kInternal, "this ledger connection is read-only: it has no chain");
  }
  event.chain = chain.chain;
  event.chain_seq = head.seq + 1;
  event.prev_hash = head.hash;
  auto hash = EventHash(chain.algorithm, head.hash, event);
  if (!hash) return hash.error();
  event.hash = *hash;
  head.seq = event.chain_seq;
  head.hash = event.hash;
  return Status::Ok();
}

std::string CheckpointStatement(const std::string& chain, int64_t chain_seq,
                                const std::string& hash) {
  return "taxhub-checkpoint|" + chain + "|" + std::to_string(chain_seq) + "|" + hash;
}

}  // namespace taxhub::ledger
