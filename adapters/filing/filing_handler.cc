#include "adapters/filing/filing_handler.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>

#include "adapters/filing/filing_protocol.h"
#include "adapters/legacy/framing.h"

namespace taxhub::filing {
namespace {

wire::StageResult Result(wire::StageOutcome::type outcome, std::string code, std::string message) {
  return sdk::MakeResult(outcome, "core-filing", std::move(code), std::move(message));
}

}  // namespace

wire::StageResult FilingHandler::Handle(const wire::StageTask& task) {
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
  StringMap record = {{"msg", std::string(kFile)},
                      {"serial", SerialFor(task.task_id)},
                      {"taxpayer", task.taxpayer_id},
                      {"tax_type", values["tax_type"].empty() ? "10101" : values["tax_type"]},
                      {"period", period}};
  for (const char* amount : {"sales", "output_tax", "input_tax"}) {
    auto fen = ToFen(values[amount].empty() ? "0" : values[amount]);
    if (!fen) return Result(wire::StageOutcome::REJECTED, "BAD_RETURN", std::string(amount) + " is not an amount");
    record[amount] = std::to_string(*fen);
  }
  if (period.size() != 6) return Result(wire::StageOutcome::REJECTED, "BAD_RETURN", "period must be YYYY-MM");
  auto request = RequestLayout().Encode(record);
  if (!request) return Result(wire::StageOutcome::REJECTED, "BAD_RETURN", request.error().ToString());

  auto bytes = legacy::Exchange(options_, *request, 4096);
  if (!bytes) {
    // Never delivered: nothing happened there (UNAVAILABLE spends no attempt). Delivered but
    // unanswered: it may have acted, so a normal retry under the same serial.
    if (bytes.error().field() == "connect") {
      return Result(wire::StageOutcome::UNAVAILABLE, "LEGACY_DOWN", bytes.error().message());
    }
    return Result(wire::StageOutcome::RETRY, "LEGACY_TIMEOUT", bytes.error().message());
  }
  auto answer = AnswerLayout().Decode(*bytes);
  if (!answer) return Result(wire::StageOutcome::RETRY, "BAD_RECORD", answer.error().ToString());
  if ((*answer)["serial"] != record["serial"]) {
    return Result(wire::StageOutcome::RETRY, "BAD_RECORD", "the answer is for another serial");
  }
  if ((*answer)["result"] != kAccepted) {
    return Result(wire::StageOutcome::REJECTED, (*answer)["result"], (*answer)["message"]);
  }
  wire::StageResult ok = Result(wire::StageOutcome::SUCCEEDED, "0000", (*answer)["message"]);
  auto due = std::stoll((*answer)["tax_due"]);
  ok.outputs["tax_due"] = FromFen(due);
  ok.outputs["filing_no"] = (*answer)["filing_no"];
  return ok;
}

}  // namespace taxhub::filing
