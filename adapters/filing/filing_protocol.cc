#include "adapters/filing/filing_protocol.h"


namespace taxhub::filing {

using legacy::Field;

const legacy::RecordLayout& RequestLayout() {
  static const legacy::RecordLayout layout(
      {Field::Text("msg", 4), Field::Text("serial", 20), Field::Text("taxpayer", 18),
       Field::Text("tax_type", 5), Field::Text("period", 6), Field::Number("sales", 15),
       Field::Number("output_tax", 15), Field::Number("input_tax", 15)});
  return layout;
}

const legacy::RecordLayout& AnswerLayout() {
  static const legacy::RecordLayout layout(
      {Field::Text("result", 4), Field::Text("serial", 20), Field::Text("filing_no", 20),
       Field::Number("tax_due", 15), Field::Text("message", 60)});
  return layout;
}

std::string SerialFor(std::string_view task_id) { return legacy::SerialFor("filing", task_id); }

namespace {
const TaxTypeReturn kReturns[] = {{"10101", "filing.vat", 1}, {"10104", "filing.cit", 3}};
}  // namespace

const TaxTypeReturn* ReturnFor(std::string_view tax_type) {
  for (const TaxTypeReturn& r : kReturns) {
    if (r.tax_type == tax_type) return &r;
  }
  return nullptr;
}

const TaxTypeReturn* ReturnForKind(std::string_view kind) {
  for (const TaxTypeReturn& r : kReturns) {
    if (r.kind == kind) return &r;
  }
  return nullptr;
}

std::string PeriodContaining(const TaxTypeReturn& r, std::string_view month) {
  const std::string normal = AddMonths(month, 0);
  if (normal.empty() || r.months == 1) return normal;
  const int m = std::stoi(normal.substr(5, 2));
  return AddMonths(normal, (r.months - m % r.months) % r.months);
}

}  // namespace taxhub::filing
