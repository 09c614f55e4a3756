// Routing in the running hub, over real sockets and a real ledger: retries, dead letters and
// replay, circuits, conditional and sharded stages, staff queues, and reloads under load.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "hub/app/staff_performance.h"
#include "hub/obligations/calendar.h"
#include "hub/obligations/risk.h"
#include "hub/app/verify_ledger.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

using wire::RequestState;
using wire::StageState;

const char* kRoutes = R"(
defaults:
  retry: {max_attempts: 3, initial_backoff: 50ms, multiplier: 2, max_backoff: 200ms, attempt_timeout: 5s}
  circuit: {failures: 100, open_for: 1s}
circuits:
  c.flaky: {failures: 3, open_for: 800ms}
passthrough:
  - {service: t.echo, timeout: 1s}
routes:
  - name: single
    match: {kind: single}
    stages: [{name: one, service: t.one, time_limit: 1m}]
  - name: flaky
    match: {kind: flaky}
    stages: [{name: call, service: c.flaky, time_limit: 1m, retry: {max_attempts: 10, initial_backoff: 20ms, max_backoff: 20ms}}]
  - name: brittle
    match: {kind: brittle}
    stages: [{name: call, service: c.flaky, time_limit: 1m, retry: {max_attempts: 1}}]
  - name: vat
    match: {kind: filing.vat}
    stages:
      - {name: file, service: t.filing, shard_by: tax_office, time_limit: 1d}
      - {name: review, label: 核查, queue: hall.review, difficulty: 1.5, when: {amount: {">=": 1000000}}}
      - {name: pay, service: t.pay, when: {tax_due: {">": 0}}}
      - {name: notify, service: t.notify}
  - name: paid-notice
    match: {kind: tax.pay}
    stages:
      - {name: pay, service: t.pay}
      - {name: notify_paid, service: t.notify}
      - {name: notify_refusal, service: t.notify, on_rejection: true}
  - name: staff
    match: {kind: staff.task}
    stages:
      - {name: verify, label: 核查, queue: hall.verify, time_limit: 1d}
      - {name: notify, service: t.notify}
  - name: complaint
    match: {kind: complaint.*}
    stages:
      - {name: handle, label: 处理, queue: hall.complaint, difficulty: 2.0, time_limit: 15d}
  - name: urgent
    match: {kind: staff.urgent}
    stages:
      - {name: verify, label: 核查, queue: hall.urgent, time_limit: 200ms}
)";

class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(kRoutes); }

  void Start(const std::string& routes) {
    hub_.reset();
    config_ = TestHubConfig(dir_, "sqlite", "", routes);
    hub_ = std::make_unique<TestHub>(config_);
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
    client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  }

  wire::SubmitRequest Request(const std::string& id, const std::string& kind,
                              StringMap attributes = {}) {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = kind;
    r.taxpayer_id = "91310110666007217T";
    r.attributes = std::move(attributes);
    r.body = "{\"id\":\"" + id + "\"}";
    return r;
  }

  wire::ProgressReply WaitForEnd(const std::string& id, int timeout_ms = 10'000) {
    wire::ProgressReply last;
    Eventually(
        [&] {
          auto p = client_->Progress(id, "91310110666007217T");
          if (!p) return false;
          last = *p;
          return p->state != RequestState::IN_PROGRESS && p->state != RequestState::ACCEPTED;
        },
        timeout_ms);
    return last;
  }

  static wire::StageResult Retry(const std::string& why) {
    wire::StageResult r;
    r.outcome = wire::StageOutcome::RETRY;
    r.code = "BUSY";
    r.message = why;
    return r;
  }
  // c.flaky's adapter: RETRY while the service is down, then a slow (300 ms) success; `seen`
  // hears of each task first.
  static ScriptedHandler::Script Flaky(const std::atomic<bool>& healthy,
                                       std::function<void(const wire::StageTask&)> seen) {
    return [&healthy, seen](const wire::StageTask& task) {
      seen(task);
      if (!healthy) return Retry("down");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return Succeeded();
    };
  }

  TempDir dir_;
  app::HubConfig config_;
  zmq::context_t context_{1};
  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<client::HubClient> client_;
};

TEST_F(RoutingTest, AStageThatFailsTwiceThenSucceedsCompletes) {
  ScriptedHandler handler([](const wire::StageTask& task) {
    return task.attempt <= 2 ? Retry("attempt " + std::to_string(task.attempt)) : Succeeded();
  });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-twice", "single")).has_value());
  wire::ProgressReply p = WaitForEnd("R-twice");
  EXPECT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_EQ(p.stages[0].attempts, 3);
  EXPECT_EQ(handler.CallsFor("R-twice/0"), 3);
}

