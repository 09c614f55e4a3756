// The taxpayer's say on how a request was handled: taxhub.rate (1-5 per finished stage, once)
// and taxhub.complain (a complaint request of its own, linked to the stage and its handler).
// Both are recorded as ledger events on the request complained about or rated, so that staff
// performance (ratings, complaint rate per handler) is read from the ledger.

#include <Poco/JSON/Object.h>

#include <sstream>

#include "hub/base/json_map.h"
#include "hub/workflow/engine.h"
#include "hub/workflow/validate.h"

namespace taxhub::workflow {
namespace {

inline constexpr const char* kComplaintKind = "complaint.service";

// The request, if it exists and is the taxpayer's own (another's is reported as missing).
Result<ledger::RequestRecord> OwnRequest(ledger::Transaction& txn, const std::string& id,
                                         const std::string& taxpayer) {
  auto found = txn.GetRequest(id);
  if (!found) return Error(found.error());
  if (!found->has_value() || (*found)->taxpayer_id != taxpayer) {
    return Error(ErrorCode::kNotFound, "no request " + id, "request_id");
  }
  return **found;
}

}  // namespace

Status Engine::Rate(ledger::Transaction& txn, std::string_view body, wire::RateReply& reply) {
  auto decoded = wire::Decode<wire::RateRequest>(body, options_.limits);
  if (!decoded) return decoded.error();
  const wire::RateRequest& rate = *decoded;
  TAXHUB_RETURN_IF_ERROR(ValidateRate(rate));
  auto request = OwnRequest(txn, rate.request_id, rate.taxpayer_id);
  if (!request) return request.error();
  auto stages = txn.GetStages(rate.request_id);
  if (!stages) return stages.error();
  if (rate.stage >= static_cast<int>(stages->size())) {
    return Status(ErrorCode::kBadRequest, "the request has no stage " + std::to_string(rate.stage), "stage");
  }
  const ledger::StageRecord& stage = (*stages)[rate.stage];
  if (stage.state != ledger::StageState::kDone) {
    return Status(ErrorCode::kBadRequest,
                  "only a finished stage can be rated; " + stage.name + " is " +
                      std::string(ledger::ToString(stage.state)),
                  "stage");
  }
  auto events = txn.GetEvents(rate.request_id);
  if (!events) return events.error();
  for (const ledger::EventRecord& e : *events) {
    if (e.type == "stage.rated" && e.stage == rate.stage) {
      return Status(ErrorCode::kConflict, "stage " + stage.name + " has already been rated", "stage");
    }
  }
  const int64_t now = clock_.NowMs();
  TAXHUB_RETURN_IF_ERROR(Record(txn, rate.request_id, rate.stage, "stage.rated", now,
                                EncodeJsonMap({{"score", std::to_string(rate.score)},
                                               {"comment", rate.comment},
                                               {"handler", stage.handler}})));
  reply.handler = stage.handler;
  reply.rated_at_ms = now;
  return Status::Ok();
}

Status Engine::Complain(ledger::Transaction& txn, std::string_view body, wire::ComplainReply& reply,
                        Effects& effects) {
  auto decoded = wire::Decode<wire::ComplainRequest>(body, options_.limits);
  if (!decoded) return decoded.error();
  const wire::ComplainRequest& complaint = *decoded;
  TAXHUB_RETURN_IF_ERROR(ValidateComplain(complaint));
  auto request = OwnRequest(txn, complaint.request_id, complaint.taxpayer_id);
  if (!request) return request.error();
  std::string handler, stage_name;
  if (complaint.stage >= 0) {
    auto stages = txn.GetStages(complaint.request_id);
    if (!stages) return stages.error();
    if (complaint.stage >= static_cast<int>(stages->size())) {
      return Status(ErrorCode::kBadRequest, "the request has no stage " + std::to_string(complaint.stage), "stage");
    }
    handler = (*stages)[complaint.stage].handler;
    stage_name = (*stages)[complaint.stage].name;
  }
  // The complaint is a request of its own, on the complaint workflow of the route table.
  wire::SubmitRequest submit;
  submit.request_id = complaint.complaint_id;
  submit.kind = kComplaintKind;
  submit.taxpayer_id = complaint.taxpayer_id;
  submit.attributes = {{"about_request", complaint.request_id},
                       {"about_stage", std::to_string(complaint.stage)}};
  if (!handler.empty()) submit.attributes["handler"] = handler;
  Poco::JSON::Object text;
  text.set("about_request", complaint.request_id);
  text.set("about_stage", complaint.stage);
  text.set("stage_name", stage_name);
  text.set("handler", handler);
  text.set("text", complaint.text);
  std::ostringstream json;
  text.stringify(json);
  submit.body = json.str();
  wire::SubmitReply submitted;
  TAXHUB_RETURN_IF_ERROR(Submit(txn, wire::Encode(submit), nullptr, submitted, effects));
  if (submitted.__isset.error) return wire::FromWire(submitted.error);
  reply.complaint_id = submitted.request_id;
  reply.handler = handler;
  reply.duplicate = submitted.duplicate;
  if (!submitted.duplicate) {
    TAXHUB_RETURN_IF_ERROR(Record(txn, complaint.request_id, complaint.stage,
                                  complaint.stage >= 0 ? "stage.complained" : "request.complained",
                                  clock_.NowMs(),
                                  EncodeJsonMap({{"complaint_id", submitted.request_id}, {"handler", handler}})));
    effects.Note([&] { return complaint.request_id + " complained about" +
                            (handler.empty() ? "" : " (handler " + handler + ")") + ": " + submitted.request_id; });
  }
  return Status::Ok();
}

}  // namespace taxhub::workflow
