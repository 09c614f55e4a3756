// The hub over real TCP sockets with a real ledger (SQLite, and PostgreSQL in hub_pg_test):
// submit -> adapters -> done, progress, idempotency, retries, and many clients at once.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/backends.h"
#include "tests/support/process.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

using wire::RequestState;
using wire::StageState;

const std::string kTaxpayer = "91310110666007217T";

class HubTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string dsn;
    TAXHUB_PREPARE_BACKEND(GetParam(), dsn);
    config_ = TestHubConfig(dir_, GetParam(), dsn);
    hub_ = std::make_unique<TestHub>(config_);
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
    client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  }

  wire::SubmitRequest Request(const std::string& id, const std::string& kind = "filing.vat") {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = kind;
    r.taxpayer_id = "91310110666007217T";
    r.attributes = {{"tax_office", "13212000000"}};
    r.body = "{\"period\":\"2026-10\",\"id\":\"" + id + "\"}";
    return r;
  }

  wire::ProgressReply WaitForEnd(const std::string& id, int timeout_ms = 10'000) {
    wire::ProgressReply last;
    Eventually(
        [&] {
          auto p = client_->Progress(id, kTaxpayer);
          if (!p) return false;
          last = *p;
          return p->state != RequestState::IN_PROGRESS && p->state != RequestState::ACCEPTED;
        },
        timeout_ms);
    return last;
  }

  TempDir dir_;
  app::HubConfig config_;
  zmq::context_t context_{1};
  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<client::HubClient> client_;
};

TEST_P(HubTest, SubmitFlowsThroughEveryStageAndProgressShowsEachOne) {
  ScriptedHandler handler([](const wire::StageTask& task) {
    wire::StageResult r = Succeeded("clerk-" + task.stage);
    r.outputs[task.stage + ".serial"] = "S-" + task.task_id;
    return r;
  });
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler);

  auto reply = client_->Submit(Request("R-flow"));
  ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
  EXPECT_EQ(reply->request_id, "R-flow");
  EXPECT_FALSE(reply->duplicate);
  EXPECT_GT(reply->accepted_at_ms, 0);
  ASSERT_EQ(reply->stages.size(), 3u);
  EXPECT_EQ(reply->stages[0].label, "受理");
  EXPECT_EQ(reply->stages[1].service_name, "t.verify");

  wire::ProgressReply p = WaitForEnd("R-flow");
  ASSERT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_GE(p.finished_at_ms, p.accepted_at_ms);
  ASSERT_EQ(p.stages.size(), 3u);
  int64_t previous_finish = p.accepted_at_ms;
  for (const auto& s : p.stages) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(s.state, StageState::DONE);
    EXPECT_EQ(s.handler, "clerk-" + s.name);
    EXPECT_EQ(s.attempts, 1);
    EXPECT_GE(s.ready_at_ms, previous_finish);
    EXPECT_GE(s.started_at_ms, s.ready_at_ms);
    EXPECT_GE(s.finished_at_ms, s.started_at_ms);
    EXPECT_EQ(s.deadline_ms - s.ready_at_ms, reply->stages[s.index].time_limit_ms);
    EXPECT_FALSE(s.overdue);
    EXPECT_EQ(s.outputs.at(s.name + ".serial"), "S-R-flow/" + std::to_string(s.index));
    previous_finish = s.finished_at_ms;
  }
  // Each stage sees the outputs of the stages before it, and the body as submitted.
  for (const auto& task : handler.Tasks()) {
    EXPECT_EQ(task.payload, Request("R-flow").body);
    EXPECT_EQ(task.attributes.at("tax_office"), "13212000000");
    if (task.stage == "notify") {
      EXPECT_EQ(task.inputs.at("accept.serial"), "S-R-flow/0");
      EXPECT_EQ(task.inputs.at("verify.serial"), "S-R-flow/1");
    }
  }
}