// UNAVAILABLE (the adapter never reached its legacy system) spends no attempt: a stage allowed
// three attempts waits out six refusals and completes on its first real attempt.
TEST_F(RoutingTest, AnUnreachableLegacySystemSpendsNoAttempts) {
  std::atomic<int> calls{0};
  ScriptedHandler handler([&](const wire::StageTask& task) {
    if (++calls <= 6) {
      wire::StageResult r;
      r.outcome = wire::StageOutcome::UNAVAILABLE;
      r.code = "LEGACY_DOWN";
      r.message = "connection refused (attempt field " + std::to_string(task.attempt) + ")";
      return r;
    }
    return Succeeded();
  });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-down", "single")).has_value());
  wire::ProgressReply p = WaitForEnd("R-down", 15'000);
  EXPECT_EQ(p.state, RequestState::COMPLETED) << p.stages[0].code << " " << p.stages[0].message;
  EXPECT_EQ(p.stages[0].attempts, 1) << "only the delivery that reached the system counts";
  EXPECT_EQ(handler.CallsFor("R-down/0"), 7);
}

TEST_F(RoutingTest, ExhaustedStageBecomesADeadLetterAndIsReplayedToSuccess) {
  std::atomic<bool> broken{true};
  std::mutex tokens_mutex;
  std::vector<int64_t> tokens;
  ScriptedHandler handler([&](const wire::StageTask& task) {
    {
      std::lock_guard<std::mutex> lock(tokens_mutex);
      tokens.push_back(task.fencing_token);
    }
    return broken ? Retry("legacy system down") : Succeeded("after-replay");
  });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-dead", "single")).has_value());
  wire::ProgressReply p = WaitForEnd("R-dead");
  ASSERT_EQ(p.state, RequestState::FAILED);
  EXPECT_EQ(p.stages[0].state, StageState::FAILED);
  EXPECT_EQ(p.stages[0].attempts, 3);

  auto letters = hub_->hub().engine().DeadLetters(10);
  ASSERT_TRUE(letters.has_value()) << letters.error().ToString();
  ASSERT_EQ(letters->size(), 1u);
  const workflow::DeadLetter& letter = (*letters)[0];
  EXPECT_EQ(letter.request_id, "R-dead");
  EXPECT_EQ(letter.route, "single");
  EXPECT_EQ(letter.stage, "one");
  EXPECT_EQ(letter.service, "t.one");
  EXPECT_EQ(letter.attempts, 3);
  EXPECT_EQ(letter.code, "BUSY");
  EXPECT_EQ(letter.message, "legacy system down");

  // Not a dead letter: refused with the field named.
  ASSERT_TRUE(client_->Submit(Request("R-alive", "staff.task")).has_value());
  Status not_dead = hub_->hub().engine().Replay("R-alive", "operator-1");
  EXPECT_EQ(not_dead.code(), ErrorCode::kBadRequest);
  EXPECT_EQ(not_dead.field(), "request_id");
  EXPECT_EQ(hub_->hub().engine().Replay("R-none", "operator-1").code(), ErrorCode::kNotFound);

  broken = false;
  ASSERT_TRUE(hub_->hub().engine().Replay("R-dead", "operator-1").ok());
  p = WaitForEnd("R-dead");
  EXPECT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_EQ(p.stages[0].handler, "after-replay");
  EXPECT_EQ(p.stages[0].attempts, 1) << "a replay starts with fresh attempts";
  EXPECT_EQ(handler.CallsFor("R-dead/0"), 4) << "same task id before and after the replay";
  {
    std::lock_guard<std::mutex> lock(tokens_mutex);
    ASSERT_EQ(tokens.size(), 4u);
    EXPECT_EQ(tokens.back(), 4) << "fencing tokens keep counting across the replay";
  }
  letters = hub_->hub().engine().DeadLetters(10);
  ASSERT_TRUE(letters.has_value());
  EXPECT_TRUE(letters->empty());
}

TEST_F(RoutingTest, ACircuitOpensAfterConsecutiveFailuresAndAProbeClosesIt) {
  std::atomic<bool> healthy{false};
  std::mutex times_mutex;
  std::vector<int64_t> call_times;
  ScriptedHandler handler(Flaky(healthy, [&](const wire::StageTask&) {
    std::lock_guard<std::mutex> lock(times_mutex);
    call_times.push_back(MonotonicMs());
  }));
  TestWorkers workers(hub_->backend(), {"c.flaky"}, handler, 3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client_->Submit(Request("R-flaky-" + std::to_string(i), "flaky")).has_value());
  }
  // Three consecutive failures open the circuit for 800 ms: no delivery in that window.
  ASSERT_TRUE(Eventually([&] { return handler.TotalCalls() >= 3; }, 5000));
  ASSERT_TRUE(Eventually([&] { return hub_->hub().engine_counters().circuits_opened == 1; }, 2000));
  const int calls_when_opened = handler.TotalCalls();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(handler.TotalCalls(), calls_when_opened) << "work waits while the circuit is open";
  // The service recovers: the probe succeeds, the circuit closes, the backlog drains.
  healthy = true;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(WaitForEnd("R-flaky-" + std::to_string(i)).state, RequestState::COMPLETED);
  }
  std::lock_guard<std::mutex> lock(times_mutex);
  ASSERT_GE(call_times.size(), static_cast<size_t>(calls_when_opened + 3));
  const int64_t probe = call_times[calls_when_opened];
  EXPECT_GE(probe - call_times[calls_when_opened - 1], 700) << "no call while open";
  // While the probe is out (300 ms), nothing else goes, though three workers are idle.
  EXPECT_GE(call_times[calls_when_opened + 1] - probe, 250) << "only one probe at a time";
}

// Requests that arrive while a circuit is half-open, with idle workers and nothing else waiting,
// still go one probe at a time: the first is the probe, the second waits for its answer.
TEST_F(RoutingTest, WorkArrivingAtAHalfOpenCircuitWaitsForTheProbe) {
  std::atomic<bool> healthy{false};
  std::mutex times_mutex;
  std::map<std::string, int64_t> called_at;
  ScriptedHandler handler(Flaky(healthy, [&](const wire::StageTask& task) {
    std::lock_guard<std::mutex> lock(times_mutex);
    called_at[task.request_id] = MonotonicMs();
  }));
  TestWorkers workers(hub_->backend(), {"c.flaky"}, handler, 3);
  // Three requests fail for good (one attempt each) and open the circuit; nothing is left READY.
  // One after another: failures answered in one batch count once.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client_->Submit(Request("R-brittle-" + std::to_string(i), "brittle")).has_value());
    EXPECT_EQ(WaitForEnd("R-brittle-" + std::to_string(i)).state, RequestState::FAILED);
  }
  ASSERT_TRUE(Eventually([&] { return hub_->hub().engine_counters().circuits_opened == 1; }, 5000));
  healthy = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // past open_for: half-open
  ASSERT_TRUE(client_->Submit(Request("R-probe", "brittle")).has_value());
  ASSERT_TRUE(client_->Submit(Request("R-after", "brittle")).has_value());
  EXPECT_EQ(WaitForEnd("R-probe").state, RequestState::COMPLETED);
  EXPECT_EQ(WaitForEnd("R-after").state, RequestState::COMPLETED);
  std::lock_guard<std::mutex> lock(times_mutex);
  EXPECT_GE(called_at.at("R-after") - called_at.at("R-probe"), 250) << "one probe at a time";
}

