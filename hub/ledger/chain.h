// The hash chain over the event log. Each hub appends to its own chain (named by its hub id);
// a row's hash covers the row's content and the previous row's hash, so altering, removing or
// reordering rows breaks the chain where it happened. Shared by both ledger backends.
#ifndef TAXHUB_HUB_LEDGER_CHAIN_H_
#define TAXHUB_HUB_LEDGER_CHAIN_H_

#include <cstdint>
#include <string>

#include "hub/base/status.h"

namespace taxhub::ledger {

struct EventRecord;

// Which chain a ledger connection writes, and with what hash.
struct ChainOptions {
  std::string chain;                // the hub id; "" for a connection that only reads
  std::string algorithm = "sha256"; // sha256 | sm3; fixed for a chain once it has begun
};

struct ChainHead {
  int64_t seq = 0;   // the last chain_seq written, 0 for an empty chain
  std::string hash;  // its hash, "" for an empty chain
};

// The hash of `event` as the row after `prev_hash` in its chain, from its chain, chain_seq,
// request_id, stage, type, at and detail.
Result<std::string> EventHash(const std::string& algorithm, const std::string& prev_hash,
                              const EventRecord& event);

// Fills chain, chain_seq, prev_hash and hash of `event` as the next row after `head`, and moves
// `head` on to it.
Status LinkEvent(const ChainOptions& chain, ChainHead& head, EventRecord& event);

// What a checkpoint signs.
std::string CheckpointStatement(const std::string& chain, int64_t chain_seq,
                                const std::string& hash);

}  // namespace taxhub::ledger

#endif  // TAXHUB_HUB_LEDGER_CHAIN_H_
