#include "tests/ledger/ledger_conformance.h"
#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>
#include <thread>

#include "hub/base/clock.h"
#include "tests/support/pg_server.h"

namespace taxhub::ledger {
namespace {

Backend Postgres() {
  return Backend{"postgres",
                 []() -> std::string {
                   std::string error;
                   testing::PgServer* server = testing::PgServer::Shared(&error);
                   return server ? server->NewDatabase() : "";
                 },
                 [](const std::string& dsn) {
                   return OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"test-hub"});
                 }};
}

INSTANTIATE_TEST_SUITE_P(Postgres, LedgerConformance, ::testing::Values(Postgres()),
                         [](const auto& info) { return info.param.name; });

// Runs first in the binary so that a missing server fails (CI) or skips visibly.
TEST(PostgresLedger, TestServerIsAvailable) {
  TAXHUB_REQUIRE_PG(server);
  EXPECT_GT(server->port(), 0);
}

TEST(PostgresLedger, TwoHubsWithOneIdAreRefused) {
  TAXHUB_REQUIRE_PG(server);
  const std::string dsn = server->NewDatabase();
  auto first = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-a"});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto twin = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-a"});
  ASSERT_FALSE(twin.has_value());
  EXPECT_EQ(twin.error().field(), "hub.id");
  auto other = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-b"});
  EXPECT_TRUE(other.has_value()) << "another hub id is welcome";
  first->reset();
  EXPECT_TRUE(OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-a"}).has_value())
      << "free again once the first hub is gone";
}

// A closed ledger gives its hub id back before the close returns, not when the server gets round
// to ending the old session: a hub restarted at once (and every Reopen in the conformance tests)
// must find its id free.
TEST(PostgresLedger, AClosedLedgerFreesItsHubIdAtOnce) {
  TAXHUB_REQUIRE_PG(server);
  const std::string dsn = server->NewDatabase();
  for (int i = 0; i < 30; ++i) {
    auto ledger = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-r"});
    ASSERT_TRUE(ledger.has_value()) << "reopen " << i << ": " << ledger.error().ToString();
  }
}

// What `ledger` hears from other hubs until it has heard `last` (or 10 s have passed).
std::set<std::string> HeardUntil(Ledger& ledger, const std::string& last) {
  std::set<std::string> heard;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!heard.contains(last) && std::chrono::steady_clock::now() < deadline) {
    for (const std::string& service : ledger.TakeNotifications()) heard.insert(service);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return heard;
}

Status Announce(Ledger& ledger, const std::string& service) {
  auto txn = ledger.Begin();
  if (!txn) return txn.error();
  TAXHUB_RETURN_IF_ERROR((*txn)->NotifyReady(service));
  return (*txn)->Commit();
}

TEST(PostgresLedger, OtherHubsHearOfReadyWorkOncePerServiceAndWindow) {
  TAXHUB_REQUIRE_PG(server);
  const std::string dsn = server->NewDatabase();
  PostgresOptions options{dsn};
  options.notify_every_ms = 1500;
  auto a = OpenPostgresLedger(options, ChainOptions{"hub-a"});
  auto b = OpenPostgresLedger(options, ChainOptions{"hub-b"});
  ASSERT_TRUE(a.has_value() && b.has_value());
  const auto first = std::chrono::steady_clock::now();
  ASSERT_TRUE(Announce(**a, "s").ok());
  EXPECT_EQ(HeardUntil(**b, "s"), std::set<std::string>{"s"});
  ASSERT_TRUE(Announce(**a, "s").ok());
  ASSERT_TRUE(Announce(**a, "t").ok());  // another service: its own window
  const bool in_window = std::chrono::steady_clock::now() - first < std::chrono::milliseconds(1000);
  // Notifications arrive in commit order: a second "s" would come before "t".
  const std::set<std::string> heard = HeardUntil(**b, "t");
  EXPECT_TRUE(heard.contains("t"));
  if (in_window) {
    EXPECT_FALSE(heard.contains("s")) << "the second \"s\" waits for the window to pass";
  }
  EXPECT_TRUE((*a)->TakeNotifications().empty()) << "a hub does not hear itself";
  std::this_thread::sleep_until(first + std::chrono::milliseconds(1600));
  ASSERT_TRUE(Announce(**a, "u").ok());  // the next commit after the window carries what is owed
  std::set<std::string> later = HeardUntil(**b, "u");
  if (in_window) {
    EXPECT_TRUE(later.contains("s")) << "owed, and sent with the next commit";
  }
  later.insert(heard.begin(), heard.end());
  EXPECT_EQ(later, (std::set<std::string>{"s", "t", "u"}));
}

