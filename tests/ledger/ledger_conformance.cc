#include "tests/ledger/ledger_conformance.h"

#include <algorithm>
#include <cstdlib>

#include "hub/ledger/migrations.h"

namespace taxhub::ledger {

void LedgerConformance::SetUp() {
  location_ = GetParam().fresh();
  if (location_.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL() << "no " << GetParam().name << " ledger under CI";
    GTEST_SKIP() << "no " << GetParam().name << " ledger available";
  }
  auto opened = GetParam().open(location_);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  ledger_ = std::move(*opened);
}

std::unique_ptr<Transaction> LedgerConformance::Begin() {
  auto txn = ledger_->Begin();
  EXPECT_TRUE(txn.has_value()) << txn.error().ToString();
  return txn ? std::move(*txn) : nullptr;
}

void LedgerConformance::Reopen() {
  ledger_.reset();
  auto opened = GetParam().open(location_);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  ledger_ = std::move(*opened);
}

namespace {

RequestRecord Request(const std::string& id) {
  RequestRecord r;
  r.id = id;
  r.kind = "filing.vat";
  r.taxpayer_id = "91310110666007217T";
  r.attributes = {{"tax_office", "13212000000"}, {"note", "泰州 \"quoted\""}};
  r.body = std::string("binary\0body \xff\xfe 申报", 22);
  r.fingerprint = "fp-" + id;
  r.route = "vat-return";
  r.route_version = 1;
  r.state = RequestState::kInProgress;
  r.accepted_at_ms = 1000;
  r.updated_at_ms = 1000;
  r.signature = std::string("\x30\x45\x02\x21\x00sig", 8);
  r.certificate = std::string("\x30\x82\x01\x00cert", 8);
  r.signer = "CN=泰州示范企业,serialNumber=91310110666007217T";
  r.verified_at_ms = 999;
  return r;
}

StageRecord Stage(const std::string& request_id, int index, const std::string& service,
                  StageState state, int64_t ready_at = 0, int64_t attempt_timeout_ms = 30'000) {
  StageRecord s;
  s.request_id = request_id;
  s.index = index;
  s.name = "stage" + std::to_string(index);
  s.label = "受理";
  s.service = service;
  s.state = state;
  s.max_attempts = 3;
  s.time_limit_ms = 3'600'000;
  s.ready_at_ms = ready_at;
  s.attempt_timeout_ms = attempt_timeout_ms;
  return s;
}

void Put(Transaction& txn, const std::string& id, std::vector<StageRecord> stages) {
  ASSERT_TRUE(txn.InsertRequest(Request(id)).ok());
  for (const auto& s : stages) ASSERT_TRUE(txn.InsertStage(s).ok());
}

}  // namespace

TEST_P(LedgerConformance, MigratesToTheLatestSchema) {
  auto version = ledger_->SchemaVersion();
  ASSERT_TRUE(version.has_value()) << version.error().ToString();
  EXPECT_EQ(*version, MigrationsFor(GetParam().name).back().version);
}

TEST_P(LedgerConformance, AcceptedRequestReadsBackByteForByte) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing.accept", StageState::kReady, 1000)});
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto got = txn->GetRequest("R1");
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  ASSERT_TRUE(got->has_value());
  const RequestRecord& r = **got;
  EXPECT_EQ(r.body, Request("R1").body);
  EXPECT_EQ(r.attributes, Request("R1").attributes);
  EXPECT_EQ(r.fingerprint, "fp-R1");
  EXPECT_EQ(r.signature, Request("R1").signature);
  EXPECT_EQ(r.certificate, Request("R1").certificate);
  EXPECT_EQ(r.signer, Request("R1").signer);
  EXPECT_EQ(r.verified_at_ms, 999);
  EXPECT_EQ(r.state, RequestState::kInProgress);
  EXPECT_EQ(r.accepted_at_ms, 1000);
  auto missing = txn->GetRequest("nope");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(LedgerConformance, SameRequestIdCannotBeInsertedTwice) {
  auto txn = Begin();
  Put(*txn, "R1", {});
  ASSERT_TRUE(txn->Commit().ok());
  // Refused at once, or (PostgreSQL holds new rows back) at commit at the latest.
  txn = Begin();
  const Status inserted = txn->InsertRequest(Request("R1"));
  EXPECT_FALSE(inserted.ok() && txn->Commit().ok()) << "a second R1 was committed";
  txn.reset();
  // Twice within one transaction, too.
  txn = Begin();
  const Status first = txn->InsertRequest(Request("R2"));
  const Status second = first.ok() ? txn->InsertRequest(Request("R2")) : first;
  EXPECT_FALSE(first.ok() && second.ok() && txn->Commit().ok()) << "R2 was committed twice";
}

TEST_P(LedgerConformance, UncommittedWorkIsRolledBack) {
  {
    auto txn = Begin();
    Put(*txn, "R1", {Stage("R1", 0, "s", StageState::kReady)});
    auto inside = txn->GetRequest("R1");
    ASSERT_TRUE(inside.has_value() && inside->has_value()) << "own writes are visible";
  }  // no Commit
  auto txn = Begin();
  auto got = txn->GetRequest("R1");
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->has_value());
}

