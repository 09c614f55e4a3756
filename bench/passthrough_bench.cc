// Pass-through (issue 8, target 1): the hall calls an adapter service through the hub, which
// forwards the request to an idle worker and the answer back — measured side by side with a raw
// ZeroMQ ROUTER broker built here, which does nothing else (no validation, limits, heartbeats,
// routes or counters). The same client and the same echo workers (512-byte bodies, MDP/0.1
// framing) run against both, over TCP on 127.0.0.1:
//   1. the most requests/s with 16 in flight (4 client threads, 4 each);
//   2. latency p50/p99 at half of the hub's rate, the same offered load for both: the median of
//      five short rounds that alternate between the two, so that a pause of the machine counts
//      against neither.
//
//   passthrough_bench --frontend EP --backend EP --service NAME [--requests N]
// prints one line per broker: "<name>: rate=R p50_us=X p99_us=Y half_rate=H".

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kClients = 4;  // client threads, kInFlight / kClients requests out each
constexpr int kInFlight = 16;
constexpr int kWorkers = 16;
constexpr size_t kBodySize = 512;
const char kClient[] = "MDPC01";
const char kWorker[] = "MDPW01";
constexpr char kReady = 0x01, kRequest = 0x02, kReply = 0x03, kHeartbeat = 0x04;

std::string Str(const zmq::message_t& m) { return m.to_string(); }

// The raw broker: a frontend ROUTER for clients, a backend ROUTER for workers, a list of idle
// workers and a queue of requests waiting for one. Its own context (one I/O thread), as the
// hub has in its own process.
class RawBroker {
 public:
  RawBroker() : frontend_(context_, zmq::socket_type::router), backend_(context_, zmq::socket_type::router) {
    frontend_.bind("tcp://127.0.0.1:*");
    backend_.bind("tcp://127.0.0.1:*");
    thread_ = std::thread([this] { Run(); });
  }
  ~RawBroker() {
    stop_ = true;
    thread_.join();
  }
  std::string frontend() const { return frontend_.get(zmq::sockopt::last_endpoint); }
  std::string backend() const { return backend_.get(zmq::sockopt::last_endpoint); }

