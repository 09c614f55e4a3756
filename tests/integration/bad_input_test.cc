// Bad input over real sockets: each malformed message gets an error reply naming the problem
// (or, from a worker, a DISCONNECT), and the hub keeps serving everyone else.

#include <gtest/gtest.h>

#include <zmq_addon.hpp>

#include <set>

#include "hub/broker/mdp.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

using mdp::Frames;
using mdp::View;
using Msg = std::vector<std::string>;

Frames ToFrames(const Msg& parts) {
  Frames frames;
  for (const auto& p : parts) frames.emplace_back(p.data(), p.size());
  return frames;
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>(TestHubConfig(dir_));
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  }

  // Sends raw frames from a fresh DEALER and returns the reply frames (empty on timeout).
  Frames RawCall(const Msg& request, int timeout_ms = 2000) {
    zmq::socket_t socket(context_, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(hub_->frontend());
    zmq::send_multipart(socket, ToFrames(request));
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
    Frames reply;
    if (item.revents & ZMQ_POLLIN) (void)zmq::recv_multipart(socket, std::back_inserter(reply));
    return reply;
  }

  // The error in a client reply [""][MDPC01][service][body].
  Status ReplyError(const Frames& reply) {
    if (reply.size() != 4) return Status(ErrorCode::kInternal, "no reply");
    EXPECT_EQ(View(reply[1]), "MDPC01");
    return wire::ReplyStatus(View(reply[3]));
  }

  void ExpectStillServing() {
    client::HubClient client(context_, hub_->frontend());
    wire::SubmitRequest r;
    r.kind = "single";
    r.taxpayer_id = "91310110666007217T";
    r.body = "ok";
    auto reply = client.Submit(r);
    EXPECT_TRUE(reply.has_value()) << reply.error().ToString();
  }

  std::string GoodSubmit() {
    wire::SubmitRequest r;
    r.kind = "single";
    r.taxpayer_id = "91310110666007217T";
    r.body = "x";
    return wire::Encode(r);
  }

  TempDir dir_;
  zmq::context_t context_{1};
  std::unique_ptr<TestHub> hub_;
};

TEST_F(BadInputTest, MalformedEnvelopesGetAProtocolErrorNamingTheFrame) {
  struct Case {
    Msg frames;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{"MDPC01", "taxhub.submit", "x"}, "frame 0"},  // no empty frame
      {{"", "MDPC09", "taxhub.submit", "x"}, "frame 1"},
      {{"", "MDPC01"}, "frame 2"},
      {{"", "MDPC01", "bad service"}, "frame 2"},
      {{"", "MDPC01", "taxhub.submit"}, "frame 3"},
  };
  for (const auto& c : cases) {
    Status s = ReplyError(RawCall(c.frames));
    EXPECT_EQ(s.code(), ErrorCode::kProtocolError) << s.ToString();
    EXPECT_EQ(s.field(), c.field) << s.ToString();
  }
  ExpectStillServing();
}

TEST_F(BadInputTest, UnknownServicesAreRefused) {
  for (const char* service : {"taxhub.nope", "no.such.service"}) {
    Status s = ReplyError(RawCall(Msg{"", "MDPC01", service, GoodSubmit()}));
    EXPECT_EQ(s.code(), ErrorCode::kUnknownService) << service;
    EXPECT_EQ(s.field(), "service");
  }
  ExpectStillServing();
}

TEST_F(BadInputTest, UndecodableBodyIsADecodeError) {
  for (const std::string& body : {std::string("\xff\xff\xff\xff"), std::string("\x28\xff\xff", 3),
                                 GoodSubmit() + "trailing"}) {
    Status s = ReplyError(RawCall(Msg{"", "MDPC01", "taxhub.submit", body}));
    EXPECT_EQ(s.code(), ErrorCode::kDecodeError) << s.ToString();
    EXPECT_EQ(s.field(), "body");
  }
  ExpectStillServing();
}

TEST_F(BadInputTest, SeveralBodyFramesToAHubServiceAreRefused) {
  Status s = ReplyError(RawCall(Msg{"", "MDPC01", "taxhub.submit", GoodSubmit(), "x"}));
  EXPECT_EQ(s.code(), ErrorCode::kBadRequest);
  EXPECT_EQ(s.field(), "body");
}

TEST_F(BadInputTest, OversizedBodyIsTooLarge) {
  // Above max_body (64 KiB) but under the socket limit: a clear error reply.
  std::string big(100 << 10, 'x');
  Status s = ReplyError(RawCall(Msg{"", "MDPC01", "taxhub.submit", big}));
  EXPECT_EQ(s.code(), ErrorCode::kTooLarge);
  EXPECT_EQ(s.field(), "body");
  ExpectStillServing();
}

TEST_F(BadInputTest, MessageAboveTheSocketLimitDropsOnlyThatConnection) {
  // Above ZMQ_MAXMSGSIZE (256 KiB) libzmq closes the connection; nobody else notices.
  std::string huge(1 << 20, 'x');
  Frames reply = RawCall(Msg{"", "MDPC01", "taxhub.submit", huge}, 500);
  EXPECT_TRUE(reply.empty());
  ExpectStillServing();
}

