#include "adapters/invoice/invoice_handler.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "adapters/invoice/invoice_protocol.h"
#include "adapters/sdk/obligations.h"
#include "adapters/legacy/framing.h"

namespace taxhub::invoice {
namespace {

wire::StageResult Result(wire::StageOutcome::type outcome, std::string code, std::string message) {
  return sdk::MakeResult(outcome, "invoice-auth", std::move(code), std::move(message));
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The hall's batch as legacy records, or the offending field and why.
struct Problem {
  std::string field, message;
};

// An authentication batch lists the invoices the taxpayer received (buyer defaults to them); a
// copy report the invoices they issued in the month (seller defaults to them), possibly none.
Expected<legacy::Batch, Problem> ReadBatch(const wire::StageTask& task, bool copy_report) {
  Poco::JSON::Object::Ptr body;
  try {
    Poco::JSON::Parser parser;
    body = parser.parse(task.payload).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    return Unexpected(Problem{"payload", std::string("is not a JSON object: ") + e.what()});
  }
  auto text = [](const Poco::JSON::Object::Ptr& o, const char* key) {
    return o->has(key) && !o->isNull(key) ? o->get(key).convert<std::string>() : std::string();
  };
  std::string period = text(body, "period");
  period.erase(std::remove(period.begin(), period.end(), '-'), period.end());
  if (period.size() != 6 || !AllDigits(period)) return Unexpected(Problem{"period", "must be YYYY-MM"});
  Poco::JSON::Array::Ptr invoices = body->has("invoices") ? body->getArray("invoices") : nullptr;
  if (body->has("invoices") && !invoices) return Unexpected(Problem{"invoices", "must be a list"});
  if (!copy_report && (!invoices || invoices->size() == 0)) {
    return Unexpected(Problem{"invoices", "must list at least one invoice"});
  }
  if (!invoices) invoices = new Poco::JSON::Array;  // a copy report of a month without invoices
  if (invoices->size() > kMaxBatch) {
    return Unexpected(Problem{"invoices", "at most " + std::to_string(kMaxBatch) + " invoices per batch"});
  }
  legacy::Batch batch;
  batch.head = {{"msg", std::string(copy_report ? kCopyReport : kAuthenticate)},
                {"serial", SerialFor(task.task_id)},
                {"taxpayer", task.taxpayer_id},
                {"period", period}};
  for (size_t i = 0; i < invoices->size(); ++i) {
    const std::string at = "invoices[" + std::to_string(i) + "].";
    Poco::JSON::Object::Ptr inv = invoices->getObject(static_cast<unsigned>(i));
    if (!inv) return Unexpected(Problem{at.substr(0, at.size() - 1), "is not an object"});
    StringMap item = {{"code", text(inv, "code")},     {"number", text(inv, "number")},
                      {"date", text(inv, "date")},     {"seller", text(inv, "seller")},
                      {"buyer", text(inv, "buyer")}};
    std::string& own = item[copy_report ? "seller" : "buyer"];
    if (own.empty()) own = task.taxpayer_id;
    item["date"].erase(std::remove(item["date"].begin(), item["date"].end(), '-'), item["date"].end());
    if (!AllDigits(item["code"]) || (item["code"].size() != 10 && item["code"].size() != 12)) {
      return Unexpected(Problem{at + "code", "an invoice code is 10 or 12 digits"});
    }
    if (!AllDigits(item["number"]) || item["number"].size() != 8) {
      return Unexpected(Problem{at + "number", "an invoice number is 8 digits"});
    }
    if (!AllDigits(item["date"]) || item["date"].size() != 8) {
      return Unexpected(Problem{at + "date", "must be YYYY-MM-DD"});
    }
    for (const char* party : {"seller", "buyer"}) {
      if (item[party].empty() || item[party].size() > 18) {
        return Unexpected(Problem{at + party, "must be a taxpayer id of at most 18 characters"});
      }
    }
    for (const char* amount : {"amount", "tax"}) {
      auto fen = legacy::ToFen(text(inv, amount));
      if (!fen) return Unexpected(Problem{at + amount, "is not an amount in yuan"});
      item[amount] = std::to_string(*fen);
    }
    batch.items.push_back(std::move(item));
  }
  return batch;
}

}  // namespace

wire::StageResult InvoiceHandler::Handle(const wire::StageTask& task) {
  const bool copy_report = task.kind == "invoice.copy_report" || task.stage == "report";
  auto batch = ReadBatch(task, copy_report);
  if (!batch) {
    return Result(wire::StageOutcome::REJECTED, "BAD_BATCH", batch.error().field + " " + batch.error().message);
  }
  auto request = legacy::EncodeBatch(RequestHead(), RequestItem(), *batch);
  if (!request) return Result(wire::StageOutcome::REJECTED, "BAD_BATCH", request.error().ToString());

  auto bytes = legacy::Exchange(options_, *request);
  if (!bytes) {
    // Never delivered: nothing happened there (UNAVAILABLE spends no attempt). Delivered but
    // unanswered: it may have acted, so a normal retry under the same serial.
    if (bytes.error().field() == "connect") {
      return Result(wire::StageOutcome::UNAVAILABLE, "LEGACY_DOWN", bytes.error().message());
    }
    return Result(wire::StageOutcome::RETRY, "LEGACY_TIMEOUT", bytes.error().message());
  }
  auto answer = legacy::DecodeBatch(AnswerHead(), AnswerItem(), *bytes, kMaxBatch);
  if (!answer) return Result(wire::StageOutcome::RETRY, "BAD_RECORD", answer.error().ToString());
  if (answer->head["serial"] != batch->head["serial"]) {
    return Result(wire::StageOutcome::RETRY, "BAD_RECORD", "the answer is for another serial");
  }
  if (answer->head["result"] == kCoreUnavailable) {
    // The invoice system recorded nothing: as if never delivered.
    return Result(wire::StageOutcome::UNAVAILABLE, "CORE_DOWN", answer->head["message"]);
  }
  if (answer->head["result"] != kProcessed) {
    return Result(wire::StageOutcome::REJECTED, answer->head["result"], answer->head["message"]);
  }
  if (copy_report) {
    wire::StageResult ok = Result(wire::StageOutcome::SUCCEEDED, std::string(kProcessed), answer->head["message"]);
    ok.outputs["copy_report_serial"] = batch->head["serial"];
    ok.outputs["invoices_reported"] = std::to_string(batch->items.size());
    // Reporting one month makes the next month's report owed.
    ok.outputs["obligations"] = sdk::ObligationsJson({{task.kind, legacy::AddMonths(batch->head["period"], 1)}});
    return ok;
  }
  if (answer->items.size() != batch->items.size()) {
    return Result(wire::StageOutcome::RETRY, "BAD_RECORD",
                  "the answer covers " + std::to_string(answer->items.size()) + " of " +
                      std::to_string(batch->items.size()) + " invoices");
  }
  std::map<std::string, int> counts = {
      {"authenticated", 0}, {"already_authenticated", 0}, {"not_found", 0}, {"mismatch", 0}};
  Poco::JSON::Array results;
  for (size_t i = 0; i < answer->items.size(); ++i) {
    StringMap& item = answer->items[i];
    if (item["code"] != batch->items[i]["code"] || item["number"] != batch->items[i]["number"]) {
      return Result(wire::StageOutcome::RETRY, "BAD_RECORD", "answer " + std::to_string(i) + " is for another invoice");
    }
    const std::string name(StatusName(item["status"]));
    ++counts[name];
    Poco::JSON::Object r;
    r.set("code", item["code"]);
    r.set("number", item["number"]);
    r.set("status", name);
    r.set("message", item["message"]);
    results.add(r);
  }
  std::ostringstream json;
  results.stringify(json);
  std::ostringstream summary;
  wire::StageResult ok = Result(wire::StageOutcome::SUCCEEDED, std::string(kProcessed), "");
  for (const auto& [name, n] : counts) {
    ok.outputs[name] = std::to_string(n);
    if (n > 0) summary << (summary.tellp() > 0 ? ", " : "") << n << " " << name;
  }
  ok.outputs["results"] = json.str();
  ok.message = summary.str();
  return ok;
}

}  // namespace taxhub::invoice
