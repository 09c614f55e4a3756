#include "hub/obligations/calendar.h"

#include <charconv>
#include <cstdio>

namespace taxhub::obligations {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

bool Digits(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<Date> ParseDate(std::string_view text, const std::string& field) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !Digits(text.substr(0, 4), y) ||
      !Digits(text.substr(5, 2), m) || !Digits(text.substr(8, 2), d)) {
    return Error(ErrorCode::kBadRequest, "expected a date such as 2026-10-08, got \"" + std::string(text) + "\"",
                 field);
  }
  Date date{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
            std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok()) return Error(ErrorCode::kBadRequest, "no such day: " + std::string(text), field);
  return date;
}

Result<Month> ParseMonth(std::string_view text, const std::string& field) {
  int y = 0, m = 0;
  if (text.size() != 7 || text[4] != '-' || !Digits(text.substr(0, 4), y) || !Digits(text.substr(5, 2), m) ||
      m < 1 || m > 12) {
    return Error(ErrorCode::kBadRequest, "expected a month such as 2026-10, got \"" + std::string(text) + "\"",
                 field);
  }
  return Month{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m))};
}

std::string FormatDate(Date date) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

Date ChinaDate(int64_t unix_ms) {
  using namespace std::chrono;
  return Date(floor<days>(sys_time<milliseconds>(milliseconds(unix_ms)) + hours(8)));
}

std::string FormatMonth(Month month) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u", static_cast<int>(month.year()), static_cast<unsigned>(month.month()));
  return text;
}

WorkCalendar::WorkCalendar(std::set<sys_days> holidays, std::set<sys_days> workdays, std::map<Month, Date> deadlines)
    : holidays_(std::move(holidays)), workdays_(std::move(workdays)), deadlines_(std::move(deadlines)) {}

bool WorkCalendar::IsHoliday(Date day) const { return holidays_.contains(sys_days(day)); }

bool WorkCalendar::IsWorkday(Date day) const {
  const sys_days d(day);
  if (holidays_.contains(d)) return false;
  if (workdays_.contains(d)) return true;
  const std::chrono::weekday w(d);
  return w != std::chrono::Saturday && w != std::chrono::Sunday;
}

Date WorkCalendar::NextWorkday(Date day) const {
  sys_days d(day);
  for (int i = 0; i < 366 && !IsWorkday(Date(d)); ++i) d += days(1);
  return Date(d);
}

Date WorkCalendar::FilingDeadline(Month month) const {
  if (auto published = deadlines_.find(month); published != deadlines_.end()) return published->second;
  const sys_days first(month / std::chrono::day(1));
  const sys_days fifteenth(month / std::chrono::day(15));
  int extension = 0;
  // Runs of days off within the 1st..15th (a run may have begun in the month before).
  sys_days d = first;
  while (d <= fifteenth) {
    if (IsWorkday(Date(d))) {
      d += days(1);
      continue;
    }
    sys_days start = d;
    while (!IsWorkday(Date(start - days(1)))) start -= days(1);
    sys_days end = d;
    while (!IsWorkday(Date(end + days(1)))) end += days(1);
    bool statutory = false;
    int in_period = 0;
    for (sys_days x = start; x <= end; x += days(1)) {
      statutory = statutory || holidays_.contains(x);
      if (x >= first && x <= fifteenth) ++in_period;
    }
    const int length = static_cast<int>((end - start).count()) + 1;
    if (statutory && length >= 3) extension += in_period;
    d = end + days(1);
  }
  return NextWorkday(Date(fifteenth + days(extension)));
}

}  // namespace taxhub::obligations
