#include "adapters/standins/invoice_standin.h"

#include "adapters/filing/filing_protocol.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "adapters/invoice/invoice_protocol.h"

namespace taxhub::standins {

namespace iv = invoice;

void InvoiceStandIn::Issue(const IssuedInvoice& invoice) {
  std::lock_guard<std::mutex> lock(mutex_);
  issued_[invoice.code + invoice.number] = invoice;
}

Status InvoiceStandIn::LoadIssued(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(ErrorCode::kNotFound, "cannot read " + path);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream split(line);
    for (std::string part; std::getline(split, part, ',');) f.push_back(part);
    auto amount = f.size() == 7 ? legacy::ToFen(f[3]) : std::nullopt;
    auto tax = f.size() == 7 ? legacy::ToFen(f[4]) : std::nullopt;
    if (!amount || !tax) {
      return Status(ErrorCode::kBadRequest,
                    path + ":" + std::to_string(n) + ": want code,number,YYYYMMDD,amount,tax,seller,buyer", "line");
    }
    Issue(IssuedInvoice{f[0], f[1], f[2], *amount, *tax, f[5], f[6]});
  }
  return Status::Ok();
}

std::string InvoiceStandIn::Answer(std::string_view request) {
  auto reply = [](std::string_view result, const std::string& serial, const std::string& message,
                  std::vector<StringMap> items = {}) {
    return *legacy::EncodeBatch(iv::AnswerHead(), iv::AnswerItem(),
                                legacy::Batch{{{"result", std::string(result)}, {"serial", serial},
                                               {"message", message}},
                                              std::move(items)});
  };
  auto batch = legacy::DecodeBatch(iv::RequestHead(), iv::RequestItem(), request, iv::kMaxBatch);
  if (!batch) return reply("I199", "", "报文格式错误 " + batch.error().field());
  const std::string serial = batch->head["serial"];
  if (batch->head["msg"] != iv::kAuthenticate && batch->head["msg"] != iv::kCopyReport) {
    return reply("I199", serial, "未知报文 unknown message");
  }

  std::lock_guard<std::mutex> lock(mutex_);
  if (auto seen = answers_.find(serial); seen != answers_.end()) return seen->second;
  if (batch->head["msg"] == iv::kCopyReport) {
    std::string answer = CopyReport(*batch);
    std::string result = answer.substr(0, 4);
    if (result != iv::kCoreUnavailable) answers_[serial] = answer;  // nothing recorded: may come again
    return answer;
  }
  std::vector<StringMap> items;
  for (StringMap& inv : batch->items) {
    const std::string key = inv["code"] + inv["number"];
    auto status = [&](std::string_view s, const std::string& message) {
      items.push_back({{"code", inv["code"]}, {"number", inv["number"]}, {"status", std::string(s)},
                       {"message", message}});
    };
    auto found = issued_.find(key);
    if (found == issued_.end() && options_.issue_unknown) {
      found = issued_.emplace(key, IssuedInvoice{inv["code"], inv["number"], inv["date"], std::stoll(inv["amount"]),
                                                 std::stoll(inv["tax"]), inv["seller"], inv["buyer"]})
                  .first;
    }
    if (found == issued_.end()) {
      status(iv::kNotFound, "无此票 not issued");
      continue;
    }
    const IssuedInvoice& is = found->second;
    if (is.date != inv["date"] || is.amount_fen != std::stoll(inv["amount"]) ||
        is.tax_fen != std::stoll(inv["tax"]) || is.seller != inv["seller"] || is.buyer != inv["buyer"] ||
        is.buyer != batch->head["taxpayer"]) {
      status(iv::kMismatch, "认证不符 differs from the issued invoice");
    } else if (authenticated_.contains(key)) {
      status(iv::kAlreadyAuthenticated, "重复认证 already authenticated");
    } else {
      authenticated_.insert(key);
      ++authentications_;
      status(iv::kAuthenticated, "认证相符 authenticated");
    }
  }
  std::string answer = reply(iv::kProcessed, serial, "认证完成", std::move(items));
  answers_[serial] = answer;
  return answer;
}

std::string InvoiceStandIn::CopyReport(const legacy::Batch& batch) {
  auto reply = [&](std::string_view result, const std::string& message) {
    return *legacy::EncodeBatch(iv::AnswerHead(), iv::AnswerItem(),
                                legacy::Batch{{{"result", std::string(result)},
                                               {"serial", batch.head.at("serial")},
                                               {"message", message}},
                                              {}});
  };
  int64_t amount = 0, tax = 0;
  for (const StringMap& inv : batch.items) {
    if (inv.at("seller") != batch.head.at("taxpayer")) return reply("I199", "抄报发票须为本户开具 not issued by the reporter");
    amount += std::stoll(inv.at("amount"));
    tax += std::stoll(inv.at("tax"));
  }
  if (options_.core.port != 0) {
    auto record = filing::RequestLayout().Encode({{"msg", std::string(filing::kCopyReport)},
                                                  {"serial", batch.head.at("serial")},
                                                  {"taxpayer", batch.head.at("taxpayer")},
                                                  {"tax_type", "10101"},
                                                  {"period", batch.head.at("period")},
                                                  {"sales", std::to_string(amount)},
                                                  {"output_tax", std::to_string(tax)},
                                                  {"input_tax", "0"}});
    if (!record) return reply("I199", "报文格式错误 " + record.error().field());
    auto bytes = legacy::Exchange(options_.core, *record, 4096);
    if (!bytes) return reply(iv::kCoreUnavailable, "核心征管系统不可用 core tax system unavailable");
    auto answer = filing::AnswerLayout().Decode(*bytes);
    if (!answer) return reply(iv::kCoreUnavailable, "核心征管系统应答错误 bad answer from the core system");
    if ((*answer)["result"] != filing::kAccepted) return reply((*answer)["result"], (*answer)["message"]);
  }
  ++copy_reports_;
  return reply(iv::kProcessed, "抄报成功 " + std::to_string(batch.items.size()) + " invoices reported");
}

}  // namespace taxhub::standins
