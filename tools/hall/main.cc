// taxhub-hall: the online hall's side of taxhub, for people and for load.
//   taxhub-hall submit --kind K --taxpayer T --body FILE [--id ID] [--attr k=v …]
//   taxhub-hall progress ID [--taxpayer T]
//   taxhub-hall load --clients N --requests M [--inflight K] [--kind K]
//   taxhub-hall demo [--seconds N] [--rate R]
//   taxhub-hall events --stream HUB_ID [--events EP] [--offset FILE] [--count N] [--topic PREFIX]
// Every command takes --endpoint (default tcp://127.0.0.1:5555).

#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "hub/base/clock.h"
#include "hub/base/thread_name.h"
#include "tools/client/mdp_client.h"
#include "tools/client/subscriber.h"
#include "tools/hall/samples.h"

namespace taxhub::hall {
namespace {

std::atomic<bool> g_interrupted{false};

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;

  std::string Get(const std::string& key, const std::string& fallback = "") const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
  long long Int(const std::string& key, long long fallback) const {
    auto it = options.find(key);
    return it == options.end() ? fallback : std::stoll(it->second);
  }
};

int Usage() {
  std::cerr
      << "usage: taxhub-hall [--endpoint EP] COMMAND …\n"
         "  submit --kind K --taxpayer T --body FILE [--id ID] [--attr key=value …]\n"
         "      [--key KEY.pem --cert CERT.pem]   sign the body (SM2 or ECDSA key)\n"
         "  progress REQUEST_ID --taxpayer T      (a taxpayer sees their own requests)\n"
         "  items --taxpayer T [--type TYPE] [--industry CODE]\n"
         "      the taxpayer's \"my tax area\": obligations, reminders, alerts, notices\n"
         "  load --clients N --requests M [--inflight K] [--kind K] [--rate R]\n"
         "       [--pki DIR [--algorithm sm2|ecdsa]]\n"
         "      submits M requests from N clients (K in flight each; at most R per second in\n"
         "      all) and prints accepted/s and latency p50/p99; signed requests are signed\n"
         "      before the clock starts, as the hall's taxpayers sign on their own machines;\n"
         "      with --rate, latency counts from when each request was due, and the line\n"
         "      \"sends late\" says how late the hall itself sent them\n"
         "  demo [--seconds N] [--rate R] [--pki DIR]\n"
         "      submits sample applications (R per second) and follows them to the end\n"
         "  events --stream HUB_ID [--events EP] [--offset FILE] [--count N] [--topic PREFIX]\n"
         "      follows the hub's event stream (default tcp://127.0.0.1:5557), every event once\n"
         "      and in order from the stored offset (replaying losses from the ledger); stops\n"
         "      after N events or on Ctrl-C\n"
         "  --pki DIR signs with the demo keys taxhub dev writes (var/dev/pki)\n"
         "  --timeout MS  per attempt (submit; default 5000, two resends)\n"
         "With CURVE on at the hub, TAXHUB_CURVE_SERVER=<hub .pub> TAXHUB_CURVE_KEY=<hall .key>.\n";
  return 2;
}

std::string StateName(wire::StageState::type s) {
  auto it = wire::_StageState_VALUES_TO_NAMES.find(s);
  return it == wire::_StageState_VALUES_TO_NAMES.end() ? "?" : it->second;
}
std::string StateName(wire::RequestState::type s) {
  auto it = wire::_RequestState_VALUES_TO_NAMES.find(s);
  return it == wire::_RequestState_VALUES_TO_NAMES.end() ? "?" : it->second;
}

std::string NewRequestId(uint64_t n) {
  return "hall-" + std::to_string(getpid()) + "-" + std::to_string(SystemClock().NowMs()) + "-" +
         std::to_string(n);
}

void PrintProgress(const wire::ProgressReply& p) {
  std::cout << p.request_id << "  " << p.kind << "  taxpayer " << p.taxpayer_id << "  "
            << StateName(p.state) << "\n  accepted " << FormatTimeMs(p.accepted_at_ms)
            << (p.finished_at_ms ? "  finished " + FormatTimeMs(p.finished_at_ms) : "") << "\n";
  if (p.verified_at_ms > 0) {
    std::cout << "  signed by " << p.signer << ", verified " << FormatTimeMs(p.verified_at_ms)
              << "\n";
  }
  for (const auto& s : p.stages) {
    std::cout << "  [" << s.index << "] " << s.name << " " << s.label << " -> " << s.service_name
              << "  " << StateName(s.state) << (s.overdue ? " OVERDUE" : "")
              << "  handler " << (s.handler.empty() ? "-" : s.handler) << "  attempts "
              << s.attempts << "\n      ready " << FormatTimeMs(s.ready_at_ms) << "  started "
              << FormatTimeMs(s.started_at_ms) << "  finished " << FormatTimeMs(s.finished_at_ms)
              << "  deadline " << FormatTimeMs(s.deadline_ms) << "\n";
    if (!s.message.empty()) std::cout << "      " << s.code << " " << s.message << "\n";
    for (const auto& report : s.reports) {
      std::cout << "      report " << FormatTimeMs(report.at_ms) << "  " << report.type;
      for (const auto& [key, value] : report.details) std::cout << "  " << key << "=" << value;
      std::cout << "\n";
    }
  }
}

// The demo signer when --pki is given; exits on a bad directory.
std::optional<PkiSigner> LoadSigner(const Args& args) {
  const std::string dir = args.Get("pki");
  if (dir.empty()) return std::nullopt;
  auto signer = PkiSigner::Load(dir, args.Get("algorithm"));
  if (!signer) {
    std::cerr << "taxhub-hall: --pki " << dir << ": " << signer.error().ToString() << "\n";
    std::exit(2);
  }
  return std::move(*signer);
}

int Submit(const Args& args, zmq::context_t& context) {
  wire::SubmitRequest request;
  request.kind = args.Get("kind");
  request.taxpayer_id = args.Get("taxpayer");
  request.request_id = args.Get("id", NewRequestId(0));
  std::string body_file = args.Get("body");
  if (!body_file.empty()) {
    std::ifstream in(body_file, std::ios::binary);
    if (!in) {
      std::cerr << "taxhub-hall: cannot read " << body_file << "\n";
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    request.body = text.str();
  }
  for (auto [it, end] = args.options.equal_range("attr"); it != end; ++it) {
    auto eq = it->second.find('=');
    if (eq == std::string::npos) return Usage();
    request.attributes[it->second.substr(0, eq)] = it->second.substr(eq + 1);
  }
  if (!args.Get("key").empty() || !args.Get("cert").empty()) {
    Status signed_ok = SignWith(request, args.Get("key"), args.Get("cert"));
    if (!signed_ok.ok()) {
      std::cerr << "taxhub-hall: cannot sign: " << signed_ok.ToString() << "\n";
      return 1;
    }
  }
  client::HubClient hub(context, args.Get("endpoint", "tcp://127.0.0.1:5555"));
  auto reply = hub.Submit(request, args.Int("timeout", 5000));
  if (!reply) {
    std::cerr << "refused: " << reply.error().ToString() << "\n";
    return 1;
  }
  std::cout << (reply->duplicate ? "already accepted " : "accepted ") << reply->request_id
            << " at " << FormatTimeMs(reply->accepted_at_ms) << "\n";
  for (const auto& s : reply->stages) {
    std::cout << "  [" << s.index << "] " << s.name << " " << s.label << " -> " << s.service_name
              << " (time limit " << s.time_limit_ms / 1000 << " s)\n";
  }
  return 0;
}

int Progress(const Args& args, zmq::context_t& context) {
  if (args.positional.size() != 1) return Usage();
  client::HubClient hub(context, args.Get("endpoint", "tcp://127.0.0.1:5555"));
  auto reply = hub.Progress(args.positional[0], args.Get("taxpayer"));
  if (!reply) {
    std::cerr << reply.error().ToString() << "\n";
    return 1;
  }
  PrintProgress(*reply);
  return 0;
}

int Items(const Args& args, zmq::context_t& context) {
  if (!args.positional.empty()) return Usage();
  client::HubClient hub(context, args.Get("endpoint", "tcp://127.0.0.1:5555"));
  wire::ItemsRequest ask;
  ask.taxpayer_id = args.Get("taxpayer");
  ask.taxpayer_type = args.Get("type", "general");
  ask.industry = args.Get("industry", "");
  auto body = hub.mdp().Call("taxhub.items", wire::Encode(ask));
  auto reply = body ? client::DecodeReply<wire::ItemsReply>(*body) : Result<wire::ItemsReply>(Error(body.error()));
  if (!reply) {
    std::cerr << reply.error().ToString() << "\n";
    return 1;
  }
  for (const wire::Item& item : reply->items) {
    std::cout << item.type << "\t" << item.title;
    if (!item.due_date.empty()) std::cout << "\tdue " << item.due_date;
    if (!item.state.empty()) std::cout << "\t" << item.state;
    if (!item.text.empty()) std::cout << "\t" << item.text;
    std::cout << "\t" << item.ref << "\n";
  }
  return 0;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

int Load(const Args& args, zmq::context_t& context) {
  const int clients = static_cast<int>(args.Int("clients", 8));
  const long long requests = args.Int("requests", 1000);
  const int inflight = static_cast<int>(args.Int("inflight", 1));
  const long long rate = args.Int("rate", 0);
  const std::string kind = args.Get("kind", "filing.vat");
  const std::string endpoint = args.Get("endpoint", "tcp://127.0.0.1:5555");
  if (clients < 1 || requests < 1 || inflight < 1 || rate < 0) return Usage();
  const std::optional<PkiSigner> signer = LoadSigner(args);
  const std::string prefix = "load-" + std::to_string(getpid()) + "-" +
                             std::to_string(SystemClock().NowMs()) + "-";
  auto id_of = [&](long long n) { return prefix + std::to_string(n); };
  auto make = [&](long long n) {
    wire::SubmitRequest request = SampleRequest(static_cast<uint64_t>(n), kind);
    request.request_id = id_of(n);
    return request;
  };
  // Signed submits are signed up front: the taxpayer's machine signs, not the hub's.
  std::vector<std::string> presigned;
  if (signer) {
    const auto sign_start = std::chrono::steady_clock::now();
    presigned.reserve(static_cast<size_t>(requests));
    for (long long n = 0; n < requests; ++n) {
      wire::SubmitRequest request = make(n);
      if (Status signed_ = signer->Sign(request, static_cast<uint64_t>(n)); !signed_.ok()) {
        std::cerr << "taxhub-hall: cannot sign: " << signed_.ToString() << "\n";
        return 1;
      }
      presigned.push_back(wire::Encode(request));
    }
    std::printf("signed %lld requests in %.2f s before the clock started\n", requests,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - sign_start).count());
  }

  std::atomic<long long> next{0};
  std::atomic<long long> accepted{0};
  std::atomic<long long> errors{0};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::vector<double>> lateness(clients);  // paced: how late each send went out
  // With a rate, each client sends on its own schedule of rate / clients per second.
  const auto interval = std::chrono::nanoseconds(rate > 0 ? 1'000'000'000LL * clients / rate : 0);
  // Unpaced, each client has a thread of its own and sends as fast as replies come back. Paced,
  // one thread drives all the clients (each still its own connection, on its own schedule):
  // with sixteen threads each waking twice a request, the hub answered later and the hall sent
  // later (bench/TRIED.md, "On a slower machine").
  const int groups = rate > 0 ? 1 : clients;
  using Clock = std::chrono::steady_clock;
  constexpr auto kLost = std::chrono::seconds(30);  // a client with no reply for this long gives up
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int g = 0; g < groups; ++g) {
    threads.emplace_back([&, g] {
      NameThisThread(NumberedThreadName("hall", g));
      // Paced, wake-ups come on time rather than up to the default 50 us late.
      if (rate > 0) prctl(PR_SET_TIMERSLACK, 1000UL);
      struct Client {
        int index;
        client::MdpClient mdp;
        std::map<long long, Clock::time_point> sent;  // by request number: the first is the oldest
        Clock::time_point next_send;
        Clock::time_point room_since;  // when the window last had room after being full
        Clock::time_point waiting_since;  // the last reply, or the send into an empty window
        bool done = false;  // all sent and answered, or given up
        // Look at the socket before sleeping: it was used, or its descriptor fired. Asking a
        // socket that neither happened to costs system calls and finds nothing.
        bool look = true;
      };
      std::vector<std::unique_ptr<Client>> mine;
      for (int c = g; c < clients; c += groups) {
        const auto first = start + interval * c / clients;
        mine.push_back(std::unique_ptr<Client>(
            new Client{c, client::MdpClient(context, endpoint), {}, first, first, first}));
      }
      auto fill = [&](Client& cl) {
        while (!cl.done && static_cast<int>(cl.sent.size()) < inflight &&
               (rate == 0 || Clock::now() >= cl.next_send)) {
          long long n = next++;
          if (n >= requests) {
            cl.done = cl.sent.empty();
            cl.next_send = Clock::time_point::max();
            return;
          }
          // Paced, a request's latency counts from when it was due, not from when a full window
          // let it go: a stall then shows in the figures instead of hiding in a late send. The
          // hall's own lateness counts from when it could have sent: due, with room.
          const auto now = Clock::now();
          const auto due = rate > 0 ? cl.next_send : now;
          if (rate > 0) {
            lateness[cl.index].push_back(
                std::chrono::duration<double, std::milli>(now - std::max(due, cl.room_since)).count());
          }
          cl.next_send += interval;
          const std::string body = signer ? std::move(presigned[static_cast<size_t>(n)]) : wire::Encode(make(n));
          cl.look = true;
          if (!cl.mdp.Send("taxhub.submit", body).ok()) {
            ++errors;
            continue;
          }
          if (cl.sent.empty()) cl.waiting_since = now;
          cl.sent[n] = due;
        }
      };
      // Retires request `n` (the oldest when the reply does not say which) with its latency.
      auto retire = [&](Client& cl, std::optional<long long> n, bool ok) {
        auto it = n ? cl.sent.find(*n) : cl.sent.begin();
        if (it == cl.sent.end()) return;
        const auto now = Clock::now();
        if (ok) {
          latencies[cl.index].push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
          ++accepted;
        } else {
          ++errors;
        }
        if (static_cast<int>(cl.sent.size()) == inflight) cl.room_since = now;
        cl.sent.erase(it);
        cl.waiting_since = now;
        if (cl.sent.empty() && cl.next_send == Clock::time_point::max()) cl.done = true;
      };
      auto number_of = [&](const std::string& request_id) -> std::optional<long long> {
        if (request_id.size() <= prefix.size() || request_id.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
        try {
          return std::stoll(request_id.substr(prefix.size()));
        } catch (const std::exception&) {
          return std::nullopt;
        }
      };
      std::vector<pollfd> fds;
      std::vector<Client*> polled;
      while (true) {
        bool busy = false;  // a client received: look again before sleeping
        auto wake = Clock::time_point::max();
        fds.clear();
        polled.clear();
        bool all_done = true;
        for (auto& cl : mine) {
          fill(*cl);
          // Replies waiting: take them all. A past deadline does not wait, and the socket's state
          // it reads (nothing left) rearms the descriptor polled below.
          while (cl->look) {
            auto reply = cl->mdp.RecvUntil(Clock::time_point::min());
            if (!reply && reply.error().code() == ErrorCode::kTimeout) break;
            busy = true;
            if (!reply) {
              // Not a reply the hall can read: it answers one of the requests out, the oldest.
              // A malformed reply was taken off the socket; any other failure is the socket's own.
              std::cerr << "error: " << reply.error().ToString() << "\n";
              retire(*cl, std::nullopt, false);
              if (reply.error().code() == ErrorCode::kProtocolError) continue;
              break;
            }
            auto decoded = client::DecodeReply<wire::SubmitReply>(reply->body);
            if (!decoded) {
              // An error reply carries no request id; retire the oldest request.
              std::cerr << "error: " << decoded.error().ToString() << "\n";
              retire(*cl, std::nullopt, false);
            } else if (auto n = number_of(decoded->request_id)) {
              retire(*cl, n, true);
            }
          }
          cl->look = false;
          const auto now = Clock::now();
          if (!cl->sent.empty() && now - cl->waiting_since > kLost) {
            errors += static_cast<long long>(cl->sent.size());
            cl->sent.clear();
            cl->done = true;
          }
          if (cl->done) continue;
          all_done = false;
          if (busy) continue;
          if (static_cast<int>(cl->sent.size()) < inflight) wake = std::min(wake, cl->next_send);
          if (!cl->sent.empty()) {
            wake = std::min(wake, cl->waiting_since + kLost + std::chrono::milliseconds(1));
            fds.push_back({cl->mdp.Fd(), POLLIN, 0});
            polled.push_back(cl.get());
          }
        }
        if (all_done) break;
        if (busy) continue;
        if (PollUntil(fds.data(), fds.size(), std::min(wake, Clock::now() + kLost)) > 0) {
          for (size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents) polled[i]->look = true;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  // Requests never sent, because their clients gave up, count as errors too.
  if (accepted.load() + errors.load() < requests) errors = requests - accepted.load();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "load: %lld submitted by %d clients (%d in flight each) in %.2f s\n"
      "accepted: %lld  errors: %lld\n"
      "accepted/s: %.0f\n"
      "latency ms: p50 %.2f  p99 %.2f  max %.2f\n",
      requests, clients, inflight, seconds, accepted.load(), errors.load(),
      static_cast<double>(accepted.load()) / seconds, Percentile(all, 0.50),
      Percentile(all, 0.99), all.empty() ? 0.0 : all.back());
  if (rate > 0) {
    // The generator's own error, which the latencies above include: it must stay small.
    std::vector<double> late;
    for (auto& l : lateness) late.insert(late.end(), l.begin(), l.end());
    std::sort(late.begin(), late.end());
    std::printf("sends late ms: p50 %.3f  p99 %.3f  max %.3f\n", Percentile(late, 0.50),
                Percentile(late, 0.99), late.empty() ? 0.0 : late.back());
  }
  return errors.load() == 0 ? 0 : 1;
}

int Demo(const Args& args, zmq::context_t& context) {
  const long long seconds = args.Int("seconds", 0);  // 0: until interrupted
  const double rate = std::stod(args.Get("rate", "4"));
  const std::optional<PkiSigner> signer = LoadSigner(args);
  client::HubClient hub(context, args.Get("endpoint", "tcp://127.0.0.1:5555"));
  struct Followed {
    std::string kind;
    std::string taxpayer;
    std::map<int, wire::StageState::type> seen;
    bool finished = false;
    wire::RequestState::type state = wire::RequestState::ACCEPTED;
  };
  std::map<std::string, Followed> followed;
  long long submitted = 0, refused = 0;
  const int64_t start = MonotonicMs();
  const int64_t stop_submitting = seconds > 0 ? start + seconds * 1000 : INT64_MAX;
  int64_t next_submit = start;
  uint64_t n = 0;

  auto poll = [&] {
    for (auto& [id, f] : followed) {
      if (f.finished) continue;
      auto p = hub.Progress(id, f.taxpayer);
      if (!p) continue;
      for (const auto& s : p->stages) {
        auto& last = f.seen[s.index];
        if (last == s.state || s.state == wire::StageState::PENDING) continue;
        last = s.state;
        std::cout << "  " << id << "  " << f.kind << "  [" << s.index << "] " << s.name << " "
                  << s.label << " -> " << StateName(s.state);
        if (s.state == wire::StageState::DONE) {
          std::cout << " by " << s.handler << " in " << (s.finished_at_ms - s.ready_at_ms)
                    << " ms";
        }
        if (!s.message.empty()) std::cout << " (" << s.code << " " << s.message << ")";
        std::cout << "\n";
      }
      if (p->state != wire::RequestState::IN_PROGRESS && p->state != wire::RequestState::ACCEPTED) {
        f.finished = true;
        f.state = p->state;
        std::cout << "= " << id << "  " << f.kind << "  " << StateName(p->state) << " after "
                  << (p->finished_at_ms - p->accepted_at_ms) << " ms\n";
      }
    }
  };

  std::cout << "demo: submitting " << rate << " applications/s"
            << (seconds > 0 ? " for " + std::to_string(seconds) + " s" : " until interrupted")
            << "\n";
  while (!g_interrupted) {
    const int64_t now = MonotonicMs();
    bool submitting = now < stop_submitting;
    if (submitting && now >= next_submit) {
      wire::SubmitRequest request = SampleRequest(n);
      request.request_id = NewRequestId(++n);
      if (signer) (void)signer->Sign(request, n);
      auto reply = hub.Submit(request);
      ++submitted;
      if (reply) {
        followed[reply->request_id].kind = request.kind;
        followed[reply->request_id].taxpayer = request.taxpayer_id;
        std::cout << "+ " << reply->request_id << "  " << request.kind << "  taxpayer "
                  << request.taxpayer_id << "  accepted, " << reply->stages.size() << " stages"
                  << (request.signature.empty() ? "" : n % 2 == 0 ? ", signed SM2" : ", signed ECDSA")
                  << "\n";
      } else {
        ++refused;
        std::cout << "! submit refused: " << reply.error().ToString() << "\n";
      }
      next_submit += static_cast<int64_t>(1000.0 / rate);
    }
    poll();
    bool all_done = std::all_of(followed.begin(), followed.end(),
                                [](const auto& f) { return f.second.finished; });
    // After the submitting window, give the last requests up to 15 s to finish.
    if (!submitting && (all_done || now > stop_submitting + 15'000)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  long long completed = 0, rejected = 0, failed = 0, open = 0;
  for (const auto& [id, f] : followed) {
    if (!f.finished) ++open;
    else if (f.state == wire::RequestState::COMPLETED) ++completed;
    else if (f.state == wire::RequestState::REJECTED) ++rejected;
    else ++failed;
  }
  std::cout << "\nsummary: submitted " << submitted << ", completed " << completed
            << ", rejected " << rejected << ", failed " << failed + refused
            << ", still in progress " << open << "\n";
  return 0;
}

int Events(const Args& args, zmq::context_t& context) {
  const std::string stream = args.Get("stream");
  if (stream.empty()) return Usage();
  client::SubscriberOptions options;
  options.events_endpoint = args.Get("events", "tcp://127.0.0.1:5557");
  options.hub_endpoint = args.Get("endpoint", "tcp://127.0.0.1:5555");
  options.stream = stream;
  const long long count = args.Int("count", 0);
  const std::string topic = args.Get("topic");
  const std::string offset_file = args.Get("offset");
  client::FileOffsetStore file(offset_file);
  struct MemoryOffset final : client::OffsetStore {
    Result<int64_t> Load() override { return offset; }
    Status Save(int64_t o) override {
      offset = o;
      return Status::Ok();
    }
    int64_t offset = 0;
  } memory;
  client::OffsetStore& offsets = offset_file.empty() ? static_cast<client::OffsetStore&>(memory) : file;
  std::atomic<long long> seen{0};
  std::unique_ptr<client::Subscriber> subscriber;
  subscriber = std::make_unique<client::Subscriber>(context, options, offsets, [&](const wire::Event& e) {
    if (topic.empty() || e.type.rfind(topic, 0) == 0) {
      std::cout << e.stream << ":" << e.seq << "  " << FormatTimeMs(e.at_ms) << "  " << e.type << "  "
                << (e.request_id.empty() ? "-" : e.request_id)
                << (e.stage >= 0 ? "/" + std::to_string(e.stage) : "") << "  " << e.detail << std::endl;
    }
    if (count > 0 && ++seen >= count) subscriber->Stop();
    return Status::Ok();
  });
  std::thread watch([&] {
    while (!g_interrupted && !(count > 0 && seen >= count)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    subscriber->Stop();
  });
  Status run = subscriber->Run();
  g_interrupted = true;
  watch.join();
  if (!run.ok()) {
    std::cerr << "taxhub-hall events: " << run.ToString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace taxhub::hall

int main(int argc, char** argv) {
  using namespace taxhub::hall;
  taxhub::security::ProcessCurveClientKeys();  // a bad CURVE setting stops here, before any thread
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return Usage();
      args.options.emplace(arg.substr(2), argv[++i]);
    } else if (args.command.empty()) {
      args.command = arg;
    } else {
      args.positional.push_back(arg);
    }
  }
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  zmq::context_t context(1);
  try {
    if (args.command == "submit") return Submit(args, context);
    if (args.command == "progress") return Progress(args, context);
    if (args.command == "items") return Items(args, context);
    if (args.command == "load") return Load(args, context);
    if (args.command == "demo") return Demo(args, context);
    if (args.command == "events") return Events(args, context);
  } catch (const std::exception& e) {
    std::cerr << "taxhub-hall: " << e.what() << "\n";
    return 2;
  }
  return Usage();
}
