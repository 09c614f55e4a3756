// The SMS adapter's own journal, in a SQLite file: one row per message (keyed by the task id,
// which is stable across attempts) saying how far it got, and the delivery reports Kannel sent
// back until they have been passed on to the hub. It is what keeps a retry from sending the
// same SMS twice, across restarts of the adapter.
#ifndef TAXHUB_ADAPTERS_SMS_OUTBOX_H_
#define TAXHUB_ADAPTERS_SMS_OUTBOX_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hub/base/status.h"

struct sqlite3;

namespace taxhub::sms {

// Stored as numbers in the outbox file: do not renumber.
enum class MessageState {
  kSending = 0,      // written just before the request to smsbox: outcome not known yet
  kNotSent = 1,     // smsbox certainly did not take it; sending again is safe
  kUnconfirmed = 2,  // sent without an answer (or the adapter died mid-send); maybe queued
  kAccepted = 3,    // smsbox queued it
};
std::string_view ToString(MessageState state);

struct Message {
  std::string task_id;
  std::string to;
  std::string text;
  MessageState state = MessageState::kSending;
  int sends = 0;                 // requests made to smsbox for it
  int64_t updated_at_ms = 0;
  int64_t accepted_at_ms = 0;    // smsbox's 202, or the first delivery report
  int last_report = 0;           // last Kannel report type (8 SMSC accepted, 1 delivered …)
};

struct DeliveryReport {
  int64_t id = 0;
  std::string task_id;
  int type = 0;                  // Kannel's %d
  int64_t at_ms = 0;             // Kannel's %T
  std::string reply;             // the SMSC's words (%A)
};

class Outbox {
 public:
  static Result<std::unique_ptr<Outbox>> Open(const std::string& path);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  Result<std::optional<Message>> Find(const std::string& task_id);
  // Records the state of a message (insert or update), with `now_ms` as its update time.
  Status Save(const Message& message, int64_t now_ms);
  // Kannel's delivery report: stored to be passed on, and proof that the message went out.
  Status AddReport(const DeliveryReport& report, int64_t now_ms);
  // Reports not yet passed on to the hub, oldest first.
  Result<std::vector<DeliveryReport>> PendingReports(int limit);
  Status MarkForwarded(int64_t report_id);

 private:
  explicit Outbox(sqlite3* db) : db_(db) {}
  Status Exec(const std::string& sql);

  std::mutex mutex_;
  sqlite3* db_;
};

}  // namespace taxhub::sms

#endif  // TAXHUB_ADAPTERS_SMS_OUTBOX_H_