TEST_F(RoutingTest, ConditionalStagesRunOnlyWhenTheirConditionHolds) {
  ScriptedHandler handler([](const wire::StageTask& task) {
    wire::StageResult r = Succeeded();
    if (task.stage == "file") r.outputs["tax_due"] = task.attributes.at("due");
    return r;
  });
  TestWorkers workers(hub_->backend(), {"t.filing.13212000000", "t.pay", "t.notify"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-due", "filing.vat",
                                      {{"tax_office", "13212000000"}, {"due", "1300.00"},
                                       {"amount", "20000"}}))
                  .has_value());
  ASSERT_TRUE(client_->Submit(Request("R-nil", "filing.vat",
                                      {{"tax_office", "13212000000"}, {"due", "0.00"},
                                       {"amount", "20000"}}))
                  .has_value());
  wire::ProgressReply due = WaitForEnd("R-due");
  wire::ProgressReply nil = WaitForEnd("R-nil");
  ASSERT_EQ(due.state, RequestState::COMPLETED);
  ASSERT_EQ(nil.state, RequestState::COMPLETED);
  EXPECT_EQ(due.stages[0].service_name, "t.filing.13212000000") << "sharded by tax office";
  EXPECT_EQ(due.stages[1].state, StageState::SKIPPED) << "small returns skip the review";
  EXPECT_EQ(due.stages[2].state, StageState::DONE) << "tax due > 0: paid";
  EXPECT_EQ(nil.stages[2].state, StageState::SKIPPED) << "nothing due: no payment";
  EXPECT_EQ(handler.CallsFor("R-nil/2"), 0);

  // A sharded stage without its attribute is refused at submit, naming it.
  auto missing = client_->Submit(Request("R-noshard", "filing.vat", {{"due", "1"}}));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().field(), "attributes.tax_office");
}

// A refusal skips the rest of the normal path but still runs the on_rejection stage, which
// sees who refused and why; the request ends REJECTED with the refusal's words once it is done.
// On the normal path the on_rejection stage is skipped.
TEST_F(RoutingTest, AnOnRejectionStageTellsTheTaxpayerWhy) {
  ScriptedHandler handler([](const wire::StageTask& task) {
    if (task.stage == "pay" && task.attributes.at("account") == "empty") {
      wire::StageResult r;
      r.outcome = wire::StageOutcome::REJECTED;
      r.code = "24007";
      r.message = "余额不足";
      r.outputs["tips_result"] = "24007";
      return r;
    }
    if (task.stage == "notify_refusal" && task.request_id == "R-unsent") {
      wire::StageResult r;
      r.outcome = wire::StageOutcome::RETRY;
      r.code = "SMS_REFUSED";
      r.message = "the gateway refuses";
      return r;
    }
    wire::StageResult r = Succeeded();
    if (task.stage == "notify_refusal") {
      r.outputs["told"] = task.inputs.at("rejected_stage") + " " + task.inputs.at("rejected_code") + " " +
                          task.inputs.at("rejected_reason") + " " + task.inputs.at("tips_result");
    }
    return r;
  });
  TestWorkers workers(hub_->backend(), {"t.pay", "t.notify"}, handler);
  auto reply = client_->Submit(Request("R-short", "tax.pay", {{"account", "empty"}}));
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->stages[2].on_rejection);
  ASSERT_TRUE(client_->Submit(Request("R-paid", "tax.pay", {{"account", "full"}})).has_value());

  wire::ProgressReply shorted = WaitForEnd("R-short");
  ASSERT_EQ(shorted.state, RequestState::REJECTED);
  EXPECT_EQ(shorted.stages[0].state, StageState::REJECTED);
  EXPECT_EQ(shorted.stages[1].state, StageState::SKIPPED);
  EXPECT_EQ(shorted.stages[2].state, StageState::DONE);
  EXPECT_EQ(shorted.stages[2].outputs.at("told"), "pay 24007 余额不足 24007");
  EXPECT_GE(shorted.finished_at_ms, shorted.stages[2].finished_at_ms);
  EXPECT_EQ(handler.CallsFor("R-short/1"), 0);

  wire::ProgressReply paid = WaitForEnd("R-paid");
  ASSERT_EQ(paid.state, RequestState::COMPLETED);
  EXPECT_EQ(paid.stages[1].state, StageState::DONE);
  EXPECT_EQ(paid.stages[2].state, StageState::SKIPPED);
  EXPECT_EQ(handler.CallsFor("R-paid/2"), 0);

  // A notice that cannot be sent leaves a dead letter whose reason still names the refusal.
  ASSERT_TRUE(client_->Submit(Request("R-unsent", "tax.pay", {{"account", "empty"}})).has_value());
  ASSERT_EQ(WaitForEnd("R-unsent").state, RequestState::FAILED);
  auto letters = hub_->hub().engine().DeadLetters(10);
  ASSERT_TRUE(letters.has_value());
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].stage, "notify_refusal");
  auto stream = client_->Events("", 0, 1000);
  ASSERT_TRUE(stream.has_value());
  std::string failed;
  for (const auto& e : stream->events) {
    if (e.request_id == "R-unsent" && e.type == "request.failed") failed = e.detail;
  }
  EXPECT_NE(failed.find("after pay rejected [24007] 余额不足"), std::string::npos) << failed;
}

