// Obligations and their reminders (see EngineOptions). An obligation's id is
// "<taxpayer>/<kind>/<period>", so the adapter that reports it again, or the hub that replays a
// stage, adds nothing twice; a reminder is claimed in the ledger in the same transaction that
// records its event, so it goes out once across restarts and across hubs.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>

#include "hub/base/json_map.h"
#include "hub/base/log.h"
#include "hub/workflow/engine.h"
#include "hub/workflow/validate.h"

namespace taxhub::workflow {
namespace {

constexpr const char* kLog = "reminders";

std::string PlusDays(obligations::Date date, int n) {
  return obligations::FormatDate(obligations::Date(std::chrono::sys_days(date) + std::chrono::days(n)));
}

std::string ObligationId(const std::string& taxpayer, const std::string& kind, const std::string& period) {
  return taxpayer + "/" + kind + "/" + period;
}

}  // namespace

std::string NormalPeriod(const std::string& period) {
  if (period.size() == 6 && period.find_first_not_of("0123456789") == std::string::npos) {
    return period.substr(0, 4) + "-" + period.substr(4);
  }
  return period;
}

std::string PeriodOf(const ledger::RequestRecord& request) {
  if (auto it = request.attributes.find("period"); it != request.attributes.end()) return it->second;
  try {
    Poco::JSON::Parser parser;
    auto body = parser.parse(request.body).extract<Poco::JSON::Object::Ptr>();
    if (body->has("period")) return body->getValue<std::string>("period");
  } catch (const std::exception&) {
  }
  return "";
}

Status Engine::TakeObligations(ledger::Transaction& txn, const ledger::RequestRecord& r, const StringMap& outputs) {
  const std::string& request_id = r.id;
  const int64_t now = clock_.NowMs();
  std::vector<std::string> problems;
  // `obligations`: owed from now on; `obligations_met`: done by this stage (a return accepted
  // by the core system is filed, whatever later stages make of the request).
  for (const char* output : {"obligations", "obligations_met"}) {
    auto text = outputs.find(output);
    if (text == outputs.end()) continue;
    const bool meet = std::string_view(output) == "obligations_met";
    try {
      Poco::JSON::Parser parser;
      auto list = parser.parse(text->second).extract<Poco::JSON::Array::Ptr>();
      for (size_t i = 0; i < list->size(); ++i) {
        auto item = list->getObject(static_cast<unsigned>(i));
        const std::string at = std::string(output) + "[" + std::to_string(i) + "]";
        if (!item || !item->has("kind") || !item->has("period")) {
          problems.push_back(at + ": needs kind and period");
          continue;
        }
        ledger::ObligationRecord o;
        o.taxpayer_id = r.taxpayer_id;
        o.kind = item->getValue<std::string>("kind");
        o.period = NormalPeriod(item->getValue<std::string>("period"));
        o.id = ObligationId(o.taxpayer_id, o.kind, o.period);
        if (meet) {
          auto met = txn.MeetObligation(o, now, /*keep_if_absent=*/true);
          if (!met) return met.error();
          if (*met) TAXHUB_RETURN_IF_ERROR(Record(txn, o.id, -1, "obligation.met", now, "by " + request_id));
          continue;
        }
        if (item->has("due_date")) {
          auto due = obligations::ParseDate(item->getValue<std::string>("due_date"));
          if (!due) {
            problems.push_back(at + ".due_date: " + due.error().message());
            continue;
          }
          o.due_date = obligations::FormatDate(*due);
        } else {
          // A monthly return for a period is due by the filing deadline of the month after it.
          auto period = obligations::ParseMonth(o.period);
          if (!period || !options_.calendar) {
            problems.push_back(at + ": no due_date, and the period is not a month of the tax calendar");
            continue;
          }
          o.due_date = obligations::FormatDate(options_.calendar->FilingDeadline(*period + std::chrono::months(1)));
        }
        if (auto mobile = r.attributes.find("mobile"); mobile != r.attributes.end()) {
          o.attributes["mobile"] = mobile->second;
        }
        o.created_at_ms = now;
        auto added = txn.AddObligation(o);
        if (!added) return added.error();
        if (*added) {
          TAXHUB_RETURN_IF_ERROR(Record(txn, o.id, -1, "obligation.added", now,
                                        EncodeJsonMap({{"taxpayer_id", o.taxpayer_id}, {"kind", o.kind},
                                                       {"period", o.period}, {"due_date", o.due_date},
                                                       {"from_request", request_id}})));
        }
      }
    } catch (const std::exception& e) {
      problems.push_back(std::string(output) + ": not a JSON list of objects: " + e.what());
    }
  }
  for (const std::string& problem : problems) {
    TAXHUB_RETURN_IF_ERROR(Record(txn, request_id, -1, "obligation.refused", now, problem));
  }
  return Status::Ok();
}

Status Engine::MeetObligations(ledger::Transaction& txn, const ledger::RequestRecord& r) {
  const std::string period = NormalPeriod(PeriodOf(r));
  if (period.empty()) return Status::Ok();
  ledger::ObligationRecord o;
  o.id = ObligationId(r.taxpayer_id, r.kind, period);
  o.taxpayer_id = r.taxpayer_id;
  o.kind = r.kind;
  o.period = period;
  // Only what is owed: a request of a kind nobody owes leaves no row behind.
  auto met = txn.MeetObligation(o, clock_.NowMs(), /*keep_if_absent=*/false);
  if (!met) return met.error();
  if (*met) TAXHUB_RETURN_IF_ERROR(Record(txn, o.id, -1, "obligation.met", clock_.NowMs(), "by " + r.id));
  return Status::Ok();
}

Status Engine::Items(ledger::Transaction& txn, std::string_view body, wire::ItemsReply& reply) {
  auto decoded = wire::Decode<wire::ItemsRequest>(body, options_.limits);
  if (!decoded) return decoded.error();
  TAXHUB_RETURN_IF_ERROR(ValidateItems(*decoded));
  const int64_t now = clock_.NowMs();
  const std::string today = obligations::FormatDate(obligations::ChinaDate(now));
  auto owed = txn.ObligationsOf(decoded->taxpayer_id);
  if (!owed) return owed.error();
  std::vector<wire::Item> reminders;
  for (const ledger::ObligationRecord& o : *owed) {
    if (o.met) continue;
    wire::Item item;
    item.type = "obligation";
    item.title = o.kind + " " + o.period;
    item.due_date = o.due_date;
    item.state = o.due_date < today ? "overdue" : "open";
    item.at_ms = o.created_at_ms;
    item.ref = o.id;
    reply.items.push_back(item);
    for (auto [at, state] : {std::pair{o.due_reminded_at_ms, "due"}, std::pair{o.overdue_reminded_at_ms, "overdue"}}) {
      if (at == 0) continue;
      wire::Item reminder = item;
      reminder.type = "reminder";
      reminder.state = state;
      reminder.at_ms = at;
      reminders.push_back(std::move(reminder));
    }
  }
  reply.items.insert(reply.items.end(), reminders.begin(), reminders.end());
  auto alerts = txn.AlertsOf(decoded->taxpayer_id, 50);
  if (!alerts) return alerts.error();
  for (const ledger::AlertRecord& a : *alerts) {
    wire::Item item;
    item.type = "alert";
    item.title = a.rule;
    for (const obligations::RiskRule& rule : options_.risk_rules) {
      if (rule.name == a.rule && !rule.title.empty()) item.title = rule.title;
    }
    item.text = a.text;
    item.state = a.period;
    item.at_ms = a.raised_at_ms;
    item.ref = a.id;
    reply.items.push_back(std::move(item));
  }
  for (const PolicyNotice& n : options_.notices) {
    if (now < n.from_ms || (n.until_ms > 0 && now >= n.until_ms)) continue;
    if (!n.taxpayer_types.empty() && !n.taxpayer_types.contains(decoded->taxpayer_type)) continue;
    if (!n.industries.empty() &&
        std::none_of(n.industries.begin(), n.industries.end(),
                     [&](const std::string& prefix) { return decoded->industry.starts_with(prefix); })) {
      continue;
    }
    wire::Item item;
    item.type = "notice";
    item.title = n.title;
    item.text = n.text;
    item.at_ms = n.from_ms;
    item.ref = n.name;
    reply.items.push_back(std::move(item));
  }
  return Status::Ok();
}

void Engine::SendReminders() {
  const int64_t now = clock_.NowMs();
  const obligations::Date today = obligations::ChinaDate(now);
  auto txn = ledger_.Begin();  // Tick() has settled the commit behind
  if (!txn) return;
  int sent = 0;
  auto remind = [&](ledger::Reminder which, const std::string& from, const std::string& to) -> Status {
    auto due = (*txn)->ObligationsToRemind(which, from, to, 500);
    if (!due) return due.error();
    for (const ledger::ObligationRecord& o : *due) {
      auto claimed = (*txn)->MarkReminded(o.id, which, now);
      if (!claimed) return claimed.error();
      if (!*claimed) continue;  // another hub sent it
      StringMap detail = {{"taxpayer_id", o.taxpayer_id}, {"kind", o.kind}, {"period", o.period},
                          {"due_date", o.due_date}};
      if (auto mobile = o.attributes.find("mobile"); mobile != o.attributes.end()) detail["mobile"] = mobile->second;
      TAXHUB_RETURN_IF_ERROR(Record(**txn, o.id, -1,
                                    which == ledger::Reminder::kDue ? "reminder.due" : "reminder.overdue", now,
                                    EncodeJsonMap(detail)));
      ++sent;
    }
    return Status::Ok();
  };
  Status status = remind(ledger::Reminder::kDue, obligations::FormatDate(today),
                         PlusDays(today, options_.reminder_days_before));
  if (status.ok()) status = remind(ledger::Reminder::kOverdue, "0000-01-01", PlusDays(today, -1));
  if (!status.ok()) {
    TAXHUB_LOG(kWarn, kLog) << "reminders: " << status.ToString();
    return;
  }
  if (sent == 0) return;
  if (Status committed = (*txn)->Commit(); !committed.ok()) {
    TAXHUB_LOG(kWarn, kLog) << "reminders not recorded: " << committed.ToString();
    return;
  }
  TAXHUB_LOG(kInfo, kLog) << sent << " reminders recorded";
}

}  // namespace taxhub::workflow
