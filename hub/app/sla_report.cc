#include "hub/app/sla_report.h"

#include "hub/obligations/calendar.h"

#include <algorithm>
#include <tuple>

namespace taxhub::app {
namespace {

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

Result<SlaReport> BuildSlaReport(ledger::Ledger& ledger, int64_t from_ms, int64_t to_ms, int64_t now_ms) {
  auto txn = ledger.Begin();
  if (!txn) return Error(txn.error());
  SlaReport report;
  // (route, stage index, office) -> the row and its handling times
  std::map<std::tuple<std::string, int, std::string>, std::pair<StageSla, std::vector<double>>> rows;
  ledger::RequestQuery q;
  q.accepted_from_ms = from_ms;
  q.accepted_to_ms = to_ms;
  q.limit = 500;
  while (true) {
    auto page = (*txn)->SearchRequests(q);
    if (!page) return Error(page.error());
    for (const ledger::RequestRecord& r : *page) {
      ++report.requests;
      if (r.state == ledger::RequestState::kCompleted && r.finished_at_ms > 0) {
        ++report.completed_by_day[obligations::FormatDate(obligations::ChinaDate(r.finished_at_ms))];
      }
      auto office = r.attributes.find("tax_office");
      const std::string office_code = office == r.attributes.end() ? "" : office->second;
      auto stages = (*txn)->GetStages(r.id);
      if (!stages) return Error(stages.error());
      for (const ledger::StageRecord& s : *stages) {
        if (s.deadline_ms == 0) continue;  // never came up (pending, or skipped before)
        auto& [row, times] = rows[{r.route, s.index, office_code}];
        row.route = r.route;
        row.stage = s.name;
        row.label = s.label;
        row.office = office_code;
        if (s.running()) {
          ++row.open;
          if (now_ms > s.deadline_ms) ++row.open_overdue;
        } else if (s.finished_at_ms > 0) {
          ++row.finished;
          if (s.finished_at_ms > s.deadline_ms) ++row.finished_late;
          times.push_back(static_cast<double>(s.finished_at_ms - (s.deadline_ms - s.time_limit_ms)));
        }
      }
    }
    if (static_cast<int>(page->size()) < q.limit) break;
    q.before_accepted_ms = page->back().accepted_at_ms;
    q.before_id = page->back().id;
  }
  for (auto& [key, entry] : rows) {
    auto& [row, times] = entry;
    std::sort(times.begin(), times.end());
    row.p50_ms = Percentile(times, 0.5);
    row.p90_ms = Percentile(times, 0.9);
    report.stages.push_back(std::move(row));
  }
  return report;
}

}  // namespace taxhub::app
