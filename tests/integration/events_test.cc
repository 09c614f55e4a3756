// The event stream over a real PUB socket and a real ledger: every committed event goes out in
// chain order with a gap-free sequence, heartbeats carry the head, and taxhub.events replays
// any part of the stream from the ledger — so a subscriber that joined late, or lost messages,
// can make itself whole.

#include <gtest/gtest.h>

#include <zmq_addon.hpp>

#include <atomic>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>
#include <set>

#include "hub/events/event_wire.h"
#include "tests/integration/backends.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"
#include "tools/client/subscriber.h"

namespace taxhub::testing {
namespace {

struct Received {
  std::string topic;
  events::StreamPosition position;
  wire::Event event;  // empty for heartbeats
};

class EventsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string dsn;
    TAXHUB_PREPARE_BACKEND(GetParam(), dsn);
    config_ = TestHubConfig(dir_, GetParam(), dsn);
    config_.events.enabled = true;
    config_.events.publish = "tcp://127.0.0.1:*";
    config_.events.heartbeat_ms = 100;
    hub_ = std::make_unique<TestHub>(config_);
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
    client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  }

  std::unique_ptr<zmq::socket_t> Subscribe() {
    auto sub = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::sub);
    sub->set(zmq::sockopt::subscribe, "");
    sub->set(zmq::sockopt::rcvtimeo, 200);
    sub->connect(hub_->hub().events_endpoint());
    return sub;
  }

  static std::optional<Received> Next(zmq::socket_t& sub) {
    std::vector<zmq::message_t> frames;
    auto got = zmq::recv_multipart(sub, std::back_inserter(frames));
    if (!got || frames.size() != 3) return std::nullopt;
    Received r;
    r.topic = frames[0].to_string();
    auto position = events::ParsePosition(frames[1].to_string_view());
    if (!position) return std::nullopt;
    r.position = *position;
    if (r.topic != events::kHeartbeatTopic) {
      auto decoded = wire::Decode<wire::Event>(frames[2].to_string_view(), wire::CodecLimits{});
      if (!decoded) return std::nullopt;
      r.event = *decoded;
    }
    return r;
  }

  wire::SubmitRequest Request(const std::string& id) {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = "filing.vat";
    r.taxpayer_id = "91310110666007217T";
    r.attributes = {{"tax_office", "13212000000"}};
    r.body = "{\"id\":\"" + id + "\"}";
    return r;
  }

  Result<wire::EventsReply> Replay(int64_t after, int limit, const std::string& stream = "") {
    wire::EventsRequest request;
    request.stream = stream;
    request.after_seq = after;
    request.limit = limit;
    auto body = client_->mdp().Call("taxhub.events", wire::Encode(request));
    if (!body) return Error(body.error());
    return client::DecodeReply<wire::EventsReply>(*body);
  }

  TempDir dir_;
  app::HubConfig config_;
  zmq::context_t context_{1};
  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<client::HubClient> client_;
};

TEST_P(EventsTest, CommittedEventsGoOutInOrderWithoutGapsAndReplayMatches) {
  auto sub = Subscribe();
  // Joined once a heartbeat arrives (PUB drops what is sent before a subscriber is connected).
  std::optional<Received> first;
  ASSERT_TRUE(Eventually([&] {
    first = Next(*sub);
    return first && first->topic == events::kHeartbeatTopic;
  }));
  EXPECT_EQ(first->position.stream, "test-hub");
  const int64_t start = first->position.seq;

  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler);
  for (const char* id : {"EV-1", "EV-2", "EV-3"}) ASSERT_TRUE(client_->Submit(Request(id)).has_value());

  std::vector<Received> events;
  std::set<std::string> completed;
  int64_t heartbeat_head = 0;
  auto done = [&] { return completed.size() == 3 && !events.empty() && heartbeat_head >= events.back().position.seq; };
  ASSERT_TRUE(Eventually([&] {
    while (!done()) {
      auto r = Next(*sub);
      if (!r) return false;
      if (r->topic == events::kHeartbeatTopic) {
        heartbeat_head = r->position.seq;
        continue;
      }
      if (r->topic == "request.completed") completed.insert(r->event.request_id);
      events.push_back(*r);
    }
    return true;
  }, 10'000)) << completed.size() << " completed, " << events.size() << " events";

  // Gap-free, in order, from where the stream stood when this subscriber joined.
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].position.seq, start + 1 + static_cast<int64_t>(i));
    EXPECT_EQ(events[i].event.seq, events[i].position.seq);
    EXPECT_EQ(events[i].event.stream, "test-hub");
    EXPECT_EQ(events[i].topic, events[i].event.type);
  }
  std::map<std::string, int> topics;
  for (const auto& e : events) ++topics[e.topic];
  EXPECT_EQ(topics["request.accepted"], 3);
  EXPECT_EQ(topics["stage.done"], 9);
  EXPECT_EQ(topics["request.completed"], 3);

  // The ledger replays the same stream, event for event, in pages.
  std::vector<wire::Event> replayed;
  int64_t after = start;
  for (;;) {
    auto page = Replay(after, 7);
    ASSERT_TRUE(page.has_value()) << page.error().ToString();
    EXPECT_EQ(page->stream, "test-hub");
    EXPECT_GE(page->head_seq, events.back().position.seq);
    if (page->events.empty()) break;
    replayed.insert(replayed.end(), page->events.begin(), page->events.end());
    after = page->events.back().seq;
  }
  ASSERT_EQ(replayed.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(replayed[i].seq, events[i].event.seq);
    EXPECT_EQ(replayed[i].type, events[i].event.type);
    EXPECT_EQ(replayed[i].request_id, events[i].event.request_id);
    EXPECT_EQ(replayed[i].hash, events[i].event.hash);
  }
}

