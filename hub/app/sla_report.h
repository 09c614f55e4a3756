// SLA report for managers (the admin endpoint's /api/v1/reports/sla): for the requests accepted
// in a period, each stage by route and tax office — finished, finished past its time limit
// (办结时限), still open, open and overdue, and the handling time from ready to finished — and
// the requests completed per day (China time). Read from the ledger, a page of requests at a
// time; its cost grows with the requests in the period.
#ifndef TAXHUB_HUB_APP_SLA_REPORT_H_
#define TAXHUB_HUB_APP_SLA_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hub/base/status.h"
#include "hub/ledger/ledger.h"

namespace taxhub::app {

struct StageSla {
  std::string route;
  std::string stage;
  std::string label;
  std::string office;          // the request's tax_office attribute; "" without one
  int64_t finished = 0;
  int64_t finished_late = 0;
  int64_t open = 0;            // waiting or under way
  int64_t open_overdue = 0;
  double p50_ms = 0;           // handling time, ready to finished, of those finished
  double p90_ms = 0;
};

struct SlaReport {
  int64_t requests = 0;
  std::vector<StageSla> stages;                    // by route, stage order, office
  std::map<std::string, int64_t> completed_by_day;  // "2026-11-30" -> requests completed
};

Result<SlaReport> BuildSlaReport(ledger::Ledger& ledger, int64_t from_ms, int64_t to_ms, int64_t now_ms);

}  // namespace taxhub::app

#endif  // TAXHUB_HUB_APP_SLA_REPORT_H_
