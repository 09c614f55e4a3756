#include "hub/wire/codec.h"

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

#include <memory>

namespace taxhub::wire {
namespace {

using apache::thrift::TConfiguration;
using apache::thrift::protocol::TCompactProtocolT;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TMemoryBuffer;
using apache::thrift::transport::TTransportException;

}  // namespace

template <typename T>
Result<T> Decode(std::string_view bytes, const CodecLimits& limits) {
  if (static_cast<int64_t>(bytes.size()) > limits.max_message_bytes) {
    return taxhub::Error(taxhub::ErrorCode::kTooLarge,
                         "body of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                             std::to_string(limits.max_message_bytes),
                         "body");
  }
  try {
    auto config = std::make_shared<TConfiguration>(
        static_cast<int>(limits.max_message_bytes), static_cast<int>(limits.max_message_bytes),
        limits.max_depth);
    auto buffer = std::make_shared<TMemoryBuffer>(
        reinterpret_cast<uint8_t*>(const_cast<char*>(bytes.data())),
        static_cast<uint32_t>(bytes.size()), TMemoryBuffer::OBSERVE, config);
    TCompactProtocolT<TMemoryBuffer> protocol(buffer, limits.max_string_bytes,
                                              limits.max_container_items);
    T value;
    value.read(&protocol);
    if (buffer->available_read() != 0) {
      return taxhub::Error(taxhub::ErrorCode::kDecodeError,
                           std::to_string(buffer->available_read()) +
                               " bytes left over after the struct",
                           "body");
    }
    return value;
  } catch (const TProtocolException& e) {
    bool limit = e.getType() == TProtocolException::SIZE_LIMIT ||
                 e.getType() == TProtocolException::DEPTH_LIMIT;
    return taxhub::Error(limit ? taxhub::ErrorCode::kTooLarge : taxhub::ErrorCode::kDecodeError,
                         std::string("undecodable body: ") + e.what(), "body");
  } catch (const TTransportException& e) {
    return taxhub::Error(taxhub::ErrorCode::kDecodeError, std::string("truncated body: ") + e.what(),
                         "body");
  } catch (const std::exception& e) {
    return taxhub::Error(taxhub::ErrorCode::kDecodeError, std::string("undecodable body: ") + e.what(),
                         "body");
  }
}

template <typename T>
std::string Encode(const T& value) {
  auto buffer = std::make_shared<TMemoryBuffer>(256);
  TCompactProtocolT<TMemoryBuffer> protocol(buffer);
  value.write(&protocol);
  return buffer->getBufferAsString();
}

#define TAXHUB_WIRE_TYPE(T)                                                 \
  template Result<T> Decode<T>(std::string_view, const CodecLimits&);       \
  template std::string Encode<T>(const T&);

TAXHUB_WIRE_TYPE(ErrorReply)
TAXHUB_WIRE_TYPE(SubmitRequest)
TAXHUB_WIRE_TYPE(SubmitReply)
TAXHUB_WIRE_TYPE(ProgressRequest)
TAXHUB_WIRE_TYPE(ProgressReply)
TAXHUB_WIRE_TYPE(StageTask)
TAXHUB_WIRE_TYPE(StageResult)
TAXHUB_WIRE_TYPE(TaskReport)
TAXHUB_WIRE_TYPE(TaskReportReply)
TAXHUB_WIRE_TYPE(Event)
TAXHUB_WIRE_TYPE(ItemsRequest)
TAXHUB_WIRE_TYPE(ItemsReply)
TAXHUB_WIRE_TYPE(RateRequest)
TAXHUB_WIRE_TYPE(RateReply)
TAXHUB_WIRE_TYPE(ComplainRequest)
TAXHUB_WIRE_TYPE(ComplainReply)
TAXHUB_WIRE_TYPE(EventsRequest)
TAXHUB_WIRE_TYPE(EventsReply)
#undef TAXHUB_WIRE_TYPE

Error ToWire(const Status& status) {
  Error error;
  error.code = static_cast<ErrorCode::type>(status.code());
  error.message = status.message();
  error.field = status.field();
  return error;
}

Status FromWire(const Error& error) {
  return Status(static_cast<taxhub::ErrorCode>(error.code), error.message, error.field);
}

Status ReplyStatus(std::string_view reply_body) {
  // Only field 1 matters here; the other fields of the real reply are skipped.
  auto probe = [&]() -> Result<ErrorReply> {
    try {
      auto buffer = std::make_shared<TMemoryBuffer>(
          reinterpret_cast<uint8_t*>(const_cast<char*>(reply_body.data())),
          static_cast<uint32_t>(reply_body.size()));
      TCompactProtocolT<TMemoryBuffer> protocol(buffer);
      ErrorReply reply;
      reply.read(&protocol);
      return reply;
    } catch (const std::exception& e) {
      return taxhub::Error(taxhub::ErrorCode::kDecodeError, std::string("undecodable reply: ") + e.what(),
                           "body");
    }
  }();
  if (!probe) return probe.error();
  if (!probe->__isset.error) return Status::Ok();
  return FromWire(probe->error);
}

std::string EncodeErrorReply(const Status& status) {
  ErrorReply reply;
  reply.__set_error(ToWire(status));
  return Encode(reply);
}

}  // namespace taxhub::wire
