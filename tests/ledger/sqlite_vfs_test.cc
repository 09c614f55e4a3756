// The gathering VFS (hub/ledger/sqlite_vfs.h), through SQLite's own API: what it writes must be
// exactly what SQLite would have written, visible to other connections as soon as SQLite
// publishes a commit, in fewer writes.
#include "hub/ledger/sqlite_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <string>

#include "tests/support/temp_dir.h"

namespace taxhub::ledger {
namespace {

class Db {
 public:
  Db(const std::string& path, const char* vfs) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, vfs);
    EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db_);
  }
  ~Db() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << sql << ": " << error;
  }
  std::string One(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text ? reinterpret_cast<const char*>(text) : "";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  // How many times the page cache has spilled dirty pages into the log mid-transaction.
  int Spills() {
    int current = 0, highest = 0;
    sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_SPILL, &current, &highest, 0);
    return current;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Rows whose content is a function of their key, so that any torn or misplaced write shows.
std::string Insert(int from, int to, int bytes) {
  return "WITH RECURSIVE s(x) AS (SELECT " + std::to_string(from) + " UNION ALL SELECT x + 1 FROM s WHERE x < " +
         std::to_string(to) + ") INSERT INTO t (k, v) SELECT x, printf('%0" + std::to_string(bytes) +
         "d', x * 7919) FROM s";
}
// The database and its log as a crash at this moment would leave them, at `copy`.
void CopyAsACrashWould(const std::string& path, const std::string& copy) {
  for (const char* suffix : {"", "-wal"}) {
    ASSERT_EQ(std::system(("cp " + path + suffix + " " + copy + suffix).c_str()), 0);
  }
}

constexpr const char* kTable = "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)";
constexpr const char* kCheck = "SELECT count(*) || ' ' || sum(length(v)) || ' ' || "
                               "sum(CAST(v AS INTEGER) <> k * 7919) FROM t";

TEST(GatheringVfs, ACommitReachesTheLogInAFewWrites) {
  testing::TempDir dir;
  Db db(dir.File("one.db"), GatheringVfsName());
  db.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0");
  db.Exec(kTable);
  const GatheringVfsCounts before = GatheringVfsCountsNow();
  db.Exec(Insert(1, 100, 1000));  // about 30 pages: 60 writes asked of the VFS
  const GatheringVfsCounts after = GatheringVfsCountsNow();
  const uint64_t asked = after.writes_asked - before.writes_asked;
  const uint64_t made = after.writes_made - before.writes_made;
  EXPECT_GE(asked, 50u);
  EXPECT_GE(made, 1u);
  EXPECT_LE(made, 2u) << "asked " << asked;  // at most 128 KiB a write
  EXPECT_EQ(db.One(kCheck), "100 100000 0");
}

TEST(GatheringVfs, EachCommitIsInTheLogBeforeAnotherConnectionCanSeeIt) {
  // synchronous = NORMAL or OFF: SQLite does not sync the log at a commit, so only the commit
  // frame tells the VFS that a commit is complete. A reader on the default VFS reads the log
  // file; the log starts over after each checkpoint.
  for (const std::string mode : {"NORMAL", "OFF"}) {
  SCOPED_TRACE(mode);
  testing::TempDir dir;
  const std::string path = dir.File("two.db");
  Db writer(path, GatheringVfsName());
  writer.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = " + mode + "; PRAGMA wal_autocheckpoint = 50");
  writer.Exec(kTable);
  Db reader(path, nullptr);
  int rows = 0;
  for (int commit = 1; commit <= 30; ++commit) {
    const int n = commit == 10 ? 400 : commit % 4 + 1;  // one commit of 400 KB: several writes
    writer.Exec(Insert(rows + 1, rows + n, 1000));
    rows += n;
    EXPECT_EQ(reader.One(kCheck), std::to_string(rows) + " " + std::to_string(rows * 1000) + " 0")
        << "after commit " << commit;
  }
  }
}

TEST(GatheringVfs, ALogReopenedWithFramesInItLosesNoCommit) {
  // A reader keeps the log from being checkpointed away when the writer closes (as after a
  // crash). The reopened writer's first append lands after those frames; a one-page commit
  // there must be in the file before SQLite publishes it.
  testing::TempDir dir;
  const std::string path = dir.File("six.db");
  const std::string copy = dir.File("copy6.db");
  Db reader(path, nullptr);
  {
    Db writer(path, GatheringVfsName());
    writer.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0");
    writer.Exec(kTable);
    writer.Exec(Insert(1, 20, 100));
    reader.Exec("BEGIN");  // a read transaction open across the writer's close
    EXPECT_EQ(reader.One("SELECT count(*) FROM t"), "20");
  }
  reader.Exec("COMMIT");
  Db writer(path, GatheringVfsName());
  writer.Exec("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0");
  writer.Exec("UPDATE t SET v = printf('%0100d', k * 7919 + 1) WHERE k = 7");
  EXPECT_EQ(reader.One("SELECT count(*) FROM t WHERE CAST(v AS INTEGER) = k * 7919 + 1"), "1");
  CopyAsACrashWould(path, copy);
  Db recovered(copy, nullptr);
  EXPECT_EQ(recovered.One("SELECT count(*) FROM t WHERE CAST(v AS INTEGER) = k * 7919 + 1"), "1");
}

TEST(GatheringVfs, SpilledPagesRewrittenFramesAndACheckpointReadBackExactly) {
  testing::TempDir dir;
  const std::string path = dir.File("three.db");
  {
    Db db(path, GatheringVfsName());
    // A page cache of a few pages: the transaction spills into the log before its commit and
    // rewrites frames it wrote earlier, out of order.
    db.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = 5");
    db.Exec(kTable);
    db.Exec("BEGIN");
    db.Exec(Insert(1, 600, 900));
    db.Exec("UPDATE t SET v = printf('%0900d', k * 7919) WHERE k % 7 = 0");
    db.Exec("DELETE FROM t WHERE k > 500");
    db.Exec("COMMIT");
    EXPECT_GT(db.Spills(), 0);
    EXPECT_EQ(db.One(kCheck), "500 450000 0");
    // The checkpoint copies the log into the database.
    EXPECT_EQ(db.One("PRAGMA wal_checkpoint(TRUNCATE)"), "0");
    db.Exec(Insert(501, 520, 900));
  }
  Db plain(path, nullptr);
  EXPECT_EQ(plain.One("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(plain.One(kCheck), "520 468000 0");
}

TEST(GatheringVfs, ACrashRightAfterACommitThatRewroteFramesLosesNothing) {
  // synchronous = NORMAL: no sync at the commit. The transaction spills, then overwrites
  // frames it spilled and has their checksums rewritten, the commit frame's among them. A copy
  // of the files taken with the writer still open is what a crash would leave: opening it
  // recovers the log from its checksums, and must find the whole commit.
  testing::TempDir dir;
  const std::string path = dir.File("four.db");
  const std::string copy = dir.File("copy.db");
  Db db(path, GatheringVfsName());
  db.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = 5; "
          "PRAGMA wal_autocheckpoint = 0");
  db.Exec(kTable);
  db.Exec(Insert(1, 50, 900));
  db.Exec("BEGIN");
  for (int round = 0; round < 10; ++round) {  // the first rows' pages, dirtied again after each spill
    db.Exec("UPDATE t SET v = printf('%0900d', k * 7919) WHERE k <= 8");
    db.Exec(Insert(51 + 35 * round, 85 + 35 * round, 900));
  }
  db.Exec("COMMIT");
  EXPECT_GT(db.Spills(), 0);
  CopyAsACrashWould(path, copy);
  Db recovered(copy, nullptr);
  EXPECT_EQ(recovered.One("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(recovered.One(kCheck), "400 360000 0");
}

TEST(GatheringVfs, NothingIsGatheredWhereSqlitePadsCommitsToSectors) {
  // psow=0: no powersafe overwrite, so SQLite pads each commit with copies of its commit
  // frame up to a sector boundary and syncs partway through one. The VFS steps aside.
  testing::TempDir dir;
  const std::string path = dir.File("five.db");
  Db writer("file:" + path + "?psow=0", GatheringVfsName());
  writer.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0");
  writer.Exec(kTable);
  Db reader(path, nullptr);
  int rows = 0;
  for (int commit = 1; commit <= 20; ++commit) {
    const GatheringVfsCounts before = GatheringVfsCountsNow();
    writer.Exec(Insert(rows + 1, rows + commit, 700));
    rows += commit;
    const GatheringVfsCounts after = GatheringVfsCountsNow();
    EXPECT_EQ(after.writes_made - before.writes_made, after.writes_asked - before.writes_asked);
    EXPECT_EQ(reader.One(kCheck), std::to_string(rows) + " " + std::to_string(rows * 700) + " 0");
  }
  EXPECT_EQ(reader.One("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace taxhub::ledger