// A taxpayer rates a finished stage once (1-5); a complaint against a stage becomes a request of
// its own in the complaint desk's queue, linked to the stage and its handler both ways.
TEST_F(RoutingTest, TaxpayersRateStagesOnceAndComplaintsStartTheirOwnWorkflow) {
  ScriptedHandler handler([](const wire::StageTask&) { return Succeeded("clerk-7"); });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-rate", "single")).has_value());
  ASSERT_EQ(WaitForEnd("R-rate").state, RequestState::COMPLETED);
  auto call = [&](const char* service, const std::string& body) { return client_->mdp().Call(service, body); };
  auto rate = [&](int stage, int score, const std::string& taxpayer = "91310110666007217T") {
    wire::RateRequest r;
    r.request_id = "R-rate";
    r.taxpayer_id = taxpayer;
    r.stage = stage;
    r.score = score;
    r.comment = "办理很快";
    auto body = call("taxhub.rate", wire::Encode(r));
    if (!body) return Result<wire::RateReply>(Unexpected(body.error()));
    return client::DecodeReply<wire::RateReply>(*body);
  };
  auto rated = rate(0, 5);
  ASSERT_TRUE(rated.has_value()) << rated.error().ToString();
  EXPECT_EQ(rated->handler, "clerk-7");
  EXPECT_EQ(rate(0, 4).error().code(), ErrorCode::kConflict) << "once per stage";
  EXPECT_EQ(rate(0, 5, "91350100M000100Y43").error().code(), ErrorCode::kNotFound) << "another taxpayer's";
  EXPECT_EQ(rate(0, 6).error().field(), "score");
  EXPECT_EQ(rate(3, 5).error().field(), "stage");
  // A stage still waiting cannot be rated.
  ASSERT_TRUE(client_->Submit(Request("R-wait-rate", "staff.task")).has_value());
  wire::RateRequest waiting;
  waiting.request_id = "R-wait-rate";
  waiting.taxpayer_id = "91310110666007217T";
  waiting.stage = 0;
  waiting.score = 3;
  auto early = client::DecodeReply<wire::RateReply>(*call("taxhub.rate", wire::Encode(waiting)));
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().field(), "stage");

  wire::ComplainRequest complaint;
  complaint.request_id = "R-rate";
  complaint.taxpayer_id = "91310110666007217T";
  complaint.stage = 0;
  complaint.text = "窗口人员态度不好 rude at the counter";
  complaint.complaint_id = "CMP-1";
  auto filed = client::DecodeReply<wire::ComplainReply>(*call("taxhub.complain", wire::Encode(complaint)));
  ASSERT_TRUE(filed.has_value()) << filed.error().ToString();
  EXPECT_EQ(filed->complaint_id, "CMP-1");
  EXPECT_EQ(filed->handler, "clerk-7");
  EXPECT_FALSE(filed->duplicate);
  auto again = client::DecodeReply<wire::ComplainReply>(*call("taxhub.complain", wire::Encode(complaint)));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->duplicate) << "the same complaint sent twice is one complaint";
  // The complaint waits at the complaint desk, naming what it is about.
  auto desk = hub_->hub().engine().QueueTasks("hall.complaint", 10);
  ASSERT_TRUE(desk.has_value());
  ASSERT_EQ(desk->size(), 1u);
  EXPECT_EQ((*desk)[0].request_id, "CMP-1");
  auto progress = client_->Progress("CMP-1", "91310110666007217T");
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->kind, "complaint.service");
  // And the complained-about request records the link, once.
  auto stream = client_->Events("", 0, 1000);
  ASSERT_TRUE(stream.has_value());
  int links = 0, ratings = 0;
  for (const auto& e : stream->events) {
    if (e.request_id != "R-rate") continue;
    if (e.type == "stage.complained") {
      ++links;
      EXPECT_NE(e.detail.find("CMP-1"), std::string::npos) << e.detail;
      EXPECT_NE(e.detail.find("clerk-7"), std::string::npos) << e.detail;
    }
    if (e.type == "stage.rated") {
      ++ratings;
      EXPECT_NE(e.detail.find("\"score\":\"5\""), std::string::npos) << e.detail;
    }
  }
  EXPECT_EQ(links, 1);
  EXPECT_EQ(ratings, 1);
  complaint.text = "";
  auto empty = client::DecodeReply<wire::ComplainReply>(*call("taxhub.complain", wire::Encode(complaint)));
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().field(), "text");
}

// Managers' staff performance from the ledger: tasks and workload per person, rejections and
// returns, and what taxpayers said about them (ratings, complaints), within a period.
TEST_F(RoutingTest, StaffPerformanceIsReadFromTheLedger) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.notify"}, handler);
  workflow::Engine& engine = hub_->hub().engine();
  for (const char* id : {"P-1", "P-2", "P-3", "P-4"}) ASSERT_TRUE(client_->Submit(Request(id, "staff.task")).has_value());
  auto decide = [&](const std::string& id, const std::string& staff, workflow::Decision d, const std::string& why) {
    ASSERT_TRUE(engine.ClaimTask(id + "/0", staff).ok());
    ASSERT_TRUE(engine.CompleteTask(id + "/0", staff, d, why).ok());
  };
  decide("P-1", "王晓明", workflow::Decision::kApprove, "");
  decide("P-2", "王晓明", workflow::Decision::kApprove, "");
  decide("P-3", "李娜", workflow::Decision::kReject, "不符合条件");
  decide("P-4", "李娜", workflow::Decision::kReturn, "请补正");
  wire::SubmitRequest corrected = Request("P-4", "staff.task");
  corrected.body = "{\"id\":\"P-4\",\"fixed\":true}";
  ASSERT_TRUE(client_->Submit(corrected).has_value());
  decide("P-4", "王晓明", workflow::Decision::kApprove, "");
  for (const char* id : {"P-1", "P-2", "P-4"}) ASSERT_EQ(WaitForEnd(id).state, RequestState::COMPLETED) << id;
  auto say = [&](const char* service, const std::string& body) { return client_->mdp().Call(service, body).has_value(); };
  for (auto [id, score] : std::vector<std::pair<std::string, int>>{{"P-1", 5}, {"P-2", 3}}) {
    wire::RateRequest r;
    r.request_id = id;
    r.taxpayer_id = "91310110666007217T";
    r.stage = 0;
    r.score = score;
    ASSERT_TRUE(say("taxhub.rate", wire::Encode(r)));
  }
  wire::ComplainRequest c;
  c.request_id = "P-3";
  c.taxpayer_id = "91310110666007217T";
  c.stage = 0;
  c.text = "拒绝理由不清楚";
  ASSERT_TRUE(say("taxhub.complain", wire::Encode(c)));

  auto ledger = app::OpenLedger(config_, /*read_only=*/true);
  ASSERT_TRUE(ledger.has_value());
  auto report = app::StaffPerformanceReport(**ledger, 0, SystemClock().NowMs() + 1000);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  ASSERT_EQ(report->size(), 2u);
  const app::StaffPerformance& li = (*report)[0].staff == "李娜" ? (*report)[0] : (*report)[1];
  const app::StaffPerformance& wang = (*report)[0].staff == "王晓明" ? (*report)[0] : (*report)[1];
  EXPECT_EQ(wang.tasks, 3);
  EXPECT_DOUBLE_EQ(wang.workload, 3.0);
  EXPECT_EQ(wang.rejected, 0);
  EXPECT_EQ(wang.returned, 0);
  EXPECT_EQ(wang.ratings, 2);
  EXPECT_DOUBLE_EQ(wang.average_rating, 4.0);
  EXPECT_EQ(wang.complaints, 0);
  EXPECT_GE(wang.average_handling_ms, 0);
  EXPECT_EQ(li.tasks, 1);
  EXPECT_EQ(li.rejected, 1);
  EXPECT_EQ(li.returned, 1);
  EXPECT_DOUBLE_EQ(li.return_rate, 0.5);
  EXPECT_EQ(li.complaints, 1);
  EXPECT_DOUBLE_EQ(li.complaint_rate, 1.0);
  EXPECT_EQ(li.ratings, 0);
  EXPECT_EQ(li.overdue + wang.overdue, 0);
  // Another period holds nothing.
  auto before = app::StaffPerformanceReport(**ledger, 0, 1000);
  ASSERT_TRUE(before.has_value());
  EXPECT_TRUE(before->empty());
}