// A subscriber that joins after the fact sees only what comes next — and the heartbeat tells it
// how far the stream already is, so it replays the rest.
TEST_P(EventsTest, ALateSubscriberReplaysWhatItMissed) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler);
  ASSERT_TRUE(client_->Submit(Request("EV-EARLY")).has_value());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Progress("EV-EARLY", "91310110666007217T");
    return p && p->state == wire::RequestState::COMPLETED;
  }));
  auto sub = Subscribe();
  std::optional<Received> beat;
  ASSERT_TRUE(Eventually([&] {
    beat = Next(*sub);
    return beat && beat->topic == events::kHeartbeatTopic && beat->position.seq > 0;
  }));
  auto missed = Replay(0, 1000);
  ASSERT_TRUE(missed.has_value());
  ASSERT_EQ(static_cast<int64_t>(missed->events.size()), beat->position.seq);
  std::set<std::string> types;
  for (const auto& e : missed->events) {
    if (e.request_id == "EV-EARLY") types.insert(e.type);
  }
  EXPECT_TRUE(types.contains("request.accepted"));
  EXPECT_TRUE(types.contains("request.completed"));
}

// The subscriber library hands every event on once and in order: through a PUB high-water-mark
// overflow (its handler stalls while hundreds of events go out; what PUB drops comes from the
// ledger) and across a restart (it resumes after the stored offset).
TEST_P(EventsTest, ASubscriberHandsOnEveryEventOnceInOrderThroughLossesAndARestart) {
  hub_.reset();
  // Small queues all the way, so that the stalled handler makes PUB drop.
  config_.events.send_hwm = 100;
  config_.events.send_buffer = 4096;
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok());
  client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler, 4);

  client::FileOffsetStore offsets(dir_.File("offset"));
  client::SubscriberOptions options;
  options.events_endpoint = hub_->hub().events_endpoint();
  options.hub_endpoint = hub_->frontend();
  options.stream = "test-hub";
  options.receive_hwm = 10;
  options.receive_buffer = 4096;
  options.replay_batch = 50;
  std::mutex mutex;
  std::vector<int64_t> seqs;
  std::atomic<bool> stalled{false};
  auto handle = [&](const wire::Event& e) {
    if (!stalled.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    std::lock_guard lock(mutex);
    seqs.push_back(e.seq);
    return Status::Ok();
  };
  auto subscriber = std::make_unique<client::Subscriber>(context_, options, offsets, handle);
  std::thread runner([&] { EXPECT_TRUE(subscriber->Run().ok()); });
  auto head = [&] {
    auto page = Replay(0, 1);
    return page ? page->head_seq : -1;
  };
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(client_->Submit(Request("SUB-" + std::to_string(i))).has_value());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Progress("SUB-199", "91310110666007217T");
    return p && p->state == wire::RequestState::COMPLETED;
  }, 20'000));
  ASSERT_TRUE(Eventually([&] { return subscriber->offset() == head(); }, 20'000))
      << subscriber->offset() << " of " << head();
  subscriber->Stop();
  runner.join();
  const int64_t first_run = subscriber->offset();
  EXPECT_GT(subscriber->counters().gaps, 0u) << "PUB dropped while the handler stalled";
  EXPECT_GT(subscriber->counters().replayed, 0u);
  std::cout << "subscriber: " << first_run << " events handled, " << subscriber->counters().gaps.load()
            << " gaps noticed, " << subscriber->counters().replayed.load() << " replayed from the ledger, "
            << subscriber->counters().duplicates.load() << " duplicates dropped\n";
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(static_cast<int64_t>(seqs.size()), first_run);
    for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], static_cast<int64_t>(i) + 1) << "at " << i;
  }

  // Stopped, the stream moves on; a new subscriber on the same offset takes up exactly there.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client_->Submit(Request("AFTER-" + std::to_string(i))).has_value());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Progress("AFTER-4", "91310110666007217T");
    return p && p->state == wire::RequestState::COMPLETED;
  }));
  subscriber = std::make_unique<client::Subscriber>(context_, options, offsets, handle);
  std::thread again([&] { EXPECT_TRUE(subscriber->Run().ok()); });
  ASSERT_TRUE(Eventually([&] { return subscriber->offset() == head(); }, 20'000));
  subscriber->Stop();
  again.join();
  std::lock_guard lock(mutex);
  ASSERT_EQ(static_cast<int64_t>(seqs.size()), head());
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], static_cast<int64_t>(i) + 1) << "at " << i;
  EXPECT_GT(head(), first_run);
}