TEST_P(LedgerConformance, ClaimTakesReadyStagesOfOneServiceOldestFirst) {
  auto txn = Begin();
  Put(*txn, "A", {Stage("A", 0, "filing", StageState::kReady, 300)});
  Put(*txn, "B", {Stage("B", 0, "filing", StageState::kReady, 100)});
  Put(*txn, "C", {Stage("C", 0, "invoice", StageState::kReady, 50)});
  Put(*txn, "D", {Stage("D", 0, "filing", StageState::kReady, 5000)});  // not due yet
  Put(*txn, "E", {Stage("E", 0, "filing", StageState::kPending)});
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  auto claimed = txn->ClaimReady("filing", 10, 1000, "hub-1");
  ASSERT_TRUE(claimed.has_value()) << claimed.error().ToString();
  ASSERT_EQ(claimed->size(), 2u);
  std::sort(claimed->begin(), claimed->end(),
            [](const auto& a, const auto& b) { return a.ready_at_ms < b.ready_at_ms; });
  EXPECT_EQ((*claimed)[0].request_id, "B");
  EXPECT_EQ((*claimed)[1].request_id, "A");
  for (const auto& s : *claimed) {
    EXPECT_EQ(s.state, StageState::kDispatched);
    EXPECT_EQ(s.attempt, 1);
    EXPECT_EQ(s.token, 1);
    EXPECT_EQ(s.lease_until_ms, 31'000);
    EXPECT_EQ(s.lease_owner, "hub-1");
    EXPECT_EQ(s.started_at_ms, 1000);
  }
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  auto again = txn->ClaimReady("filing", 10, 1000, "hub-1");
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->empty()) << "claimed stages are not claimed twice";
}

TEST_P(LedgerConformance, ClaimRespectsTheLimit) {
  auto txn = Begin();
  for (int i = 0; i < 5; ++i) {
    std::string id = "R" + std::to_string(i);
    Put(*txn, id, {Stage(id, 0, "filing", StageState::kReady, i)});
  }
  auto claimed = txn->ClaimReady("filing", 3, 1000, "hub-1");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->size(), 3u);
}

TEST_P(LedgerConformance, EveryClaimGetsANewFencingToken) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing", StageState::kReady)});
  auto first = txn->ClaimReady("filing", 1, 1000, "hub-1");
  ASSERT_TRUE(first.has_value() && first->size() == 1);
  StageRecord s = (*first)[0];
  s.state = StageState::kReady;  // as after a retry
  ASSERT_TRUE(txn->UpdateStage(s).ok());
  auto second = txn->ClaimReady("filing", 1, 1000, "hub-1");
  ASSERT_TRUE(second.has_value() && second->size() == 1);
  EXPECT_EQ((*second)[0].token, 2);
  EXPECT_EQ((*second)[0].attempt, 2);
  EXPECT_EQ((*second)[0].started_at_ms, 1000) << "started_at keeps the first delivery";
}

TEST_P(LedgerConformance, StageUpdatesPersist) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing", StageState::kReady), Stage("R1", 1, "sms",
                                                                       StageState::kPending)});
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  StageRecord s = (*stages)[0];
  s.state = StageState::kDone;
  s.handler = "张三";
  s.finished_at_ms = 5000;
  s.outputs = {{"serial", "F001"}, {"tax_due", "1300.00"}};
  s.code = "0000";
  s.message = "ok";
  ASSERT_TRUE(txn->UpdateStage(s).ok());
  ASSERT_TRUE(txn->UpdateRequestState("R1", RequestState::kCompleted, 5000, 5000).ok());
  ASSERT_TRUE(txn->Commit().ok());
  Reopen();
  txn = Begin();
  stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*stages)[0].state, StageState::kDone);
  EXPECT_EQ((*stages)[0].handler, "张三");
  EXPECT_EQ((*stages)[0].outputs, s.outputs);
  EXPECT_EQ((*stages)[0].finished_at_ms, 5000);
  EXPECT_EQ((*stages)[1].state, StageState::kPending);
  auto r = txn->GetRequest("R1");
  ASSERT_TRUE(r.has_value() && r->has_value());
  EXPECT_EQ((*r)->state, RequestState::kCompleted);
  EXPECT_EQ((*r)->finished_at_ms, 5000);
}

// What a transaction reads is the row as last committed or written in it — whatever the backend
// keeps between transactions (SQLite keeps the rows of requests under way in memory) — and a
// rollback takes back every write, including ones already read back.
TEST_P(LedgerConformance, ReadsFollowWritesClaimsAndRollbacksAcrossTransactions) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing", StageState::kReady), Stage("R1", 1, "sms", StageState::kPending)});
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  auto stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  ASSERT_TRUE(txn->GetRequest("R1").has_value());
  StageRecord done = (*stages)[0];
  done.state = StageState::kDone;
  done.outputs = {{"serial", "F001"}};
  ASSERT_TRUE(txn->UpdateStage(done).ok());
  ASSERT_TRUE(txn->UpdateRequestState("R1", RequestState::kCompleted, 2000, 2000).ok());
  stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*stages)[0].state, StageState::kDone) << "a write is read back in its transaction";
  auto request = txn->GetRequest("R1");
  ASSERT_TRUE(request.has_value() && request->has_value());
  EXPECT_EQ((*request)->state, RequestState::kCompleted);
  txn.reset();  // rolled back

  txn = Begin();
  stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*stages)[0].state, StageState::kReady) << "the rolled-back update is gone";
  EXPECT_TRUE((*stages)[0].outputs.empty());
  request = txn->GetRequest("R1");
  ASSERT_TRUE(request.has_value() && request->has_value());
  EXPECT_EQ((*request)->state, RequestState::kInProgress);
  EXPECT_EQ((*request)->updated_at_ms, 1000);
  auto claimed = txn->ClaimReady("filing", 1, 5000, "hub-1");
  ASSERT_TRUE(claimed.has_value() && claimed->size() == 1);
  stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*stages)[0].state, StageState::kDispatched) << "a claim is read back";
  EXPECT_EQ((*stages)[0].token, (*claimed)[0].token);
  EXPECT_EQ((*stages)[0].lease_owner, "hub-1");
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  RequestRecord corrected = Request("R1");
  corrected.body = "corrected body";
  corrected.updated_at_ms = 3000;
  ASSERT_TRUE(txn->UpdateRequestContent(corrected).ok());
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  request = txn->GetRequest("R1");
  stages = txn->GetStages("R1");
  ASSERT_TRUE(request.has_value() && request->has_value() && stages.has_value() && stages->size() == 2);
  const RequestRecord before_reopen = **request;
  const std::vector<StageRecord> stages_before_reopen = *stages;
  txn.reset();

  Reopen();  // the database's own rows, read afresh
  txn = Begin();
  request = txn->GetRequest("R1");
  stages = txn->GetStages("R1");
  ASSERT_TRUE(request.has_value() && request->has_value() && stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*request)->body, "corrected body");
  EXPECT_EQ(before_reopen.body, (*request)->body);
  EXPECT_EQ(before_reopen.state, (*request)->state);
  EXPECT_EQ(before_reopen.updated_at_ms, (*request)->updated_at_ms);
  EXPECT_EQ(before_reopen.attributes, (*request)->attributes);
  for (size_t i = 0; i < stages->size(); ++i) {
    const StageRecord& a = stages_before_reopen[i];
    const StageRecord& b = (*stages)[i];
    EXPECT_EQ(a.state, b.state) << i;
    EXPECT_EQ(a.attempt, b.attempt) << i;
    EXPECT_EQ(a.token, b.token) << i;
    EXPECT_EQ(a.lease_until_ms, b.lease_until_ms) << i;
    EXPECT_EQ(a.lease_owner, b.lease_owner) << i;
    EXPECT_EQ(a.started_at_ms, b.started_at_ms) << i;
    EXPECT_EQ(a.outputs, b.outputs) << i;
  }
  EXPECT_EQ((*stages)[0].state, StageState::kDispatched);
}