// A handler that may block runs on the pool's handler threads, several tasks at once; one that
// never blocks runs on its service's I/O thread, one task after another, and the flow is the same.
TEST_P(HubTest, AHandlerThatNeverBlocksRunsOnItsServicesIoThread) {
  // The threads each stage ran on, and the pools' I/O threads.
  auto run = [&](ScriptedHandler& handler, const std::string& prefix) {
    TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler, 4);
    for (int i = 0; i < 12; ++i) {
      auto reply = client_->Submit(Request(prefix + std::to_string(i)));
      EXPECT_TRUE(reply.has_value()) << reply.error().ToString();
    }
    for (int i = 0; i < 12; ++i) {
      EXPECT_EQ(WaitForEnd(prefix + std::to_string(i)).state, RequestState::COMPLETED) << prefix << i;
    }
    EXPECT_EQ(handler.TotalCalls(), 36);
    return std::make_pair(handler.ThreadsByStage(), workers.IoThreads());
  };
  auto slow = [](const wire::StageTask&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Succeeded();
  };
  ScriptedHandler blocking(slow, /*may_block=*/true);
  const auto [blocking_threads, blocking_io] = run(blocking, "R-threads-");
  ASSERT_EQ(blocking_io.size(), 3u);
  ASSERT_EQ(blocking_threads.size(), 3u);
  for (const auto& [stage, threads] : blocking_threads) {
    for (std::thread::id t : threads) EXPECT_FALSE(blocking_io.contains(t)) << stage << ": on a handler thread";
  }
  EXPECT_GT(blocking_threads.at("accept").size(), 1u) << "tasks at once";

  ScriptedHandler instant(nullptr, /*may_block=*/false);
  const auto [instant_threads, instant_io] = run(instant, "R-inline-");
  ASSERT_EQ(instant_io.size(), 3u);
  ASSERT_EQ(instant_threads.size(), 3u);
  std::set<std::thread::id> used;
  for (const auto& [stage, threads] : instant_threads) {
    EXPECT_EQ(threads.size(), 1u) << stage << ": one thread";
    used.insert(threads.begin(), threads.end());
  }
  EXPECT_EQ(used, instant_io) << "each service's I/O thread";
}

// The names `top -H`, perf and gdb show: the kernel's, read back from /proc.
std::multiset<std::string> ThreadNamesOfThisProcess() {
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    names.insert(name);
  }
  return names;
}

TEST_P(HubTest, TheHubsAndAdaptersThreadsAreNamedForTheirWork) {
  ScriptedHandler blocking(nullptr, /*may_block=*/true);
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, blocking, 2);
  auto reply = client_->Submit(Request("R-named"));
  ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
  EXPECT_EQ(WaitForEnd("R-named").state, RequestState::COMPLETED);
  const std::multiset<std::string> names = ThreadNamesOfThisProcess();
  std::string all;
  for (const std::string& name : names) all += name + " ";
  EXPECT_EQ(names.count("engine"), 1u) << all;
  EXPECT_EQ(names.count("broker"), 1u) << all;
  EXPECT_EQ(names.count("worker-io"), 3u) << all << "(one a service)";
  EXPECT_EQ(names.count("handler/0"), 3u) << all;
  EXPECT_EQ(names.count("handler/1"), 3u) << all;
  // Each PostgreSQL connection that commits behind has its committer.
  EXPECT_EQ(names.contains("pg-commit"), GetParam() == "postgres") << all;
}

TEST_P(HubTest, AStageWaitsInTheLedgerUntilAnAdapterRegisters) {
  auto reply = client_->Submit(Request("R-wait", "single"));
  ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto waiting = client_->Progress("R-wait", kTaxpayer);
  ASSERT_TRUE(waiting.has_value());
  EXPECT_EQ(waiting->stages[0].state, StageState::READY);
  EXPECT_EQ(waiting->stages[0].attempts, 0);

  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  EXPECT_EQ(WaitForEnd("R-wait").state, RequestState::COMPLETED);
  EXPECT_EQ(handler.CallsFor("R-wait/0"), 1);
}

