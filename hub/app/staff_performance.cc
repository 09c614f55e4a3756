#include "hub/app/staff_performance.h"

#include <map>

#include "hub/base/json_map.h"

namespace taxhub::app {

Result<std::vector<StaffPerformance>> StaffPerformanceReport(ledger::Ledger& ledger, int64_t from_ms,
                                                             int64_t to_ms) {
  struct Totals {
    StaffPerformance p;
    int64_t handling_ms = 0;
    int64_t rating_sum = 0;
  };
  std::map<std::string, Totals> staff;
  auto in_period = [&](int64_t at) { return at >= from_ms && at < to_ms; };
  auto txn = ledger.Begin();
  if (!txn) return Error(txn.error());
  Status walked = ledger::ForEachRequest(**txn, [&](const ledger::RequestRecord& request) -> Status {
    auto stages = (*txn)->GetStages(request.id);
    if (!stages) return stages.error();
    for (const ledger::StageRecord& s : *stages) {
      if (s.queue.empty() || s.handler.empty() || !in_period(s.finished_at_ms)) continue;
      if (s.state != ledger::StageState::kDone && s.state != ledger::StageState::kRejected) continue;
      Totals& t = staff[s.handler];
      ++t.p.tasks;
      t.p.workload += s.difficulty;
      t.handling_ms += s.finished_at_ms - s.ready_at_ms;
      if (s.deadline_ms > 0 && s.finished_at_ms > s.deadline_ms) ++t.p.overdue;
      if (s.state == ledger::StageState::kRejected) ++t.p.rejected;
    }
    auto events = (*txn)->GetEvents(request.id);
    if (!events) return events.error();
    for (const ledger::EventRecord& e : *events) {
      if (!in_period(e.at_ms)) continue;
      const bool returned = e.type == "request.returned";
      if (!returned && e.type != "stage.rated" && e.type != "stage.complained") continue;
      auto detail = DecodeJsonMap(e.detail);
      if (!detail) continue;  // an event written before it carried JSON
      const std::string who = (*detail)[returned ? "staff" : "handler"];
      if (who.empty()) continue;
      Totals& t = staff[who];
      if (returned) {
        ++t.p.returned;
      } else if (e.type == "stage.complained") {
        ++t.p.complaints;
      } else {
        ++t.p.ratings;
        t.rating_sum += std::atoi((*detail)["score"].c_str());
      }
    }
    return Status::Ok();
  });
  if (!walked.ok()) return Error(walked);
  std::vector<StaffPerformance> out;
  for (auto& [name, t] : staff) {
    StaffPerformance p = t.p;
    p.staff = name;
    if (p.tasks > 0) {
      p.average_handling_ms = static_cast<double>(t.handling_ms) / static_cast<double>(p.tasks);
      p.complaint_rate = static_cast<double>(p.complaints) / static_cast<double>(p.tasks);
    }
    if (p.tasks + p.returned > 0) {
      p.return_rate = static_cast<double>(p.returned) / static_cast<double>(p.tasks + p.returned);
    }
    if (p.ratings > 0) p.average_rating = static_cast<double>(t.rating_sum) / static_cast<double>(p.ratings);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace taxhub::app
