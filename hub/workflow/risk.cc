// Risk alerts (see obligations/risk.h): a stage that reports a figure a rule watches records it
// for the request's taxpayer and period, and the rule looks at the taxpayer's figures; a
// rejected request lets the rejection rules count the taxpayer's refusals. An alert's id is
// "<taxpayer>/<rule>/<period>", inserted in the transaction that records its alert.raised
// event, so it is raised once whatever replays or how many hubs share the ledger.

#include "hub/base/json_map.h"
#include "hub/base/log.h"
#include "hub/base/text.h"
#include "hub/workflow/engine.h"

namespace taxhub::workflow {
namespace {

constexpr const char* kLog = "risk";

// The key (Transaction::LockKey) under which a taxpayer's figures and rejections are read and
// written, one transaction after another.
std::string RiskLock(const std::string& taxpayer_id) { return "risk:" + taxpayer_id; }

}  // namespace

Status Engine::RecordFigures(ledger::Transaction& txn, const ledger::RequestRecord& r, const StringMap& outputs) {
  const int64_t now = clock_.NowMs();
  const std::string lock = RiskLock(r.taxpayer_id);
  for (const obligations::RiskRule& rule : options_.risk_rules) {
    if (rule.kind != r.kind) continue;
    auto reported = outputs.find(rule.output);
    if (reported == outputs.end()) continue;
    const std::string period_text = PeriodOf(r);
    auto period = obligations::ParseMonth(period_text, "period");
    auto value = obligations::ParseFigure(reported->second);
    if (!period || !value) {
      // Kept in the request's history so that a rule that cannot see a figure is noticed.
      const std::string why = !period ? "the request has no period month (\"" + period_text + "\")"
                                      : "output " + rule.output + " is not a number: \"" + reported->second + "\"";
      TAXHUB_RETURN_IF_ERROR(Record(txn, r.id, -1, "figure.refused", now, rule.name + ": " + why));
      continue;
    }
    // Another hub may be recording a figure of this taxpayer right now: one after the other, so
    // that each sees the other's month.
    TAXHUB_RETURN_IF_ERROR(txn.LockKey(lock));
    TAXHUB_RETURN_IF_ERROR(
        txn.PutFigure({r.taxpayer_id, rule.figure(), obligations::FormatMonth(*period), reported->second, r.id, now}));
    auto stored = txn.FiguresOf(r.taxpayer_id, rule.figure(), obligations::FormatMonth(*period), rule.months_needed());
    if (!stored) return stored.error();
    std::vector<obligations::MonthFigure> figures;
    for (const ledger::FigureRecord& f : *stored) {
      auto month = obligations::ParseMonth(f.period);
      auto number = obligations::ParseFigure(f.value);
      if (month && number) figures.push_back({*month, *number});
    }
    if (auto finding = obligations::CheckFigures(rule, figures)) {
      TAXHUB_RETURN_IF_ERROR(RaiseAlert(txn, rule, r, *finding));
    }
  }
  return Status::Ok();
}

Status Engine::CheckRejections(ledger::Transaction& txn, const ledger::RequestRecord& r) {
  const int64_t now = clock_.NowMs();
  const obligations::Date today = obligations::ChinaDate(now);
  const obligations::Month this_month = today.year() / today.month();
  const std::string lock = RiskLock(r.taxpayer_id);
  for (const obligations::RiskRule& rule : options_.risk_rules) {
    if (rule.type != obligations::RiskRule::Type::kRejections) continue;
    TAXHUB_RETURN_IF_ERROR(txn.LockKey(lock));
    auto rejected = txn.CountRequests(r.taxpayer_id, ledger::RequestState::kRejected,
                                      now - int64_t{rule.days} * 86'400'000);
    if (!rejected) return rejected.error();
    if (auto finding = obligations::CheckRejections(rule, *rejected, this_month)) {
      TAXHUB_RETURN_IF_ERROR(RaiseAlert(txn, rule, r, *finding));
    }
  }
  return Status::Ok();
}

Status Engine::RaiseAlert(ledger::Transaction& txn, const obligations::RiskRule& rule,
                          const ledger::RequestRecord& r, const obligations::Finding& finding) {
  ledger::AlertRecord alert;
  alert.taxpayer_id = r.taxpayer_id;
  alert.rule = rule.name;
  alert.period = finding.at("period");
  alert.id = r.taxpayer_id + "/" + rule.name + "/" + alert.period;
  // The config's text was checked against the rule's placeholders when it was loaded.
  auto text = RenderTemplate(rule.text, finding);
  alert.text = text ? *text : rule.title;
  alert.detail = EncodeJsonMap(finding);
  alert.raised_at_ms = clock_.NowMs();
  auto raised = txn.RaiseAlert(alert);
  if (!raised) return raised.error();
  if (!*raised) return Status::Ok();  // raised before, by this hub or another
  StringMap detail = finding;
  detail["taxpayer_id"] = r.taxpayer_id;
  detail["rule"] = rule.name;
  detail["title"] = rule.title;
  detail["text"] = alert.text;
  detail["from_request"] = r.id;
  if (auto mobile = r.attributes.find("mobile"); mobile != r.attributes.end()) detail["mobile"] = mobile->second;
  TAXHUB_LOG(kInfo, kLog) << alert.id << " raised";
  return Record(txn, alert.id, -1, "alert.raised", alert.raised_at_ms, EncodeJsonMap(detail));
}

}  // namespace taxhub::workflow