// A stage that comes up while a worker of its service is idle, and nothing older of that service
// waits, goes out in the transaction that brought it up: written once, as DISPATCHED, never
// READY for a claim. Its events still say that it came up and then that it went out.
TEST_P(HubTest, AStageThatComesUpWhileAWorkerIsIdleGoesOutAtOnce) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler);
  // By the end of the first request the engine has heard of the idle workers and found that
  // nothing waits for them.
  ASSERT_TRUE(client_->Submit(Request("R-first")).has_value());
  ASSERT_EQ(WaitForEnd("R-first").state, RequestState::COMPLETED);
  const workflow::EngineCounters& counters = hub_->hub().engine_counters();
  const uint64_t dispatched = counters.dispatched, at_once = counters.dispatched_at_once;

  ASSERT_TRUE(client_->Submit(Request("R-at-once")).has_value());
  ASSERT_EQ(WaitForEnd("R-at-once").state, RequestState::COMPLETED);
  EXPECT_EQ(counters.dispatched - dispatched, 3u);
  EXPECT_EQ(counters.dispatched_at_once - at_once, 3u) << "no stage waited to be claimed";
  auto stream = client_->Events("", 0, 1000);
  ASSERT_TRUE(stream.has_value()) << stream.error().ToString();
  std::vector<std::string> events;
  for (const auto& e : stream->events) {
    if (e.request_id == "R-at-once") events.push_back(e.type + (e.stage >= 0 ? " " + std::to_string(e.stage) : ""));
  }
  EXPECT_EQ(events, (std::vector<std::string>{
                        "request.accepted", "stage.ready 0", "stage.dispatched 0", "stage.done 0",
                        "stage.ready 1", "stage.dispatched 1", "stage.done 1", "stage.ready 2",
                        "stage.dispatched 2", "stage.done 2", "request.completed"}));
}

// Older work of a service goes before a stage that comes up later, worker or no worker: the
// second stage of the first request waits behind the first stage of the second.
TEST_P(HubTest, AStageThatComesUpWaitsBehindOlderWorkOfItsService) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex order_mutex;
  std::vector<std::string> order;
  ScriptedHandler handler([&](const wire::StageTask& task) {
    if (task.task_id == "R-older/0") released.wait();
    std::lock_guard<std::mutex> lock(order_mutex);
    order.push_back(task.task_id);
    return Succeeded();
  });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler, 1);
  ASSERT_TRUE(client_->Submit(Request("R-older", "twice")).has_value());
  ASSERT_TRUE(Eventually([&] { return handler.TotalCalls() == 1; }));
  // The one worker is busy: the second request's first stage waits READY.
  auto younger = client_->Submit(Request("R-younger", "twice"));
  release.set_value();
  ASSERT_TRUE(younger.has_value()) << younger.error().ToString();
  EXPECT_EQ(WaitForEnd("R-older").state, RequestState::COMPLETED);
  EXPECT_EQ(WaitForEnd("R-younger").state, RequestState::COMPLETED);
  std::lock_guard<std::mutex> lock(order_mutex);
  EXPECT_EQ(order, (std::vector<std::string>{"R-older/0", "R-younger/0", "R-older/1", "R-younger/1"}));
}

TEST_P(HubTest, SameIdAndBodyGetsTheOriginalReply) {
  auto first = client_->Submit(Request("R-dup"));
  ASSERT_TRUE(first.has_value());
  auto second = client_->Submit(Request("R-dup"));
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->accepted_at_ms, first->accepted_at_ms);
  EXPECT_EQ(second->stages, first->stages);
}

TEST_P(HubTest, SameIdWithAnotherBodyIsAConflict) {
  ASSERT_TRUE(client_->Submit(Request("R-conflict")).has_value());
  wire::SubmitRequest other = Request("R-conflict");
  other.body += " changed";
  auto reply = client_->Submit(other);
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(reply.error().field(), "request_id");
}

TEST_P(HubTest, ProgressOfAnotherTaxpayersRequestIsNotFound) {
  ASSERT_TRUE(client_->Submit(Request("R-private")).has_value());
  EXPECT_TRUE(client_->Progress("R-private", "91310110666007217T").has_value());
  auto other = client_->Progress("R-private", "91350100M000100Y43");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), ErrorCode::kNotFound);
  auto missing = client_->Progress("R-none", kTaxpayer);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto anonymous = client_->Progress("R-private", "");
  ASSERT_FALSE(anonymous.has_value());
  EXPECT_EQ(anonymous.error().code(), ErrorCode::kMissingField);
  EXPECT_EQ(anonymous.error().field(), "taxpayer_id");
}

