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

Status ValidateResultFor(const wire::StageResult& result, std::string_view task_id,
                         int64_t token) {
  if (result.task_id != task_id) {
    return Status(ErrorCode::kBadRequest,
                  "result names task \"" + result.task_id + "\", expected \"" +
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