// A shared row is the row as it was read: later writes show in what is read after them, never
// in what was handed out before (SQLite hands out the rows it keeps in memory, copied on write).
TEST_P(LedgerConformance, SharedRowsAreNotChangedByLaterWrites) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing", StageState::kReady), Stage("R1", 1, "sms", StageState::kPending)});
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  auto request = txn->ShareRequest("R1");
  auto stages = txn->ShareStages("R1");
  ASSERT_TRUE(request.has_value() && *request && stages.has_value() && *stages);
  EXPECT_EQ((*request)->body, Request("R1").body);
  ASSERT_EQ((*stages)->size(), 2u);
  auto again = txn->ShareStages("R1");  // shared twice: a write must not change either
  ASSERT_TRUE(again.has_value() && *again);

  StageRecord done = (**stages)[0];
  done.state = StageState::kDone;
  done.outputs = {{"serial", "F001"}};
  ASSERT_TRUE(txn->UpdateStage(done).ok());
  ASSERT_TRUE(txn->UpdateRequestState("R1", RequestState::kCompleted, 2000, 2000).ok());
  auto claimed = txn->ClaimReady("filing", 1, 5000, "hub-1");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_TRUE(claimed->empty()) << "the stage is DONE: nothing READY";

  EXPECT_EQ((*request)->state, RequestState::kInProgress) << "handed out before the write";
  EXPECT_EQ((*request)->finished_at_ms, 0);
  EXPECT_EQ((**stages)[0].state, StageState::kReady);
  EXPECT_TRUE((**stages)[0].outputs.empty());
  EXPECT_EQ((**again)[0].state, StageState::kReady);

  auto after = txn->ShareRequest("R1");
  auto stages_after = txn->ShareStages("R1");
  ASSERT_TRUE(after.has_value() && *after && stages_after.has_value() && *stages_after);
  EXPECT_EQ((*after)->state, RequestState::kCompleted) << "read after the write";
  EXPECT_EQ((**stages_after)[0].state, StageState::kDone);
  EXPECT_EQ((**stages_after)[0].outputs, done.outputs);
  EXPECT_EQ((**stages_after)[1].state, StageState::kPending);
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  auto missing = txn->ShareRequest("R404");
  auto no_stages = txn->ShareStages("R404");
  ASSERT_TRUE(missing.has_value() && no_stages.has_value());
  EXPECT_EQ(*missing, nullptr);
  ASSERT_NE(*no_stages, nullptr);
  EXPECT_TRUE((*no_stages)->empty());
}

TEST_P(LedgerConformance, ExpiredLeasesAndLeasesOfAnOwner) {
  auto txn = Begin();
  Put(*txn, "A", {Stage("A", 0, "filing", StageState::kReady, 0, 1000)});
  Put(*txn, "B", {Stage("B", 0, "invoice", StageState::kReady, 0, 8000)});
  ASSERT_TRUE(txn->ClaimReady("filing", 1, 1000, "hub-1").has_value());
  ASSERT_TRUE(txn->ClaimReady("invoice", 1, 1000, "hub-2").has_value());
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto expired = txn->ExpiredLeases(5000, 10);
  ASSERT_TRUE(expired.has_value());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].request_id, "A");
  auto of_hub2 = txn->LeasesOf("hub-2");
  ASSERT_TRUE(of_hub2.has_value());
  ASSERT_EQ(of_hub2->size(), 1u);
  EXPECT_EQ((*of_hub2)[0].request_id, "B");
}

