#include "adapters/sms/outbox.h"

#include <sqlite3.h>

namespace taxhub::sms {
namespace {

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return stmt_ != nullptr; }
  Statement& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int i) {
    const auto* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, i)) : "";
  }
  int64_t Int(int i) { return sqlite3_column_int64(stmt_, i); }
  Status Error() const {
    return Status(ErrorCode::kInternal, std::string("sms outbox: ") + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

std::string_view ToString(MessageState state) {
  switch (state) {
    case MessageState::kSending: return "sending";
    case MessageState::kNotSent: return "not_sent";
    case MessageState::kUnconfirmed: return "unconfirmed";
    case MessageState::kAccepted: return "accepted";
  }
  return "?";
}

Result<std::unique_ptr<Outbox>> Outbox::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return taxhub::Error(ErrorCode::kUnavailable, "sms outbox " + path + ": " + why, "outbox");
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Outbox> outbox(new Outbox(db));
  TAXHUB_RETURN_IF_ERROR(outbox->Exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS messages (task_id TEXT PRIMARY KEY, recipient TEXT NOT NULL,"
      "  text TEXT NOT NULL, state INTEGER NOT NULL, sends INTEGER NOT NULL,"
      "  updated_at_ms INTEGER NOT NULL, accepted_at_ms INTEGER NOT NULL,"
      "  last_report INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  task_id TEXT NOT NULL, type INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
      "  reply TEXT NOT NULL, forwarded INTEGER NOT NULL DEFAULT 0);"
      "CREATE INDEX IF NOT EXISTS reports_pending ON reports (forwarded, id);"));
  return outbox;
}

Outbox::~Outbox() { sqlite3_close(db_); }

Status Outbox::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    Status status(ErrorCode::kInternal, std::string("sms outbox: ") + (error ? error : "?"));
    sqlite3_free(error);
    return status;
  }
  return Status::Ok();
}

Result<std::optional<Message>> Outbox::Find(const std::string& task_id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT recipient, text, state, sends, updated_at_ms, accepted_at_ms, last_report "
                   "FROM messages WHERE task_id = ?");
  if (!s.ok()) return taxhub::Error(s.Error());
  s.Bind(1, task_id);
  const int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<Message>();
  if (rc != SQLITE_ROW) return taxhub::Error(s.Error());
  Message m;
  m.task_id = task_id;
  m.to = s.Text(0);
  m.text = s.Text(1);
  m.state = static_cast<MessageState>(s.Int(2));
  m.sends = static_cast<int>(s.Int(3));
  m.updated_at_ms = s.Int(4);
  m.accepted_at_ms = s.Int(5);
  m.last_report = static_cast<int>(s.Int(6));
  return std::optional<Message>(std::move(m));
}

Status Outbox::Save(const Message& m, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "INSERT INTO messages (task_id, recipient, text, state, sends, updated_at_ms, "
              "accepted_at_ms, last_report) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (task_id) DO UPDATE SET recipient = excluded.recipient, "
              "text = excluded.text, sends = excluded.sends, "
              // accepted is final: a late save of an unanswered send must not undo a report
              "state = CASE WHEN messages.state = 3 THEN 3 ELSE excluded.state END, "
              "updated_at_ms = excluded.updated_at_ms, "
              "accepted_at_ms = MAX(messages.accepted_at_ms, excluded.accepted_at_ms)");
  if (!s.ok()) return s.Error();
  s.Bind(1, m.task_id).Bind(2, m.to).Bind(3, m.text).Bind(4, static_cast<int64_t>(m.state));
  s.Bind(5, static_cast<int64_t>(m.sends)).Bind(6, now_ms).Bind(7, m.accepted_at_ms);
  s.Bind(8, static_cast<int64_t>(m.last_report));
  return s.Step() == SQLITE_DONE ? Status::Ok() : s.Error();
}

Status Outbox::AddReport(const DeliveryReport& r, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  TAXHUB_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto rollback = [&](Status status) {
    (void)Exec("ROLLBACK");
    return status;
  };
  Statement insert(db_, "INSERT INTO reports (task_id, type, at_ms, reply) VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return rollback(insert.Error());
  insert.Bind(1, r.task_id).Bind(2, static_cast<int64_t>(r.type)).Bind(3, r.at_ms).Bind(4, r.reply);
  if (insert.Step() != SQLITE_DONE) return rollback(insert.Error());
  // Delivered (1), buffered (4) or taken by the SMSC (8) proves the message went out: an
  // unconfirmed send becomes accepted. Undelivered (2) and SMSC-rejected (16) are recorded only.
  const bool went_out = r.type == 1 || r.type == 4 || r.type == 8;
  Statement update(db_,
                   "UPDATE messages SET last_report = ?, updated_at_ms = ?, "
                   "state = CASE WHEN ? THEN ? ELSE state END, "
                   "accepted_at_ms = CASE WHEN ? AND accepted_at_ms = 0 THEN ? ELSE accepted_at_ms END "
                   "WHERE task_id = ?");
  if (!update.ok()) return rollback(update.Error());
  update.Bind(1, static_cast<int64_t>(r.type)).Bind(2, now_ms).Bind(3, int64_t{went_out});
  update.Bind(4, static_cast<int64_t>(MessageState::kAccepted)).Bind(5, int64_t{went_out}).Bind(6, now_ms);
  update.Bind(7, r.task_id);
  if (update.Step() != SQLITE_DONE) return rollback(update.Error());
  if (Status committed = Exec("COMMIT"); !committed.ok()) return rollback(committed);
  return Status::Ok();
}

Result<std::vector<DeliveryReport>> Outbox::PendingReports(int limit) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT id, task_id, type, at_ms, reply FROM reports WHERE forwarded = 0 "
                   "ORDER BY id LIMIT ?");
  if (!s.ok()) return taxhub::Error(s.Error());
  s.Bind(1, static_cast<int64_t>(limit));
  std::vector<DeliveryReport> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(DeliveryReport{s.Int(0), s.Text(1), static_cast<int>(s.Int(2)), s.Int(3), s.Text(4)});
  }
  if (rc != SQLITE_DONE) return taxhub::Error(s.Error());
  return out;
}

Status Outbox::MarkForwarded(int64_t report_id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "UPDATE reports SET forwarded = 1 WHERE id = ?");
  if (!s.ok()) return s.Error();
  s.Bind(1, report_id);
  return s.Step() == SQLITE_DONE ? Status::Ok() : s.Error();
}

}  // namespace taxhub::sms
