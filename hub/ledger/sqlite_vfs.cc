#include "hub/ledger/sqlite_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace taxhub::ledger {
namespace {

constexpr const char* kName = "taxhub-gather";
// The most the default VFS writes with one call (os_unix.c masks each write to 0x1ffff bytes);
// a commit larger than this goes out in several writes.
constexpr int kCapacity = 0x1ffff;
constexpr int kFrameHeader = 24;    // a WAL frame's header; bytes 4..7: nonzero on a commit frame

sqlite3_vfs* base_vfs = nullptr;
sqlite3_vfs gathering_vfs;
std::atomic<uint64_t> writes_asked{0};
std::atomic<uint64_t> writes_made{0};

// A WAL or main database file: the default VFS's file, and the writes not yet made to it.
// The default VFS's file lives in the same allocation, right after this struct.
struct alignas(8) GatheringFile {
  sqlite3_file file;       // pMethods: kMethods
  sqlite3_file* real;
  char* pending;           // kCapacity bytes, allocated at the first gathered write
  int length;              // bytes pending, to go at offset `start`
  sqlite3_int64 start;
  bool commit_frame;       // WAL: the last write was the header of a commit frame
  bool gathering;          // WAL: always; database: while a checkpoint copies pages into it
  bool is_wal;
};

GatheringFile* Of(sqlite3_file* file) { return reinterpret_cast<GatheringFile*>(file); }
const sqlite3_io_methods* Real(GatheringFile* f) { return f->real->pMethods; }

int Flush(GatheringFile* f) {
  if (f->length == 0) return SQLITE_OK;
  const int length = f->length;
  f->length = 0;  // on failure the transaction fails and SQLite writes its frames again
  writes_made.fetch_add(1, std::memory_order_relaxed);
  return Real(f)->xWrite(f->real, f->pending, length, f->start);
}

int Close(sqlite3_file* file) {
  GatheringFile* f = Of(file);
  const int flushed = Flush(f);
  const int closed = Real(f)->xClose(f->real);
  sqlite3_free(f->pending);
  f->pending = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xRead(f->real, out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  GatheringFile* f = Of(file);
  if (!f->gathering) return Real(f)->xWrite(f->real, data, amount, offset);
  writes_asked.fetch_add(1, std::memory_order_relaxed);
  if (f->length > 0 &&
      (offset != f->start + f->length || f->length + amount > kCapacity)) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (!f->pending) f->pending = static_cast<char*>(sqlite3_malloc(kCapacity));
  if (!f->pending || amount > kCapacity) {
    writes_made.fetch_add(1, std::memory_order_relaxed);
    return Real(f)->xWrite(f->real, data, amount, offset);
  }
  if (f->length == 0) f->start = offset;
  std::memcpy(f->pending + f->length, data, static_cast<size_t>(amount));
  f->length += amount;
  if (!f->is_wal) return SQLITE_OK;  // a checkpoint's pages: out at SQLITE_FCNTL_CKPT_DONE
  const bool header = amount == kFrameHeader;
  if (f->commit_frame && !header) {
    // The commit frame's page: the whole commit is here. It goes out now, whatever the
    // synchronous mode, before SQLite makes the commit visible in the WAL index.
    f->commit_frame = false;
    return Flush(f);
  }
  static constexpr char kZero[4] = {0, 0, 0, 0};
  f->commit_frame = header && std::memcmp(static_cast<const char*>(data) + 4, kZero, 4) != 0;
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xFileSize(f->real, size);
}

// A checkpoint copies pages from the log into the database in page order, and pages that
// were appended together lie side by side: gathered, they go out in fewer writes. SQLite
// brackets the copying with these two file controls (for VFSs such as this one), before it
// syncs the database or records in the WAL index how far the log is copied.
int FileControl(sqlite3_file* file, int op, void* arg) {
  GatheringFile* f = Of(file);
  if (!f->is_wal && op == SQLITE_FCNTL_CKPT_START) f->gathering = true;
  if (!f->is_wal && op == SQLITE_FCNTL_CKPT_DONE) {
    f->gathering = false;
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return Real(f)->xFileControl(f->real, op, arg);
}

// The rest as the default VFS's file does it, once pending writes are made.
int Lock(sqlite3_file* f, int level) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(Of(f))->xLock(Of(f)->real, level);
}
int Unlock(sqlite3_file* f, int level) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(Of(f))->xUnlock(Of(f)->real, level);
}
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(Of(f))->xCheckReservedLock(Of(f)->real, out);
}
int SectorSize(sqlite3_file* f) { return Real(Of(f))->xSectorSize(Of(f)->real); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(Of(f))->xDeviceCharacteristics(Of(f)->real);
}
// Shared memory and memory mapping belong to the database file.
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  const sqlite3_io_methods* real = Real(Of(f));
  return real->iVersion >= 2 ? real->xShmMap(Of(f)->real, region, size, extend, out)
                             : SQLITE_IOERR_SHMMAP;
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  const sqlite3_io_methods* real = Real(Of(f));
  return real->iVersion >= 2 ? real->xShmLock(Of(f)->real, offset, n, flags) : SQLITE_IOERR_SHMLOCK;
}
void ShmBarrier(sqlite3_file* f) {
  const sqlite3_io_methods* real = Real(Of(f));
  if (real->iVersion >= 2) real->xShmBarrier(Of(f)->real);
}
int ShmUnmap(sqlite3_file* f, int remove) {
  const sqlite3_io_methods* real = Real(Of(f));
  return real->iVersion >= 2 ? real->xShmUnmap(Of(f)->real, remove) : SQLITE_OK;
}
int Fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  *out = nullptr;
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  const sqlite3_io_methods* real = Real(Of(f));
  return real->iVersion >= 3 ? real->xFetch(Of(f)->real, offset, amount, out) : SQLITE_OK;
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  const sqlite3_io_methods* real = Real(Of(f));
  return real->iVersion >= 3 ? real->xUnfetch(Of(f)->real, offset, p) : SQLITE_OK;
}

const sqlite3_io_methods kMethods = {
    3,        Close,      Read,     Write,    Truncate, Sync,
    FileSize, Lock,       Unlock,   CheckReservedLock,  FileControl,
    SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier,
    ShmUnmap, Fetch,      Unfetch,
};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  const bool wal_file = (flags & SQLITE_OPEN_WAL) != 0;
  if (!wal_file && (flags & SQLITE_OPEN_MAIN_DB) == 0) {
    return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
  }
  GatheringFile* f = Of(file);
  f->file.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->real->pMethods = nullptr;
  f->pending = nullptr;
  f->length = 0;
  f->start = 0;
  f->commit_frame = false;
  f->gathering = wal_file;
  f->is_wal = wal_file;
  const int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    return rc;
  }
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
    gathering_vfs.szOsFile = static_cast<int>(sizeof(GatheringFile)) + base_vfs->szOsFile;
    gathering_vfs.xOpen = Open;
    sqlite3_vfs_register(&gathering_vfs, /*makeDflt=*/0);
  });
  return kName;
}

GatheringVfsCounts GatheringVfsCountsNow() {
  return {writes_asked.load(std::memory_order_relaxed), writes_made.load(std::memory_order_relaxed)};
}

}  // namespace taxhub::ledger