// Stages waiting or under way past their deadline are listed until their overdue report is
// claimed, once; finished and not-yet-ready stages never are.
TEST_P(LedgerConformance, OverdueStagesAreReportedOnce) {
  auto txn = Begin();
  auto with_deadline = [](StageRecord s, int64_t deadline) {
    s.deadline_ms = deadline;
    return s;
  };
  Put(*txn, "L1", {with_deadline(Stage("L1", 0, "filing", StageState::kReady), 2000)});
  Put(*txn, "L2", {with_deadline(Stage("L2", 0, "filing", StageState::kDone), 1000)});
  Put(*txn, "L3", {with_deadline(Stage("L3", 0, "filing", StageState::kDispatched), 1500),
                   Stage("L3", 1, "sms", StageState::kPending)});
  Put(*txn, "L4", {with_deadline(Stage("L4", 0, "filing", StageState::kReady), 9000)});
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto late = txn->OverdueStages(5000, 10);
  ASSERT_TRUE(late.has_value()) << late.error().ToString();
  ASSERT_EQ(late->size(), 2u);
  EXPECT_EQ((*late)[0].request_id, "L3") << "earliest deadline first";
  EXPECT_EQ((*late)[1].request_id, "L1");
  EXPECT_TRUE(*txn->MarkOverdue("L3", 0, 5000));
  EXPECT_FALSE(*txn->MarkOverdue("L3", 0, 5001)) << "claimed once";
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  late = txn->OverdueStages(5000, 10);
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ((*late)[0].request_id, "L1");
}

TEST_P(LedgerConformance, EventsKeepTheirOrder) {
  auto txn = Begin();
  Put(*txn, "R1", {});
  int64_t last = 0;
  for (const char* type : {"request.accepted", "stage.ready", "stage.dispatched", "stage.done"}) {
    auto seq = txn->AppendEvent(Event("R1", 0, type, 1000, "detail 明细"));
    ASSERT_TRUE(seq.has_value()) << seq.error().ToString();
    EXPECT_GT(*seq, last);
    last = *seq;
  }
  ASSERT_TRUE(txn->AppendEvent(Event("R2", -1, "other", 1, "")).has_value());
  ASSERT_TRUE(txn->Commit().ok());
  Reopen();
  txn = Begin();
  auto events = txn->GetEvents("R1");
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].type, "request.accepted");
  EXPECT_EQ((*events)[3].type, "stage.done");
  EXPECT_EQ((*events)[3].detail, "detail 明细");
  for (size_t i = 1; i < events->size(); ++i) EXPECT_GT((*events)[i].seq, (*events)[i - 1].seq);
}

// Requests read ahead (PostgreSQL keeps them, and holds back their updates until a statement
// could see them or the commit) read back as the transaction wrote them, and are written.
TEST_P(LedgerConformance, PrefetchedRowsFollowTheTransactionsWrites) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing", StageState::kReady), Stage("R1", 1, "sms", StageState::kPending)});
  Put(*txn, "R2", {Stage("R2", 0, "filing", StageState::kReady)});
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  ASSERT_TRUE(txn->PrefetchRequests({"R1", "R2", "R3"}).ok());
  auto r3 = txn->GetRequest("R3");
  ASSERT_TRUE(r3.has_value());
  EXPECT_FALSE(r3->has_value());
  auto stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  StageRecord first = (*stages)[0], second = (*stages)[1];
  first.state = StageState::kDone;
  first.outputs = {{"serial", "F001"}};
  second.state = StageState::kReady;
  second.ready_at_ms = 1500;
  ASSERT_TRUE(txn->UpdateStage(first).ok());
  ASSERT_TRUE(txn->UpdateStage(second).ok());
  ASSERT_TRUE(txn->UpdateRequestState("R1", RequestState::kCompleted, 2000, 2000).ok());
  stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*stages)[0].state, StageState::kDone);
  EXPECT_EQ((*stages)[0].outputs, first.outputs);
  EXPECT_EQ((*stages)[1].state, StageState::kReady);
  auto r1 = txn->GetRequest("R1");
  ASSERT_TRUE(r1.has_value() && r1->has_value());
  EXPECT_EQ((*r1)->state, RequestState::kCompleted);
  EXPECT_EQ((*r1)->finished_at_ms, 2000);
  // A claim sees the updates held back, and what it claims is read back claimed.
  auto claimed = txn->ClaimReady("filing", 10, 5000, "hub-1");
  ASSERT_TRUE(claimed.has_value());
  ASSERT_EQ(claimed->size(), 1u) << "R1's first stage is done; only R2's is ready";
  EXPECT_EQ((*claimed)[0].request_id, "R2");
  stages = txn->GetStages("R2");
  ASSERT_TRUE(stages.has_value() && stages->size() == 1);
  EXPECT_EQ((*stages)[0].state, StageState::kDispatched);
  EXPECT_EQ((*stages)[0].token, (*claimed)[0].token);
  StageRecord done = (*stages)[0];
  done.state = StageState::kDone;
  ASSERT_TRUE(txn->UpdateStage(done).ok());
  ASSERT_TRUE(txn->InsertStage(Stage("R2", 1, "sms", StageState::kPending)).ok());
  stages = txn->GetStages("R2");
  ASSERT_TRUE(stages.has_value());
  ASSERT_EQ(stages->size(), 2u) << "a stage inserted is read back with the others";
  EXPECT_EQ((*stages)[0].state, StageState::kDone);
  ASSERT_TRUE(txn->Commit().ok());

  Reopen();
  txn = Begin();
  stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*stages)[0].state, StageState::kDone);
  EXPECT_EQ((*stages)[0].outputs, first.outputs);
  EXPECT_EQ((*stages)[1].state, StageState::kReady);
  EXPECT_EQ((*stages)[1].ready_at_ms, 1500);
  r1 = txn->GetRequest("R1");
  ASSERT_TRUE(r1.has_value() && r1->has_value());
  EXPECT_EQ((*r1)->state, RequestState::kCompleted);
  EXPECT_EQ((*r1)->updated_at_ms, 2000);
  stages = txn->GetStages("R2");
  ASSERT_TRUE(stages.has_value() && stages->size() == 2);
  EXPECT_EQ((*stages)[0].state, StageState::kDone);
  EXPECT_EQ((*stages)[0].token, (*claimed)[0].token);
}

