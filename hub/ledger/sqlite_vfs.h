// A VFS over SQLite's default one that hands a commit's WAL frames to the kernel in one write.
//
// SQLite appends each frame to the write-ahead log with two system calls, its 24-byte header
// and then its page: a commit of 40 pages costs 80 pwrite() calls, each through the file
// system's write path. This VFS gathers the appends to a WAL file in memory while they are
// contiguous and writes them out together at the latest when the commit frame's page is in
// (and before any sync, read, truncation, size query or close of the file). A commit thus
// reaches the kernel in one write. Nothing changes in what reaches the disk or when it is
// synced: a commit's frames are all written before SQLite syncs the log or publishes the
// commit in the WAL index, in every synchronous mode, so other connections never see a frame
// that is not in the file. Files other than WAL files pass straight through.
#pragma once

#include <cstdint>

namespace taxhub::ledger {

// The name to pass to sqlite3_open_v2(); registers the VFS on first use.
const char* GatheringVfsName();

// Counts since the process started, for tests: WAL writes SQLite asked for, and the writes
// that reached the default VFS for them.
struct GatheringVfsCounts {
  uint64_t writes_asked = 0;
  uint64_t writes_made = 0;
};
GatheringVfsCounts GatheringVfsCountsNow();

}  // namespace taxhub::ledger
