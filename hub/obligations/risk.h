// Risk rules: when a taxpayer's own record in the ledger calls for an alert to the taxpayer.
//
//   zero_run       the figure (a stage output of requests of `kind`, one per month) was zero for
//                  the last `months` months running — e.g. zero VAT returns three months running
//   above_history  this month's figure is above `factor` × the mean of the `months` months
//                  before it (at least `min_history` of them reported) and at least `min_value`
//                  — e.g. invoices far above the taxpayer's history
//   rejections     `count` of the taxpayer's requests accepted in the last `days` days were
//                  rejected
//
// These are pure functions of what the engine reads from the ledger (hub/workflow/risk.cc);
// an alert is raised once per taxpayer, rule and period (a month).
#ifndef TAXHUB_HUB_OBLIGATIONS_RISK_H_
#define TAXHUB_HUB_OBLIGATIONS_RISK_H_

#include <optional>
#include <string>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/obligations/calendar.h"

namespace taxhub::obligations {

struct RiskRule {
  enum class Type { kZeroRun, kAboveHistory, kRejections };
  std::string name;   // "zero_filings": names the alert
  Type type = Type::kZeroRun;
  std::string title;  // for "my tax area"
  // What the taxpayer is told, with {placeholders} from the finding: period, value, mean,
  // months, count, days.
  std::string text;
  std::string kind;    // zero_run, above_history: the request kind whose stage reports the figure
  std::string output;  // … and the stage output that holds it
  int months = 3;
  int min_history = 3;
  double factor = 3.0;
  double min_value = 0;
  int count = 3;
  int days = 30;

  // The figure's name in the ledger: "<kind>.<output>".
  std::string figure() const { return kind + "." + output; }
  // How many months of figures, newest first, the rule needs to decide.
  int months_needed() const { return type == Type::kAboveHistory ? months + 1 : months; }
};

struct MonthFigure {
  Month month;
  double value = 0;
};

// What a rule found: the facts for its text and its alert's detail (always "period").
using Finding = StringMap;

// `figures`: the taxpayer's figures for the rule, newest first; the first is the month just
// reported. nullopt: nothing to alert.
std::optional<Finding> CheckFigures(const RiskRule& rule, const std::vector<MonthFigure>& figures);
// `rejected`: the taxpayer's rejected requests in the rule's window; `month`: now.
std::optional<Finding> CheckRejections(const RiskRule& rule, int64_t rejected, Month month);

// "1300.00" -> 1300; nullopt for anything that is not a plain decimal number.
std::optional<double> ParseFigure(const std::string& text);

}  // namespace taxhub::obligations

#endif  // TAXHUB_HUB_OBLIGATIONS_RISK_H_
