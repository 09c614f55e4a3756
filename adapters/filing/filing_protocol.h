// The core tax system's filing interface (金税三期 style, *inferred* layout kept in one place):
// length-framed fixed-width GBK records over TCP, one request and one answer per connection.
//
//   request  F001 file a return | C001 IC-card copy report (sent by the invoice system) |
//            T001 tax type recognition (税种认定) at registration: from `period` on, the
//            taxpayer files returns of `tax_type` | T002 deregistration (注销): no return of any
//            tax type is accepted from the taxpayer afterwards
//            msg 4 | serial 20 | taxpayer 18 | tax_type 5 | period 6 (YYYYMM) |
//            sales 15 | output_tax 15 | input_tax 15            (amounts in fen)
//   answer   result 4 | serial 20 | filing_no 20 | tax_due 15 (fen) | message 60 (GBK)
//
// Results: 0000 accepted; E101 period already filed; E102 taxpayer not registered for the tax
// type; E103 the month's copy report is missing; E199 malformed request. The serial is derived
// from the stage task id, so a redelivered task is the same filing to the legacy system.
#ifndef TAXHUB_ADAPTERS_FILING_FILING_PROTOCOL_H_
#define TAXHUB_ADAPTERS_FILING_FILING_PROTOCOL_H_

#include <string>
#include <string_view>

#include "adapters/legacy/fixed_width.h"
#include "adapters/legacy/values.h"

namespace taxhub::filing {

const legacy::RecordLayout& RequestLayout();
const legacy::RecordLayout& AnswerLayout();

inline constexpr std::string_view kFile = "F001";
inline constexpr std::string_view kCopyReport = "C001";
inline constexpr std::string_view kRecognise = "T001";
inline constexpr std::string_view kDeregister = "T002";
inline constexpr std::string_view kAccepted = "0000";

// The returns the hub knows of a tax type: the request kind that files them and how many months
// a period spans (VAT monthly, corporate income tax prepaid quarterly). A period is named by
// its last month.
struct TaxTypeReturn {
  std::string_view tax_type;
  std::string_view kind;
  int months;
};
const TaxTypeReturn* ReturnFor(std::string_view tax_type);
const TaxTypeReturn* ReturnForKind(std::string_view kind);

// The period of `r` that contains `month` (YYYY-MM): quarters end in March, June, September and
// December.
std::string PeriodContaining(const TaxTypeReturn& r, std::string_view month);

// The legacy serial for a stage task (see legacy::SerialFor).
std::string SerialFor(std::string_view task_id);

using legacy::AddMonths;
using legacy::FromFen;
using legacy::ToFen;

}  // namespace taxhub::filing

#endif  // TAXHUB_ADAPTERS_FILING_FILING_PROTOCOL_H_