 private:
  void Run() {
    std::deque<std::string> idle;
    std::deque<std::vector<zmq::message_t>> waiting;  // [client][body]
    auto dispatch = [&](std::string worker, std::vector<zmq::message_t> request) {
      std::vector<zmq::message_t> out;
      out.emplace_back(worker);
      out.emplace_back();
      out.emplace_back(kWorker, 6);
      out.emplace_back(&kRequest, 1);
      out.push_back(std::move(request[0]));
      out.emplace_back();
      out.push_back(std::move(request[1]));
      zmq::send_multipart(backend_, out);
    };
    zmq::pollitem_t items[] = {{frontend_.handle(), 0, ZMQ_POLLIN, 0}, {backend_.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stop_) {
      zmq::poll(items, 2, std::chrono::milliseconds(100));
      std::vector<zmq::message_t> m;
      while (zmq::recv_multipart(backend_, std::back_inserter(m), zmq::recv_flags::dontwait)) {
        // [worker][][MDPW01][command][client][][body] or READY/HEARTBEAT
        if (m.size() >= 4 && m[3].size() == 1) {
          const char command = *m[3].data<char>();
          if (command == kReply && m.size() == 7) {
            std::vector<zmq::message_t> out;
            out.push_back(std::move(m[4]));
            out.emplace_back();
            out.emplace_back(kClient, 6);
            out.emplace_back("echo", 4);
            out.push_back(std::move(m[6]));
            zmq::send_multipart(frontend_, out);
          }
          if (command == kReady || command == kReply) {
            if (waiting.empty()) {
              idle.push_back(Str(m[0]));
            } else {
              dispatch(Str(m[0]), std::move(waiting.front()));
              waiting.pop_front();
            }
          }
        }
        m.clear();
      }
      while (zmq::recv_multipart(frontend_, std::back_inserter(m), zmq::recv_flags::dontwait)) {
        // [client][][MDPC01][service][body]
        if (m.size() == 5) {
          std::vector<zmq::message_t> request;
          request.push_back(std::move(m[0]));
          request.push_back(std::move(m[4]));
          if (idle.empty()) {
            waiting.push_back(std::move(request));
          } else {
            dispatch(idle.front(), std::move(request));
            idle.pop_front();
          }
        }
        m.clear();
      }
    }
  }

  zmq::context_t context_{1};
  zmq::socket_t frontend_, backend_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Echo workers: kWorkers MDP worker connections on one thread, answering each request with
// its body, and heartbeats with heartbeats.
class EchoWorkers {
 public:
  EchoWorkers(zmq::context_t& context, const std::string& backend, const std::string& service) {
    for (int i = 0; i < kWorkers; ++i) {
      sockets_.emplace_back(context, zmq::socket_type::dealer);
      sockets_.back().set(zmq::sockopt::linger, 0);
      sockets_.back().connect(backend);
      Send(sockets_.back(), kReady, {service});
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~EchoWorkers() {
    stop_ = true;
    thread_.join();
  }

 private:
  static void Send(zmq::socket_t& s, char command, std::vector<std::string> rest) {
    std::vector<zmq::message_t> out;
    out.emplace_back();
    out.emplace_back(kWorker, 6);
    out.emplace_back(&command, 1);
    for (auto& part : rest) out.emplace_back(part);
    zmq::send_multipart(s, out);
  }
  void Run() {
    std::vector<zmq::pollitem_t> items;
    for (auto& s : sockets_) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    while (!stop_) {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
      for (size_t i = 0; i < sockets_.size(); ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        std::vector<zmq::message_t> m;  // [][MDPW01][command][client][][body]
        if (!zmq::recv_multipart(sockets_[i], std::back_inserter(m))) continue;
        if (m.size() < 3 || m[2].size() != 1) continue;
        const char command = *m[2].data<char>();
        if (command == kRequest && m.size() == 6) {
          Send(sockets_[i], kReply, {Str(m[3]), "", Str(m[5])});
        } else if (command == kHeartbeat) {
          Send(sockets_[i], kHeartbeat, {});
        }
      }
    }
  }

  std::vector<zmq::socket_t> sockets_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Figures {
  double rate = 0;  // replies per second
  double p50_us = 0, p99_us = 0;
};

// Each figure's median over rounds.
Figures MedianRound(std::vector<Figures> rounds) {
  auto median = [&](double Figures::*field) {
    std::vector<double> values;
    for (const Figures& f : rounds) values.push_back(f.*field);
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  return Figures{median(&Figures::rate), median(&Figures::p50_us), median(&Figures::p99_us)};
}

// One client thread: up to `in_flight` requests out; with `rate` > 0, sends paced at that rate.
// Returns its latencies.
std::vector<double> ClientThread(zmq::context_t& context, const std::string& frontend, const std::string& service,
                                 long long requests, double rate, int in_flight) {
  zmq::socket_t s(context, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(frontend);
  std::vector<Clock::time_point> sent(static_cast<size_t>(requests));
  std::vector<double> latency_us;
  latency_us.reserve(static_cast<size_t>(requests));
  std::string body(kBodySize, 'x');
  long long next = 0, out = 0;
  const auto start = Clock::now();
  const Clock::duration interval = std::chrono::nanoseconds(rate > 0 ? static_cast<long long>(1e9 / rate) : 0);
  while (static_cast<long long>(latency_us.size()) < requests) {
    const auto now = Clock::now();
    while (next < requests && out < in_flight && (rate <= 0 || now >= start + interval * next)) {
      std::memcpy(body.data(), &next, sizeof next);
      std::vector<zmq::message_t> m;
      m.emplace_back();
      m.emplace_back(kClient, 6);
      m.emplace_back(service);
      m.emplace_back(body);
      // Paced, latency counts from when the request was due (no coordinated omission).
      sent[static_cast<size_t>(next)] = rate > 0 ? Clock::time_point(start + interval * next) : Clock::now();
      zmq::send_multipart(s, m);
      ++next;
      ++out;
    }
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    // Paced: wake for the next send. poll counts whole ms; closer than that, look for replies
    // and sleep 20 us at a time.
    constexpr long kLost = 10'000;  // no reply for this long: a reply was lost
    long wait_ms = kLost;
    if (rate > 0 && next < requests && out < in_flight) {
      const Clock::time_point due = start + interval * next;
      wait_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count());
      if (wait_ms < 1) {
        zmq::poll(&item, 1, std::chrono::milliseconds(0));
        if (!(item.revents & ZMQ_POLLIN)) std::this_thread::sleep_until(std::min<Clock::time_point>(due, Clock::now() + std::chrono::microseconds(20)));
        wait_ms = 0;
      }
    }
    if (wait_ms != 0) {
      zmq::poll(&item, 1, std::chrono::milliseconds(wait_ms));
      if (wait_ms == kLost && !(item.revents & ZMQ_POLLIN)) {
        std::cerr << "passthrough_bench: no reply within 10 s\n";
        std::exit(1);
      }
    }
    std::vector<zmq::message_t> m;  // [][MDPC01][service][body]
    while (zmq::recv_multipart(s, std::back_inserter(m), zmq::recv_flags::dontwait)) {
      if (m.size() == 4 && m[3].size() == kBodySize) {
        long long n = 0;
        std::memcpy(&n, m[3].data(), sizeof n);
        latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent[static_cast<size_t>(n)]).count());
        --out;
      } else {
        std::cerr << "passthrough_bench: unexpected reply: " << (m.size() == 4 ? Str(m[3]) : "frames") << "\n";
        std::exit(1);
      }
      m.clear();
    }
  }
  return latency_us;
}

// kClients client threads, kInFlight requests out in all, `rate` per second in all (0: as fast
// as the broker answers).
Figures RunClients(zmq::context_t& context, const std::string& frontend, const std::string& service,
                   long long requests, double rate) {
  std::vector<std::vector<double>> latencies(kClients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      latencies[c] = ClientThread(context, frontend, service, requests / kClients, rate / kClients,
                                  kInFlight / kClients);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Figures f;
  f.rate = static_cast<double>(all.size()) / seconds;
  f.p50_us = all[all.size() / 2];
  f.p99_us = all[all.size() * 99 / 100];
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string frontend, backend, service;
  long long requests = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--frontend") frontend = value;
    else if (flag == "--backend") backend = value;
    else if (flag == "--service") service = value;
    else if (flag == "--requests") requests = std::stoll(value);
  }
  if (frontend.empty() || backend.empty() || service.empty() || requests < 100) {
    std::cerr << "usage: passthrough_bench --frontend EP --backend EP --service NAME [--requests N]\n";
    return 2;
  }
  zmq::context_t context(1);  // the clients' and workers'
  RawBroker broker;
  EchoWorkers raw_workers(context, broker.backend(), service);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // workers registered
  const Figures raw = RunClients(context, broker.frontend(), service, requests, 0);
  EchoWorkers hub_workers(context, backend, service);  // only now: idle, they still cost the raw run
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const Figures hub = RunClients(context, frontend, service, requests, 0);
  // Latency at half the hub's rate, in short rounds alternating between the two: a pause of
  // the machine lands in one round of one side, and the median round leaves it out.
  constexpr int kRounds = 5;
  std::vector<Figures> raw_rounds, hub_rounds;
  for (int round = 0; round < kRounds; ++round) {
    raw_rounds.push_back(RunClients(context, broker.frontend(), service, requests / 2 / kRounds, hub.rate / 2));
    hub_rounds.push_back(RunClients(context, frontend, service, requests / 2 / kRounds, hub.rate / 2));
  }
  const Figures raw_half = MedianRound(raw_rounds), hub_half = MedianRound(hub_rounds);
  std::printf("half load: the median of %d alternating rounds of %lld requests each\n", kRounds,
              requests / 2 / kRounds);
  std::printf("raw broker: rate=%.0f half_rate=%.0f p50_us=%.0f p99_us=%.0f\n", raw.rate, hub.rate / 2,
              raw_half.p50_us, raw_half.p99_us);
  std::printf("taxhub: rate=%.0f half_rate=%.0f p50_us=%.0f p99_us=%.0f\n", hub.rate, hub.rate / 2,
              hub_half.p50_us, hub_half.p99_us);
  return 0;
}
