// A VFS over SQLite's default one that hands a commit's WAL frames to the kernel in one write.
//
// SQLite appends each frame to the write-ahead log with two system calls, its 24-byte header
// and then its page: a commit of 40 pages costs 80 pwrite() calls, each through the file
// system's write path. This VFS gathers the appends to a WAL file in memory and writes them
// out together at the latest once the commit frame's page is in, before SQLite syncs the log
// or publishes the commit in the WAL index, in every synchronous mode. Writes into what the
// log already holds (frames rewritten in place, their checksums redone) go straight through,
// in order; so does everything where SQLite pads commits to sectors (no powersafe overwrite).
// A gathered write that fails is reported to SQLite as a failed write, at the latest by the
// next write or sync of the log, so the transaction it belongs to cannot commit.
//
// It assumes its connection is the database's only writer, as the ledger's lock file ensures
// for a hub: frames a rolled-back transaction had spilled may be written after the rollback.
// Files other than WAL files pass straight through.
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