TEST_P(HubTest, AFailingStageIsRetriedWithBackoffThenSucceeds) {
  ScriptedHandler handler([](const wire::StageTask& task) {
    if (task.attempt < 3) {
      wire::StageResult r;
      r.outcome = wire::StageOutcome::RETRY;
      r.code = "BUSY";
      r.message = "legacy system busy";
      return r;
    }
    return Succeeded();
  });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-retry", "single")).has_value());
  // "single" allows 2 attempts: both fail here, so the request fails.
  wire::ProgressReply p = WaitForEnd("R-retry");
  EXPECT_EQ(p.state, RequestState::FAILED);
  EXPECT_EQ(p.stages[0].state, StageState::FAILED);
  EXPECT_EQ(p.stages[0].attempts, 2);
  EXPECT_EQ(handler.CallsFor("R-retry/0"), 2);

  // A stage that fails once succeeds on its second attempt.
  ASSERT_TRUE(client_->Submit(Request("R-retry3", "single")).has_value());
  ScriptedHandler second([](const wire::StageTask& task) {
    if (task.attempt == 1) {
      wire::StageResult r;
      r.outcome = wire::StageOutcome::RETRY;
      r.message = "once";
      return r;
    }
    return Succeeded();
  });
  workers.Stop();
  TestWorkers more(hub_->backend(), {"t.one"}, second);
  p = WaitForEnd("R-retry3");
  EXPECT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_EQ(p.stages[0].attempts, 2);
}

TEST_P(HubTest, ARejectionEndsTheRequestAndSkipsLaterStages) {
  ScriptedHandler handler([](const wire::StageTask& task) {
    if (task.stage == "verify") {
      wire::StageResult r;
      r.outcome = wire::StageOutcome::REJECTED;
      r.code = "E1021";
      r.message = "本期已申报 period already filed";
      return r;
    }
    return Succeeded();
  });
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-reject")).has_value());
  wire::ProgressReply p = WaitForEnd("R-reject");
  EXPECT_EQ(p.state, RequestState::REJECTED);
  EXPECT_EQ(p.stages[0].state, StageState::DONE);
  EXPECT_EQ(p.stages[1].state, StageState::REJECTED);
  EXPECT_EQ(p.stages[1].code, "E1021");
  EXPECT_EQ(p.stages[1].message, "本期已申报 period already filed");
  EXPECT_EQ(p.stages[2].state, StageState::SKIPPED);
  EXPECT_EQ(handler.CallsFor("R-reject/2"), 0);
}

// An adapter reports what its legacy system said after the stage was answered (an SMS delivery
// report): recorded once on the request, shown with the stage, refused with a field when wrong.
TEST_P(HubTest, ALateReportIsRecordedOnceWithItsStage) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.accept", "t.verify", "t.notify"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-report")).has_value());
  ASSERT_EQ(WaitForEnd("R-report").state, RequestState::COMPLETED);

  wire::TaskReport report;
  report.task_id = "R-report/2";
  report.type = "sms.delivered";
  report.reporter = "sms-1";
  report.details = {{"dlr", "1"}, {"to", "138****8000"}};
  report.observed_at_ms = 1'796'000'000'000;
  auto first = client_->Report(report);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_FALSE(first->duplicate);
  EXPECT_GT(first->sequence, 0);
  auto again = client_->Report(report);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, first->sequence);

  auto p = client_->Progress("R-report", kTaxpayer);
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->stages[2].reports.size(), 1u);
  EXPECT_EQ(p->stages[2].reports[0].type, "sms.delivered");
  EXPECT_EQ(p->stages[2].reports[0].details.at("to"), "138****8000");
  EXPECT_EQ(p->stages[2].reports[0].details.at("reporter"), "sms-1");
  EXPECT_EQ(p->stages[2].reports[0].details.at("observed_at_ms"), "1796000000000");
  EXPECT_TRUE(p->stages[0].reports.empty());
  EXPECT_EQ(p->state, RequestState::COMPLETED) << "a report changes no state";

  struct Case {
    std::function<void(wire::TaskReport&)> change;
    ErrorCode code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.task_id = "R-report"; }, ErrorCode::kBadRequest, "task_id"},
      {[](auto& r) { r.task_id = "R-report/x"; }, ErrorCode::kBadRequest, "task_id"},
      {[](auto& r) { r.task_id = "R-report/7"; }, ErrorCode::kNotFound, "task_id"},
      {[](auto& r) { r.task_id = "NOPE/0"; }, ErrorCode::kNotFound, "task_id"},
      {[](auto& r) { r.type = ""; }, ErrorCode::kMissingField, "type"},
      {[](auto& r) { r.type = "sms delivered"; }, ErrorCode::kBadRequest, "type"},
      {[](auto& r) { r.reporter = ""; }, ErrorCode::kMissingField, "reporter"},
      {[](auto& r) { r.details["to"] = std::string("\xff\xfe"); }, ErrorCode::kBadRequest, "details.to"},
  };
  for (const Case& c : cases) {
    wire::TaskReport bad = report;
    c.change(bad);
    auto refused = client_->Report(bad);
    ASSERT_FALSE(refused.has_value()) << bad.task_id << " " << bad.type;
    EXPECT_EQ(refused.error().code(), c.code) << refused.error().ToString();
    EXPECT_EQ(refused.error().field(), c.field) << refused.error().ToString();
  }
}

