#include "adapters/filing/filing_handler.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <vector>

#include "adapters/filing/filing_protocol.h"
#include "adapters/legacy/framing.h"
#include "adapters/sdk/obligations.h"
#include "hub/obligations/calendar.h"

namespace taxhub::filing {
namespace {

wire::StageResult Result(wire::StageOutcome::type outcome, std::string code, std::string message) {
  return sdk::MakeResult(outcome, "core-filing", std::move(code), std::move(message));
}

// The month the hall accepted the request, China time: "2026-11".
std::string AcceptedMonth(const wire::StageTask& task) {
  const obligations::Date day = obligations::ChinaDate(task.accepted_at_ms);
  return obligations::FormatMonth(day.year() / day.month());
}

// A message to the core system that carries no return figures (tax type recognition,
// deregistration) for `month` ("2026-11").
StringMap ControlRecord(std::string_view msg, std::string serial, const std::string& taxpayer,
                        const std::string& tax_type, const std::string& month) {
  return {{"msg", std::string(msg)},  {"serial", std::move(serial)},
          {"taxpayer", taxpayer},     {"tax_type", tax_type},
          {"period", month.substr(0, 4) + month.substr(5, 2)},
          {"sales", "0"},             {"output_tax", "0"},
          {"input_tax", "0"}};
}

}  // namespace

wire::StageResult FilingHandler::Handle(const wire::StageTask& task) {
  if (task.kind == "registration.new") return Register(task);
  if (task.kind == "registration.cancel") return Deregister(task);
  return File(task);
}

std::optional<StringMap> FilingHandler::Send(const StringMap& record, wire::StageResult& failed) {
  auto request = RequestLayout().Encode(record);
  if (!request) {
    failed = Result(wire::StageOutcome::REJECTED, "BAD_RETURN", request.error().ToString());
    return std::nullopt;
  }
  auto bytes = legacy::Exchange(options_, *request, 4096);
  if (!bytes) {
    // Never delivered: nothing happened there (UNAVAILABLE spends no attempt). Delivered but
    // unanswered: it may have acted, so a normal retry under the same serial.
    failed = bytes.error().field() == "connect"
                 ? Result(wire::StageOutcome::UNAVAILABLE, "LEGACY_DOWN", bytes.error().message())
                 : Result(wire::StageOutcome::RETRY, "LEGACY_TIMEOUT", bytes.error().message());
    return std::nullopt;
  }
  auto answer = AnswerLayout().Decode(*bytes);
  if (!answer) {
    failed = Result(wire::StageOutcome::RETRY, "BAD_RECORD", answer.error().ToString());
    return std::nullopt;
  }
  if ((*answer)["serial"] != record.at("serial")) {
    failed = Result(wire::StageOutcome::RETRY, "BAD_RECORD", "the answer is for another serial");
    return std::nullopt;
  }
  if ((*answer)["result"] != kAccepted) {
    failed = Result(wire::StageOutcome::REJECTED, (*answer)["result"], (*answer)["message"]);
    return std::nullopt;
  }
  return std::move(*answer);
}

wire::StageResult FilingHandler::File(const wire::StageTask& task) {
  // The return itself, as the hall submitted it (JSON with amounts in yuan).
  StringMap values;
  try {
    Poco::JSON::Parser parser;
    auto body = parser.parse(task.payload).extract<Poco::JSON::Object::Ptr>();
    for (const char* key : {"tax_type", "period", "sales", "output_tax", "input_tax"}) {
      values[key] = body->has(key) ? body->getValue<std::string>(key) : "";
    }
  } catch (const std::exception& e) {
    return Result(wire::StageOutcome::REJECTED, "BAD_RETURN", std::string("the return is not JSON: ") + e.what());
  }
  std::string period = values["period"];
  period.erase(std::remove(period.begin(), period.end(), '-'), period.end());
  const TaxTypeReturn* kind_return = ReturnForKind(task.kind);
  StringMap record = {{"msg", std::string(kFile)},
                      {"serial", SerialFor(task.task_id)},
                      {"taxpayer", task.taxpayer_id},
                      {"tax_type", !values["tax_type"].empty() ? values["tax_type"]
                                   : kind_return != nullptr     ? std::string(kind_return->tax_type)
                                                                : "10101"},
                      {"period", period}};
  for (const char* amount : {"sales", "output_tax", "input_tax"}) {
    auto fen = ToFen(values[amount].empty() ? "0" : values[amount]);
    if (!fen) return Result(wire::StageOutcome::REJECTED, "BAD_RETURN", std::string(amount) + " is not an amount");
    record[amount] = std::to_string(*fen);
  }
  if (period.size() != 6) return Result(wire::StageOutcome::REJECTED, "BAD_RETURN", "period must be YYYY-MM");
  wire::StageResult failed;
  auto answer = Send(record, failed);
  if (!answer) return failed;
  wire::StageResult ok = Result(wire::StageOutcome::SUCCEEDED, "0000", (*answer)["message"]);
  auto due = std::stoll((*answer)["tax_due"]);
  ok.outputs["tax_due"] = FromFen(due);
  ok.outputs["filing_no"] = (*answer)["filing_no"];
  // What was declared, for risk rules (a return with no sales is a zero return, 零申报).
  ok.outputs["sales"] = FromFen(std::stoll(record["sales"]));
  // This period's return is filed (whatever becomes of the payment), and the next one is owed.
  if (const TaxTypeReturn* r = ReturnFor(record["tax_type"])) {
    const std::string filed = PeriodContaining(*r, period);
    ok.outputs["obligations_met"] = sdk::ObligationsJson({{std::string(r->kind), filed}});
    ok.outputs["obligations"] = sdk::ObligationsJson({{std::string(r->kind), AddMonths(filed, r->months)}});
  }
  return ok;
}

wire::StageResult FilingHandler::Register(const wire::StageTask& task) {
  std::vector<std::string> tax_types;
  std::string start;
  try {
    Poco::JSON::Parser parser;
    auto body = parser.parse(task.payload).extract<Poco::JSON::Object::Ptr>();
    if (body->has("tax_types") && !body->isArray("tax_types")) {
      return Result(wire::StageOutcome::REJECTED, "BAD_REGISTRATION", "tax_types must be a list of levy codes");
    }
    if (auto list = body->getArray("tax_types")) {
      for (size_t i = 0; i < list->size(); ++i) tax_types.push_back(list->getElement<std::string>(static_cast<unsigned>(i)));
    }
    if (body->has("start")) start = body->getValue<std::string>("start");
  } catch (const std::exception& e) {
    return Result(wire::StageOutcome::REJECTED, "BAD_REGISTRATION", std::string("the registration is not JSON: ") + e.what());
  }
  if (tax_types.empty()) tax_types = {"10101"};
  if (start.empty()) start = AcceptedMonth(task);
  const std::string first_month = AddMonths(start, 0);  // "YYYY-MM", checked
  if (first_month.empty()) {
    return Result(wire::StageOutcome::REJECTED, "BAD_REGISTRATION", "start must be YYYY-MM");
  }
  std::vector<sdk::Owed> due;
  std::string recognised;
  for (size_t i = 0; i < tax_types.size(); ++i) {
    const std::string& tax_type = tax_types[i];
    if (tax_type.size() != 5 || tax_type.find_first_not_of("0123456789") != std::string::npos) {
      return Result(wire::StageOutcome::REJECTED, "BAD_REGISTRATION",
                    "tax_types[" + std::to_string(i) + "] is not a 5-digit levy code");
    }
    wire::StageResult failed;
    auto answer = Send(ControlRecord(kRecognise, SerialFor(task.task_id + "/" + tax_type), task.taxpayer_id,
                                     tax_type, first_month),
                       failed);
    if (!answer) return failed;
    recognised += (recognised.empty() ? "" : ",") + tax_type;
    if (const TaxTypeReturn* r = ReturnFor(tax_type)) due.push_back({std::string(r->kind), PeriodContaining(*r, start)});
  }
  wire::StageResult ok = Result(wire::StageOutcome::SUCCEEDED, "0000", "税种认定成功");
  ok.outputs["tax_types"] = recognised;
  ok.outputs["obligations"] = sdk::ObligationsJson(due);
  return ok;
}

wire::StageResult FilingHandler::Deregister(const wire::StageTask& task) {
  std::string month = AcceptedMonth(task);
  wire::StageResult failed;
  auto answer = Send(ControlRecord(kDeregister, SerialFor(task.task_id), task.taxpayer_id, "00000", month), failed);
  if (!answer) return failed;
  wire::StageResult ok = Result(wire::StageOutcome::SUCCEEDED, "0000", (*answer)["message"]);
  ok.outputs["deregistration_no"] = (*answer)["filing_no"];
  // The invoices the taxpayer still holds must be cancelled (发票缴销).
  ok.outputs["obligations"] = sdk::ObligationsJson({{"invoice.cancel", month}});
  return ok;
}

}  // namespace taxhub::filing
