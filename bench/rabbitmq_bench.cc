// The peer (issue 8, target 8): what teams use instead of taxhub is a broker such as RabbitMQ.
// This publishes persistent 512-byte messages to a durable quorum queue with publisher
// confirms, at most 16 unconfirmed, over one connection (librabbitmq, the C client), and prints
// the confirmed rate and the publish-to-confirm latency.
//
//   rabbitmq_bench --port P [--messages N]
// prints "rabbitmq: rate=R p50_ms=X p99_ms=Y".

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kUnconfirmed = 16;

void Check(amqp_rpc_reply_t reply, const char* what) {
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  std::fprintf(stderr, "rabbitmq_bench: %s failed (reply type %d)\n", what, reply.reply_type);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  long long messages = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--port") port = std::atoi(argv[i + 1]);
    else if (flag == "--messages") messages = std::atoll(argv[i + 1]);
  }
  if (port <= 0 || messages < 1) {
    std::fprintf(stderr, "usage: rabbitmq_bench --port P [--messages N]\n");
    return 2;
  }
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  if (!socket || amqp_socket_open(socket, "127.0.0.1", port) != AMQP_STATUS_OK) {
    std::fprintf(stderr, "rabbitmq_bench: cannot connect to 127.0.0.1:%d\n", port);
    return 1;
  }
  Check(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
  amqp_channel_open(conn, 1);
  Check(amqp_get_rpc_reply(conn), "channel.open");
  amqp_confirm_select(conn, 1);
  Check(amqp_get_rpc_reply(conn), "confirm.select");
  amqp_table_entry_t type;
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_table_t arguments{1, &type};
  const amqp_bytes_t queue = amqp_cstring_bytes("taxhub.bench");
  amqp_queue_declare(conn, 1, queue, /*passive=*/0, /*durable=*/1, /*exclusive=*/0, /*auto_delete=*/0, arguments);
  Check(amqp_get_rpc_reply(conn), "queue.declare (quorum)");

  amqp_basic_properties_t properties;
  properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  properties.delivery_mode = 2;  // persistent
  properties.content_type = amqp_cstring_bytes("application/octet-stream");
  const std::string body(512, 'x');
  std::vector<Clock::time_point> sent(static_cast<size_t>(messages) + 1);
  std::vector<double> latency_ms;
  latency_ms.reserve(static_cast<size_t>(messages));
  uint64_t next = 1, confirmed = 0;  // delivery tags count from 1
  const auto start = Clock::now();
  while (confirmed < static_cast<uint64_t>(messages)) {
    while (next <= static_cast<uint64_t>(messages) && next - confirmed - 1 < kUnconfirmed) {
      sent[next] = Clock::now();
      if (amqp_basic_publish(conn, 1, amqp_empty_bytes, queue, 0, 0, &properties,
                             amqp_bytes_t{body.size(), const_cast<char*>(body.data())}) != AMQP_STATUS_OK) {
        std::fprintf(stderr, "rabbitmq_bench: publish failed\n");
        return 1;
      }
      ++next;
    }
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) {
      std::fprintf(stderr, "rabbitmq_bench: connection lost\n");
      return 1;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      std::fprintf(stderr, "rabbitmq_bench: the broker refused a message\n");
      return 1;
    }
    if (frame.payload.method.id != AMQP_BASIC_ACK_METHOD) continue;
    const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
    const uint64_t upto = ack->delivery_tag;  // confirms come in order on a channel
    const uint64_t from = ack->multiple ? confirmed + 1 : ack->delivery_tag;
    const auto now = Clock::now();
    for (uint64_t tag = from; tag <= upto; ++tag) {
      latency_ms.push_back(std::chrono::duration<double, std::milli>(now - sent[tag]).count());
    }
    confirmed = std::max(confirmed, upto);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latency_ms.begin(), latency_ms.end());
  std::printf("rabbitmq: rate=%.0f p50_ms=%.2f p99_ms=%.2f\n", static_cast<double>(messages) / seconds,
              latency_ms[latency_ms.size() / 2], latency_ms[latency_ms.size() * 99 / 100]);
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return 0;
}
