// MDP/0.1 compliance, spoken with plain libzmq C calls (zmq_socket, zmq_send, zmq_recv) and no
// project client or worker code: any MDP client or worker must work with taxhub unchanged.

#include <gtest/gtest.h>
#include <zmq.h>

#include <chrono>
#include <string>
#include <vector>

#include "hub/wire/codec.h"
#include "tests/support/test_hub.h"

namespace taxhub::testing {
namespace {

using Msg = std::vector<std::string>;

class RawSocket {
 public:
  RawSocket(void* context, const std::string& endpoint) {
    socket_ = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(socket_, endpoint.c_str());
  }
  ~RawSocket() { zmq_close(socket_); }

  void Send(const Msg& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      zmq_send(socket_, frames[i].data(), frames[i].size(),
               i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
    }
  }

  // The next message, or empty after `timeout_ms`.
  Msg Recv(int timeout_ms = 3000) {
    zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0) return {};
    Msg out;
    int more = 1;
    while (more) {
      zmq_msg_t part;
      zmq_msg_init(&part);
      zmq_msg_recv(&part, socket_, 0);
      out.emplace_back(static_cast<char*>(zmq_msg_data(&part)), zmq_msg_size(&part));
      more = zmq_msg_more(&part);
      zmq_msg_close(&part);
    }
    return out;
  }

  // The next message that is not a worker HEARTBEAT.
  Msg RecvSkippingHeartbeats(int timeout_ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      Msg m = Recv(100);
      if (m.size() == 3 && m[2] == "\x04") continue;
      if (!m.empty()) return m;
    }
    return {};
  }

 private:
  void* socket_;
};

const std::string kReady("\x01", 1);
const std::string kRequest("\x02", 1);
const std::string kReply("\x03", 1);
const std::string kHeartbeat("\x04", 1);

class WireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = zmq_ctx_new();
    hub_ = std::make_unique<TestHub>(TestHubConfig(dir_));
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  }
  void TearDown() override {
    hub_.reset();
    zmq_ctx_term(context_);
  }

  static std::string Submit(const std::string& id, const std::string& kind) {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = kind;
    r.taxpayer_id = "91310110666007217T";
    r.body = "raw";
    return wire::Encode(r);
  }

  void* context_ = nullptr;
  TempDir dir_;
  std::unique_ptr<TestHub> hub_;
};

TEST_F(WireTest, RawClientSubmitsAndReadsProgress) {
  RawSocket client(context_, hub_->frontend());
  client.Send({"", "MDPC01", "taxhub.submit", Submit("R-raw", "single")});
  Msg reply = client.Recv();
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[0], "");
  EXPECT_EQ(reply[1], "MDPC01");
  EXPECT_EQ(reply[2], "taxhub.submit");
  auto submitted = wire::Decode<wire::SubmitReply>(reply[3], wire::CodecLimits{});
  ASSERT_TRUE(submitted.has_value());
  EXPECT_FALSE(submitted->__isset.error);
  EXPECT_EQ(submitted->request_id, "R-raw");

  wire::ProgressRequest p;
  p.request_id = "R-raw";
  p.taxpayer_id = "91310110666007217T";
  client.Send({"", "MDPC01", "taxhub.progress", wire::Encode(p)});
  reply = client.Recv();
  ASSERT_EQ(reply.size(), 4u);
  auto progress = wire::Decode<wire::ProgressReply>(reply[3], wire::CodecLimits{});
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->request_id, "R-raw");
  ASSERT_EQ(progress->stages.size(), 1u);
  EXPECT_EQ(progress->stages[0].state, wire::StageState::READY);
}

TEST_F(WireTest, MmiServiceReportsRegisteredServices) {
  RawSocket worker(context_, hub_->backend());
  worker.Send({"", "MDPW01", kReady, "t.echo"});
  RawSocket client(context_, hub_->frontend());
  auto ask = [&](const std::string& service) {
    client.Send({"", "MDPC01", "mmi.service", service});
    Msg m = client.Recv();
    return m.size() == 4 && m[2] == "mmi.service" ? m[3] : "no reply";
  };
  EXPECT_TRUE(Eventually([&] { return ask("t.echo") == "200"; }, 2000));
  EXPECT_EQ(ask("taxhub.submit"), "200");
  EXPECT_EQ(ask("nobody.here"), "404");
  client.Send({"", "MDPC01", "mmi.nothing", "x"});
  Msg m = client.Recv();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[3], "501");
}

TEST_F(WireTest, RawWorkerServesAPassThroughRequest) {
  RawSocket worker(context_, hub_->backend());
  worker.Send({"", "MDPW01", kReady, "t.echo"});
  RawSocket client(context_, hub_->frontend());
  client.Send({"", "MDPC01", "t.echo", "part one", "part two"});

  Msg request = worker.RecvSkippingHeartbeats();
  ASSERT_EQ(request.size(), 7u);
  EXPECT_EQ(request[0], "");
  EXPECT_EQ(request[1], "MDPW01");
  EXPECT_EQ(request[2], kRequest);
  const std::string client_address = request[3];
  EXPECT_EQ(request[4], "");
  EXPECT_EQ(request[5], "part one");
  EXPECT_EQ(request[6], "part two");
  worker.Send({"", "MDPW01", kReply, client_address, "", "echo: part one"});

  Msg reply = client.Recv();
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[1], "MDPC01");
  EXPECT_EQ(reply[2], "t.echo");
  EXPECT_EQ(reply[3], "echo: part one");
}

