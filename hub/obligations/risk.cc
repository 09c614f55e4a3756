#include "hub/obligations/risk.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace taxhub::obligations {
namespace {

std::string Amount(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, value == std::floor(value) ? "%.0f" : "%.2f", value);
  return buffer;
}

}  // namespace

std::optional<double> ParseFigure(const std::string& text) {
  if (text.empty() || text.find_first_not_of("-0123456789.") != std::string::npos) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<Finding> CheckFigures(const RiskRule& rule, const std::vector<MonthFigure>& figures) {
  if (figures.empty()) return std::nullopt;
  const MonthFigure& now = figures.front();
  Finding finding = {{"period", FormatMonth(now.month)}, {"value", Amount(now.value)},
                     {"months", std::to_string(rule.months)}};
  if (rule.type == RiskRule::Type::kZeroRun) {
    // The last `months` months, each reported and zero, with no month missing between them.
    if (static_cast<int>(figures.size()) < rule.months) return std::nullopt;
    for (int i = 0; i < rule.months; ++i) {
      if (figures[i].month != now.month - std::chrono::months(i) || figures[i].value != 0) return std::nullopt;
    }
    finding["from"] = FormatMonth(now.month - std::chrono::months(rule.months - 1));
    return finding;
  }
  if (rule.type == RiskRule::Type::kAboveHistory) {
    double sum = 0;
    int history = 0;
    for (size_t i = 1; i < figures.size(); ++i) {
      if (figures[i].month < now.month - std::chrono::months(rule.months)) break;
      sum += figures[i].value;
      ++history;
    }
    if (history == 0 || history < rule.min_history || now.value < rule.min_value) return std::nullopt;
    const double mean = sum / history;
    if (now.value <= rule.factor * mean) return std::nullopt;
    finding["mean"] = Amount(mean);
    finding["history"] = std::to_string(history);
    return finding;
  }
  return std::nullopt;
}

std::optional<Finding> CheckRejections(const RiskRule& rule, int64_t rejected, Month month) {
  if (rule.type != RiskRule::Type::kRejections || rejected < rule.count) return std::nullopt;
  return Finding{{"period", FormatMonth(month)}, {"count", std::to_string(rejected)},
                 {"days", std::to_string(rule.days)}};
}

}  // namespace taxhub::obligations
