#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "adapters/legacy/fixed_width.h"
#include "adapters/legacy/framing.h"
#include "adapters/legacy/gbk.h"
#include "tests/support/process.h"

namespace taxhub::legacy {
namespace {

TEST(Gbk, RoundTripsChineseText) {
  const std::string utf8 = "泰州市国家税务局 申报 2026-10";
  auto gbk = Utf8ToGbk(utf8);
  ASSERT_TRUE(gbk.has_value()) << gbk.error().ToString();
  EXPECT_EQ(gbk->size(), 8 * 2 + 1 + 2 * 2 + 8) << "two bytes per Chinese character";
  auto back = GbkToUtf8(*gbk);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, utf8);
}

TEST(Gbk, InvalidBytesAreErrorsNotReplacements) {
  EXPECT_FALSE(Utf8ToGbk("\xff\xfe").has_value());
  EXPECT_FALSE(GbkToUtf8("\xd5").has_value()) << "a lead byte without its trail byte";
  EXPECT_FALSE(Utf8ToGbk("\xf0\x9f\x98\x80").has_value()) << "an emoji has no GBK form";
}

const RecordLayout kLayout({Field::Text("code", 4), Field::Text("taxpayer", 18),
                            Field::Text("name", 20), Field::Number("amount", 15)});

TEST(FixedWidth, EncodesAndDecodesByByteOffset) {
  auto record = kLayout.Encode({{"code", "FILE"},
                                {"taxpayer", "91310110666007217T"},
                                {"name", "泰州示范"},
                                {"amount", "130000"}});
  ASSERT_TRUE(record.has_value()) << record.error().ToString();
  ASSERT_EQ(record->size(), 57u);
  EXPECT_EQ(record->substr(42), "000000000130000");
  auto values = kLayout.Decode(*record);
  ASSERT_TRUE(values.has_value()) << values.error().ToString();
  EXPECT_EQ(values->at("name"), "泰州示范");
  EXPECT_EQ(values->at("amount"), "130000");
  EXPECT_EQ(values->at("taxpayer"), "91310110666007217T");
}

TEST(FixedWidth, ProblemsNameTheField) {
  auto too_long = kLayout.Encode({{"name", "泰州市某某某某某有限公司"}});  // 24 GBK bytes > 20
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(too_long.error().field(), "name");
  auto short_record = kLayout.Decode("FILE123");
  ASSERT_FALSE(short_record.has_value());
  EXPECT_EQ(short_record.error().field(), "record");
  std::string bad(57, ' ');
  bad[25] = '\xd5';  // a lone GBK lead byte inside "name"
  auto not_gbk = kLayout.Decode(bad);
  ASSERT_FALSE(not_gbk.has_value());
  EXPECT_EQ(not_gbk.error().field(), "name");
  // A number field holds digits only, written or read: callers may parse it without a check.
  auto not_a_number = kLayout.Encode({{"amount", "12,000"}});
  ASSERT_FALSE(not_a_number.has_value());
  EXPECT_EQ(not_a_number.error().field(), "amount");
  std::string letters = *kLayout.Encode({{"amount", "130050"}});
  letters[letters.size() - 3] = 'x';
  auto read = kLayout.Decode(letters);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().field(), "amount");
}

TEST(Framing, MessagesArriveWholeThoughWrittenInPieces) {
  auto server = FramedServer::Listen("127.0.0.1", 0);
  ASSERT_TRUE(server.has_value());
  std::thread peer([&] {
    auto connection = server->Accept(2000);
    ASSERT_TRUE(connection.has_value());
    auto first = connection->Receive(2000);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(*first, "申报 request");
    ASSERT_TRUE(connection->Send("reply " + *first).ok());
  });
  auto client = FramedConnection::Connect("127.0.0.1", server->port(), 2000);
  ASSERT_TRUE(client.has_value()) << client.error().ToString();
  ASSERT_TRUE(client->Send("申报 request").ok());
  auto reply = client->Receive(2000);
  peer.join();
  ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
  EXPECT_EQ(*reply, "reply 申报 request");
}

TEST(Framing, EmptyFramesAndTimeouts) {
  auto server = FramedServer::Listen("127.0.0.1", 0);
  ASSERT_TRUE(server.has_value());
  auto client = FramedConnection::Connect("127.0.0.1", server->port(), 2000);
  ASSERT_TRUE(client.has_value());
  auto accepted = server->Accept(2000);
  ASSERT_TRUE(accepted.has_value());
  ASSERT_TRUE(accepted->Send("").ok());
  auto empty = client->Receive(1000);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, "");
  auto nothing = client->Receive(200);
  ASSERT_FALSE(nothing.has_value());
  EXPECT_EQ(nothing.error().code(), ErrorCode::kTimeout);
  EXPECT_TRUE(client->open()) << "a timeout leaves the connection usable";
  EXPECT_EQ(server->Accept(100).error().code(), ErrorCode::kTimeout);
}

TEST(Framing, ADeclaredLengthAboveTheLimitIsRefusedWithoutReadingIt) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  FramedConnection reader(fds[0]);
  ASSERT_EQ(write(fds[1], "\x7f\xff\xff\xff", 4), 4);
  auto result = reader.Receive(1000, 1 << 20);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kTooLarge);
  EXPECT_FALSE(reader.open()) << "the connection is dropped";
  close(fds[1]);
}

TEST(Framing, BytesInPiecesWithPauses) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  FramedConnection reader(fds[0]);
  std::thread writer([&] {
    const std::string frame = std::string("\0\0\0\x0b", 4) + "hello world";
    for (size_t i = 0; i < frame.size(); i += 3) {
      ASSERT_GT(write(fds[1], frame.data() + i, std::min<size_t>(3, frame.size() - i)), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto message = reader.Receive(3000);
  writer.join();
  ASSERT_TRUE(message.has_value()) << message.error().ToString();
  EXPECT_EQ(*message, "hello world");
  // The peer goes away mid-frame.
  ASSERT_EQ(write(fds[1], "\0\0\0\x09half", 8), 8);
  close(fds[1]);
  auto cut = reader.Receive(1000);
  ASSERT_FALSE(cut.has_value());
  EXPECT_EQ(cut.error().code(), ErrorCode::kUnavailable);
}

TEST(Framing, ATimeoutInsideAFrameClosesTheConnection) {
  for (const std::string& partial : {std::string("\0\0", 2), std::string("\0\0\0\x04", 4) + "ab"}) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    FramedConnection reader(fds[0]);
    ASSERT_EQ(write(fds[1], partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
    auto result = reader.Receive(150);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code(), ErrorCode::kTimeout);
    EXPECT_FALSE(reader.open()) << "the rest of the stream would be read out of step";
    close(fds[1]);
  }
}

TEST(Framing, AClosedPortIsUnavailable) {
  auto refused = FramedConnection::Connect("127.0.0.1", testing::FreePort(), 1000);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace taxhub::legacy
