#include "hub/obligations/risk.h"

#include <gtest/gtest.h>

namespace taxhub::obligations {
namespace {

using std::chrono::month;
using std::chrono::year;

Month M(int y, unsigned m) { return year(y) / month(m); }

RiskRule Rule(RiskRule::Type type) {
  RiskRule r;
  r.name = "rule";
  r.type = type;
  r.kind = "filing.vat";
  r.output = "tax_due";
  return r;
}

TEST(RiskRules, ZeroRunNeedsEveryMonthOfTheRunReportedAndZero) {
  RiskRule rule = Rule(RiskRule::Type::kZeroRun);
  auto found = CheckFigures(rule, {{M(2026, 10), 0}, {M(2026, 9), 0}, {M(2026, 8), 0}});
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->at("period"), "2026-10");
  EXPECT_EQ(found->at("from"), "2026-08");
  EXPECT_EQ(found->at("months"), "3");
  // Across a year end.
  EXPECT_TRUE(CheckFigures(rule, {{M(2027, 1), 0}, {M(2026, 12), 0}, {M(2026, 11), 0}}).has_value());

  EXPECT_FALSE(CheckFigures(rule, {{M(2026, 10), 0}, {M(2026, 9), 0}}).has_value()) << "two months only";
  EXPECT_FALSE(CheckFigures(rule, {{M(2026, 10), 0}, {M(2026, 9), 0.01}, {M(2026, 8), 0}}).has_value());
  EXPECT_FALSE(CheckFigures(rule, {{M(2026, 10), 0}, {M(2026, 9), 0}, {M(2026, 7), 0}}).has_value())
      << "August was not reported: not a run";
  EXPECT_FALSE(CheckFigures(rule, {{M(2026, 10), 5}, {M(2026, 9), 0}, {M(2026, 8), 0}}).has_value());
  EXPECT_FALSE(CheckFigures(rule, {}).has_value());
}

TEST(RiskRules, AboveHistoryComparesWithTheMeanOfTheMonthsBefore) {
  RiskRule rule = Rule(RiskRule::Type::kAboveHistory);
  rule.months = 6;
  rule.min_history = 3;
  rule.factor = 3;
  rule.min_value = 50;
  std::vector<MonthFigure> history = {{M(2026, 9), 20}, {M(2026, 8), 30}, {M(2026, 7), 25}};
  auto with = [&](double now) {
    std::vector<MonthFigure> all = {{M(2026, 10), now}};
    all.insert(all.end(), history.begin(), history.end());
    return all;
  };
  auto found = CheckFigures(rule, with(76));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->at("mean"), "25");
  EXPECT_EQ(found->at("value"), "76");
  EXPECT_EQ(found->at("history"), "3");
  EXPECT_FALSE(CheckFigures(rule, with(75)).has_value()) << "3 × 25 is not above 3 × 25";
  history.pop_back();
  EXPECT_FALSE(CheckFigures(rule, with(500)).has_value()) << "two months of history are too few";
  history.push_back({M(2026, 3), 1});
  EXPECT_FALSE(CheckFigures(rule, with(500)).has_value()) << "March is older than six months before October";
  history = {{M(2026, 9), 1}, {M(2026, 8), 1}, {M(2026, 7), 1}};
  EXPECT_FALSE(CheckFigures(rule, with(40)).has_value()) << "below min_value";
  EXPECT_TRUE(CheckFigures(rule, with(50)).has_value());
}

TEST(RiskRules, RejectionsCountAgainstTheRulesThreshold) {
  RiskRule rule = Rule(RiskRule::Type::kRejections);
  rule.count = 3;
  rule.days = 30;
  EXPECT_FALSE(CheckRejections(rule, 2, M(2026, 11)).has_value());
  auto found = CheckRejections(rule, 3, M(2026, 11));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->at("period"), "2026-11");
  EXPECT_EQ(found->at("count"), "3");
  EXPECT_EQ(found->at("days"), "30");
  EXPECT_FALSE(CheckRejections(Rule(RiskRule::Type::kZeroRun), 9, M(2026, 11)).has_value());
}

TEST(RiskRules, FiguresArePlainDecimals) {
  EXPECT_EQ(ParseFigure("1300.00"), 1300.0);
  EXPECT_EQ(ParseFigure("0.00"), 0.0);
  EXPECT_EQ(ParseFigure("-12.5"), -12.5);
  EXPECT_EQ(ParseFigure("7"), 7.0);
  EXPECT_FALSE(ParseFigure("").has_value());
  EXPECT_FALSE(ParseFigure("1e9").has_value());
  EXPECT_FALSE(ParseFigure("12 yuan").has_value());
  EXPECT_FALSE(ParseFigure("1.2.3").has_value());
  EXPECT_FALSE(ParseFigure("nan").has_value());
}

}  // namespace
}  // namespace taxhub::obligations