// Events added without their seq (which PostgreSQL holds back, even past reads of stages and
// requests) are read back in their transaction, and keep their place in the chain before an
// event appended after them.
TEST_P(LedgerConformance, AddedEventsKeepTheirPlaceAmongReadsAndAppends) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing", StageState::kReady)});
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  ASSERT_TRUE(txn->AddEvent(Event("R1", 0, "stage.dispatched", 1000, "")).ok());
  auto stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 1);
  StageRecord done = (*stages)[0];
  done.state = StageState::kDone;
  ASSERT_TRUE(txn->UpdateStage(done).ok());
  ASSERT_TRUE(txn->AddEvent(Event("R1", 0, "stage.done", 1001, "")).ok());
  auto events = txn->GetEvents("R1");
  ASSERT_TRUE(events.has_value()) << events.error().ToString();
  ASSERT_EQ(events->size(), 2u) << "added events are read back in their transaction";
  ASSERT_TRUE(txn->AddEvent(Event("R1", -1, "request.noted", 1002, "")).ok());
  ASSERT_TRUE(txn->GetRequest("R1").has_value());
  auto appended = txn->AppendEvent(Event("R1", -1, "request.completed", 1003, ""));
  ASSERT_TRUE(appended.has_value()) << appended.error().ToString();
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  ASSERT_TRUE(txn->AddEvent(Event("R1", -1, "rolled.back", 1004, "")).ok());
  ASSERT_TRUE(txn->GetStages("R1").has_value());
  txn.reset();

  Reopen();
  txn = Begin();
  events = txn->GetEvents("R1");
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 4u);
  const char* order[] = {"stage.dispatched", "stage.done", "request.noted", "request.completed"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*events)[i].type, order[i]);
    if (i > 0) {
      EXPECT_GT((*events)[i].seq, (*events)[i - 1].seq);
      EXPECT_EQ((*events)[i].chain_seq, (*events)[i - 1].chain_seq + 1);
      EXPECT_EQ((*events)[i].prev_hash, (*events)[i - 1].hash);
    }
  }
  EXPECT_EQ((*events)[3].seq, *appended);
}

// Obligations: added once, met once, and each reminder claimed by exactly one transaction.
TEST_P(LedgerConformance, ObligationsAreAddedOnceAndEachReminderClaimedOnce) {
  auto txn = Begin();
  auto obligation = [](const std::string& period, const std::string& due) {
    ledger::ObligationRecord o;
    o.id = "91310110666007217T/filing.vat/" + period;
    o.taxpayer_id = "91310110666007217T";
    o.kind = "filing.vat";
    o.period = period;
    o.due_date = due;
    o.attributes = {{"mobile", "13800138000"}};
    o.created_at_ms = 1;
    return o;
  };
  EXPECT_TRUE(*txn->AddObligation(obligation("2026-10", "2026-11-16")));
  EXPECT_FALSE(*txn->AddObligation(obligation("2026-10", "2026-12-31"))) << "exists: unchanged";
  EXPECT_TRUE(*txn->AddObligation(obligation("2026-09", "2026-10-23")));
  EXPECT_TRUE(*txn->AddObligation(obligation("2026-11", "2026-12-15")));
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  auto due = txn->ObligationsToRemind(ledger::Reminder::kDue, "2026-11-14", "2026-11-16", 10);
  ASSERT_TRUE(due.has_value()) << due.error().ToString();
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].due_date, "2026-11-16") << "kept from the first add";
  EXPECT_EQ((*due)[0].attributes.at("mobile"), "13800138000");
  EXPECT_TRUE(*txn->MarkReminded((*due)[0].id, ledger::Reminder::kDue, 5));
  EXPECT_FALSE(*txn->MarkReminded((*due)[0].id, ledger::Reminder::kDue, 6)) << "claimed once";
  EXPECT_TRUE(txn->ObligationsToRemind(ledger::Reminder::kDue, "2026-11-14", "2026-11-16", 10)->empty());
  auto overdue = txn->ObligationsToRemind(ledger::Reminder::kOverdue, "0000-01-01", "2026-11-13", 10);
  ASSERT_EQ(overdue->size(), 1u);
  EXPECT_EQ((*overdue)[0].period, "2026-09");
  EXPECT_TRUE(*txn->MeetObligation((*overdue)[0], 7, false));
  EXPECT_FALSE(*txn->MeetObligation((*overdue)[0], 8, true));
  EXPECT_TRUE(txn->ObligationsToRemind(ledger::Reminder::kOverdue, "0000-01-01", "2026-11-13", 10)->empty())
      << "a met obligation is not overdue";
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto all = txn->ObligationsOf("91310110666007217T");
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].period, "2026-09");
  EXPECT_TRUE((*all)[0].met);
  EXPECT_EQ((*all)[1].due_reminded_at_ms, 5);

  // A return filed before its obligation was reported: kept as met, so the report adds nothing.
  txn.reset();
  txn = Begin();
  ledger::ObligationRecord early = obligation("2026-12", "2027-01-15");
  ledger::ObligationRecord unrelated = obligation("2027-02", "2027-03-15");
  EXPECT_FALSE(*txn->MeetObligation(unrelated, 9, false)) << "nothing owed, nothing kept";
  EXPECT_TRUE(*txn->AddObligation(unrelated));
  EXPECT_FALSE(*txn->MeetObligation(early, 9, true)) << "nothing was owed";
  EXPECT_FALSE(*txn->AddObligation(early)) << "already met";
  ledger::ObligationRecord open = obligation("2027-03", "2027-04-15");
  EXPECT_TRUE(*txn->AddObligation(open));
  EXPECT_TRUE(*txn->MeetObligation(open, 10, true)) << "owed, and met now";
  EXPECT_TRUE(txn->ObligationsToRemind(ledger::Reminder::kDue, "2027-01-01", "2027-01-31", 10)->empty());
  ASSERT_TRUE(txn->Commit().ok());
}

