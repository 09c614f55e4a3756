#include "hub/workflow/validate.h"

#include "hub/base/text.h"
#include "hub/security/taxpayer_id.h"

namespace taxhub::workflow {
namespace {

Status CheckRequestId(const std::string& id, bool required) {
  if (id.empty()) {
    return required ? Status(ErrorCode::kMissingField, "request_id is required", "request_id")
                    : Status::Ok();
  }
  if (id.size() > kMaxRequestIdLength || !IsTokenText(id, "._:-")) {
    return Status(ErrorCode::kBadRequest,
                  "request_id must be 1-64 characters of A-Z a-z 0-9 . _ : -", "request_id");
  }
  return Status::Ok();
}

Status CheckTaxpayerId(const std::string& id) {
  if (id.empty()) return Status(ErrorCode::kMissingField, "taxpayer_id is required", "taxpayer_id");
  auto kind = security::CheckTaxpayerId(id);
  return kind ? Status::Ok() : kind.error();
}

}  // namespace

Status ValidateSubmit(const wire::SubmitRequest& request) {
  TAXHUB_RETURN_IF_ERROR(CheckRequestId(request.request_id, false));
  if (request.kind.empty()) return Status(ErrorCode::kMissingField, "kind is required", "kind");
  if (request.kind.size() > kMaxKindLength || !IsTokenText(request.kind, "._-")) {
    return Status(ErrorCode::kBadRequest, "kind must be 1-64 characters of a-z 0-9 . _ -", "kind");
  }
  TAXHUB_RETURN_IF_ERROR(CheckTaxpayerId(request.taxpayer_id));
  if (request.attributes.size() > kMaxAttributes) {
    return Status(ErrorCode::kTooLarge,
                  "at most " + std::to_string(kMaxAttributes) + " attributes", "attributes");
  }
  for (const auto& [key, value] : request.attributes) {
    if (key.empty() || key.size() > kMaxAttributeKeyLength || !IsTokenText(key, "._-")) {
      return Status(ErrorCode::kBadRequest,
                    "attribute names are 1-64 characters of a-z 0-9 . _ -", "attributes");
    }
    if (value.size() > kMaxAttributeValueLength || !IsValidUtf8(value)) {
      return Status(ErrorCode::kBadRequest,
                    "attribute values are valid UTF-8 of at most 256 bytes", "attributes." + key);
    }
  }
  if (request.body.empty()) return Status(ErrorCode::kMissingField, "body is required", "body");
  return Status::Ok();
}

Status ValidateProgress(const wire::ProgressRequest& request) {
  TAXHUB_RETURN_IF_ERROR(CheckRequestId(request.request_id, true));
  // A taxpayer sees only their own requests; staff use the admin endpoint.
  return CheckTaxpayerId(request.taxpayer_id);
}

Status ValidateRate(const wire::RateRequest& request) {
  TAXHUB_RETURN_IF_ERROR(CheckRequestId(request.request_id, true));
  TAXHUB_RETURN_IF_ERROR(CheckTaxpayerId(request.taxpayer_id));
  if (request.stage < 0) return Status(ErrorCode::kBadRequest, "stage must be a stage index", "stage");
  if (request.score < 1 || request.score > 5) {
    return Status(ErrorCode::kBadRequest, "score must be 1 to 5", "score");
  }
  if (request.comment.size() > 500 || !IsValidUtf8(request.comment)) {
    return Status(ErrorCode::kBadRequest, "comment must be UTF-8 of at most 500 bytes", "comment");
  }
  return Status::Ok();
}

Status ValidateComplain(const wire::ComplainRequest& request) {
  TAXHUB_RETURN_IF_ERROR(CheckRequestId(request.request_id, true));
  TAXHUB_RETURN_IF_ERROR(CheckTaxpayerId(request.taxpayer_id));
  if (request.stage < -1) {
    return Status(ErrorCode::kBadRequest, "stage must be a stage index, or -1 for the whole request", "stage");
  }
  if (request.text.empty()) return Status(ErrorCode::kMissingField, "text is required", "text");
  if (request.text.size() > 2000 || !IsValidUtf8(request.text)) {
    return Status(ErrorCode::kBadRequest, "text must be UTF-8 of at most 2000 bytes", "text");
  }
  if (Status id = CheckRequestId(request.complaint_id, false); !id.ok()) {
    return Status(id.code(), "complaint_id: " + id.message(), "complaint_id");
  }
  return Status::Ok();
}

Status ValidateItems(const wire::ItemsRequest& request) {
  TAXHUB_RETURN_IF_ERROR(CheckTaxpayerId(request.taxpayer_id));
  if (request.taxpayer_type.size() > 32 || !IsTokenText(request.taxpayer_type, "_-")) {
    return Status(ErrorCode::kBadRequest, "taxpayer_type is at most 32 letters, digits, _ or -", "taxpayer_type");
  }
  if (request.industry.size() > 8 || request.industry.find_first_not_of("0123456789") != std::string::npos) {
    return Status(ErrorCode::kBadRequest, "industry is an industry code of at most 8 digits", "industry");
  }
  return Status::Ok();
}

Status ValidateEvents(const wire::EventsRequest& request) {
  if (request.stream.size() > 64 || (!request.stream.empty() && !IsTokenText(request.stream, "_-"))) {
    return Status(ErrorCode::kBadRequest, "stream is a hub id: 1-64 letters, digits, _ or -", "stream");
  }
  if (request.after_seq < 0) {
    return Status(ErrorCode::kBadRequest, "after_seq must not be negative", "after_seq");
  }
  if (request.limit < 1 || request.limit > 1000) {
    return Status(ErrorCode::kBadRequest, "limit must be between 1 and 1000", "limit");
  }
  return Status::Ok();
}

Status ValidateReport(const wire::TaskReport& report) {
  if (report.task_id.empty()) return Status(ErrorCode::kMissingField, "task_id is required", "task_id");
  const size_t slash = report.task_id.rfind('/');
  if (slash == std::string::npos || slash + 1 == report.task_id.size() ||
      report.task_id.find_first_not_of("0123456789", slash + 1) != std::string::npos ||
      report.task_id.size() - slash > 4) {
    return Status(ErrorCode::kBadRequest, "task_id must be <request id>/<stage index>", "task_id");
  }
  if (Status id = CheckRequestId(report.task_id.substr(0, slash), true); !id.ok()) {
    return Status(id.code(), "task_id: " + id.message(), "task_id");
  }
  if (report.type.empty()) return Status(ErrorCode::kMissingField, "type is required", "type");
  if (report.type.size() > 64 || !IsTokenText(report.type, "._-")) {
    return Status(ErrorCode::kBadRequest, "type must be 1-64 characters of a-z 0-9 . _ -", "type");
  }
  if (report.reporter.empty()) {
    return Status(ErrorCode::kMissingField, "reporter is required", "reporter");
  }
  if (report.reporter.size() > 128 || !IsValidUtf8(report.reporter)) {
    return Status(ErrorCode::kBadRequest, "reporter must be UTF-8 of at most 128 bytes", "reporter");
  }
  if (report.details.size() > 32) return Status(ErrorCode::kTooLarge, "at most 32 details", "details");
  for (const auto& [key, value] : report.details) {
    if (key.empty() || key.size() > 64 || !IsTokenText(key, "._-")) {
      return Status(ErrorCode::kBadRequest, "detail names are 1-64 characters of a-z 0-9 . _ -",
                    "details");
    }
    if (value.size() > 1024 || !IsValidUtf8(value)) {
      return Status(ErrorCode::kBadRequest, "detail values are UTF-8 of at most 1024 bytes",
                    "details." + key);
    }
  }
  if (report.observed_at_ms < 0) {
    return Status(ErrorCode::kBadRequest, "observed_at_ms must not be negative", "observed_at_ms");
  }
  return Status::Ok();
}

Status ValidateResultFor(const wire::StageResult& result, std::string_view task_id,
                         int64_t token) {
  if (result.task_id != task_id) {
    return Status(ErrorCode::kBadRequest,
                  "result names task \"" + Printable(result.task_id) + "\", expected \"" +
                      std::string(task_id) + "\"",
                  "task_id");
  }
  if (result.fencing_token != token) {
    return Status(ErrorCode::kBadRequest,
                  "result carries token " + std::to_string(result.fencing_token) +
                      ", the task was sent with " + std::to_string(token),
                  "fencing_token");
  }
  if (result.outcome < wire::StageOutcome::SUCCEEDED || result.outcome > wire::StageOutcome::UNAVAILABLE) {
    return Status(ErrorCode::kBadRequest, "unknown outcome " + std::to_string(result.outcome),
                  "outcome");
  }
  if (!IsValidUtf8(result.handler) || result.handler.size() > 128) {
    return Status(ErrorCode::kBadRequest, "handler must be UTF-8 of at most 128 bytes", "handler");
  }
  if (!IsValidUtf8(result.code) || result.code.size() > 64) {
    return Status(ErrorCode::kBadRequest, "code must be UTF-8 of at most 64 bytes", "code");
  }
  if (!IsValidUtf8(result.message) || result.message.size() > 2048) {
    return Status(ErrorCode::kBadRequest, "message must be UTF-8 of at most 2048 bytes",
                  "message");
  }
  if (result.outputs.size() > 64) {
    return Status(ErrorCode::kTooLarge, "at most 64 outputs", "outputs");
  }
  for (const auto& [key, value] : result.outputs) {
    if (key.empty() || key.size() > 64 || !IsTokenText(key, "._-")) {
      return Status(ErrorCode::kBadRequest, "output names are 1-64 characters of a-z 0-9 . _ -",
                    "outputs");
    }
    if (value.size() > 4096 || !IsValidUtf8(value)) {
      return Status(ErrorCode::kBadRequest, "output values are UTF-8 of at most 4096 bytes",
                    "outputs." + key);
    }
  }
  return Status::Ok();
}

}  // namespace taxhub::workflow
