#include <sqlite3.h>

#include <memory>

#include "tests/ledger/ledger_conformance.h"
#include "tests/support/temp_dir.h"

namespace taxhub::ledger {
namespace {

testing::TempDir* Dir() {
  static testing::TempDir dir;
  return &dir;
}

Backend Sqlite() {
  return Backend{"sqlite",
                 [] {
                   static int n = 0;
                   return Dir()->File("ledger-" + std::to_string(++n) + ".db");
                 },
                 [](const std::string& path) {
                   return OpenSqliteLedger(SqliteOptions{path}, ChainOptions{"test-hub"});
                 }};
}

INSTANTIATE_TEST_SUITE_P(Sqlite, LedgerConformance, ::testing::Values(Sqlite()),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteLedger, ASecondHubOnTheSameFileIsRefused) {
  const std::string path = Dir()->File("shared.db");
  auto first = OpenSqliteLedger(SqliteOptions{path});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto second = OpenSqliteLedger(SqliteOptions{path});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message().find("in use by another hub"), std::string::npos);
  first->reset();
  EXPECT_TRUE(OpenSqliteLedger(SqliteOptions{path}).has_value()) << "free again once closed";
}

TEST(SqliteLedger, AReadOnlyConnectionSeesTheDataWhileTheHubHoldsTheLock) {
  const std::string path = Dir()->File("readonly.db");
  auto writer = OpenSqliteLedger(SqliteOptions{path}, ChainOptions{"hub-1"});
  ASSERT_TRUE(writer.has_value());
  {
    auto txn = (*writer)->Begin();
    ASSERT_TRUE((*txn)->AppendEvent(Event("R1", -1, "request.accepted", 1, "x")).has_value());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  SqliteOptions options{path};
  options.read_only = true;
  auto reader = OpenSqliteLedger(options);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  auto txn = (*reader)->Begin();
  ASSERT_TRUE(txn.has_value());
  auto rows = (*txn)->ScanChain("hub-1", 0, 10);
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(rows->size(), 1u);
  EXPECT_FALSE((*txn)->AppendEvent(Event("R1", -1, "x", 1, "")).has_value());
}

// The writing connection keeps the rows of requests under way; a change someone else commits to
// the file (an operator's sqlite3 shell) is still what it reads next, and is not written over.
TEST(SqliteLedger, RowsChangedByAnotherConnectionAreReadAfresh) {
  const std::string path = Dir()->File("edited.db");
  auto ledger = OpenSqliteLedger(SqliteOptions{path}, ChainOptions{"hub-1"});
  ASSERT_TRUE(ledger.has_value());
  StageRecord stage;
  stage.request_id = "R1";
  stage.name = "file";
  stage.service = "filing";
  stage.state = StageState::kReady;
  RequestRecord request;
  request.id = "R1";
  request.kind = "filing.vat";
  request.taxpayer_id = "91310110666007217T";
  request.state = RequestState::kInProgress;
  {
    auto txn = (*ledger)->Begin();
    ASSERT_TRUE((*txn)->InsertRequest(request).ok());
    ASSERT_TRUE((*txn)->InsertStage(stage).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  {
    auto txn = (*ledger)->Begin();  // read, and so kept
    auto stages = (*txn)->GetStages("R1");
    ASSERT_TRUE(stages.has_value() && stages->size() == 1);
    EXPECT_TRUE((*stages)[0].outputs.empty());
    ASSERT_TRUE((*txn)->GetRequest("R1").has_value());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  sqlite3* shell = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &shell), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(shell,
                         "UPDATE stages SET outputs = '{\"serial\":\"F9\"}' WHERE request_id = 'R1';"
                         "UPDATE requests SET kind = 'filing.cit' WHERE id = 'R1'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(shell);
  auto txn = (*ledger)->Begin();
  auto stages = (*txn)->GetStages("R1");
  ASSERT_TRUE(stages.has_value() && stages->size() == 1);
  EXPECT_EQ((*stages)[0].outputs, (StringMap{{"serial", "F9"}}));
  auto read = (*txn)->GetRequest("R1");
  ASSERT_TRUE(read.has_value() && read->has_value());
  EXPECT_EQ((*read)->kind, "filing.cit");
}

TEST(SqliteLedger, BadSynchronousModeIsRefused) {
  SqliteOptions options{Dir()->File("sync.db")};
  options.synchronous = "sometimes";
  auto opened = OpenSqliteLedger(options);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().field(), "ledger.sqlite.synchronous");
}

}  // namespace
}  // namespace taxhub::ledger