// Risk rules' figures replace one another per period and read newest first; an alert is raised
// once; rejected requests are counted per taxpayer since a time.
TEST_P(LedgerConformance, FiguresAlertsAndRequestCountsForRiskRules) {
  const std::string tp = "91310110666007217T";
  auto txn = Begin();
  for (auto [period, value] : {std::pair{"2026-08", "0.00"}, {"2026-09", "12.50"}, {"2026-10", "0.00"}}) {
    ASSERT_TRUE(txn->PutFigure({tp, "filing.vat.tax_due", period, value, "R-" + std::string(period), 1}).ok());
  }
  ASSERT_TRUE(txn->PutFigure({tp, "filing.vat.tax_due", "2026-09", "0.00", "R-corrected", 2}).ok());
  ASSERT_TRUE(txn->PutFigure({tp, "invoice.copy_report.invoices_reported", "2026-10", "7", "R-c", 2}).ok());
  ASSERT_TRUE(txn->PutFigure({"91320000MA1ABCDE1X", "filing.vat.tax_due", "2026-10", "9.00", "R-o", 2}).ok());
  ASSERT_TRUE(txn->Commit().ok());

  txn = Begin();
  auto figures = txn->FiguresOf(tp, "filing.vat.tax_due", "2026-09", 10);
  ASSERT_TRUE(figures.has_value()) << figures.error().ToString();
  ASSERT_EQ(figures->size(), 2u) << "up to the period asked, this figure and taxpayer only";
  EXPECT_EQ((*figures)[0].period, "2026-09");
  EXPECT_EQ((*figures)[0].value, "0.00") << "the later report replaced the first";
  EXPECT_EQ((*figures)[0].request_id, "R-corrected");
  EXPECT_EQ((*figures)[1].period, "2026-08");
  EXPECT_EQ(txn->FiguresOf(tp, "filing.vat.tax_due", "2026-12", 1)->front().period, "2026-10");

  ledger::AlertRecord alert{tp + "/zero_filings/2026-10", tp, "zero_filings", "2026-10", "连续三个月零申报",
                            "{\"months\":3}", 50};
  EXPECT_TRUE(*txn->RaiseAlert(alert));
  alert.raised_at_ms = 60;
  EXPECT_FALSE(*txn->RaiseAlert(alert)) << "raised once";
  alert.id = tp + "/zero_filings/2026-11";
  alert.period = "2026-11";
  EXPECT_TRUE(*txn->RaiseAlert(alert));
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto alerts = txn->AlertsOf(tp, 10);
  ASSERT_TRUE(alerts.has_value()) << alerts.error().ToString();
  ASSERT_EQ(alerts->size(), 2u);
  EXPECT_EQ((*alerts)[0].period, "2026-11") << "newest first";
  EXPECT_EQ((*alerts)[1].raised_at_ms, 50);
  EXPECT_EQ((*alerts)[1].text, "连续三个月零申报");
  EXPECT_EQ((*alerts)[1].detail, "{\"months\":3}");
  EXPECT_TRUE(txn->AlertsOf("91320000MA1ABCDE1X", 10)->empty());

  for (int i = 0; i < 4; ++i) {
    RequestRecord r = Request("RJ" + std::to_string(i));
    r.accepted_at_ms = 1000 * (i + 1);
    r.state = i == 3 ? RequestState::kCompleted : RequestState::kRejected;
    ASSERT_TRUE(txn->InsertRequest(r).ok());
  }
  EXPECT_EQ(*txn->CountRequests(tp, RequestState::kRejected, 0), 3);
  EXPECT_EQ(*txn->CountRequests(tp, RequestState::kRejected, 2000), 2) << "accepted since 2000";
  EXPECT_EQ(*txn->CountRequests(tp, RequestState::kCompleted, 0), 1);
  EXPECT_EQ(*txn->CountRequests("91320000MA1ABCDE1X", RequestState::kRejected, 0), 0);
}

// Requests are found by taxpayer, kind, state, time and lateness, newest first, a page at a time.
TEST_P(LedgerConformance, RequestsAreSearchedNewestFirstWithACursor) {
  auto txn = Begin();
  for (int i = 0; i < 5; ++i) {
    RequestRecord r = Request("S" + std::to_string(i));
    r.accepted_at_ms = 1000 + 100 * i;
    r.kind = i % 2 ? "filing.cit" : "filing.vat";
    r.state = i == 4 ? RequestState::kCompleted : RequestState::kInProgress;
    if (i == 3) r.taxpayer_id = "91350100M000100Y43";
    ASSERT_TRUE(txn->InsertRequest(r).ok());
  }
  StageRecord late = Stage("S1", 0, "filing", StageState::kReady);
  late.deadline_ms = 1500;
  ASSERT_TRUE(txn->InsertStage(late).ok());
  StageRecord in_time = Stage("S2", 0, "filing", StageState::kDone);
  in_time.deadline_ms = 5000;
  in_time.finished_at_ms = 4000;
  ASSERT_TRUE(txn->InsertStage(in_time).ok());
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto ids = [&](const ledger::RequestQuery& q) {
    std::vector<std::string> out;
    auto found = txn->SearchRequests(q);
    EXPECT_TRUE(found.has_value()) << found.error().ToString();
    for (const auto& r : found ? *found : std::vector<RequestRecord>{}) out.push_back(r.id);
    return out;
  };
  ledger::RequestQuery q;
  EXPECT_EQ(ids(q), (std::vector<std::string>{"S4", "S3", "S2", "S1", "S0"}));
  q.limit = 2;
  EXPECT_EQ(ids(q), (std::vector<std::string>{"S4", "S3"}));
  q.before_accepted_ms = 1300;
  q.before_id = "S3";
  EXPECT_EQ(ids(q), (std::vector<std::string>{"S2", "S1"})) << "the next page";
  q = {};
  q.taxpayer_id = "91310110666007217T";
  q.kind = "filing.vat";
  EXPECT_EQ(ids(q), (std::vector<std::string>{"S4", "S2", "S0"}));
  q.state = "IN_PROGRESS";
  EXPECT_EQ(ids(q), (std::vector<std::string>{"S2", "S0"}));
  q = {};
  q.accepted_from_ms = 1100;
  q.accepted_to_ms = 1300;
  EXPECT_EQ(ids(q), (std::vector<std::string>{"S2", "S1"}));
  q = {};
  q.overdue_only = true;
  q.now_ms = 2000;
  EXPECT_EQ(ids(q), (std::vector<std::string>{"S1"})) << "open past its deadline";
  EXPECT_EQ(*txn->CountInState(RequestState::kInProgress), 4);
  EXPECT_EQ(*txn->CountInState(RequestState::kFailed), 0);
}

