// Several hubs on one PostgreSQL ledger, as real processes: work made ready by one hub is taken
// by another (LISTEN/NOTIFY), and when a hub dies with kill -9 the others finish its work —
// leases expire, stages go out again, every side effect happens once at an idempotent legacy
// system, and each hub's chain still verifies.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "hub/app/config.h"
#include "hub/app/hub.h"
#include "hub/app/verify_ledger.h"
#include "hub/obligations/calendar.h"
#include "tests/support/pg_server.h"
#include "tests/support/process.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

const std::string kTaxpayer = "91310110666007217T";

// A legacy system whose side effect is keyed by task id (as TIPS keys a debit by its serial):
// a redelivered task is recognised and not applied again.
class IdempotentLegacy final : public sdk::Handler {
 public:
  wire::StageResult Handle(const wire::StageTask& task) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++deliveries_;
      if (applied_.insert(task.task_id).second) ++applications_[task.task_id];
    }
    return Succeeded("legacy");
  }
  size_t applied() {
    std::lock_guard<std::mutex> lock(mutex_);
    return applied_.size();
  }
  int deliveries() {
    std::lock_guard<std::mutex> lock(mutex_);
    return deliveries_;
  }
  int MaxApplications() {
    std::lock_guard<std::mutex> lock(mutex_);
    int most = 0;
    for (const auto& [task, n] : applications_) most = std::max(most, n);
    return most;
  }

 private:
  std::mutex mutex_;
  std::set<std::string> applied_;
  std::map<std::string, int> applications_;
  int deliveries_ = 0;
};

class MultiHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TAXHUB_REQUIRE_PG(server);
    dsn_ = server->NewDatabase();
    ASSERT_FALSE(dsn_.empty());
    std::ofstream(dir_.File("routes.yaml"))
        << "defaults:\n"
           "  retry: {max_attempts: 10, initial_backoff: 100ms, max_backoff: 500ms, attempt_timeout: 2s}\n"
           "routes:\n"
           "  - name: two\n"
           "    match: {kind: two.stage}\n"
           "    stages: [{name: a, service: m.a, time_limit: 1h}, {name: b, service: m.b, time_limit: 1h}]\n"
           "  - name: owe\n"
           "    match: {kind: registration.new}\n"
           "    stages: [{name: register, service: m.owe, time_limit: 1h}]\n"
           "  - name: zero\n"
           "    match: {kind: filing.zero}\n"
           "    stages: [{name: file, service: m.file, time_limit: 1h}]\n";
    for (const char* id : {"hub-a", "hub-b"}) {
      Endpoints& e = endpoints_[id];
      e.frontend = "tcp://127.0.0.1:" + std::to_string(FreePort());
      e.backend = "tcp://127.0.0.1:" + std::to_string(FreePort());
      std::ofstream(dir_.File(std::string(id) + ".yaml"))
          << "hub: {id: " << id << ", data_dir: " << dir_.path() << ", log_level: warn}\n"
          << "broker: {frontend: " << e.frontend << ", backend: " << e.backend
          << ", heartbeat: 250ms}\n"
          << "ledger:\n  backend: postgres\n  postgres: {dsn: \"" << dsn_ << "\"}\n"
          << "engine: {tick: 1s, drain_timeout: 2s}\n"
          << "reminders: {interval: 50ms}\n"
          << "risk:\n  - {name: zero_return, type: zero_run, kind: filing.zero, output: tax_due, months: 1,"
             " title: 零申报, text: \"{period}零申报\"}\n"
          << "routes: routes.yaml\n";
    }
  }

  std::optional<Process> StartHub(const std::string& id) {
    auto hub = Process::Start({BinDir() + "/taxhub", "serve", "--config", dir_.File(id + ".yaml")},
                              dir_.File(id + ".log"));
    EXPECT_TRUE(hub.has_value());
    EXPECT_TRUE(Eventually([&] { return hub->Log().find(" up\n") != std::string::npos; }, 15'000))
        << hub->Log();
    return hub;
  }

  wire::SubmitRequest Request(const std::string& id) {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = "two.stage";
    r.taxpayer_id = kTaxpayer;
    r.body = "{\"id\":\"" + id + "\"}";
    return r;
  }

  struct Endpoints {
    std::string frontend, backend;
  };
  std::string dsn_;
  TempDir dir_;
  std::map<std::string, Endpoints> endpoints_;
  zmq::context_t context_{1};
};

TEST_F(MultiHubTest, WorkReadyOnOneHubIsTakenByAnotherAtOnce) {
  auto a = StartHub("hub-a");
  auto b = StartHub("hub-b");
  IdempotentLegacy legacy;
  TestWorkers workers(endpoints_["hub-b"].backend, {"m.a", "m.b"}, legacy);  // only on b
  client::HubClient to_a(context_, endpoints_["hub-a"].frontend);
  ASSERT_TRUE(Eventually([&] { return to_a.mdp().Call("mmi.service", "taxhub.submit", 500, 0).has_value(); }));
  const int64_t start = MonotonicMs();
  ASSERT_TRUE(to_a.Submit(Request("N-1")).has_value());
  ASSERT_TRUE(Eventually([&] {
    auto p = to_a.Progress("N-1", kTaxpayer);
    return p && p->state == wire::RequestState::COMPLETED;
  }));
  // Ticks are 1 s apart: without NOTIFY, hub-b would find the work up to a second late, twice.
  EXPECT_LT(MonotonicMs() - start, 900) << "hub-b was told, not left to poll";
  EXPECT_EQ(legacy.applied(), 2u);
  a->Stop(5000);
  b->Stop(5000);
}

TEST_F(MultiHubTest, AThousandRequestsSurviveKillNineOfOneHub) {
  auto a = StartHub("hub-a");
  auto b = StartHub("hub-b");
  IdempotentLegacy legacy;
  auto workers_a = std::make_unique<TestWorkers>(endpoints_["hub-a"].backend,
                                                 std::vector<std::string>{"m.a", "m.b"}, legacy, 2);
  TestWorkers workers_b(endpoints_["hub-b"].backend, {"m.a", "m.b"}, legacy, 2);

  constexpr int kRequests = 1000;
  std::atomic<int> next{0};
  std::atomic<int> accepted{0};
  std::atomic<bool> a_alive{true};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      client::MdpClient to_a(context_, endpoints_["hub-a"].frontend);
      client::MdpClient to_b(context_, endpoints_["hub-b"].frontend);
      for (int n = next++; n < kRequests; n = next++) {
        const std::string body = wire::Encode(Request("M-" + std::to_string(n)));
        bool done = false;
        // Alternate hubs; if hub-a is gone (or its reply lost), the same request goes to hub-b,
        // where the request id makes it the same request.
        if (n % 2 == 0 && a_alive) {
          auto reply = to_a.Call("taxhub.submit", body, 1000, 0);
          done = reply && wire::ReplyStatus(*reply).ok();
        }
        while (!done) {
          auto reply = to_b.Call("taxhub.submit", body, 3000, 1);
          done = reply && wire::ReplyStatus(*reply).ok();
        }
        ++accepted;
        (void)c;
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return accepted >= kRequests / 2; }, 60'000))
      << accepted << " accepted\n--- hub-a\n" << a->Log() << "\n--- hub-b\n" << b->Log();
  a->Signal(SIGKILL);
  a_alive = false;
  ASSERT_TRUE(a->Wait(5000).has_value());
  for (auto& t : clients) t.join();
  workers_a.reset();  // its hub is dead; its unfinished work belongs to hub-b now

  client::HubClient to_b(context_, endpoints_["hub-b"].frontend);
  std::vector<std::string> unfinished;
  ASSERT_TRUE(Eventually(
      [&] {
        unfinished.clear();
        for (int n = 0; n < kRequests; ++n) {
          auto p = to_b.Progress("M-" + std::to_string(n), kTaxpayer);
          if (!p || p->state != wire::RequestState::COMPLETED) unfinished.push_back("M-" + std::to_string(n));
          if (unfinished.size() > 5) return false;
        }
        return unfinished.empty();
      },
      90'000))
      << unfinished.size() << " unfinished, e.g. " << (unfinished.empty() ? "" : unfinished[0]);
  EXPECT_EQ(legacy.applied(), static_cast<size_t>(2 * kRequests)) << "every stage's side effect";
  EXPECT_EQ(legacy.MaxApplications(), 1) << "and each once";
  EXPECT_GE(legacy.deliveries(), 2 * kRequests);
  EXPECT_EQ(b->Stop(10'000), 0);

  // Both hubs' chains verify, hub-a's up to its last commit.
  app::HubConfig config;
  config.ledger.backend = "postgres";
  config.ledger.postgres.dsn = dsn_;
  auto ledger = app::OpenLedger(config, /*read_only=*/true);
  ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
  auto report = app::VerifyLedger(**ledger, app::VerifyLedgerOptions{});
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->ok()) << report->problems.front();
  EXPECT_EQ(report->chains, 2);
  EXPECT_EQ(report->requests, kRequests);
  std::cout << "multi-hub: " << legacy.deliveries() << " deliveries for " << 2 * kRequests
            << " stage side effects; " << report->events << " events in 2 chains\n";
}

// Both hubs run the reminder scheduler over the same obligations, and results that raise the
// same alert are resolved on both at once: each reminder and the alert go out once in all.
TEST_F(MultiHubTest, TwoHubsSendEachReminderAndAlertOnce) {
  auto a = StartHub("hub-a");
  auto b = StartHub("hub-b");
  const int64_t now = SystemClock().NowMs();
  auto day = [&](int offset) { return obligations::FormatDate(obligations::ChinaDate(now + offset * 86'400'000LL)); };
  // Stage outputs are at most 4 KiB: 40 obligations per registration, 10 registrations.
  constexpr int kRegistrations = 10, kDue = 30, kOverdue = 10;
  ScriptedHandler owe([&](const wire::StageTask& task) {
    wire::StageResult r = Succeeded();
    if (task.kind == "filing.zero") {
      r.outputs["tax_due"] = "0.00";
      return r;
    }
    std::string list = "[";
    for (int i = 0; i < kDue + kOverdue; ++i) {
      list += std::string(i ? "," : "") + "{\"kind\":\"filing.x\",\"period\":\"" + task.request_id + "-" +
              std::to_string(i) + "\",\"due_date\":\"" + day(i < kDue ? 1 : -1) + "\"}";
    }
    r.outputs["obligations"] = list + "]";
    return r;
  });
  TestWorkers workers_a(endpoints_["hub-a"].backend, {"m.owe", "m.file"}, owe, 2);
  TestWorkers workers_b(endpoints_["hub-b"].backend, {"m.owe", "m.file"}, owe, 2);
  client::HubClient to_a(context_, endpoints_["hub-a"].frontend);
  client::HubClient to_b(context_, endpoints_["hub-b"].frontend);
  ASSERT_TRUE(Eventually([&] { return to_b.mdp().Call("mmi.service", "taxhub.submit", 500, 0).has_value(); }));
  // 20 returns of the same zero month, half through each hub: one alert.
  for (int n = 0; n < 20; ++n) {
    wire::SubmitRequest r = Request("Z-" + std::to_string(n));
    r.kind = "filing.zero";
    r.body = "{\"period\":\"2026-10\"}";
    ASSERT_TRUE((n % 2 ? to_a : to_b).Submit(r).has_value());
  }
  for (int n = 0; n < kRegistrations; ++n) {
    wire::SubmitRequest r = Request("REG-" + std::to_string(n));
    r.kind = "registration.new";
    ASSERT_TRUE((n % 2 ? to_a : to_b).Submit(r).has_value());
  }

  app::HubConfig config;
  config.ledger.backend = "postgres";
  config.ledger.postgres.dsn = dsn_;
  auto ledger = app::OpenLedger(config, /*read_only=*/true);
  ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
  std::map<std::string, int> due, overdue;
  std::map<std::string, int> by_hub, types;
  int alerts = 0;
  auto scan = [&] {
    due.clear();
    overdue.clear();
    by_hub.clear();
    types.clear();
    alerts = 0;
    auto txn = (*ledger)->Begin();
    if (!txn) return false;
    auto chains = (*txn)->Chains();
    if (!chains) return false;
    for (const auto& chain : *chains) {
      for (int64_t after = 0;;) {
        auto events = (*txn)->ScanChain(chain.chain, after, 1000);
        if (!events || events->empty()) break;
        for (const auto& e : *events) {
          ++types[e.type + " " + e.detail.substr(0, 60)];
          if (e.type == "reminder.due") ++due[e.request_id], ++by_hub[chain.chain];
          if (e.type == "reminder.overdue") ++overdue[e.request_id], ++by_hub[chain.chain];
          if (e.type == "alert.raised") ++alerts;
        }
        after = events->back().chain_seq;
      }
    }
    return static_cast<int>(due.size()) == kRegistrations * kDue &&
           static_cast<int>(overdue.size()) == kRegistrations * kOverdue;
  };
  ASSERT_TRUE(Eventually(scan, 30'000)) << due.size() << " due, " << overdue.size() << " overdue reminded; events: " << [&] {
    std::string all;
    for (const auto& [t, n] : types) all += t + " ×" + std::to_string(n) + "\n";
    return all;
  }();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // more scheduler rounds on both hubs
  ASSERT_TRUE(scan());
  for (const auto& [id, n] : due) ASSERT_EQ(n, 1) << id << " reminded twice";
  for (const auto& [id, n] : overdue) ASSERT_EQ(n, 1) << id << " reminded overdue twice";
  EXPECT_EQ(alerts, 1) << "the zero month alerted once, from either hub";
  for (auto* hub : {&a, &b}) {
    EXPECT_EQ((*hub)->Log().find("reminders"), std::string::npos) << "a scheduler round failed:\n" << (*hub)->Log();
  }
  std::cout << "multi-hub reminders: hub-a sent " << by_hub["hub-a"] << ", hub-b " << by_hub["hub-b"] << " of "
            << kRegistrations * (kDue + kOverdue) << "\n";
  EXPECT_EQ(a->Stop(10'000), 0);
  EXPECT_EQ(b->Stop(10'000), 0);
}

}  // namespace
}  // namespace taxhub::testing
