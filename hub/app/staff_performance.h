// Staff performance over a period, read from the ledger (for the admin endpoint's managers):
// per member of hall staff, the staff-queue stages they finished, their workload (the sum of
// those stages' difficulty coefficients, the 难度系数 of routes.yaml), handling time, overdue
// count, returns and rejections, and what taxpayers said — complaints and ratings naming them.
//
// Counted in [from_ms, to_ms): stages by their finish time, returns, ratings and complaints by
// their event time. It reads every request (a full scan): meant for a read-only ledger
// connection and periodic reports, not for every page view.
#ifndef TAXHUB_HUB_APP_STAFF_PERFORMANCE_H_
#define TAXHUB_HUB_APP_STAFF_PERFORMANCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "hub/base/status.h"
#include "hub/ledger/ledger.h"

namespace taxhub::app {

struct StaffPerformance {
  std::string staff;
  int64_t tasks = 0;                 // staff stages finished: approved or rejected
  double workload = 0;               // the sum of their difficulty coefficients
  double average_handling_ms = 0;    // from ready in the queue to finished
  int64_t overdue = 0;               // finished past their time limit
  int64_t rejected = 0;              // applications refused
  int64_t returned = 0;              // applications sent back for correction
  double return_rate = 0;            // returned / (tasks + returned)
  int64_t complaints = 0;
  double complaint_rate = 0;         // complaints / tasks (0 without tasks)
  int64_t ratings = 0;
  double average_rating = 0;         // 1..5; 0 without ratings
};

// Ordered by staff name.
Result<std::vector<StaffPerformance>> StaffPerformanceReport(ledger::Ledger& ledger, int64_t from_ms,
                                                             int64_t to_ms);

}  // namespace taxhub::app

#endif  // TAXHUB_HUB_APP_STAFF_PERFORMANCE_H_
