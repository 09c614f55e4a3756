// The tax calendar (办税日历): which days are workdays, and when a month's returns are due.
// Pure logic, from the calendar section of the hub config (the year's statutory holidays and the
// weekend days worked in exchange, as the State Council publishes them each year).
//
// The monthly filing deadline (申报期限) is the 15th. A run of three or more consecutive days
// off that holds a statutory holiday and falls within the 1st to the 15th extends it by the
// number of days in the run (在期限内有连续3日以上法定休假日的，按休假日天数顺延); a deadline on
// a day off moves to the next workday. The tax authority publishes the resulting calendar; a
// published deadline in the config (deadlines: {2026-10: 2026-10-26}) overrides the rule.
#ifndef TAXHUB_HUB_OBLIGATIONS_CALENDAR_H_
#define TAXHUB_HUB_OBLIGATIONS_CALENDAR_H_

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "hub/base/status.h"

namespace taxhub::obligations {

using Date = std::chrono::year_month_day;
using Month = std::chrono::year_month;

// "2026-10-08"; the error names `field`.
Result<Date> ParseDate(std::string_view text, const std::string& field = "date");
// "2026-10"
Result<Month> ParseMonth(std::string_view text, const std::string& field = "month");
std::string FormatDate(Date date);
std::string FormatMonth(Month month);
// The day (China time, UTC+8: the calendar deadlines are kept in) that `unix_ms` falls on.
Date ChinaDate(int64_t unix_ms);

class WorkCalendar {
 public:
  WorkCalendar() = default;
  // `holidays`: statutory days off; `workdays`: weekend days worked in exchange (调休上班);
  // `deadlines`: published filing deadlines that override the rule.
  WorkCalendar(std::set<std::chrono::sys_days> holidays, std::set<std::chrono::sys_days> workdays,
               std::map<Month, Date> deadlines = {});

  bool IsHoliday(Date day) const;
  // Monday to Friday unless a statutory holiday; a weekend day only when worked in exchange.
  bool IsWorkday(Date day) const;
  Date NextWorkday(Date day) const;  // `day` itself when it is one
  // The last day to file the returns due in `month` (see above).
  Date FilingDeadline(Month month) const;

 private:
  std::set<std::chrono::sys_days> holidays_;
  std::set<std::chrono::sys_days> workdays_;
  std::map<Month, Date> deadlines_;
};

}  // namespace taxhub::obligations

#endif  // TAXHUB_HUB_OBLIGATIONS_CALENDAR_H_