TEST_P(LedgerConformance, QueueDepthsCountWaitingAndClaimedStaffTasks) {
  auto txn = Begin();
  auto human = [](const std::string& id, int index, const std::string& queue, StageState state) {
    StageRecord s = Stage(id, index, "", state);
    s.queue = queue;
    return s;
  };
  Put(*txn, "Q1", {human("Q1", 0, "hall.verify", StageState::kReady)});
  Put(*txn, "Q2", {human("Q2", 0, "hall.verify", StageState::kDispatched)});
  Put(*txn, "Q3", {human("Q3", 0, "hall.verify", StageState::kReady), human("Q3", 1, "hall.approve", StageState::kPending)});
  Put(*txn, "Q4", {human("Q4", 0, "hall.approve", StageState::kDone), Stage("Q4", 1, "sms", StageState::kReady)});
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto depths = txn->QueueDepths();
  ASSERT_TRUE(depths.has_value()) << depths.error().ToString();
  ASSERT_EQ(depths->size(), 1u) << "only queues with work waiting or under way";
  EXPECT_EQ(depths->at("hall.verify"), std::make_pair(int64_t{2}, int64_t{1}));
}

TEST_P(LedgerConformance, DataSurvivesReopening) {
  auto txn = Begin();
  Put(*txn, "R1", {Stage("R1", 0, "filing", StageState::kReady)});
  ASSERT_TRUE(txn->AppendEvent(Event("R1", -1, "request.accepted", 1, "")).has_value());
  ASSERT_TRUE(txn->Commit().ok());
  Reopen();
  Reopen();  // a second open must not re-apply migrations
  txn = Begin();
  auto r = txn->GetRequest("R1");
  ASSERT_TRUE(r.has_value() && r->has_value());
  EXPECT_EQ((*r)->body, Request("R1").body);
  auto stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value());
  EXPECT_EQ(stages->size(), 1u);
  auto events = txn->GetEvents("R1");
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(events->size(), 1u);
}

TEST_P(LedgerConformance, ThePlanOfAStageIsKept) {
  auto txn = Begin();
  StageRecord s = Stage("R1", 0, "", StageState::kPending);
  s.queue = "hall.review";
  s.difficulty = 1.5;
  s.condition = "[[\"tax_due\",\">\",\"0\"]]";
  s.initial_backoff_ms = 2500;
  s.backoff_multiplier = 3.0;
  s.max_backoff_ms = 60'000;
  s.attempt_timeout_ms = 45'000;
  s.on_rejection = true;
  s.outputs = {{"receipt", "回执 \"1\""}};
  Put(*txn, "R1", {s});
  ASSERT_TRUE(txn->Commit().ok());
  Reopen();
  txn = Begin();
  auto stages = txn->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 1);
  const StageRecord& got = (*stages)[0];
  EXPECT_EQ(got.queue, "hall.review");
  EXPECT_DOUBLE_EQ(got.difficulty, 1.5);
  EXPECT_EQ(got.condition, s.condition);
  EXPECT_EQ(got.initial_backoff_ms, 2500);
  EXPECT_DOUBLE_EQ(got.backoff_multiplier, 3.0);
  EXPECT_EQ(got.max_backoff_ms, 60'000);
  EXPECT_EQ(got.attempt_timeout_ms, 45'000);
  EXPECT_TRUE(got.on_rejection);
  EXPECT_EQ(got.outputs, s.outputs);
  auto r = txn->GetRequest("R1");
  ASSERT_TRUE(r.has_value() && r->has_value());
  EXPECT_EQ((*r)->route, "vat-return");
  EXPECT_EQ((*r)->route_version, 1);
}

TEST_P(LedgerConformance, RouteTablesAreVersionedByContent) {
  auto txn = Begin();
  auto v1 = txn->RecordRouteTable(RouteTableRecord{0, "digest-a", "routes.yaml", "routes: a", 10});
  auto again = txn->RecordRouteTable(RouteTableRecord{0, "digest-a", "routes.yaml", "routes: a", 20});
  auto v2 = txn->RecordRouteTable(RouteTableRecord{0, "digest-b", "routes.yaml", "routes: b", 30});
  ASSERT_TRUE(v1.has_value() && again.has_value() && v2.has_value()) << v1.error().ToString();
  EXPECT_EQ(*v1, *again);
  EXPECT_GT(*v2, *v1);
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto table = txn->GetRouteTable(*v2);
  ASSERT_TRUE(table.has_value() && table->has_value());
  EXPECT_EQ((*table)->text, "routes: b");
  EXPECT_EQ((*table)->loaded_at_ms, 30);
  auto none = txn->GetRouteTable(*v2 + 100);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
}

TEST_P(LedgerConformance, ListRequestsByStatePagesInUpdateOrder) {
  auto txn = Begin();
  for (int i = 0; i < 5; ++i) {
    RequestRecord r = Request("F" + std::to_string(i));
    r.state = i == 2 ? RequestState::kCompleted : RequestState::kFailed;
    r.updated_at_ms = 100 - i;  // F4 is the oldest update
    ASSERT_TRUE(txn->InsertRequest(r).ok());
  }
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto first = txn->ListRequests(RequestState::kFailed, 2, "");
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].id, "F4");
  EXPECT_EQ((*first)[1].id, "F3");
  auto rest = txn->ListRequests(RequestState::kFailed, 10, (*first)[1].id);
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].id, "F1");
  EXPECT_EQ((*rest)[1].id, "F0");
}