TEST_F(BadInputTest, MissingKindOrTaxpayerNamesTheField) {
  client::HubClient client(context_, hub_->frontend());
  wire::SubmitRequest r;
  r.taxpayer_id = "91310110666007217T";
  r.body = "x";
  auto reply = client.Submit(r);
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code(), ErrorCode::kMissingField);
  EXPECT_EQ(reply.error().field(), "kind");

  r.kind = "single";
  r.taxpayer_id.clear();
  reply = client.Submit(r);
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().field(), "taxpayer_id");

  r.taxpayer_id = "91310110666007217T";
  r.kind = "no.such.kind";
  reply = client.Submit(r);
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code(), ErrorCode::kUnknownKind);
  EXPECT_EQ(reply.error().field(), "kind");

  // Nothing of the refused requests reached the ledger.
  EXPECT_EQ(hub_->hub().engine_counters().accepted, 0u);
  ExpectStillServing();
}

// One connection with too many requests under way is told to wait at once; another client is
// served meanwhile, and once answers come back the first may send again.
TEST_F(BadInputTest, AClientWithTooManyRequestsUnderWayIsToldToWait) {
  hub_.reset();
  // t.echo's requests may wait 30 s here, so that a slow machine cannot time them out first.
  std::string routes = kTestRoutes;
  routes.replace(routes.find("{service: t.echo, timeout: 1s}"), 30, "{service: t.echo, timeout: 30s}");
  app::HubConfig config = TestHubConfig(dir_, "sqlite", "", routes);
  config.broker.max_in_flight_per_client = 4;
  hub_ = std::make_unique<TestHub>(config);
  ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  // t.echo has no worker yet: its requests wait and stay under way.
  zmq::socket_t flood(context_, zmq::socket_type::dealer);
  flood.set(zmq::sockopt::linger, 0);
  flood.connect(hub_->frontend());
  auto send = [&](int i) {
    zmq::send_multipart(flood, ToFrames(Msg{"", "MDPC01", "t.echo", "m" + std::to_string(i)}));
  };
  auto receive = [&](int timeout_ms) {
    Frames reply;
    zmq::pollitem_t item{flood.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
    if (item.revents & ZMQ_POLLIN) (void)zmq::recv_multipart(flood, std::back_inserter(reply));
    return reply;
  };
  for (int i = 0; i < 10; ++i) send(i);
  for (int i = 0; i < 6; ++i) {
    Frames reply = receive(500);
    ASSERT_EQ(reply.size(), 4u) << "refusal " << i;
    Status s = wire::ReplyStatus(View(reply[3]));
    EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.ToString();
    EXPECT_NE(s.message().find("4 requests of this connection are under way"), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(hub_->hub().broker_counters().clients_capped, 6u);
  ExpectStillServing();  // another client, meanwhile
  {
    EchoWorker echo(hub_->backend(), "t.echo");
    std::set<std::string> answered;
    for (int i = 0; i < 4; ++i) {
      Frames reply = receive(2000);
      ASSERT_EQ(reply.size(), 4u) << "answer " << i;
      answered.insert(std::string(View(reply[3])));
    }
    EXPECT_EQ(answered, (std::set<std::string>{"echo: m0", "echo: m1", "echo: m2", "echo: m3"}));
    // Answered, they no longer count: four more go through.
    for (int i = 10; i < 14; ++i) send(i);
    for (int i = 0; i < 4; ++i) {
      Frames reply = receive(2000);
      ASSERT_EQ(reply.size(), 4u);
      EXPECT_EQ(View(reply[3]).substr(0, 6), "echo: ");
    }
  }
  EXPECT_EQ(hub_->hub().broker_counters().clients_capped, 6u);
}

// Worker side: a worker that breaks MDP/Worker gets DISCONNECT.
class BadWorkerTest : public BadInputTest {
 protected:
  Frames WorkerExchange(const std::vector<Msg>& sends, int timeout_ms = 1500) {
    zmq::socket_t socket(context_, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(hub_->backend());
    for (const auto& frames : sends) zmq::send_multipart(socket, ToFrames(frames));
    // Skip heartbeats; return the first other command.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      Frames reply;
      (void)zmq::recv_multipart(socket, std::back_inserter(reply));
      if (reply.size() == 3 && View(reply[2]) == "\x04") continue;
      return reply;
    }
    return {};
  }

  static bool IsDisconnect(const Frames& f) {
    return f.size() == 3 && f[0].size() == 0 && View(f[1]) == "MDPW01" && View(f[2]) == "\x05";
  }
};

TEST_F(BadWorkerTest, ProtocolErrorsGetDisconnect) {
  const std::string ready("\x01");
  std::vector<std::vector<Msg>> cases = {
      {Msg{"", "MDPW01", ready, "t.one"}, Msg{"", "MDPW01", "\x09"}},
      {Msg{"", "MDPW01", ready, "t.one"}, Msg{"", "MDPW01", ready, "t.one"}},
      {Msg{"", "MDPW01", ready, "t.one"},
       Msg{"", "MDPW01", "\x03", "nobody", "", "reply"}},  // REPLY without REQUEST
      {Msg{"", "MDPW01", ready, "mmi.service"}},          // reserved (RFC 8)
      {Msg{"", "MDPW01", ready, "taxhub.submit"}},        // the hub's own
      {Msg{"", "MDPW01", "\x04"}},                        // HEARTBEAT before READY
      {Msg{"", "MDPW02", ready, "t.one"}},                // wrong protocol
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_TRUE(IsDisconnect(WorkerExchange(cases[i]))) << "case " << i;
  }
  EXPECT_GE(hub_->hub().broker_counters().worker_protocol_errors, 5u);
  ExpectStillServing();
}

}  // namespace
}  // namespace taxhub::testing
