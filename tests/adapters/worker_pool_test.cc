// The adapter runtime's connections against a broker played by the test over real sockets: every
// request is read as soon as it arrives, whichever of the runtime's calls took its descriptor's
// signal. The pool's heartbeats are set far apart, so that nothing but a prompt read answers in
// time: a request left unread would wait for the next heartbeat, a minute away.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "adapters/sdk/handler.h"
#include "adapters/sdk/worker.h"
#include "hub/broker/mdp.h"
#include "hub/wire/codec.h"

namespace taxhub::sdk {
namespace {

using mdp::Command;
using mdp::View;

class Answer : public Handler {
 public:
  explicit Answer(bool may_block) : may_block_(may_block) {}
  wire::StageResult Handle(const wire::StageTask& task) override {
    return MakeResult(wire::StageOutcome::SUCCEEDED, "answer", "OK", "done " + task.request_id);
  }
  bool MayBlock() const override { return may_block_; }

 private:
  bool may_block_;
};

std::string Code(Command c) { return std::string(1, static_cast<char>(c)); }

class WorkerPoolTest : public ::testing::TestWithParam<bool> {};

TEST_P(WorkerPoolTest, EveryRequestIsAnsweredWithoutWaitingForAHeartbeat) {
  zmq::context_t context(1);
  zmq::socket_t broker(context, zmq::socket_type::router);
  broker.set(zmq::sockopt::linger, 0);
  broker.bind("tcp://127.0.0.1:*");

  constexpr int kConnections = 4;
  constexpr int kInFlight = 2;     // per connection, so that one arrives while another is answered
  constexpr int kRequests = 2000;
  Answer handler(/*may_block=*/GetParam());
  WorkerOptions options;
  options.endpoint = broker.get(zmq::sockopt::last_endpoint);
  options.service = "test.answer";
  options.concurrency = kConnections;
  options.heartbeat_ms = 60'000;
  WorkerPool pool(options, handler);
  pool.Start();

  auto receive = [&](std::vector<zmq::message_t>& frames, std::chrono::milliseconds wait) {
    frames.clear();
    zmq::pollitem_t item{broker.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, wait) <= 0) return false;
    return zmq::recv_multipart(broker, std::back_inserter(frames), zmq::recv_flags::dontwait).has_value();
  };

  // Every connection says READY first.
  std::vector<std::string> workers;
  std::vector<zmq::message_t> frames;
  while (static_cast<int>(workers.size()) < kConnections) {
    ASSERT_TRUE(receive(frames, std::chrono::seconds(5))) << "only " << workers.size() << " READY";
    ASSERT_GE(frames.size(), 5u);
    ASSERT_EQ(View(frames[3]), Code(Command::kReady));
    EXPECT_EQ(View(frames[4]), "test.answer");
    workers.push_back(std::string(View(frames[0])));
  }

  int sent = 0;
  std::map<std::string, std::string> outstanding;  // client frame -> request id
  auto send_request = [&](const std::string& worker) {
    wire::StageTask task;
    task.request_id = "R" + std::to_string(sent);
    task.task_id = task.request_id + "/0";
    task.fencing_token = sent + 1;
    const std::string client = "client-" + std::to_string(sent);
    zmq::send_multipart(broker, mdp::MakeFrames({worker, "", mdp::kWorkerHeader, Code(Command::kRequest),
                                                 client, "", wire::Encode(task)}));
    outstanding[client] = task.request_id;
    ++sent;
  };
  for (const auto& worker : workers) {
    for (int i = 0; i < kInFlight; ++i) send_request(worker);
  }

  int answered = 0;
  while (answered < kRequests) {
    ASSERT_TRUE(receive(frames, std::chrono::seconds(2)))
        << answered << " of " << kRequests << " answered; " << outstanding.size()
        << " requests unanswered for 2 s, left unread";
    ASSERT_GE(frames.size(), 4u);
    if (View(frames[3]) == Code(Command::kHeartbeat)) continue;
    ASSERT_GE(frames.size(), 7u);
    ASSERT_EQ(View(frames[3]), Code(Command::kReply));
    const std::string worker(View(frames[0]));
    const std::string client(View(frames[4]));
    auto it = outstanding.find(client);
    ASSERT_NE(it, outstanding.end()) << "a reply to " << client << ", which was not asked";
    auto result = wire::Decode<wire::StageResult>(View(frames[6]), wire::CodecLimits{});
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->outcome, wire::StageOutcome::SUCCEEDED);
    EXPECT_EQ(result->message, "done " + it->second);
    EXPECT_EQ(result->task_id, it->second + "/0");
    outstanding.erase(it);
    ++answered;
    if (sent < kRequests) send_request(worker);
  }
  EXPECT_TRUE(outstanding.empty());
  EXPECT_EQ(pool.stats().tasks.load(), static_cast<uint64_t>(kRequests));
  pool.Stop();
}

INSTANTIATE_TEST_SUITE_P(Handlers, WorkerPoolTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("OnHandlerThreads") : std::string("OnTheIoThread");
                         });

}  // namespace
}  // namespace taxhub::sdk