// Obligations come from an adapter's outputs and are met by the request that files them; the
// scheduler sends "due soon" and "overdue" reminders once each — across a restart too.
TEST_F(RoutingTest, ObligationsGetOneReminderEachAndAFilingMeetsThem) {
  const std::string routes = std::string(kRoutes) +
                             "  - name: registration\n    match: {kind: registration.new}\n"
                             "    stages: [{name: register, service: t.register}]\n"
                             "  - name: simple-return\n    match: {kind: filing.simple}\n"
                             "    stages: [{name: file, service: t.one}]\n";
  auto restart = [&](int64_t reminder_interval_ms) {
    hub_.reset();
    config_ = TestHubConfig(dir_, "sqlite", "", routes);
    config_.engine.reminder_interval_ms = reminder_interval_ms;
    config_.engine.notices = {
        workflow::PolicyNotice{"vat-relief", "小规模纳税人减免增值税", "月销售额10万元以下免征", {"small_scale"}, {}, 0, 0},
        workflow::PolicyNotice{"wholesale-guide", "批发业发票指引", "…", {"general"}, {"51"}, 0, 0},
        workflow::PolicyNotice{"expired", "过期通知", "", {}, {}, 0, 1000}};
    hub_ = std::make_unique<TestHub>(config_);
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
    client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  };
  restart(0);  // no reminders while the obligations are being set up
  const int64_t now = SystemClock().NowMs();
  auto day = [&](int offset) { return obligations::FormatDate(obligations::ChinaDate(now + offset * 86'400'000LL)); };
  ScriptedHandler handler([&](const wire::StageTask& task) {
    wire::StageResult r = Succeeded();
    if (task.stage == "register") {
      r.outputs["obligations"] = "[{\"kind\":\"filing.simple\",\"period\":\"P-DUE\",\"due_date\":\"" + day(1) +
                                 "\"},{\"kind\":\"filing.simple\",\"period\":\"P-LATE\",\"due_date\":\"" + day(-3) +
                                 "\"},{\"kind\":\"filing.simple\",\"period\":\"P-MET\",\"due_date\":\"" + day(-1) +
                                 "\"},{\"kind\":\"filing.simple\",\"period\":\"P-FAR\",\"due_date\":\"" + day(30) +
                                 "\"},{\"kind\":\"filing.simple\"}]";
    }
    if (task.request_id == "FILE-MET") {  // this system also says which returns the stage filed
      r.outputs["obligations_met"] = "[{\"kind\":\"filing.simple\",\"period\":\"P-FAR\"}]";
    }
    return r;
  });
  {
    TestWorkers workers(hub_->backend(), {"t.register", "t.one"}, handler);
    wire::SubmitRequest registration = Request("REG-1", "registration.new", {{"mobile", "13800138000"}});
    ASSERT_TRUE(client_->Submit(registration).has_value());
    ASSERT_EQ(WaitForEnd("REG-1").state, RequestState::COMPLETED);
    wire::SubmitRequest filing = Request("FILE-MET", "filing.simple");
    filing.body = "{\"period\":\"P-MET\"}";
    ASSERT_TRUE(client_->Submit(filing).has_value());
    ASSERT_EQ(WaitForEnd("FILE-MET").state, RequestState::COMPLETED);
  }
  auto count = [&](const std::string& type, const std::string& period) {
    auto stream = client_->Events("", 0, 1000);
    int n = 0;
    for (const auto& e : stream ? stream->events : std::vector<wire::Event>{}) {
      if (e.type == type && e.request_id == "91310110666007217T/filing.simple/" + period) ++n;
    }
    return n;
  };
  EXPECT_EQ(count("obligation.added", "P-DUE"), 1);
  EXPECT_EQ(count("obligation.met", "P-MET"), 1);
  EXPECT_EQ(count("obligation.met", "P-FAR"), 1) << "met through the stage's obligations_met";
  restart(100);
  ASSERT_TRUE(Eventually([&] { return count("reminder.due", "P-DUE") == 1 && count("reminder.overdue", "P-LATE") == 1; }))
      << count("reminder.due", "P-DUE") << " " << count("reminder.overdue", "P-LATE");
  restart(100);  // another run of the scheduler after a restart sends nothing again
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(count("reminder.due", "P-DUE"), 1);
  EXPECT_EQ(count("reminder.overdue", "P-LATE"), 1);
  EXPECT_EQ(count("reminder.overdue", "P-MET"), 0) << "met: no reminder";
  EXPECT_EQ(count("reminder.due", "P-FAR"), 0) << "not due within two days";
  auto stream = client_->Events("", 0, 1000);
  ASSERT_TRUE(stream.has_value());
  bool refused = false, has_mobile = false;
  for (const auto& e : stream->events) {
    refused |= e.type == "obligation.refused" && e.request_id == "REG-1";
    has_mobile |= e.type == "reminder.due" && e.detail.find("13800138000") != std::string::npos;
  }
  EXPECT_TRUE(refused) << "the obligation without a period is refused with a reason";
  EXPECT_TRUE(has_mobile) << "the reminder carries the number to send it to";

  // "My tax area": what is still owed, the reminders sent, and the notices meant for this
  // taxpayer's type and industry.
  wire::ItemsRequest ask;
  ask.taxpayer_id = "91310110666007217T";
  ask.taxpayer_type = "general";
  ask.industry = "5191";
  auto body = client_->mdp().Call("taxhub.items", wire::Encode(ask));
  ASSERT_TRUE(body.has_value());
  auto items = client::DecodeReply<wire::ItemsReply>(*body);
  ASSERT_TRUE(items.has_value()) << items.error().ToString();
  std::vector<std::string> seen;
  for (const auto& i : items->items) seen.push_back(i.type + ":" + i.ref.substr(i.ref.rfind('/') + 1) + ":" + i.state);
  EXPECT_EQ(seen, (std::vector<std::string>{"obligation:P-LATE:overdue", "obligation:P-DUE:open",
                                            "reminder:P-LATE:overdue",
                                            "reminder:P-DUE:due", "notice:wholesale-guide:"}));
  ask.taxpayer_id = "not-a-taxpayer";
  auto refused_items = client::DecodeReply<wire::ItemsReply>(*client_->mdp().Call("taxhub.items", wire::Encode(ask)));
  ASSERT_FALSE(refused_items.has_value());
  EXPECT_EQ(refused_items.error().field(), "taxpayer_id");
}

