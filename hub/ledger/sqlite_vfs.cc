#include "hub/ledger/sqlite_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

namespace taxhub::ledger {
namespace {

constexpr const char* kName = "taxhub-gather";
// The most the default VFS writes with one call (os_unix.c masks each write to 0x1ffff bytes);
// a commit larger than this goes out in several writes.
constexpr int kCapacity = 0x1ffff;
constexpr int kFrameHeader = 24;  // a WAL frame's header; bytes 4..7: nonzero on a commit frame

sqlite3_vfs* base_vfs = nullptr;
sqlite3_vfs gathering_vfs;
std::atomic<uint64_t> writes_asked{0};
std::atomic<uint64_t> writes_made{0};

// A WAL file: the default VFS's file, and the appends not yet written to it. The default
// VFS's file lives in the same allocation, right after this struct.
struct alignas(8) WalFile {
  sqlite3_file file;        // pMethods: kMethods
  sqlite3_file* real;
  char* pending;            // kCapacity bytes
  int length;               // bytes pending, to go at offset `start`
  sqlite3_int64 start;
  sqlite3_int64 end;        // the end of everything written since the log's header
  bool commit_frame;        // the last append was the header of a commit frame
  bool gathering;           // false where SQLite pads commits to sectors (no powersafe overwrite)
  int deferred_error;       // a write that failed outside xWrite/xSync, to report there
};

WalFile* Of(sqlite3_file* file) { return reinterpret_cast<WalFile*>(file); }
const sqlite3_io_methods* Real(WalFile* f) { return f->real->pMethods; }

int Flush(WalFile* f) {
  if (f->length == 0) return SQLITE_OK;
  const int length = f->length;
  f->length = 0;
  writes_made.fetch_add(1, std::memory_order_relaxed);
  return Real(f)->xWrite(f->real, f->pending, length, f->start);
}

// Before an operation other than a write or sync. Its own failure is its error; a failed
// write is also kept for the next xWrite or xSync, where SQLite treats it as the write error
// it is: the transaction those bytes belong to cannot commit. (Those bytes are dropped, never
// written later over frames SQLite has since moved on from. If SQLite has already rolled that
// transaction back, the next one fails once instead, and the ledger's caller retries it.)
int FlushBefore(WalFile* f) {
  const int rc = Flush(f);
  if (rc != SQLITE_OK && f->deferred_error == SQLITE_OK) f->deferred_error = rc;
  return rc;
}
int TakeDeferred(WalFile* f) {
  const int rc = f->deferred_error;
  f->deferred_error = SQLITE_OK;
  return rc;
}

int Close(sqlite3_file* file) {
  WalFile* f = Of(file);
  const int flushed = Flush(f);
  const int closed = Real(f)->xClose(f->real);
  sqlite3_free(f->pending);
  f->pending = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  WalFile* f = Of(file);
  if (f->length > 0 && offset < f->start + f->length && offset + amount > f->start) {
    if (int rc = FlushBefore(f); rc != SQLITE_OK) return rc;
  }
  return Real(f)->xRead(f->real, out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = Of(file);
  if (int rc = TakeDeferred(f); rc != SQLITE_OK) return rc;
  writes_asked.fetch_add(1, std::memory_order_relaxed);
  static constexpr char kZero[4] = {0, 0, 0, 0};
  const bool commit_header =
      amount == kFrameHeader && std::memcmp(static_cast<const char*>(data) + 4, kZero, 4) != 0;
  if (offset == 0) {
    // The log's header: the log starts again, before a transaction's first frame. Anything
    // still pending is frames of a transaction that was rolled back: dropped, not written.
    f->length = 0;
    f->commit_frame = false;
    f->end = 0;
  }
  // A log opened with frames in it: the first append is where SQLite's count of them ends.
  if (f->length == 0 && offset > f->end) f->end = offset;
  // Only appends are gathered. A write into what is already written (a frame overwritten in
  // place, checksums rewritten after that) goes straight through, after what is pending.
  const bool append = f->gathering && offset == f->end && amount <= kCapacity;
  if (!append || f->length + amount > kCapacity) {
    if (int rc = Flush(f); rc != SQLITE_OK) {
      f->commit_frame = false;
      return rc;
    }
  }
  if (!append) {
    f->end = std::max(f->end, offset + amount);
    f->commit_frame = commit_header;  // its page, if gathered, goes out at once
    writes_made.fetch_add(1, std::memory_order_relaxed);
    return Real(f)->xWrite(f->real, data, amount, offset);
  }
  f->end = offset + amount;
  if (f->length == 0) f->start = offset;
  std::memcpy(f->pending + f->length, data, static_cast<size_t>(amount));
  f->length += amount;
  if (f->commit_frame && amount != kFrameHeader) {
    // The commit frame's page: the whole commit is here. It goes out now, whatever the
    // synchronous mode, before SQLite publishes the commit in the WAL index.
    f->commit_frame = false;
    return Flush(f);
  }
  f->commit_frame = commit_header;
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = Of(file);
  if (f->length > 0 && f->start >= size) f->length = 0;  // cut off anyway
  if (int rc = FlushBefore(f); rc != SQLITE_OK) return rc;
  f->end = std::min(f->end, size);
  return Real(f)->xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  WalFile* f = Of(file);
  if (int rc = TakeDeferred(f); rc != SQLITE_OK) return rc;
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = Of(file);
  if (int rc = FlushBefore(f); rc != SQLITE_OK) return rc;
  return Real(f)->xFileSize(f->real, size);
}

// The rest as the default VFS's file does it.
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(Of(f))->xFileControl(Of(f)->real, op, arg);
}
int Lock(sqlite3_file* f, int level) { return Real(Of(f))->xLock(Of(f)->real, level); }
int Unlock(sqlite3_file* f, int level) { return Real(Of(f))->xUnlock(Of(f)->real, level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(Of(f))->xCheckReservedLock(Of(f)->real, out);
}
int SectorSize(sqlite3_file* f) { return Real(Of(f))->xSectorSize(Of(f)->real); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(Of(f))->xDeviceCharacteristics(Of(f)->real);
}

// A WAL file is version 1: shared memory and memory mapping belong to the database file.
const sqlite3_io_methods kMethods = {
    1, Close, Read, Write, Truncate, Sync, FileSize, Lock, Unlock, CheckReservedLock,
    FileControl, SectorSize, DeviceCharacteristics,
    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0) return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
  WalFile* f = Of(file);
  f->file.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->real->pMethods = nullptr;
  f->pending = static_cast<char*>(sqlite3_malloc(kCapacity));
  if (!f->pending) return SQLITE_NOMEM;
  f->length = 0;
  f->start = 0;
  f->end = 0;
  f->commit_frame = false;
  f->deferred_error = SQLITE_OK;
  const int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    sqlite3_free(f->pending);
    return rc;
  }
  // Without powersafe overwrite SQLite pads each commit to a sector with copies of its commit
  // frame and syncs in the middle of one: nothing for this VFS to gather safely. SQLite asks
  // the database file, which the default VFS gives powersafe overwrite unless the build says
  // otherwise or "psow=0" is among the database's URI parameters (the WAL's name carries them).
  static const bool psow_by_default = !sqlite3_compileoption_used("POWERSAFE_OVERWRITE=0");
  f->gathering = sqlite3_uri_boolean(name, "psow", psow_by_default);
  f->file.pMethods = &kMethods;
  return SQLITE_OK;
}

}  // namespace

const char* GatheringVfsName() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    base_vfs = sqlite3_vfs_find(nullptr);
    gathering_vfs = *base_vfs;  // the default's own methods, and its pAppData, which they use
    gathering_vfs.pNext = nullptr;
    gathering_vfs.zName = kName;
    gathering_vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + base_vfs->szOsFile;
    gathering_vfs.xOpen = Open;
    sqlite3_vfs_register(&gathering_vfs, /*makeDflt=*/0);
  });
  return kName;
}

GatheringVfsCounts GatheringVfsCountsNow() {
  return {writes_asked.load(std::memory_order_relaxed), writes_made.load(std::memory_order_relaxed)};
}

}  // namespace taxhub::ledger
