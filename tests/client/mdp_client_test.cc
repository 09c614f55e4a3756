// The MDP client library against a bare ROUTER socket standing in for the hub.
#include "tools/client/mdp_client.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <zmq_addon.hpp>

#include "hub/broker/mdp.h"

namespace taxhub::client {
namespace {

using Clock = std::chrono::steady_clock;

class MdpClientTest : public ::testing::Test {
 protected:
  MdpClientTest() : router_(context_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  }

  // Receives one request and answers it with `body` from `service`.
  void Answer(std::string_view service, std::string_view body) {
    mdp::Frames request;
    ASSERT_TRUE(zmq::recv_multipart(router_, std::back_inserter(request)));
    ASSERT_GE(request.size(), 5u);
    auto reply = mdp::MakeFrames({mdp::View(request[0]), "", mdp::kClientHeader, service, body});
    zmq::send_multipart(router_, reply);
  }

  zmq::context_t context_;
  zmq::socket_t router_;
  std::string endpoint_;
};

TEST_F(MdpClientTest, RecvUntilReturnsAReplyThatComesBeforeTheDeadline) {
  MdpClient client(context_, endpoint_, std::nullopt);
  ASSERT_TRUE(client.Send("echo", "ping").ok());
  Answer("echo", "pong");
  auto reply = client.RecvUntil(Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(reply) << reply.error().ToString();
  EXPECT_EQ(reply->service, "echo");
  EXPECT_EQ(reply->body, "pong");
}

// A paced load generator waits for its next send time; whole milliseconds (what zmq_poll takes)
// would send up to a millisecond late, and the lateness would count as the hub's latency.
TEST_F(MdpClientTest, RecvUntilTimesOutOnTimeNotOnTheNextMillisecond) {
  MdpClient client(context_, endpoint_, std::nullopt);
  // Rounded up to whole milliseconds, 2.05 ms would overshoot by 0.95 ms.
  const auto wait = std::chrono::microseconds(2050);
  auto least_over = Clock::duration::max();
  for (int i = 0; i < 10; ++i) {
    const auto start = Clock::now();
    auto reply = client.RecvUntil(start + wait);
    const auto took = Clock::now() - start;
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().code(), ErrorCode::kTimeout);
    EXPECT_GE(took, wait) << "returned early";
    least_over = std::min(least_over, took - wait);
  }
  // The best of ten, so that a busy machine's scheduling delay does not fail the test.
  EXPECT_LT(least_over, std::chrono::microseconds(800));
}

// How one thread drives several clients: a past deadline takes only what is waiting, and once
// Readable() has said there is nothing, the descriptor fires when a reply arrives.
TEST_F(MdpClientTest, APastDeadlineOnlyTakesAWaitingReplyAndTheDescriptorFiresForTheNext) {
  MdpClient client(context_, endpoint_, std::nullopt);
  ASSERT_TRUE(client.Send("echo", "one").ok());
  EXPECT_FALSE(client.Readable());
  auto none = client.RecvUntil(Clock::time_point::min());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kTimeout);
  ASSERT_FALSE(client.Readable());  // rearms the descriptor
  Answer("echo", "first");
  // The descriptor fires for any change of the socket's state, so: wait, ask, wait again.
  pollfd fd{client.Fd(), POLLIN, 0};
  ASSERT_GE(fd.fd, 0);
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  bool readable = false;
  while (!readable && Clock::now() < give_up) {
    if (poll(&fd, 1, 100) == 1) readable = client.Readable();
  }
  ASSERT_TRUE(readable) << "the descriptor never fired for the reply";
  auto first = client.RecvUntil(Clock::time_point::min());
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->body, "first");
  EXPECT_FALSE(client.Readable());
}

TEST_F(MdpClientTest, RecvKeepsItsMillisecondTimeoutAndSaysHowLong) {
  MdpClient client(context_, endpoint_, std::nullopt);
  auto reply = client.Recv(20);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(reply.error().message().find("20 ms"), std::string::npos) << reply.error().ToString();
}

TEST_F(MdpClientTest, RecvRefusesAReplyThatIsNotMdp) {
  MdpClient client(context_, endpoint_, std::nullopt);
  ASSERT_TRUE(client.Send("echo", "ping").ok());
  mdp::Frames request;
  ASSERT_TRUE(zmq::recv_multipart(router_, std::back_inserter(request)));
  auto reply = mdp::MakeFrames({mdp::View(request[0]), "", "MDPW01", "echo", "pong"});
  zmq::send_multipart(router_, reply);
  auto got = client.Recv(5000);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kProtocolError);
}

}  // namespace
}  // namespace taxhub::client