// Risk rules read the taxpayer's record in the ledger: three zero returns running, invoices far
// above the months before, three rejections in the window — each raised once as alert.raised
// (with the number to text) and shown in "my tax area".
TEST_F(RoutingTest, RiskAlertsAreRaisedOnceFromTheTaxpayersRecord) {
  const std::string routes = std::string(kRoutes) +
                             "  - name: simple-return\n    match: {kind: filing.simple}\n"
                             "    stages: [{name: file, service: t.one}]\n"
                             "  - name: copy-report\n    match: {kind: invoice.report}\n"
                             "    stages: [{name: report, service: t.one}]\n"
                             "  - name: refused\n    match: {kind: t.refused}\n"
                             "    stages: [{name: check, service: t.one}]\n";
  hub_.reset();
  config_ = TestHubConfig(dir_, "sqlite", "", routes);
  using Type = obligations::RiskRule::Type;
  obligations::RiskRule zero{"zero_filings", Type::kZeroRun, "连续零申报", "您{from}至{period}连续零申报", "filing.simple",
                             "tax_due"};
  obligations::RiskRule surge{"invoice_surge", Type::kAboveHistory, "发票用量异常",
                              "您{period}开票{value}份，远高于此前月均{mean}份", "invoice.report", "invoices"};
  surge.months = 6;
  surge.factor = 3;
  surge.min_value = 50;
  obligations::RiskRule refusals{"repeated_rejections", Type::kRejections, "多次被拒", "近{days}日{count}笔申请被拒", "", ""};
  config_.engine.risk_rules = {zero, surge, refusals};
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
  client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());

  // The stand-in system reports what the body says: {"period": …, "figure": …}.
  ScriptedHandler handler([&](const wire::StageTask& task) {
    if (task.kind == "t.refused") {
      wire::StageResult r;
      r.outcome = wire::StageOutcome::REJECTED;
      r.code = "E101";
      r.message = "refused";
      return r;
    }
    wire::StageResult r = Succeeded();
    const std::string body = task.payload;
    const size_t at = body.find("\"figure\":\"") + 10;
    r.outputs[task.kind == "filing.simple" ? "tax_due" : "invoices"] = body.substr(at, body.find('"', at) - at);
    return r;
  });
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  int n = 0;
  auto run = [&](const std::string& kind, const std::string& period, const std::string& figure,
                 const std::string& taxpayer = "91310110666007217T") {
    wire::SubmitRequest r = Request("RISK-" + std::to_string(++n), kind, {{"mobile", "13800138000"}});
    r.taxpayer_id = taxpayer;
    r.body = "{\"period\":\"" + period + "\",\"figure\":\"" + figure + "\"}";
    EXPECT_TRUE(client_->Submit(r).has_value());
    auto end = client_->Progress(r.request_id, taxpayer);
    EXPECT_TRUE(Eventually([&] {
      end = client_->Progress(r.request_id, taxpayer);
      return end && end->state != RequestState::IN_PROGRESS && end->state != RequestState::ACCEPTED;
    }));
  };
  auto alerts = [&](const std::string& rule) {
    std::vector<wire::Event> found;
    auto stream = client_->Events("", 0, 1000);
    for (const auto& e : stream ? stream->events : std::vector<wire::Event>{}) {
      if (e.type == "alert.raised" && e.request_id.find("/" + rule + "/") != std::string::npos) found.push_back(e);
    }
    return found;
  };

  run("filing.simple", "2026-07", "10.00");
  run("filing.simple", "2026-08", "0.00");
  run("filing.simple", "2026-09", "0.00");
  EXPECT_TRUE(alerts("zero_filings").empty()) << "two zero months are not three";
  run("filing.simple", "2026-10", "0.00");
  ASSERT_EQ(alerts("zero_filings").size(), 1u);
  const wire::Event zero_alert = alerts("zero_filings")[0];
  EXPECT_EQ(zero_alert.request_id, "91310110666007217T/zero_filings/2026-10");
  EXPECT_NE(zero_alert.detail.find("您2026-08至2026-10连续零申报"), std::string::npos) << zero_alert.detail;
  EXPECT_NE(zero_alert.detail.find("13800138000"), std::string::npos) << "the number to text";
  run("filing.simple", "2026-10", "0.00");  // a corrected return for the same month
  EXPECT_EQ(alerts("zero_filings").size(), 1u) << "raised once per period";

  for (auto [period, count] : {std::pair{"2026-07", "20"}, {"2026-08", "30"}, {"2026-09", "25"}}) {
    run("invoice.report", period, count);
  }
  run("invoice.report", "2026-10", "70");  // not above 3 × 25
  EXPECT_TRUE(alerts("invoice_surge").empty());
  run("invoice.report", "2026-11", "300");
  run("invoice.report", "2026-11", "300", "91350100M000100Y43");  // no history: no judgement
  ASSERT_EQ(alerts("invoice_surge").size(), 1u);
  EXPECT_NE(alerts("invoice_surge")[0].detail.find("您2026-11开票300份，远高于此前月均36.25份"), std::string::npos)
      << alerts("invoice_surge")[0].detail;

  run("t.refused", "2026-11", "0");
  run("t.refused", "2026-11", "0");
  EXPECT_TRUE(alerts("repeated_rejections").empty());
  run("t.refused", "2026-11", "0");
  run("t.refused", "2026-11", "0");
  ASSERT_EQ(alerts("repeated_rejections").size(), 1u) << "raised at the third, once in the month";
  EXPECT_NE(alerts("repeated_rejections")[0].detail.find("近30日3笔申请被拒"), std::string::npos);

  run("filing.simple", "2026-11", "a lot");
  bool refused = false;
  auto stream = client_->Events("", 0, 1000);
  ASSERT_TRUE(stream.has_value());
  for (const auto& e : stream->events) {
    refused |= e.type == "figure.refused" && e.detail.find("tax_due is not a number") != std::string::npos;
  }
  EXPECT_TRUE(refused) << "a figure the rule cannot read is kept in the request's history";

  wire::ItemsRequest ask;
  ask.taxpayer_id = "91310110666007217T";
  ask.taxpayer_type = "general";
  auto items = client::DecodeReply<wire::ItemsReply>(*client_->mdp().Call("taxhub.items", wire::Encode(ask)));
  ASSERT_TRUE(items.has_value()) << items.error().ToString();
  std::vector<std::string> seen;
  for (const auto& i : items->items) {
    if (i.type == "alert") seen.push_back(i.title + ":" + i.state);
  }
  // The rejections alert is of the month it was raised in (China time).
  const obligations::Date today = obligations::ChinaDate(SystemClock().NowMs());
  const std::string this_month = obligations::FormatMonth(today.year() / today.month());
  EXPECT_EQ(seen, (std::vector<std::string>{"多次被拒:" + this_month, "发票用量异常:2026-11", "连续零申报:2026-10"}));
}

