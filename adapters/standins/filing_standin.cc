#include "adapters/standins/filing_standin.h"

#include "adapters/filing/filing_protocol.h"
#include "hub/base/log.h"

namespace taxhub::standins {

using filing::AnswerLayout;
using filing::RequestLayout;

std::string FilingStandIn::Answer(std::string_view request) {
  auto fields = RequestLayout().Decode(request);
  auto answer = [&](std::string_view result, const std::string& serial, const std::string& no,
                    int64_t due, const std::string& message) {
    return *AnswerLayout().Encode({{"result", std::string(result)},
                                   {"serial", serial},
                                   {"filing_no", no},
                                   {"tax_due", std::to_string(due)},
                                   {"message", message}});
  };
  if (!fields) return answer("E199", "", "", 0, "报文格式错误 malformed request");
  const StringMap& f = *fields;
  const std::string& serial = f.at("serial");
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto seen = answers_.find(serial); seen != answers_.end()) return seen->second;

  std::string reply;
  const std::string who = f.at("taxpayer");
  const std::string period = f.at("period");
  const std::string registration = who + ":" + f.at("tax_type");
  if (f.at("msg") == filing::kRecognise) {
    registered_.insert(registration);
    deregistered_.erase(who);
    reply = answer(filing::kAccepted, serial, "TR" + period + who.substr(0, 8), 0, "税种认定成功 recognised");
  } else if (f.at("msg") == filing::kDeregister) {
    deregistered_.insert(who);
    reply = answer(filing::kAccepted, serial, "TD" + period + who.substr(0, 8), 0, "注销登记成功 deregistered");
  } else if (f.at("msg") == filing::kCopyReport) {
    copy_reports_.insert(who + ":" + period);
    reply = answer(filing::kAccepted, serial, "C" + period + who.substr(0, 8), 0, "抄报成功");
  } else if (f.at("msg") != filing::kFile) {
    reply = answer("E199", serial, "", 0, "未知报文 unknown message");
  } else if (deregistered_.contains(who) ||
             (options_.unregistered.contains(registration) && !registered_.contains(registration))) {
    reply = answer("E102", serial, "", 0, "纳税人未登记该税种 not registered for this tax");
  } else if (filed_.contains(who + ":" + f.at("tax_type") + ":" + period)) {
    reply = answer("E101", serial, "", 0, "本期已申报 period already filed");
  } else if (options_.require_copy_report && f.at("tax_type") == "10101" &&
             !copy_reports_.contains(who + ":" + period)) {
    reply = answer("E103", serial, "", 0, "未完成抄报税 copy report missing");
  } else {
    const int64_t due = std::max<int64_t>(0, std::stoll(f.at("output_tax")) - std::stoll(f.at("input_tax")));
    const std::string no = "FN" + period + std::to_string(10000000 + filed_.size());
    filed_[who + ":" + f.at("tax_type") + ":" + period] = no;
    ++filings_;
    reply = answer(filing::kAccepted, serial, no, due, "申报成功 filed");
  }
  answers_[serial] = reply;
  return reply;
}

}  // namespace taxhub::standins
