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

TEST(SqliteLedger, BadSynchronousModeIsRefused) {
  SqliteOptions options{Dir()->File("sync.db")};
  options.synchronous = "sometimes";
  auto opened = OpenSqliteLedger(options);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().field(), "ledger.sqlite.synchronous");
}

}  // namespace
}  // namespace taxhub::ledger