TEST_P(HubTest, TwoHundredConcurrentSubmitsAreEachAcceptedExactlyOnce) {
  constexpr int kClients = 20;
  constexpr int kPerClient = 10;
  std::mutex mutex;
  std::set<std::string> accepted;
  std::atomic<int> errors{0};
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      client::HubClient client(context_, hub_->frontend());
      for (int i = 0; i < kPerClient; ++i) {
        const std::string id = "R-many-" + std::to_string(c) + "-" + std::to_string(i);
        // Each request is sent twice, as a hall retrying after a lost reply would.
        for (int send = 0; send < 2; ++send) {
          auto reply = client.Submit(Request(id, "single"));
          if (!reply) {
            ++errors;
            continue;
          }
          if (reply->duplicate) {
            ++duplicates;
          } else {
            std::lock_guard<std::mutex> lock(mutex);
            EXPECT_TRUE(accepted.insert(reply->request_id).second) << reply->request_id;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(accepted.size(), static_cast<size_t>(kClients * kPerClient));
  EXPECT_EQ(duplicates, kClients * kPerClient);
  // Counted once committed, however often a batch was applied (PostgreSQL presumes a batch's
  // submits new, and applies it again with lookups when one is not).
  EXPECT_EQ(hub_->hub().engine_counters().accepted, static_cast<uint64_t>(kClients * kPerClient));
  EXPECT_EQ(hub_->hub().engine_counters().duplicates, static_cast<uint64_t>(kClients * kPerClient));
  // Batching shared commits between concurrent submits.
  EXPECT_LT(hub_->hub().engine_counters().commits, static_cast<uint64_t>(2 * kClients * kPerClient));
  // On PostgreSQL batches were applied while the one before committed (engine.commit_behind),
  // retries among them: a batch whose commit failed on a retry's id took the batch applied over
  // it along, and both were done again, with every answer above right.
  if (GetParam() == "postgres") {
    EXPECT_GT(hub_->hub().engine_counters().overlapped, 0u);
  } else {
    EXPECT_EQ(hub_->hub().engine_counters().overlapped, 0u);
  }

  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.one"}, handler, 4);
  for (const auto& id : accepted) {
    EXPECT_EQ(WaitForEnd(id).state, RequestState::COMPLETED) << id;
    EXPECT_EQ(handler.CallsFor(id + "/0"), 1) << id;
  }
}

// PostgreSQL: while a batch commits behind, the calls that arrive are applied in the next
// transaction. Here the first batch holds a retry presumed new, and its commit waits on a table
// lock: the submits sent meanwhile are applied over it; when the lock goes, its commit fails on
// the primary key, the batch over it is dropped, and both are done again, each answered right.
TEST_P(HubTest, ABatchAppliedOverACommitThatFailsIsDoneAgain) {
  if (GetParam() != "postgres") GTEST_SKIP() << "SQLite commits at once";
  const std::string dsn = config_.ledger.postgres.dsn;
  hub_.reset();
  config_.engine.tick_ms = 60'000;  // a tick settles the commit behind first
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  ASSERT_TRUE(client_->Submit(Request("R-first")).has_value());

  auto locker = Process::Start({"/usr/bin/psql", "-q", "-d", dsn, "-c",
                                "BEGIN; LOCK TABLE requests IN SHARE MODE; SELECT pg_sleep(2); COMMIT;"},
                               dir_.File("locker.log"));
  ASSERT_TRUE(locker.has_value());
  ASSERT_TRUE(Eventually([&] {
    CommandResult held = RunCommand({"/usr/bin/psql", "-Atq", "-d", dsn, "-c",
                                     "SELECT count(*) FROM pg_locks WHERE relation = 'requests'::regclass "
                                     "AND mode = 'ShareLock' AND granted"});
    return held.exit_code == 0 && held.output.find('1') == 0;
  }));
  std::future<Result<wire::SubmitReply>> retry = std::async(std::launch::async, [&] {
    client::HubClient client(context_, hub_->frontend());
    return client.Submit(Request("R-first"));  // presumed new: its batch's commit will fail
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // its commit is waiting on the lock
  const uint64_t overlapped = hub_->hub().engine_counters().overlapped;
  std::vector<std::future<Result<wire::SubmitReply>>> over;
  for (int i = 0; i < 5; ++i) {
    over.push_back(std::async(std::launch::async, [&, i] {
      client::HubClient client(context_, hub_->frontend());
      return client.Submit(Request("R-over-" + std::to_string(i)));
    }));
  }
  auto again = retry.get();
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->request_id, "R-first");
  for (int i = 0; i < 5; ++i) {
    auto reply = over[i].get();
    ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
    EXPECT_FALSE(reply->duplicate);
    EXPECT_EQ(reply->request_id, "R-over-" + std::to_string(i));
    auto progress = client_->Progress(reply->request_id, kTaxpayer);
    ASSERT_TRUE(progress.has_value()) << progress.error().ToString();
  }
  EXPECT_EQ(locker->Wait(10'000), 0) << locker->Log();
  EXPECT_GT(hub_->hub().engine_counters().overlapped, overlapped) << "nothing was applied over the commit";
  EXPECT_GE(hub_->hub().engine_counters().failed_commits, 1u);
  EXPECT_EQ(hub_->hub().engine_counters().accepted, 6u);
  EXPECT_EQ(hub_->hub().engine_counters().duplicates, 1u);
}

// A hall that retries a request accepted before a route reload removed its kind is told it is a
// duplicate (PostgreSQL presumes a batch's submits new: the refusal that presumption would give
// sends the batch back for a lookup), and a new request of that kind is refused.
TEST_P(HubTest, ARetryOfARequestWhoseKindNoLongerRoutesIsADuplicate) {
  auto first = client_->Submit(Request("R-before", "single"));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  std::string routes = kTestRoutes;
  routes.erase(routes.find("  - name: single"));
  std::ofstream(dir_.File("routes.yaml")) << routes;
  ASSERT_TRUE(hub_->hub().ReloadRoutes("test").has_value());
  auto again = client_->Submit(Request("R-before", "single"));
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->request_id, "R-before");
  auto fresh = client_->Submit(Request("R-after", "single"));
  ASSERT_FALSE(fresh.has_value());
  EXPECT_EQ(fresh.error().field(), "kind") << fresh.error().ToString();
}

TEST_P(HubTest, AWorkerThatDiesMidTaskHasItsStageRedoneElsewhere) {
  std::atomic<bool> first{true};
  ScriptedHandler slow([&](const wire::StageTask&) {
    if (first.exchange(false)) std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    return Succeeded("slow");
  });
  auto doomed = std::make_unique<TestWorkers>(hub_->backend(), std::vector<std::string>{"t.one"},
                                              slow, 1);
  ASSERT_TRUE(client_->Submit(Request("R-lost", "single")).has_value());
  ASSERT_TRUE(Eventually([&] { return slow.TotalCalls() == 1; }));
  // Stop the pool's connection without letting it answer: its handler is still sleeping, and
  // the hub sees DISCONNECT. The result it produces later belongs to a dead connection.
  std::thread stopper([&] { doomed.reset(); });
  ScriptedHandler healthy;
  TestWorkers rescue(hub_->backend(), {"t.one"}, healthy);
  wire::ProgressReply p = WaitForEnd("R-lost");
  stopper.join();
  EXPECT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_EQ(healthy.CallsFor("R-lost/0"), 1);
  EXPECT_EQ(p.stages[0].handler, "tester");
}

TEST_P(HubTest, ALateResultAfterTheLeaseEndsIsRefused) {
  hub_.reset();
  std::string routes = kTestRoutes;
  routes.replace(routes.find("attempt_timeout: 5s"), 19, "attempt_timeout: 600ms");
  config_ = TestHubConfig(dir_, config_.ledger.backend, config_.ledger.postgres.dsn, routes);
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  // The first delivery outlives its lease (the worker stays alive and heartbeating); the stage
  // is delivered again, and the first worker's late answer carries a stale token.
  ScriptedHandler handler([](const wire::StageTask& task) {
    if (task.attempt == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return Succeeded("attempt-" + std::to_string(task.attempt));
  });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler, 2);
  ASSERT_TRUE(client_->Submit(Request("R-late", "single")).has_value());
  wire::ProgressReply p = WaitForEnd("R-late");
  EXPECT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_EQ(p.stages[0].attempts, 2);
  EXPECT_EQ(p.stages[0].handler, "attempt-2");
  ASSERT_TRUE(Eventually([&] { return hub_->hub().engine_counters().stale_results == 1; }, 3000));
  EXPECT_EQ(handler.CallsFor("R-late/0"), 2);
  // The refused late answer changed nothing.
  auto after = client_->Progress("R-late", kTaxpayer);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->stages[0].handler, "attempt-2");
}

TEST_P(HubTest, AdaptersReconnectWhenTheHubRestarts) {
  // Fixed ports, so that the restarted hub is where the adapters keep looking for it.
  hub_.reset();
  config_.broker.frontend = "tcp://127.0.0.1:" + std::to_string(FreePort());
  config_.broker.backend = "tcp://127.0.0.1:" + std::to_string(FreePort());
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.one"}, handler, 1);
  ASSERT_TRUE(client_->Submit(Request("R-before", "single")).has_value());
  EXPECT_EQ(WaitForEnd("R-before").state, RequestState::COMPLETED);

  hub_.reset();  // DISCONNECTs the workers; they keep trying with backoff
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  ASSERT_TRUE(client_->Submit(Request("R-after", "single")).has_value());
  EXPECT_EQ(WaitForEnd("R-after").state, RequestState::COMPLETED);
  EXPECT_EQ(handler.CallsFor("R-after/0"), 1);
  EXPECT_EQ(WaitForEnd("R-before").state, RequestState::COMPLETED) << "still in the ledger";
}

// Group commit's wait (engine.gather_window): submits that arrive apart share one commit when
// the batch waits for gather_count of them, and a batch that never fills goes when the window
// ends.
TEST_P(HubTest, AGatherWindowLetsSubmitsArrivingApartShareOneCommit) {
  client_.reset();
  hub_.reset();
  config_.engine.gather_window_us = 100'000;
  config_.engine.gather_count = 4;
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  auto& counters = hub_->hub().engine_counters();

  constexpr int kSubmits = 4;
  constexpr int kApartMs = 15;
  const uint64_t commits_before = counters.commits;
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> answered_ms(kSubmits, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSubmits; ++i) {
    threads.emplace_back([&, i] {
      client::HubClient client(context_, hub_->frontend());
      std::this_thread::sleep_until(start + std::chrono::milliseconds(i * kApartMs));
      auto reply = client.Submit(Request("R-gather-" + std::to_string(i)));
      if (reply && !reply->duplicate) {
        answered_ms[i] =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kSubmits; ++i) EXPECT_GE(answered_ms[i], 0) << "submit " << i << " not accepted";
  EXPECT_EQ(counters.commits - commits_before, 1u) << "the four submits should share one commit";
  // The first was answered only once the last had arrived.
  EXPECT_GE(answered_ms[0], (kSubmits - 1) * kApartMs);
  EXPECT_EQ(counters.gathers_timed_out, 0u);

  // One submit alone waits out the window, then goes.
  client::HubClient client(context_, hub_->frontend());
  const auto alone = std::chrono::steady_clock::now();
  auto reply = client.Submit(Request("R-gather-alone"));
  ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
  const double waited_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - alone).count();
  EXPECT_GE(waited_ms, 100);
  EXPECT_EQ(counters.gathers_timed_out, 1u);

  // A command for the engine (an operator's replay) ends the wait at once.
  std::thread command([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(hub_->hub().engine().Replay("R-none", "operator-1").code(), ErrorCode::kNotFound);
  });
  const auto interrupted = std::chrono::steady_clock::now();
  reply = client.Submit(Request("R-gather-interrupted"));
  const double interrupted_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - interrupted).count();
  command.join();
  ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
  EXPECT_LT(interrupted_ms, 90) << "the command should have ended the 100 ms wait";
  EXPECT_EQ(counters.gathers_timed_out, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, HubTest, ::testing::ValuesIn(TestBackends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taxhub::testing