TEST_P(LedgerConformance, AStageIsClaimedOnceAndQueuesListTheirStages) {
  auto txn = Begin();
  StageRecord human = Stage("R1", 0, "", StageState::kReady, 500);
  human.queue = "hall.verify";
  Put(*txn, "R1", {human});
  auto first = txn->ClaimStage("R1", 0, "staff:li", "li", 1000, 99'000);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->state, StageState::kDispatched);
  EXPECT_EQ((*first)->handler, "li");
  EXPECT_EQ((*first)->token, 1);
  EXPECT_EQ((*first)->lease_until_ms, 99'000);
  auto second = txn->ClaimStage("R1", 0, "staff:wang", "wang", 1001, 99'000);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->has_value()) << "the first claim wins";
  auto queued = txn->QueueStages("hall.verify", 10);
  ASSERT_TRUE(queued.has_value());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ((*queued)[0].handler, "li");
  auto other = txn->QueueStages("hall.approve", 10);
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE(other->empty());
}

TEST_P(LedgerConformance, EventsFormAHashChainThatSurvivesReopening) {
  auto txn = Begin();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(txn->AppendEvent(Event("R1", i, "stage.done", 100 + i, "第" + std::to_string(i)))
                    .has_value());
  }
  EXPECT_EQ(txn->Head().seq, 3);
  ASSERT_TRUE(txn->Commit().ok());
  Reopen();
  txn = Begin();
  EXPECT_EQ(txn->Head().seq, 3) << "the head is read back";
  ASSERT_TRUE(txn->AppendEvent(Event("R2", -1, "request.accepted", 200, "")).has_value());
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto rows = txn->ScanChain("test-hub", 0, 100);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 4u);
  std::string prev;
  for (size_t i = 0; i < rows->size(); ++i) {
    const EventRecord& e = (*rows)[i];
    EXPECT_EQ(e.chain, "test-hub");
    EXPECT_EQ(e.chain_seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(e.prev_hash, prev);
    auto hash = EventHash("sha256", prev, e);
    ASSERT_TRUE(hash.has_value());
    EXPECT_EQ(e.hash, *hash);
    prev = e.hash;
  }
  auto chains = txn->Chains();
  ASSERT_TRUE(chains.has_value());
  ASSERT_EQ(chains->size(), 1u);
  EXPECT_EQ((*chains)[0].algorithm, "sha256");
}

TEST_P(LedgerConformance, ARolledBackAppendDoesNotMoveTheHead) {
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->AppendEvent(Event("R1", -1, "a", 1, "")).has_value());
  }  // rolled back
  auto txn = Begin();
  EXPECT_EQ(txn->Head().seq, 0);
  ASSERT_TRUE(txn->AppendEvent(Event("R1", -1, "b", 2, "")).has_value());
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto rows = txn->ScanChain("test-hub", 0, 10);
  ASSERT_TRUE(rows.has_value() && rows->size() == 1);
  EXPECT_EQ((*rows)[0].chain_seq, 1);
  EXPECT_EQ((*rows)[0].type, "b");
}

TEST_P(LedgerConformance, CheckpointsAndRequestsCanBeScanned) {
  auto txn = Begin();
  Put(*txn, "B", {});
  Put(*txn, "A", {});
  ASSERT_TRUE(txn->AppendEvent(Event("A", -1, "request.accepted", 1, "")).has_value());
  CheckpointRecord c{"test-hub", 1, txn->Head().hash, 5, "sig\x01", "cert\x02"};
  ASSERT_TRUE(txn->AppendCheckpoint(c).ok());
  ASSERT_TRUE(txn->AppendCheckpoint(c).ok()) << "the same checkpoint twice is harmless";
  ASSERT_TRUE(txn->Commit().ok());
  txn = Begin();
  auto checkpoints = txn->Checkpoints("test-hub");
  ASSERT_TRUE(checkpoints.has_value());
  ASSERT_EQ(checkpoints->size(), 1u);
  EXPECT_EQ((*checkpoints)[0].signature, "sig\x01");
  EXPECT_EQ((*checkpoints)[0].certificate, "cert\x02");
  auto first = txn->ScanRequests("", 1);
  ASSERT_TRUE(first.has_value() && first->size() == 1);
  EXPECT_EQ((*first)[0].id, "A");
  auto rest = txn->ScanRequests("A", 10);
  ASSERT_TRUE(rest.has_value() && rest->size() == 1);
  EXPECT_EQ((*rest)[0].id, "B");
}

TEST_P(LedgerConformance, OneTransactionAtATimePerLedger) {
  auto txn = Begin();
  auto second = ledger_->Begin();
  EXPECT_FALSE(second.has_value());
}

}  // namespace taxhub::ledger
