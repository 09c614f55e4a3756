// Checks on what the hall sends, before anything touches the ledger. Each failure names the
// offending field.
#ifndef TAXHUB_HUB_WORKFLOW_VALIDATE_H_
#define TAXHUB_HUB_WORKFLOW_VALIDATE_H_

#include <cstdint>
#include <string_view>

#include "gen-cpp/taxhub_types.h"
#include "hub/base/status.h"

namespace taxhub::workflow {

inline constexpr size_t kMaxRequestIdLength = 64;
inline constexpr size_t kMaxKindLength = 64;
inline constexpr size_t kMaxAttributes = 32;
inline constexpr size_t kMaxAttributeKeyLength = 64;
inline constexpr size_t kMaxAttributeValueLength = 256;

Status ValidateSubmit(const wire::SubmitRequest& request);
Status ValidateProgress(const wire::ProgressRequest& request);
// The taxpayer's rating of a stage (taxhub.rate) and complaint (taxhub.complain).
Status ValidateRate(const wire::RateRequest& request);
Status ValidateComplain(const wire::ComplainRequest& request);
Status ValidateItems(const wire::ItemsRequest& request);
// A replay request (taxhub.events).
Status ValidateEvents(const wire::EventsRequest& request);
// A report about a task from an adapter (taxhub.report).
Status ValidateReport(const wire::TaskReport& report);
// A stage result from an adapter, against the task and delivery it answers.
Status ValidateResultFor(const wire::StageResult& result, std::string_view task_id,
                         int64_t token);

}  // namespace taxhub::workflow

#endif  // TAXHUB_HUB_WORKFLOW_VALIDATE_H_
