#include "hub/wire/codec.h"

#include <gtest/gtest.h>

namespace taxhub::wire {
namespace {

SubmitRequest Sample() {
  SubmitRequest r;
  r.request_id = "R1";
  r.kind = "filing.vat";
  r.taxpayer_id = "91310110666007217T";
  r.attributes = {{"tax_office", "13212000000"}};
  r.body = "{\"period\":\"2026-10\"}";
  return r;
}

TEST(Codec, RoundTrips) {
  auto decoded = Decode<SubmitRequest>(Encode(Sample()), CodecLimits{});
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_EQ(*decoded, Sample());
}

TEST(Codec, TruncatedBodyIsADecodeError) {
  std::string bytes = Encode(Sample());
  auto decoded = Decode<SubmitRequest>(bytes.substr(0, bytes.size() - 3), CodecLimits{});
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().code(), taxhub::ErrorCode::kDecodeError);
  EXPECT_EQ(decoded.error().field(), "body");
}

TEST(Codec, TrailingBytesAreRefused) {
  auto decoded = Decode<SubmitRequest>(Encode(Sample()) + "xx", CodecLimits{});
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().code(), taxhub::ErrorCode::kDecodeError);
}

TEST(Codec, MessageOverTheLimitIsTooLarge) {
  CodecLimits limits;
  limits.max_message_bytes = 16;
  auto decoded = Decode<SubmitRequest>(Encode(Sample()), limits);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().code(), taxhub::ErrorCode::kTooLarge);
}

TEST(Codec, HugeDeclaredStringLengthDoesNotAllocate) {
  // Field 2 (kind), compact type 8 (binary), length varint 2^31-1, then nothing.
  const std::string bytes("\x28\xff\xff\xff\xff\x07", 6);
  auto decoded = Decode<SubmitRequest>(bytes, CodecLimits{});
  ASSERT_FALSE(decoded.has_value());
  EXPECT_TRUE(decoded.error().code() == taxhub::ErrorCode::kTooLarge ||
              decoded.error().code() == taxhub::ErrorCode::kDecodeError)
      << decoded.error().ToString();
}

TEST(Codec, HugeDeclaredMapSizeIsRefused) {
  // Field 4 (attributes), compact type 11 (map), size 2^28, key/value types binary.
  const std::string bytes("\x4b\x80\x80\x80\x80\x01\x88", 7);
  auto decoded = Decode<SubmitRequest>(bytes, CodecLimits{});
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().code(), taxhub::ErrorCode::kTooLarge) << decoded.error().ToString();
}

TEST(Codec, DeepNestingOfUnknownFieldsHitsTheDepthLimit) {
  // Field 15 of type struct, nested 10,000 deep: must fail cleanly, not overflow the stack.
  std::string bytes(10'000, '\xfc');
  bytes += std::string(10'001, '\x00');
  auto decoded = Decode<SubmitRequest>(bytes, CodecLimits{});
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().code(), taxhub::ErrorCode::kTooLarge) << decoded.error().ToString();
}

TEST(Codec, GarbageIsRefused) {
  auto decoded = Decode<SubmitRequest>("\xff\xfe\xfd garbage", CodecLimits{});
  EXPECT_FALSE(decoded.has_value());
}

TEST(Codec, ErrorReplyDecodesFromAnyReply) {
  SubmitReply reply;
  reply.__set_error(ToWire(Status(taxhub::ErrorCode::kConflict, "used", "request_id")));
  reply.request_id = "R1";
  Status s = ReplyStatus(Encode(reply));
  EXPECT_EQ(s.code(), taxhub::ErrorCode::kConflict);
  EXPECT_EQ(s.field(), "request_id");
  EXPECT_TRUE(ReplyStatus(Encode(SubmitReply())).ok());
}

}  // namespace
}  // namespace taxhub::wire