TEST_F(RoutingTest, StaffClaimFirstWinsAndCompletionMovesTheRequestOn) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.notify"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-staff", "staff.task")).has_value());
  ASSERT_TRUE(client_->Submit(Request("R-staff-2", "staff.task")).has_value());
  workflow::Engine& engine = hub_->hub().engine();
  auto tasks = engine.QueueTasks("hall.verify", 10);
  ASSERT_TRUE(tasks.has_value()) << tasks.error().ToString();
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_EQ((*tasks)[0].task_id, "R-staff/0");
  EXPECT_EQ((*tasks)[0].label, "核查");
  EXPECT_TRUE((*tasks)[0].claimed_by.empty());

  EXPECT_TRUE(engine.ClaimTask("R-staff/0", "li").ok());
  EXPECT_TRUE(engine.ClaimTask("R-staff/0", "li").ok()) << "claiming your own task again is fine";
  Status taken = engine.ClaimTask("R-staff/0", "wang");
  EXPECT_EQ(taken.code(), ErrorCode::kTaken);
  EXPECT_EQ(engine.CompleteTask("R-staff/0", "wang", workflow::Decision::kApprove, "").code(),
            ErrorCode::kTaken);
  EXPECT_EQ(engine.CompleteTask("R-staff-2/0", "wang", workflow::Decision::kApprove, "").field(),
            "task_id")
      << "unclaimed";
  EXPECT_TRUE(engine.CompleteTask("R-staff/0", "li", workflow::Decision::kApprove, "资料齐全").ok());
  wire::ProgressReply p = WaitForEnd("R-staff");
  EXPECT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_EQ(p.stages[0].handler, "li");
  EXPECT_EQ(p.stages[0].queue, "hall.verify");

  ASSERT_TRUE(engine.ClaimTask("R-staff-2/0", "wang").ok());
  EXPECT_EQ(engine.CompleteTask("R-staff-2/0", "wang", workflow::Decision::kReject, "").field(),
            "reason");
  ASSERT_TRUE(engine.CompleteTask("R-staff-2/0", "wang", workflow::Decision::kReject,
                                  "营业执照不清晰 licence unreadable")
                  .ok());
  p = WaitForEnd("R-staff-2");
  EXPECT_EQ(p.state, RequestState::REJECTED);
  EXPECT_EQ(p.stages[0].message, "营业执照不清晰 licence unreadable");
  EXPECT_EQ(p.stages[1].state, StageState::SKIPPED);
}

TEST_F(RoutingTest, AManagerAssignsAndReassignsStaffTasks) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.notify"}, handler);
  ASSERT_TRUE(client_->Submit(Request("R-assign", "staff.task")).has_value());
  workflow::Engine& engine = hub_->hub().engine();
  ASSERT_TRUE(engine.AssignTask("R-assign/0", "manager-zhou", "li").ok());
  auto tasks = engine.QueueTasks("hall.verify", 10);
  ASSERT_TRUE(tasks.has_value() && tasks->size() == 1);
  EXPECT_EQ((*tasks)[0].claimed_by, "li");
  EXPECT_EQ(engine.ClaimTask("R-assign/0", "wang").code(), ErrorCode::kTaken);
  // Reassigned: li's decision no longer counts, wang's does.
  ASSERT_TRUE(engine.AssignTask("R-assign/0", "manager-zhou", "wang").ok());
  EXPECT_EQ(engine.CompleteTask("R-assign/0", "li", workflow::Decision::kApprove, "").code(),
            ErrorCode::kTaken);
  ASSERT_TRUE(engine.CompleteTask("R-assign/0", "wang", workflow::Decision::kApprove, "").ok());
  wire::ProgressReply p = WaitForEnd("R-assign");
  EXPECT_EQ(p.state, RequestState::COMPLETED);
  EXPECT_EQ(p.stages[0].handler, "wang");
  EXPECT_EQ(engine.AssignTask("R-assign/0", "manager-zhou", "li").field(), "task_id")
      << "a finished task cannot be assigned";
  EXPECT_EQ(engine.AssignTask("R-assign/1", "manager-zhou", "li").field(), "task_id")
      << "an adapter stage is not a staff task";
}

TEST_F(RoutingTest, AReturnedApplicationWaitsForItsCorrectionUnderTheSameId) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.notify"}, handler);
  wire::SubmitRequest original = Request("R-fix", "staff.task");
  ASSERT_TRUE(client_->Submit(original).has_value());
  workflow::Engine& engine = hub_->hub().engine();
  ASSERT_TRUE(engine.ClaimTask("R-fix/0", "li").ok());
  EXPECT_EQ(engine.CompleteTask("R-fix/0", "li", workflow::Decision::kReturn, "").field(), "reason");
  ASSERT_TRUE(engine.CompleteTask("R-fix/0", "li", workflow::Decision::kReturn,
                                  "请补正营业执照副本 attach the licence")
                  .ok());
  auto p = client_->Progress("R-fix", "91310110666007217T");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->state, RequestState::RETURNED);
  EXPECT_EQ(p->stages[0].state, StageState::RETURNED);
  EXPECT_EQ(p->stages[0].message, "请补正营业执照副本 attach the licence");
  EXPECT_TRUE(engine.QueueTasks("hall.verify", 10)->empty()) << "not waiting for staff now";

  // The same body again is only a repeat; another kind under the id is a conflict.
  auto repeat = client_->Submit(original);
  ASSERT_TRUE(repeat.has_value());
  EXPECT_TRUE(repeat->duplicate);
  wire::SubmitRequest other_kind = Request("R-fix", "single");
  EXPECT_EQ(client_->Submit(other_kind).error().code(), ErrorCode::kConflict);

  wire::SubmitRequest corrected = original;
  corrected.body = "{\"id\":\"R-fix\",\"licence\":\"attached\"}";
  auto reply = client_->Submit(corrected);
  ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
  EXPECT_TRUE(reply->corrected);
  EXPECT_EQ(reply->request_id, "R-fix");
  auto tasks = engine.QueueTasks("hall.verify", 10);
  ASSERT_TRUE(tasks.has_value() && tasks->size() == 1) << "back in the queue";
  ASSERT_TRUE(engine.ClaimTask("R-fix/0", "li").ok());
  ASSERT_TRUE(engine.CompleteTask("R-fix/0", "li", workflow::Decision::kApprove, "齐全").ok());
  wire::ProgressReply done = WaitForEnd("R-fix");
  EXPECT_EQ(done.state, RequestState::COMPLETED);
  EXPECT_EQ(handler.Tasks().back().payload, corrected.body) << "later stages see the correction";

  // The correction is part of the chained record: the ledger still verifies.
  hub_.reset();
  auto ledger = app::OpenLedger(config_, /*read_only=*/true);
  ASSERT_TRUE(ledger.has_value());
  auto report = app::VerifyLedger(**ledger, app::VerifyLedgerOptions{});
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok()) << report->problems.front();
}

