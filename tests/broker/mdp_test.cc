#include "hub/broker/mdp.h"

#include <gtest/gtest.h>

namespace taxhub::mdp {
namespace {

std::string Cmd(Command c) { return std::string(1, static_cast<char>(c)); }

TEST(MdpClient, ParsesAWellFormedRequest) {
  Frames frames = MakeFrames({"id1", "", "MDPC01", "taxhub.submit", "body"});
  ClientRequest r = ParseClientRequest(frames);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.identity, "id1");
  EXPECT_EQ(r.service, "taxhub.submit");
  ASSERT_EQ(r.body.size(), 1u);
  EXPECT_EQ(View(r.body[0]), "body");
}

TEST(MdpClient, KeepsEveryBodyFrame) {
  Frames frames = MakeFrames({"id1", "", "MDPC01", "echo", "a", "b", "c"});
  EXPECT_EQ(ParseClientRequest(frames).body.size(), 3u);
}

struct BadClientCase {
  std::vector<std::string> frames;
  std::string field;
};

class MdpClientRejects : public ::testing::TestWithParam<BadClientCase> {};

TEST_P(MdpClientRejects, WithAProtocolErrorNamingTheFrame) {
  Frames frames;
  for (const auto& f : GetParam().frames) frames.emplace_back(f.data(), f.size());
  ClientRequest r = ParseClientRequest(frames);
  EXPECT_EQ(r.status.code(), ErrorCode::kProtocolError);
  EXPECT_EQ(r.status.field(), GetParam().field);
  EXPECT_EQ(r.identity, GetParam().frames[0]);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, MdpClientRejects,
    ::testing::Values(BadClientCase{{"id", "x", "MDPC01", "s", "b"}, "frame 0"},
                      BadClientCase{{"id"}, "frame 0"},
                      BadClientCase{{"id", "", "MDPC02", "s", "b"}, "frame 1"},
                      BadClientCase{{"id", "", "MDPW01", "s", "b"}, "frame 1"},
                      BadClientCase{{"id", ""}, "frame 1"},
                      BadClientCase{{"id", "", "MDPC01"}, "frame 2"},
                      BadClientCase{{"id", "", "MDPC01", ""}, "frame 2"},
                      BadClientCase{{"id", "", "MDPC01", "bad name"}, "frame 2"},
                      BadClientCase{{"id", "", "MDPC01", "svc"}, "frame 3"}));

TEST(MdpWorker, ParsesReady) {
  Frames frames = MakeFrames({"w", "", "MDPW01", Cmd(Command::kReady), "filing.accept"});
  WorkerMessage m = ParseWorkerMessage(frames);
  ASSERT_TRUE(m.status.ok());
  EXPECT_EQ(m.command, Command::kReady);
  EXPECT_EQ(m.service, "filing.accept");
}

TEST(MdpWorker, ParsesReplyWithClientAddressAndBody) {
  Frames frames =
      MakeFrames({"w", "", "MDPW01", Cmd(Command::kReply), "client-7", "", "r1", "r2"});
  WorkerMessage m = ParseWorkerMessage(frames);
  ASSERT_TRUE(m.status.ok());
  EXPECT_EQ(m.client, "client-7");
  ASSERT_EQ(m.body.size(), 2u);
  EXPECT_EQ(View(m.body[1]), "r2");
}

TEST(MdpWorker, RejectsMalformedCommands) {
  const std::vector<std::vector<std::string>> cases = {
      {"w", "", "MDPW01", std::string(1, '\x09')},                 // unknown command
      {"w", "", "MDPW01", Cmd(Command::kReady)},                    // READY without service
      {"w", "", "MDPW01", Cmd(Command::kReady), "a", "extra"},      // READY with extra frame
      {"w", "", "MDPW01", Cmd(Command::kReply), "c", "x", "body"},  // no empty delimiter
      {"w", "", "MDPW01", Cmd(Command::kReply), "c", ""},           // REPLY without body
      {"w", "", "MDPW01", Cmd(Command::kHeartbeat), "x"},           // HEARTBEAT with payload
      {"w", "", "MDPC01", Cmd(Command::kReady), "a"},               // client header
      {"w", "x", "MDPW01", Cmd(Command::kHeartbeat)},               // frame 0 not empty
      {"w", "", "MDPW01", "\x01\x02"},                              // two-byte command
  };
  for (const auto& c : cases) {
    Frames frames;
    for (const auto& f : c) frames.emplace_back(f.data(), f.size());
    EXPECT_EQ(ParseWorkerMessage(frames).status.code(), ErrorCode::kProtocolError)
        << "frames: " << c.size() << " command " << IdentityForLog(c[3]);
  }
}

TEST(MdpBuild, RequestAndReplyLayout) {
  Frames body = MakeFrames({"payload"});
  Frames request = BuildWorkerRequest("w", "client", std::move(body));
  ASSERT_EQ(request.size(), 7u);
  EXPECT_EQ(View(request[2]), "MDPW01");
  EXPECT_EQ(View(request[3]), Cmd(Command::kRequest));
  EXPECT_EQ(View(request[4]), "client");
  EXPECT_EQ(request[5].size(), 0u);
  Frames reply = BuildClientReply("c", "svc", "x");
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(View(reply[2]), "MDPC01");
  EXPECT_EQ(View(reply[3]), "svc");
  Frames hb = BuildWorkerCommand("w", Command::kHeartbeat);
  ASSERT_EQ(hb.size(), 4u);
  EXPECT_EQ(View(hb[3]), Cmd(Command::kHeartbeat));
}

TEST(MdpBuild, ServiceNames) {
  EXPECT_TRUE(IsValidServiceName("filing.13212000000"));
  EXPECT_FALSE(IsValidServiceName(""));
  EXPECT_FALSE(IsValidServiceName("has space"));
  EXPECT_FALSE(IsValidServiceName(std::string(256, 'a')));
}

}  // namespace
}  // namespace taxhub::mdp