// A batch reads its stages when it starts and writes its updates later: a stage another hub
// changed in between (claimed it, or retried it when its lease ran out, which keeps its token)
// is not overwritten, and the batch fails whole.
TEST(PostgresLedger, AStageAnotherHubChangedAfterABatchReadItFailsTheBatch) {
  TAXHUB_REQUIRE_PG(server);
  const std::string dsn = server->NewDatabase();
  auto a = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-a"});
  auto b = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-b"});
  ASSERT_TRUE(a.has_value() && b.has_value());
  {
    auto txn = (*a)->Begin();
    ASSERT_TRUE(txn.has_value());
    for (const char* id : {"R1", "R2"}) {
      RequestRecord r;
      r.id = id;
      r.kind = "filing.vat";
      r.state = RequestState::kInProgress;
      ASSERT_TRUE((*txn)->InsertRequest(r).ok());
      StageRecord s;
      s.request_id = id;
      s.name = "accept";
      s.service = id == std::string("R1") ? "filing" : "invoice";
      s.state = StageState::kReady;
      ASSERT_TRUE((*txn)->InsertStage(s).ok());
    }
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  {
    auto claim = (*a)->Begin();  // R2's stage out to a worker, under hub-a's lease
    ASSERT_TRUE(claim.has_value());
    auto claimed = (*claim)->ClaimReady("invoice", 1, 1000, "hub-a");
    ASSERT_TRUE(claimed.has_value() && claimed->size() == 1);
    ASSERT_TRUE((*claim)->Commit().ok());
  }
  auto batch = (*a)->Begin();
  ASSERT_TRUE(batch.has_value());
  ASSERT_TRUE((*batch)->PrefetchRequests({"R1", "R2"}).ok());
  auto r1 = (*batch)->GetStages("R1");
  auto r2 = (*batch)->GetStages("R2");
  ASSERT_TRUE(r1.has_value() && r1->size() == 1 && r2.has_value() && r2->size() == 1);
  {
    auto other = (*b)->Begin();
    ASSERT_TRUE(other.has_value());
    auto claimed = (*other)->ClaimReady("filing", 1, 1000, "hub-b");  // R1: a new token
    ASSERT_TRUE(claimed.has_value() && claimed->size() == 1);
    ASSERT_TRUE((*other)->Commit().ok());
  }
  StageRecord done = (*r1)[0];
  done.state = StageState::kDone;
  ASSERT_TRUE((*batch)->UpdateStage(done).ok());  // held back
  ASSERT_TRUE((*batch)->UpdateRequestState("R1", RequestState::kCompleted, 2000, 2000).ok());
  Status committed = (*batch)->Commit();
  EXPECT_FALSE(committed.ok()) << "the update of a stage claimed meanwhile went through";
  EXPECT_NE(committed.message().find("changed meanwhile"), std::string::npos) << committed.ToString();
  batch->reset();

  // R2: hub-b finds hub-a's lease run out and puts the stage back to READY, token unchanged.
  batch = (*a)->Begin();
  ASSERT_TRUE(batch.has_value());
  ASSERT_TRUE((*batch)->PrefetchRequests({"R1", "R2"}).ok());
  r2 = (*batch)->GetStages("R2");
  ASSERT_TRUE(r2.has_value() && r2->size() == 1);
  ASSERT_EQ((*r2)[0].state, StageState::kDispatched);
  {
    auto other = (*b)->Begin();
    ASSERT_TRUE(other.has_value());
    auto expired = (*other)->ExpiredLeases(int64_t{1} << 50, 10);  // long after the leases ended
    ASSERT_TRUE(expired.has_value());
    auto r2_lease = std::find_if(expired->begin(), expired->end(),
                                 [](const StageRecord& s) { return s.request_id == "R2"; });
    ASSERT_NE(r2_lease, expired->end());
    StageRecord retried = *r2_lease;
    retried.state = StageState::kReady;
    retried.lease_owner.clear();
    retried.lease_until_ms = 0;
    ASSERT_TRUE((*other)->UpdateStage(retried).ok());
    ASSERT_TRUE((*other)->Commit().ok());
  }
  done = (*r2)[0];
  done.state = StageState::kDone;
  ASSERT_TRUE((*batch)->UpdateStage(done).ok());
  committed = (*batch)->Commit();
  EXPECT_FALSE(committed.ok()) << "the update of a stage retried meanwhile went through";
  batch->reset();

  auto check = (*a)->Begin();
  ASSERT_TRUE(check.has_value());
  r1 = (*check)->GetStages("R1");
  ASSERT_TRUE(r1.has_value() && r1->size() == 1);
  EXPECT_EQ((*r1)[0].state, StageState::kDispatched);
  EXPECT_EQ((*r1)[0].lease_owner, "hub-b");
  r2 = (*check)->GetStages("R2");
  ASSERT_TRUE(r2.has_value() && r2->size() == 1);
  EXPECT_EQ((*r2)[0].state, StageState::kReady);
  auto request = (*check)->GetRequest("R1");
  ASSERT_TRUE(request.has_value() && request->has_value());
  EXPECT_EQ((*request)->state, RequestState::kInProgress) << "the failed batch wrote nothing";
}

// A commit behind (CommitBehind()) lets the next transaction begin and be built while it is on
// the wire; that one's statements and commit wait for it, and fail if it failed, since its
// events are chained on rows that were never written.
TEST(PostgresLedger, ATransactionBuiltOnACommitBehindThatFailsFailsWithIt) {
  TAXHUB_REQUIRE_PG(server);
  auto ledger = OpenPostgresLedger(PostgresOptions{server->NewDatabase()}, ChainOptions{"hub-b"});
  ASSERT_TRUE(ledger.has_value());
  ASSERT_TRUE((*ledger)->CommitsBehind());
  auto submit = [&](Transaction& txn, const std::string& id) {
    RequestRecord r;
    r.id = id;
    r.kind = "filing.vat";
    ASSERT_TRUE(txn.InsertRequest(r).ok());
    ASSERT_TRUE(txn.AddEvent(Event(id, -1, "request.accepted", 1000, "")).ok());
  };
  {
    auto first = (*ledger)->Begin();
    ASSERT_TRUE(first.has_value());
    submit(**first, "R1");
    (*first)->CommitBehind();
    EXPECT_GE((*ledger)->CommitFd(), 0);
    auto second = (*ledger)->Begin();  // while R1 may still be on the wire
    ASSERT_TRUE(second.has_value()) << second.error().ToString();
    EXPECT_EQ((*second)->Head().seq, 1) << "chained on the commit behind";
    submit(**second, "R2");
    EXPECT_TRUE((*first)->AwaitCommit().ok());
    ASSERT_TRUE((*second)->Commit().ok());
  }
  EXPECT_EQ((*ledger)->CommitFd(), -1);

  auto failing = (*ledger)->Begin();
  ASSERT_TRUE(failing.has_value());
  submit(**failing, "R1");  // already there: the primary key refuses it at commit
  (*failing)->CommitBehind();
  auto follower = (*ledger)->Begin();
  ASSERT_TRUE(follower.has_value());
  EXPECT_EQ((*follower)->Head().seq, 3);
  submit(**follower, "R3");
  Status followed = (*follower)->Commit();
  EXPECT_FALSE(followed.ok()) << "committed on top of a commit that failed";
  EXPECT_NE(followed.message().find("before this one failed"), std::string::npos) << followed.ToString();
  Status failed = (*failing)->AwaitCommit();
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("23505"), std::string::npos) << failed.ToString();  // unique_violation
  follower->reset();
  failing->reset();

  // A reader that follows a failed commit fails at its first statement.
  auto again = (*ledger)->Begin();
  ASSERT_TRUE(again.has_value());
  submit(**again, "R1");
  (*again)->CommitBehind();
  auto reader = (*ledger)->Begin();
  ASSERT_TRUE(reader.has_value());
  auto read = (*reader)->GetRequest("R2");
  EXPECT_FALSE(read.has_value());
  EXPECT_FALSE((*again)->AwaitCommit().ok());
  reader->reset();
  again->reset();

  // The chain goes on from what was written: R3 was not.
  auto check = (*ledger)->Begin();
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ((*check)->Head().seq, 2);
  auto r3 = (*check)->GetRequest("R3");
  ASSERT_TRUE(r3.has_value());
  EXPECT_FALSE(r3->has_value());
  submit(**check, "R3");
  ASSERT_TRUE((*check)->Commit().ok());
  auto verify = (*ledger)->Begin();
  ASSERT_TRUE(verify.has_value());
  auto events = (*verify)->ScanChain("hub-b", 0, 10);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 3u);
  std::string prev;
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].chain_seq, static_cast<int64_t>(i + 1));
    if (i > 0) {
      EXPECT_EQ((*events)[i].prev_hash, prev);
    }
    prev = (*events)[i].hash;
  }
  EXPECT_EQ((*events)[2].request_id, "R3");
}