TEST_F(WireTest, PassThroughWithNoWorkerTimesOut) {
  RawSocket client(context_, hub_->frontend());
  client.Send({"", "MDPC01", "t.echo", "anyone?"});
  Msg reply = client.Recv(3000);
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(wire::ReplyStatus(reply[3]).code(), ErrorCode::kTimeout);
}

TEST_F(WireTest, BrokerSendsHeartbeatsToAnIdleWorker) {
  RawSocket worker(context_, hub_->backend());
  worker.Send({"", "MDPW01", kReady, "t.idle"});
  Msg m = worker.Recv(2000);  // heartbeat interval is 250 ms in tests
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], "");
  EXPECT_EQ(m[1], "MDPW01");
  EXPECT_EQ(m[2], kHeartbeat);
}

TEST_F(WireTest, ASilentWorkerExpiresAndItsTaskGoesToAnother) {
  RawSocket silent(context_, hub_->backend());
  silent.Send({"", "MDPW01", kReady, "t.one"});
  RawSocket client(context_, hub_->frontend());
  client.Send({"", "MDPC01", "taxhub.submit", Submit("R-silent", "single")});
  ASSERT_EQ(client.Recv().size(), 4u);
  Msg request = silent.RecvSkippingHeartbeats();
  ASSERT_EQ(request.size(), 6u);
  // The silent worker never answers nor heartbeats: after 3 x 250 ms it is gone.
  RawSocket rescuer(context_, hub_->backend());
  rescuer.Send({"", "MDPW01", kReady, "t.one"});
  Msg redelivered;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (redelivered.empty() && std::chrono::steady_clock::now() < deadline) {
    rescuer.Send({"", "MDPW01", kHeartbeat});
    Msg m = rescuer.Recv(100);
    if (m.size() == 6 && m[2] == kRequest) redelivered = m;
  }
  ASSERT_EQ(redelivered.size(), 6u);
  auto task = wire::Decode<wire::StageTask>(redelivered[5], wire::CodecLimits{});
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->task_id, "R-silent/0");
  EXPECT_EQ(task->attempt, 2);
  EXPECT_EQ(task->fencing_token, 2);
}

TEST_F(WireTest, RawWorkerCompletesAStageAndAStaleTokenIsRefused) {
  RawSocket worker(context_, hub_->backend());
  worker.Send({"", "MDPW01", kReady, "t.one"});
  RawSocket client(context_, hub_->frontend());
  client.Send({"", "MDPC01", "taxhub.submit", Submit("R-worker", "single")});
  ASSERT_EQ(client.Recv().size(), 4u);

  Msg request = worker.RecvSkippingHeartbeats();
  ASSERT_EQ(request.size(), 6u);
  EXPECT_EQ(request[2], kRequest);
  auto task = wire::Decode<wire::StageTask>(request[5], wire::CodecLimits{});
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->task_id, "R-worker/0");
  EXPECT_EQ(task->attempt, 1);
  EXPECT_EQ(task->kind, "single");
  EXPECT_EQ(task->payload, "raw");

  // First answer with a wrong token: refused as a bad result, counted as a failed attempt.
  wire::StageResult result;
  result.task_id = task->task_id;
  result.fencing_token = task->fencing_token + 7;
  result.outcome = wire::StageOutcome::SUCCEEDED;
  worker.Send({"", "MDPW01", kReply, request[3], "", wire::Encode(result)});

  // The stage comes back (attempt 2) to the same, now idle, worker.
  Msg again = worker.RecvSkippingHeartbeats(5000);
  ASSERT_EQ(again.size(), 6u);
  auto retry = wire::Decode<wire::StageTask>(again[5], wire::CodecLimits{});
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->attempt, 2);
  result.fencing_token = retry->fencing_token;
  result.handler = "raw-worker";
  worker.Send({"", "MDPW01", kReply, again[3], "", wire::Encode(result)});

  wire::ProgressRequest p;
  p.request_id = "R-worker";
  p.taxpayer_id = "91310110666007217T";
  ASSERT_TRUE(Eventually(
      [&] {
        client.Send({"", "MDPC01", "taxhub.progress", wire::Encode(p)});
        Msg m = client.Recv();
        if (m.size() != 4) return false;
        auto progress = wire::Decode<wire::ProgressReply>(m[3], wire::CodecLimits{});
        return progress && progress->state == wire::RequestState::COMPLETED &&
               progress->stages[0].handler == "raw-worker" && progress->stages[0].attempts == 2;
      },
      5000));
}

}  // namespace
}  // namespace taxhub::testing
