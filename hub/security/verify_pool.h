// Signature verification off the broker thread. The broker hands every taxhub.submit to this
// pool (inproc PUSH/PULL, so the broker never waits on it); each of its threads decodes and
// validates the request, verifies its signature, and passes it on to the engine with the
// verification time and signer — or answers the client with the error itself.
//
//   broker PUSH ──▶ pool thread (PULL) ──▶ engine PULL      [V][client][service][body][at][signer]
//                                     └──▶ broker PULL      [P][client][service][error reply]
#ifndef TAXHUB_HUB_SECURITY_VERIFY_POOL_H_
#define TAXHUB_HUB_SECURITY_VERIFY_POOL_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "hub/base/clock.h"
#include "hub/security/verifier.h"
#include "hub/wire/codec.h"

namespace taxhub::security {

struct VerifyPoolOptions {
  int threads = 0;                  // 0: one per core
  bool require_signatures = true;   // an unsigned submit is refused (MISSING_FIELD signature)
  wire::CodecLimits limits;
  std::string in_endpoint;          // bound by the broker (PUSH)
  std::string engine_endpoint;      // bound by the engine (PULL)
  std::string replies_endpoint;     // bound by the broker (PULL)
};

struct VerifyCounters {
  std::atomic<uint64_t> verified{0};
  std::atomic<uint64_t> unsigned_passed{0};
  std::atomic<uint64_t> refused{0};
};

class VerifyPool {
 public:
  // `verifier` may be null when no CA is configured: then only unsigned submits pass, and only
  // if signatures are not required.
  VerifyPool(zmq::context_t& context, const SignatureVerifier* verifier, const Clock& clock,
             VerifyPoolOptions options);
  ~VerifyPool();
  // Returns once every thread is connected, so that the broker's first submit finds a peer.
  void Start();
  void Stop();
  const VerifyCounters& counters() const { return counters_; }
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Run();

  zmq::context_t& context_;
  const SignatureVerifier* verifier_;
  const Clock& clock_;
  VerifyPoolOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex ready_mutex_;
  std::condition_variable ready_;
  int connected_ = 0;
  std::vector<std::thread> threads_;
  VerifyCounters counters_;
};

}  // namespace taxhub::security

#endif  // TAXHUB_HUB_SECURITY_VERIFY_POOL_H_
