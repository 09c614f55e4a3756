// The invoice system's interface (增值税发票系统, *inferred* layout kept in one place): a batch
// of VAT special invoices in one length-framed GBK message — a head record and one fixed-width
// record per invoice. Two messages:
//   A001 authentication (认证): the invoices a taxpayer received, answered per invoice;
//   A002 IC-card copy report (抄报税): the invoices a taxpayer issued in the month, which the
//        invoice system passes on to the core tax system (where filing requires it); answered
//        by the head alone.
//
//   request  head  msg 4 (A001|A002) | serial 20 | taxpayer 18 | period 6 | count 4
//            item  code 12 | number 8 | date 8 (YYYYMMDD) | amount 15 | tax 15 (fen) |
//                  seller 18 | buyer 18
//   answer   head  result 4 | serial 20 | count 4 | message 60
//            item  code 12 | number 8 | status 2 | message 40
//
// Per invoice: 01 authenticated 认证相符, 02 already authenticated 重复认证, 03 not found 无此票,
// 04 mismatch 认证不符 (amount, tax, date, seller or buyer differ from the issued invoice).
// Batch results: 0000 processed; I199 malformed batch; I503 (A002) the core tax system could not
// be reached, nothing recorded; other codes are the core system's refusal. The serial is derived
// from the stage task id; a repeated serial gets the first answer again (a retry authenticates
// or reports nothing twice).
#ifndef TAXHUB_ADAPTERS_INVOICE_INVOICE_PROTOCOL_H_
#define TAXHUB_ADAPTERS_INVOICE_INVOICE_PROTOCOL_H_

#include <string>
#include <string_view>

#include "adapters/legacy/fixed_width.h"
#include "adapters/legacy/values.h"

namespace taxhub::invoice {

const legacy::RecordLayout& RequestHead();
const legacy::RecordLayout& RequestItem();
const legacy::RecordLayout& AnswerHead();
const legacy::RecordLayout& AnswerItem();

inline constexpr std::string_view kAuthenticate = "A001";
inline constexpr std::string_view kCopyReport = "A002";
inline constexpr std::string_view kCoreUnavailable = "I503";
inline constexpr std::string_view kProcessed = "0000";
inline constexpr size_t kMaxBatch = 500;

inline constexpr std::string_view kAuthenticated = "01";
inline constexpr std::string_view kAlreadyAuthenticated = "02";
inline constexpr std::string_view kNotFound = "03";
inline constexpr std::string_view kMismatch = "04";

// "authenticated", "already_authenticated", "not_found", "mismatch"; "unknown" otherwise.
std::string_view StatusName(std::string_view status);

inline std::string SerialFor(std::string_view task_id) { return legacy::SerialFor("invoice", task_id); }

}  // namespace taxhub::invoice

#endif  // TAXHUB_ADAPTERS_INVOICE_INVOICE_PROTOCOL_H_
