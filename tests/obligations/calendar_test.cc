// The tax calendar: workdays with holidays and make-up days, and the monthly filing deadline.

#include "hub/obligations/calendar.h"

#include <gtest/gtest.h>

namespace taxhub::obligations {
namespace {

std::chrono::sys_days D(const char* text) { return std::chrono::sys_days(*ParseDate(text)); }

std::set<std::chrono::sys_days> Days(std::initializer_list<const char*> list) {
  std::set<std::chrono::sys_days> out;
  for (const char* d : list) out.insert(D(d));
  return out;
}

// A year's table as the config would hold it (illustrative dates).
WorkCalendar Calendar2026(std::map<Month, Date> published = {}) {
  return WorkCalendar(Days({"2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",
                            "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05",
                            "2026-10-06", "2026-10-07", "2026-10-08", "2026-12-15"}),
                      Days({"2026-04-26", "2026-05-09", "2026-09-27", "2026-10-10"}), std::move(published));
}

std::string Deadline(const WorkCalendar& c, const char* month) { return FormatDate(c.FilingDeadline(*ParseMonth(month))); }

TEST(WorkCalendar, WorkdaysHolidaysAndMakeUpDays) {
  const WorkCalendar c = Calendar2026();
  EXPECT_TRUE(c.IsWorkday(*ParseDate("2026-07-15")));    // a Wednesday
  EXPECT_FALSE(c.IsWorkday(*ParseDate("2026-08-15")));   // a Saturday
  EXPECT_FALSE(c.IsWorkday(*ParseDate("2026-10-05")));   // a holiday on a Monday
  EXPECT_TRUE(c.IsWorkday(*ParseDate("2026-10-10")));    // a Saturday worked in exchange
  EXPECT_TRUE(c.IsHoliday(*ParseDate("2026-10-01")));
  EXPECT_EQ(FormatDate(c.NextWorkday(*ParseDate("2026-10-01"))), "2026-10-09");
}

TEST(WorkCalendar, TheFilingDeadlineIsTheFifteenthMovedPastDaysOffAndLongHolidays) {
  const WorkCalendar c = Calendar2026();
  EXPECT_EQ(Deadline(c, "2026-07"), "2026-07-15") << "an ordinary month";
  EXPECT_EQ(Deadline(c, "2026-08"), "2026-08-17") << "the 15th is a Saturday: the Monday after";
  EXPECT_EQ(Deadline(c, "2026-05"), "2026-05-20") << "five days of May Day holiday: 15 + 5";
  EXPECT_EQ(Deadline(c, "2026-10"), "2026-10-23") << "eight days of National Day: 15 + 8";
  EXPECT_EQ(Deadline(c, "2026-12"), "2026-12-16") << "a one-day holiday on the 15th itself: the next workday";
  EXPECT_EQ(Deadline(c, "2026-11"), "2026-11-16") << "an ordinary weekend on the 15th extends nothing";
  const WorkCalendar published = Calendar2026({{*ParseMonth("2026-10"), *ParseDate("2026-10-26")}});
  EXPECT_EQ(Deadline(published, "2026-10"), "2026-10-26") << "the authority's published calendar wins";
}

TEST(WorkCalendar, DatesAreParsedStrictly) {
  EXPECT_FALSE(ParseDate("2026-13-01").has_value());
  EXPECT_FALSE(ParseDate("2026-02-30").has_value());
  EXPECT_FALSE(ParseDate("2026-2-3").has_value());
  auto bad = ParseDate("tomorrow", "calendar.holidays[3]");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().field(), "calendar.holidays[3]");
  EXPECT_FALSE(ParseMonth("2026-00").has_value());
  EXPECT_EQ(FormatMonth(*ParseMonth("2026-09")), "2026-09");
}

}  // namespace
}  // namespace taxhub::obligations
