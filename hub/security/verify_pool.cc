#include "hub/security/verify_pool.h"

#include <zmq_addon.hpp>

#include "hub/base/log.h"
#include "hub/base/thread_name.h"
#include "hub/broker/link.h"
#include "hub/broker/mdp.h"
#include "hub/security/taxpayer_id.h"

namespace taxhub::security {

using mdp::Frames;
using mdp::MakeFrames;
using mdp::View;

VerifyPool::VerifyPool(zmq::context_t& context, const SignatureVerifier* verifier,
                       const Clock& clock, VerifyPoolOptions options)
    : context_(context), verifier_(verifier), clock_(clock), options_(std::move(options)) {
  if (options_.threads <= 0) {
    options_.threads = std::max(1u, std::thread::hardware_concurrency());
  }
}

VerifyPool::~VerifyPool() { Stop(); }

void VerifyPool::Start() {
  for (int i = 0; i < options_.threads; ++i) {
    threads_.push_back(NamedThread(NumberedThreadName("verify", i), [this] { Run(); }));
  }
  std::unique_lock<std::mutex> lock(ready_mutex_);
  ready_.wait(lock, [&] { return connected_ == options_.threads; });
}

void VerifyPool::Stop() {
  stopping_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void VerifyPool::Run() {
  zmq::socket_t in(context_, zmq::socket_type::pull);
  zmq::socket_t engine(context_, zmq::socket_type::push);
  zmq::socket_t replies(context_, zmq::socket_type::push);
  for (auto* s : {&in, &engine, &replies}) s->set(zmq::sockopt::linger, 0);
  engine.set(zmq::sockopt::sndhwm, link::kHighWaterMark);
  replies.set(zmq::sockopt::sndhwm, link::kHighWaterMark);
  in.connect(options_.in_endpoint);
  engine.connect(options_.engine_endpoint);
  replies.connect(options_.replies_endpoint);
  {
    std::lock_guard<std::mutex> lock(ready_mutex_);
    ++connected_;
  }
  ready_.notify_all();

  while (!stopping_) {
    zmq::pollitem_t item{in.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    if (!(item.revents & ZMQ_POLLIN)) continue;
    Frames call;
    if (!zmq::recv_multipart(in, std::back_inserter(call), zmq::recv_flags::dontwait)) continue;
    if (call.size() != 4) continue;
    const std::string_view body = View(call[3]);

    auto refuse = [&](const Status& status) {
      ++counters_.refused;
      TAXHUB_LOG(kInfo, "verify") << "submit refused: " << status.ToString();
      zmq::send_multipart(replies, MakeFrames({link::OpFrame(link::Op::kReply), View(call[1]),
                                               View(call[2]), wire::EncodeErrorReply(status)}));
    };
    auto request = wire::Decode<wire::SubmitRequest>(body, options_.limits);
    if (!request) {
      refuse(request.error());
      continue;
    }
    std::string signer;
    int64_t verified_at = 0;
    const bool signed_request = !request->signature.empty() || !request->certificate.empty();
    if (signed_request || options_.require_signatures) {
      if (request->taxpayer_id.empty()) {
        refuse(Status(ErrorCode::kMissingField, "taxpayer_id is required", "taxpayer_id"));
        continue;
      }
      if (auto id = CheckTaxpayerId(request->taxpayer_id); !id) {
        refuse(id.error());
        continue;
      }
      if (!verifier_) {
        refuse(Status(ErrorCode::kUntrustedCert, "this hub trusts no CA; it cannot verify signatures",
                      "certificate"));
        continue;
      }
      verified_at = clock_.NowMs();
      Status verified = verifier_->Verify(request->body, request->signature, request->certificate,
                                          request->taxpayer_id, verified_at, &signer);
      if (!verified.ok()) {
        refuse(verified);
        continue;
      }
      ++counters_.verified;
    } else {
      ++counters_.unsigned_passed;
    }
    zmq::send_multipart(engine,
                        MakeFrames({link::OpFrame(link::Op::kVerifiedCall), View(call[1]),
                                    View(call[2]), body, std::to_string(verified_at), signer}));
  }
}

}  // namespace taxhub::security
