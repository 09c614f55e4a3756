// The hub's own services on the frontend: taxhub.submit, taxhub.progress, taxhub.report and
// taxhub.events.

#include "hub/base/digest.h"
#include "hub/base/json_map.h"
#include "hub/events/event_wire.h"
#include "hub/base/log.h"
#include "hub/broker/link.h"
#include "hub/workflow/engine.h"
#include "hub/workflow/validate.h"

namespace taxhub::workflow {
namespace {

using ledger::RequestRecord;
using ledger::RequestState;
using ledger::StageRecord;
using ledger::StageState;

std::string Fingerprint(const wire::SubmitRequest& request) {
  return RequestFingerprint(request.kind, request.taxpayer_id, request.attributes, request.body);
}

std::vector<wire::PlannedStage> Planned(const std::vector<StageRecord>& stages) {
  std::vector<wire::PlannedStage> out;
  for (const StageRecord& s : stages) {
    wire::PlannedStage p;
    p.index = s.index;
    p.name = s.name;
    p.label = s.label;
    p.service_name = s.service;
    p.queue = s.queue;
    p.condition = s.condition;
    p.on_rejection = s.on_rejection;
    p.time_limit_ms = s.time_limit_ms;
    out.push_back(std::move(p));
  }
  return out;
}

// Client-visible problems become an error reply; ledger problems fail the transaction.
template <typename Reply>
Status ReplyOrFail(const Status& status, Reply& reply) {
  if (status.ok()) return status;
  if (status.code() == ErrorCode::kUnavailable || status.code() == ErrorCode::kInternal) {
    return status;
  }
  reply.__set_error(wire::ToWire(status));
  return Status::Ok();
}

}  // namespace

std::string RequestFingerprint(const std::string& kind, const std::string& taxpayer_id,
                               const StringMap& attributes, const std::string& body) {
  return Sha256Hex({kind, taxpayer_id, EncodeJsonMap(attributes), body});
}

Status Engine::HandleCall(ledger::Transaction& txn, Inbound& item, Outbox& out) {
  // CALL: [C][client][service][body], and [peer] after it with CURVE;
  // VCALL: [V][client][service][body][at][signer].
  const bool verified = mdp::View(item[0]) == link::OpFrame(link::Op::kVerifiedCall) && item.size() == 6;
  if (item.size() != 4 && item.size() != 5 && !verified) return Status::Ok();
  const std::string peer = !verified && item.size() == 5 ? mdp::Str(item[4]) : "";
  Verification verification;
  if (verified) {
    verification.verified_at_ms = std::stoll(mdp::Str(item[4]));
    verification.signer = mdp::Str(item[5]);
  }
  const std::string client = mdp::Str(item[1]);
  const std::string service = mdp::Str(item[2]);
  const std::string_view body = mdp::View(item[3]);
  std::string encoded;
  if (service == kSubmitService) {
    wire::SubmitReply reply;
    TAXHUB_RETURN_IF_ERROR(ReplyOrFail(
        Submit(txn, body, verified ? &verification : nullptr, reply, out.effects), reply));
    if (reply.__isset.error) ++out.effects.rejected_input;
    encoded = wire::Encode(reply);
    if (!reply.__isset.error && !reply.duplicate) {
      out.effects.Note([&] { return reply.request_id + " accepted (" +
                                  std::to_string(reply.stages.size()) + " stages)"; });
    }
  } else if (service == kProgressService) {
    wire::ProgressReply reply;
    TAXHUB_RETURN_IF_ERROR(ReplyOrFail(Progress(txn, body, reply), reply));
    encoded = wire::Encode(reply);
  } else if (service == kItemsService) {
    wire::ItemsReply reply;
    TAXHUB_RETURN_IF_ERROR(ReplyOrFail(Items(txn, body, reply), reply));
    encoded = wire::Encode(reply);
  } else if (service == kRateService) {
    wire::RateReply reply;
    TAXHUB_RETURN_IF_ERROR(ReplyOrFail(Rate(txn, body, reply), reply));
    encoded = wire::Encode(reply);
  } else if (service == kComplainService) {
    wire::ComplainReply reply;
    TAXHUB_RETURN_IF_ERROR(ReplyOrFail(Complain(txn, body, reply, out.effects), reply));
    encoded = wire::Encode(reply);
  } else if (service == kEventsService) {
    wire::EventsReply reply;
    TAXHUB_RETURN_IF_ERROR(ReplyOrFail(Events(txn, body, reply), reply));
    encoded = wire::Encode(reply);
  } else if (service == kReportService) {
    wire::TaskReportReply reply;
    TAXHUB_RETURN_IF_ERROR(ReplyOrFail(Report(txn, body, peer, reply, out.effects), reply));
    encoded = wire::Encode(reply);
  } else {
    encoded = wire::EncodeErrorReply(
        Status(ErrorCode::kUnknownService, "no hub service " + service, "service"));
  }
  out.messages.push_back(
      mdp::MakeFrames({link::OpFrame(link::Op::kReply), client, service, encoded}));
  ++out.replies;
  return Status::Ok();
}

Result<int64_t> Engine::RouteVersion(ledger::Transaction& txn, const routing::RouteTable& table,
                                     Effects& effects) {
  if (auto it = route_versions_.find(table.digest()); it != route_versions_.end()) return it->second;
  if (auto it = effects.route_versions.find(table.digest()); it != effects.route_versions.end()) {
    return it->second;
  }
  auto version = txn.RecordRouteTable(
      ledger::RouteTableRecord{0, table.digest(), table.source(), table.text(), clock_.NowMs()});
  if (!version) return version;
  effects.route_versions[table.digest()] = *version;  // cached once committed
  return version;
}

Status Engine::Submit(ledger::Transaction& txn, std::string_view body,
                      const Verification* verification, wire::SubmitReply& reply,
                      Effects& effects) {
  auto decoded = wire::Decode<wire::SubmitRequest>(body, options_.limits);
  if (!decoded) return decoded.error();
  wire::SubmitRequest& request = *decoded;
  TAXHUB_RETURN_IF_ERROR(ValidateSubmit(request));
  if (request.request_id.empty()) request.request_id = NewRequestId();
  const std::string fingerprint = Fingerprint(request);

  // Presumed new (the batch is applied again with lookups if it is not): no lookup.
  const bool presumed = presumed_new_.erase(request.request_id) > 0;
  auto existing = presumed ? Result<std::optional<RequestRecord>>(std::optional<RequestRecord>())
                           : txn.GetRequest(request.request_id);
  if (!existing) return existing.error();
  if (existing->has_value() && (*existing)->state == RequestState::kReturned &&
      (*existing)->fingerprint != fingerprint) {
    return Correct(txn, **existing, request, fingerprint, verification, reply, effects);
  }
  if (existing->has_value()) {
    const RequestRecord& stored = **existing;
    if (stored.fingerprint != fingerprint) {
      return Status(ErrorCode::kConflict,
                    "request id " + request.request_id +
                        " was already used for a different request",
                    "request_id");
    }
    auto stages = txn.GetStages(stored.id);
    if (!stages) return stages.error();
    reply.request_id = stored.id;
    reply.accepted_at_ms = stored.accepted_at_ms;
    reply.stages = Planned(*stages);
    reply.duplicate = true;
    ++effects.duplicates;
    return Status::Ok();
  }

  // A request is planned once, with the table in force now, and keeps that plan for good.
  const std::shared_ptr<const routing::RouteTable> table = routes_.Get();
  auto plan = table->PlanFor(request.kind, request.attributes);
  if (!plan && presumed) {
    // Refused for what it asks — unless it is an earlier request after all (a duplicate, or a
    // correction of a returned one), which only a lookup can tell.
    return Status(ErrorCode::kUnavailable, "request " + request.request_id + " was presumed new; looking it up");
  }
  if (!plan) return plan.error();
  auto version = RouteVersion(txn, *table, effects);
  if (!version) return version.error();

  const int64_t now = clock_.NowMs();
  RequestRecord record;
  record.id = request.request_id;
  record.kind = request.kind;
  record.taxpayer_id = request.taxpayer_id;
  record.attributes = request.attributes;
  record.body = std::move(request.body);
  record.fingerprint = fingerprint;
  record.route = plan->route;
  record.route_version = *version;
  record.state = RequestState::kInProgress;
  record.accepted_at_ms = now;
  record.updated_at_ms = now;
  if (verification && verification->verified_at_ms > 0) {
    // The proof, kept so that it can be checked again years later.
    record.signature = std::move(request.signature);
    record.certificate = std::move(request.certificate);
    record.signer = verification->signer;
    record.verified_at_ms = verification->verified_at_ms;
  }
  TAXHUB_RETURN_IF_ERROR(txn.InsertRequest(record));
  // The fingerprint in the chained event ties the request row's content to the chain.
  TAXHUB_RETURN_IF_ERROR(Record(txn, record.id, -1, "request.accepted", now,
                                record.kind + " from " + record.taxpayer_id + " by route " +
                                    record.route + " v" + std::to_string(record.route_version) +
                                    (record.verified_at_ms ? ", signed" : "") +
                                    "; fingerprint=" + record.fingerprint));

  std::vector<StageRecord> stages;
  for (size_t i = 0; i < plan->stages.size(); ++i) {
    const routing::PlannedStage& planned = plan->stages[i];
    StageRecord stage;
    stage.request_id = record.id;
    stage.index = static_cast<int>(i);
    stage.name = planned.name;
    stage.label = planned.label;
    stage.service = planned.service;
    stage.queue = planned.queue;
    stage.difficulty = planned.difficulty;
    stage.condition = planned.when;
    stage.on_rejection = planned.on_rejection;
    stage.state = StageState::kPending;
    stage.max_attempts = planned.retry.max_attempts;
    stage.initial_backoff_ms = planned.retry.initial_backoff_ms;
    stage.backoff_multiplier = planned.retry.multiplier;
    stage.max_backoff_ms = planned.retry.max_backoff_ms;
    stage.attempt_timeout_ms = planned.retry.attempt_timeout_ms;
    stage.time_limit_ms = planned.time_limit_ms;
    stages.push_back(std::move(stage));
  }
  // Planned and brought up in memory, then each stage inserted once, as it stands.
  const StringMap& attributes = record.attributes;
  const DispatchNow dispatch = [&](std::vector<StageRecord>& all, size_t i) {
    return HandOver(txn, all, i, &record, effects);
  };
  TAXHUB_RETURN_IF_ERROR(Advance(
      txn, stages, 0, [&]() -> Result<StringMap> { return attributes; }, now, effects,
      /*stored=*/false, &dispatch));
  for (const StageRecord& stage : stages) TAXHUB_RETURN_IF_ERROR(txn.InsertStage(stage));

  reply.request_id = record.id;
  reply.accepted_at_ms = now;
  reply.stages = Planned(stages);
  ++effects.accepted;
  return Status::Ok();
}

Status Engine::Correct(ledger::Transaction& txn, RequestRecord stored, wire::SubmitRequest& request,
                       const std::string& fingerprint, const Verification* verification,
                       wire::SubmitReply& reply, Effects& effects) {
  if (stored.kind != request.kind || stored.taxpayer_id != request.taxpayer_id) {
    return Status(ErrorCode::kConflict,
                  "a correction keeps the request's kind and taxpayer; request id " + stored.id +
                      " belongs to a " + stored.kind + " of " + stored.taxpayer_id,
                  "request_id");
  }
  const int64_t now = clock_.NowMs();
  stored.attributes = request.attributes;
  stored.body = std::move(request.body);
  stored.fingerprint = fingerprint;
  stored.signature.clear();
  stored.certificate.clear();
  stored.signer.clear();
  stored.verified_at_ms = 0;
  if (verification && verification->verified_at_ms > 0) {
    stored.signature = std::move(request.signature);
    stored.certificate = std::move(request.certificate);
    stored.signer = verification->signer;
    stored.verified_at_ms = verification->verified_at_ms;
  }
  stored.state = RequestState::kInProgress;
  stored.updated_at_ms = now;
  TAXHUB_RETURN_IF_ERROR(txn.UpdateRequestContent(stored));
  TAXHUB_RETURN_IF_ERROR(Record(txn, stored.id, -1, "request.corrected", now,
                                "corrected by the taxpayer; fingerprint=" + fingerprint));
  auto stages = txn.GetStages(stored.id);
  if (!stages) return stages.error();
  TAXHUB_RETURN_IF_ERROR(ResumeAfterCorrection(txn, *stages, now, effects));
  reply.request_id = stored.id;
  reply.accepted_at_ms = stored.accepted_at_ms;
  reply.stages = Planned(*stages);
  reply.corrected = true;
  return Status::Ok();
}

Status Engine::Progress(ledger::Transaction& txn, std::string_view body,
                        wire::ProgressReply& reply) {
  auto decoded = wire::Decode<wire::ProgressRequest>(body, options_.limits);
  if (!decoded) return decoded.error();
  TAXHUB_RETURN_IF_ERROR(ValidateProgress(*decoded));
  auto found = txn.GetRequest(decoded->request_id);
  if (!found) return found.error();
  // Another taxpayer's request is reported exactly like a missing one.
  if (!found->has_value() || (*found)->taxpayer_id != decoded->taxpayer_id) {
    return Status(ErrorCode::kNotFound, "no request " + decoded->request_id, "request_id");
  }
  const RequestRecord& request = **found;
  auto stages = txn.GetStages(request.id);
  if (!stages) return stages.error();
  const int64_t now = clock_.NowMs();
  reply.request_id = request.id;
  reply.kind = request.kind;
  reply.taxpayer_id = request.taxpayer_id;
  reply.state = static_cast<wire::RequestState::type>(request.state);
  reply.accepted_at_ms = request.accepted_at_ms;
  reply.finished_at_ms = request.finished_at_ms;
  reply.signer = request.signer;
  reply.verified_at_ms = request.verified_at_ms;
  for (const StageRecord& s : *stages) {
    wire::StageProgress p;
    p.index = s.index;
    p.name = s.name;
    p.label = s.label;
    p.service_name = s.service;
    p.queue = s.queue;
    p.state = static_cast<wire::StageState::type>(s.state);
    p.handler = s.handler;
    p.ready_at_ms = s.ready_at_ms;
    p.started_at_ms = s.started_at_ms;
    p.finished_at_ms = s.finished_at_ms;
    p.deadline_ms = s.deadline_ms;
    p.attempts = s.attempt;
    p.code = s.code;
    p.message = s.message;
    p.outputs = s.outputs;
    p.overdue = s.deadline_ms > 0 && (s.finished_at_ms > 0 ? s.finished_at_ms > s.deadline_ms
                                                           : now > s.deadline_ms);
    reply.stages.push_back(std::move(p));
  }
  auto events = txn.GetEvents(request.id);
  if (!events) return events.error();
  for (const ledger::EventRecord& event : *events) {
    if (!event.type.starts_with("report.") || event.stage < 0 ||
        event.stage >= static_cast<int>(reply.stages.size())) {
      continue;
    }
    wire::StageReport report;
    report.type = event.type.substr(7);
    report.at_ms = event.at_ms;
    if (auto details = DecodeJsonMap(event.detail)) report.details = std::move(*details);
    reply.stages[event.stage].reports.push_back(std::move(report));
  }
  return Status::Ok();
}

Status Engine::Events(ledger::Transaction& txn, std::string_view body, wire::EventsReply& reply) {
  auto decoded = wire::Decode<wire::EventsRequest>(body, options_.limits);
  if (!decoded) return decoded.error();
  TAXHUB_RETURN_IF_ERROR(ValidateEvents(*decoded));
  const std::string stream = decoded->stream.empty() ? options_.hub_id : decoded->stream;
  auto scanned = txn.ScanChain(stream, decoded->after_seq, decoded->limit);
  if (!scanned) return scanned.error();
  reply.stream = stream;
  for (const ledger::EventRecord& e : *scanned) reply.events.push_back(events::ToWireEvent(e));
  reply.head_seq = stream == options_.hub_id ? txn.Head().seq
                   : scanned->empty()         ? decoded->after_seq
                                             : scanned->back().chain_seq;
  return Status::Ok();
}

Status Engine::Report(ledger::Transaction& txn, std::string_view body, const std::string& peer,
                      wire::TaskReportReply& reply, Effects& effects) {
  auto decoded = wire::Decode<wire::TaskReport>(body, options_.limits);
  if (!decoded) return decoded.error();
  const wire::TaskReport& report = *decoded;
  TAXHUB_RETURN_IF_ERROR(ValidateReport(report));
  const size_t slash = report.task_id.rfind('/');
  const std::string request_id = report.task_id.substr(0, slash);
  const int index = std::stoi(report.task_id.substr(slash + 1));
  auto stages = txn.GetStages(request_id);
  if (!stages) return stages.error();
  if (index >= static_cast<int>(stages->size()) || (*stages)[index].service.empty()) {
    return Status(ErrorCode::kNotFound, "no adapter task " + report.task_id, "task_id");
  }
  const std::string& service = (*stages)[index].service;
  if (options_.peers) {
    const security::CurvePeer* who = options_.peers->FindByName(peer);
    if (who == nullptr || !security::CurveAllowList::MayServe(*who, service)) {
      return Status(ErrorCode::kForbidden, "key " + peer + " may not report on " + report.task_id + ", a " + service +
                                               " task it was not given",
                    "task_id");
    }
  }
  StringMap details = report.details;
  details["reporter"] = report.reporter;
  if (!peer.empty()) details["key"] = peer;
  if (report.observed_at_ms > 0) details["observed_at_ms"] = std::to_string(report.observed_at_ms);
  const std::string type = "report." + report.type;
  const std::string detail = EncodeJsonMap(details);
  // The same report again (a reporter that resends after a lost reply) is recorded once.
  auto events = txn.GetEvents(request_id);
  if (!events) return events.error();
  for (const ledger::EventRecord& event : *events) {
    if (event.stage == index && event.type == type && event.detail == detail) {
      reply.sequence = event.seq;
      reply.duplicate = true;
      return Status::Ok();
    }
  }
  ledger::EventRecord event;
  event.request_id = request_id;
  event.stage = index;
  event.type = type;
  event.at_ms = clock_.NowMs();
  event.detail = detail;
  auto seq = txn.AppendEvent(event);
  if (!seq) return seq.error();
  reply.sequence = *seq;
  effects.Note([&] { return report.task_id + " " + (*stages)[index].name + " reported " + report.type +
                          " by " + report.reporter; });
  return Status::Ok();
}

}  // namespace taxhub::workflow