// A publisher that is not the hub (a misconfigured endpoint; CURVE's server key rules it out)
// sends an oversized event: the socket drops it unread. A subscriber with a limit above its
// size, the control, shows the same message would otherwise be taken.
TEST_P(EventsTest, AnOversizedMessageOnTheEventSocketIsDroppedUnread) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler);
  ASSERT_TRUE(client_->Submit(Request("BIG-1")).has_value());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Progress("BIG-1", "91310110666007217T");
    return p && p->state == wire::RequestState::COMPLETED;
  }));
  auto page = Replay(0, 1);
  ASSERT_TRUE(page.has_value());
  const int64_t head = page->head_seq;

  zmq::socket_t rogue(context_, zmq::socket_type::pub);
  rogue.set(zmq::sockopt::linger, 0);
  rogue.bind("tcp://127.0.0.1:*");
  // The publisher's side sees who hangs up: the limited subscriber must, on the big message.
  ASSERT_EQ(zmq_socket_monitor(rogue.handle(), "inproc://rogue-monitor", ZMQ_EVENT_DISCONNECTED), 0);
  zmq::socket_t monitor(context_, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect("inproc://rogue-monitor");
  int hang_ups = 0;
  auto count_hang_ups = [&] {
    std::vector<zmq::message_t> event;
    while (zmq::recv_multipart(monitor, std::back_inserter(event), zmq::recv_flags::dontwait)) {
      ++hang_ups;
      event.clear();
    }
  };
  wire::Event forged;
  forged.stream = "test-hub";
  forged.seq = head + 1;
  forged.type = "forged";
  forged.request_id = "BIG-1";
  forged.detail = std::string(256 << 10, 'x');
  const std::string body = wire::Encode(forged);
  const std::string position = events::Position("test-hub", head + 1);
  auto publish = [&] {
    rogue.send(zmq::buffer(std::string_view("forged")), zmq::send_flags::sndmore);
    rogue.send(zmq::buffer(position), zmq::send_flags::sndmore);
    rogue.send(zmq::buffer(body), zmq::send_flags::none);
  };

  struct Run {
    std::unique_ptr<client::FileOffsetStore> offsets;
    std::unique_ptr<client::Subscriber> subscriber;
    std::atomic<int> forged_seen{0};
    std::thread thread;
  };
  auto start = [&](const std::string& name, int64_t limit) {
    auto run = std::make_unique<Run>();
    run->offsets = std::make_unique<client::FileOffsetStore>(dir_.File(name));
    client::SubscriberOptions options;
    options.events_endpoint = rogue.get(zmq::sockopt::last_endpoint);
    options.hub_endpoint = hub_->frontend();
    options.stream = "test-hub";
    options.max_message_bytes = limit;
    Run* r = run.get();
    run->subscriber = std::make_unique<client::Subscriber>(context_, options, *run->offsets,
                                                           [r](const wire::Event& e) {
                                                             r->forged_seen += e.type == "forged";
                                                             return Status::Ok();
                                                           });
    run->thread = std::thread([r] { (void)r->subscriber->Run(); });
    return run;
  };
  auto limited = start("limited", 64 << 10);
  auto control = start("control", 1 << 20);
  ASSERT_TRUE(Eventually([&] { return limited->subscriber->offset() == head && control->subscriber->offset() == head; }));
  // PUB sends only to who is connected now: the event goes out until the control has it.
  ASSERT_TRUE(Eventually([&] {
    publish();
    return control->forged_seen > 0;
  })) << "the control never took the event: the test proves nothing";
  // Until the limited one has been sent it, and hung up on it, at least once.
  EXPECT_TRUE(Eventually([&] {
    publish();
    count_hang_ups();
    return hang_ups > 0;
  })) << "the limited subscriber never dropped the connection";
  for (Run* r : {limited.get(), control.get()}) {
    r->subscriber->Stop();
    r->thread.join();
  }
  EXPECT_EQ(limited->forged_seen, 0);
  EXPECT_EQ(limited->subscriber->offset(), head);
  zmq_socket_monitor(rogue.handle(), nullptr, 0);
}

TEST_P(EventsTest, ABadReplayRequestIsRefusedNamingTheField) {
  struct Case {
    int64_t after;
    int limit;
    std::string stream;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{{-1, 10, "", "after_seq"},
                                         {0, 0, "", "limit"},
                                         {0, 1001, "", "limit"},
                                         {0, 10, "bad stream!", "stream"}}) {
    auto refused = Replay(c.after, c.limit, c.stream);
    ASSERT_FALSE(refused.has_value()) << c.field;
    EXPECT_EQ(refused.error().code(), ErrorCode::kBadRequest);
    EXPECT_EQ(refused.error().field(), c.field);
  }
  auto other = Replay(0, 10, "another-hub");
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE(other->events.empty());
  EXPECT_EQ(other->head_seq, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventsTest, ::testing::ValuesIn(TestBackends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taxhub::testing