TEST(PostgresLedger, EventsGoToTheirMonthsPartition) {
  TAXHUB_REQUIRE_PG(server);
  const std::string dsn = server->NewDatabase();
  auto ledger = OpenPostgresLedger(PostgresOptions{dsn}, ChainOptions{"hub-p"});
  ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
  const int64_t now = SystemClock().NowMs();
  {
    auto txn = (*ledger)->Begin();
    EventRecord e;
    e.request_id = "R1";
    e.type = "request.accepted";
    e.at_ms = now;
    ASSERT_TRUE((*txn)->AppendEvent(e).has_value());
    e.at_ms = 86'400'000;  // 1970: no partition of its own
    ASSERT_TRUE((*txn)->AppendEvent(e).has_value());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  char month[16];
  time_t secs = now / 1000;
  struct tm tm;
  gmtime_r(&secs, &tm);
  std::strftime(month, sizeof month, "%Y%m", &tm);
  auto count = [&](const std::string& table) {
    auto r = testing::RunCommand({"/usr/bin/psql", "-tA", "-d", dsn, "-c",
                                  "SELECT count(*) FROM " + table});
    return r.output.substr(0, r.output.find('\n'));
  };
  EXPECT_EQ(count(std::string("events_") + month), "1");
  EXPECT_EQ(count("events_default"), "1");
  EXPECT_TRUE((*ledger)->Maintain().ok()) << "making the partitions again is harmless";
}

TEST(PostgresLedger, UnreachableServerIsUnavailable) {
  auto opened = OpenPostgresLedger(
      PostgresOptions{"host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2"});
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace taxhub::ledger