TEST_F(RoutingTest, AStaffTaskPastItsTimeLimitIsOverdue) {
  ASSERT_TRUE(client_->Submit(Request("R-late-staff", "staff.urgent")).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto tasks = hub_->hub().engine().QueueTasks("hall.urgent", 10);
  ASSERT_TRUE(tasks.has_value() && tasks->size() == 1);
  EXPECT_TRUE((*tasks)[0].overdue);
  auto p = client_->Progress("R-late-staff", "91310110666007217T");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->stages[0].overdue);
  // Reported once as stage.overdue (on the event stream too), however many ticks pass.
  auto overdue_events = [&] {
    int n = 0;
    auto stream = client_->Events("", 0, 1000);
    for (const auto& e : stream ? stream->events : std::vector<wire::Event>{}) {
      if (e.type == "stage.overdue" && e.request_id == "R-late-staff") {
        ++n;
        EXPECT_NE(e.detail.find("\"queue\":\"hall.urgent\""), std::string::npos) << e.detail;
      }
      EXPECT_FALSE(e.type == "stage.overdue" && e.request_id != "R-late-staff") << e.request_id;
    }
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return overdue_events() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(overdue_events(), 1);
}

TEST_F(RoutingTest, RetryTimersLiveInTheLedgerAcrossARestart) {
  std::string routes = kRoutes;
  routes.replace(routes.find("initial_backoff: 50ms"), 21, "initial_backoff: 1500ms");
  routes.replace(routes.find("max_backoff: 200ms"), 18, "max_backoff: 2s");
  Start(routes);
  std::mutex times_mutex;
  std::vector<int64_t> times;
  ScriptedHandler handler([&](const wire::StageTask& task) {
    std::lock_guard<std::mutex> lock(times_mutex);
    times.push_back(SystemClock().NowMs());
    return task.attempt == 1 ? Retry("first try fails") : Succeeded();
  });
  {
    TestWorkers workers(hub_->backend(), {"t.one"}, handler);
    ASSERT_TRUE(client_->Submit(Request("R-timer", "single")).has_value());
    ASSERT_TRUE(Eventually([&] { return handler.TotalCalls() == 1; }, 5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the RETRY is committed
  }
  // Restart: a new hub process state, same ledger.
  hub_.reset();
  hub_ = std::make_unique<TestHub>(config_);
  ASSERT_TRUE(hub_->ok());
  client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  TestWorkers workers(hub_->backend(), {"t.one"}, handler);
  EXPECT_EQ(WaitForEnd("R-timer").state, RequestState::COMPLETED);
  std::lock_guard<std::mutex> lock(times_mutex);
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GE(times[1] - times[0], 1400) << "the backoff survived the restart";
}

TEST_F(RoutingTest, AReloadUnderLoadLosesAndReplansNothing) {
  const std::string two_stage = std::string(kRoutes) + R"(
  - name: load
    match: {kind: load}
    stages: [{name: a, service: t.a, time_limit: 1h}, {name: b, service: t.b, time_limit: 1h}]
)";
  const std::string three_stage = std::string(kRoutes) + R"(
  - name: load
    match: {kind: load}
    stages: [{name: a, service: t.a, time_limit: 1h}, {name: b, service: t.b, time_limit: 1h},
             {name: c, service: t.c, time_limit: 1h}]
)";
  Start(two_stage);
  ScriptedHandler handler([](const wire::StageTask&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return Succeeded();
  });
  TestWorkers workers(hub_->backend(), {"t.a", "t.b", "t.c"}, handler, 4);

  std::atomic<bool> done{false};
  std::mutex mutex;
  std::map<std::string, size_t> planned;  // request id -> stages in its accepted plan
  std::atomic<int> errors{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      client::HubClient client(context_, hub_->frontend());
      for (int i = 0; !done; ++i) {
        const std::string id = "L-" + std::to_string(c) + "-" + std::to_string(i);
        auto reply = client.Submit(Request(id, "load"));
        if (!reply) {
          ++errors;
          continue;
        }
        std::lock_guard<std::mutex> lock(mutex);
        planned[id] = reply->stages.size();
      }
    });
  }
  std::set<int64_t> versions;
  for (int k = 0; k < 6; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    WriteRoutes(dir_, k % 2 == 0 ? three_stage : two_stage);
    auto version = hub_->hub().ReloadRoutes();
    ASSERT_TRUE(version.has_value()) << version.error().ToString();
    versions.insert(*version);
  }
  // An invalid file changes nothing.
  WriteRoutes(dir_, "routes: [}\n");
  EXPECT_FALSE(hub_->hub().ReloadRoutes().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  done = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(errors, 0);
  EXPECT_EQ(versions.size(), 2u) << "the same text always has the same version";
  std::set<size_t> shapes;
  for (const auto& [id, stages] : planned) {
    wire::ProgressReply p = WaitForEnd(id, 20'000);
    ASSERT_EQ(p.state, RequestState::COMPLETED) << id;
    EXPECT_EQ(p.stages.size(), stages) << id << " kept the plan it was accepted with";
    shapes.insert(stages);
  }
  EXPECT_EQ(shapes, (std::set<size_t>{2, 3})) << "both tables were in force at some point";
  EXPECT_GT(planned.size(), 50u);
}

TEST_F(RoutingTest, PassThroughRoutesFollowTheTableInForce) {
  EchoWorker echo(hub_->backend(), "t.added");
  client::MdpClient client(context_, hub_->frontend());
  auto before = client.Call("t.added", "hello", 2000, 0);
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(wire::ReplyStatus(*before).code(), ErrorCode::kUnknownService);
  std::string text = std::string(kRoutes);
  text.replace(text.find("passthrough:\n"), 13, "passthrough:\n  - {service: t.added, timeout: 1s}\n");
  WriteRoutes(dir_, text);
  ASSERT_TRUE(hub_->hub().ReloadRoutes().has_value());
  auto after = client.Call("t.added", "hello", 2000, 0);
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_EQ(*after, "echo: hello");
}

}  // namespace
}  // namespace taxhub::testing
