#include "adapters/sms/sms_handler.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "hub/base/log.h"

namespace taxhub::sms {
namespace {

using wire::StageOutcome;

// The values a template may use; earlier sources win over later ones.
StringMap TemplateValues(const wire::StageTask& task) {
  StringMap values = {{"request_id", task.request_id},
                      {"kind", task.kind},
                      {"taxpayer_id", task.taxpayer_id},
                      {"stage", task.stage}};
  for (const auto& [k, v] : task.inputs) values.emplace(k, v);
  for (const auto& [k, v] : task.attributes) values.emplace(k, v);
  try {
    Poco::JSON::Parser parser;
    auto body = parser.parse(task.payload).extract<Poco::JSON::Object::Ptr>();
    for (const auto& [k, v] : *body) {
      if (v.isString() || v.isNumeric()) values.emplace(k, v.convert<std::string>());
    }
  } catch (const std::exception&) {
    // A body that is not a JSON object offers no values.
  }
  return values;
}

std::string Lookup(const wire::StageTask& task, const std::string& key) {
  if (auto it = task.inputs.find(key); it != task.inputs.end()) return it->second;
  if (auto it = task.attributes.find(key); it != task.attributes.end()) return it->second;
  return "";
}

}  // namespace

std::string MaskMobile(const std::string& mobile) {
  if (mobile.size() < 7) return std::string(mobile.size(), '*');
  return mobile.substr(0, 3) + "****" + mobile.substr(mobile.size() - 4);
}

bool IsMobileNumber(const std::string& mobile) {
  if (mobile.size() != 11 || mobile[0] != '1' || mobile[1] < '3') return false;
  return mobile.find_first_not_of("0123456789") == std::string::npos;
}

size_t CountCharacters(const std::string& utf8) {
  size_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

int UcsParts(size_t characters) {
  if (characters <= 70) return 1;
  return static_cast<int>((characters + 66) / 67);
}

wire::StageResult SmsHandler::Accepted(const Message& message) {
  auto result = sdk::MakeResult(StageOutcome::SUCCEEDED, options_.name, "", "SMS accepted for delivery");
  result.outputs["sms_status"] = "accepted";
  result.outputs["sms_to"] = MaskMobile(message.to);
  result.outputs["sms_parts"] = std::to_string(UcsParts(CountCharacters(message.text)));
  result.outputs["sms_accepted_at"] = FormatTimeMs(message.accepted_at_ms);
  return result;
}

wire::StageResult SmsHandler::Handle(const wire::StageTask& task) {
  const std::string mobile = Lookup(task, "mobile");
  if (!IsMobileNumber(mobile)) {
    auto result = sdk::MakeResult(StageOutcome::SUCCEEDED, options_.name,
                                  mobile.empty() ? "NO_MOBILE" : "BAD_MOBILE",
                                  mobile.empty() ? "no mobile number on the request; nothing sent"
                                                 : "not a mobile number: " + MaskMobile(mobile) + "; nothing sent");
    result.outputs["sms_status"] = "not_sent";
    return result;
  }
  std::string pattern;
  if (auto it = options_.templates.find(task.kind + "." + task.stage); it != options_.templates.end()) {
    pattern = it->second;
  } else if (auto it = options_.templates.find(task.stage); it != options_.templates.end()) {
    pattern = it->second;
  } else {
    pattern = Lookup(task, "sms_text");
  }
  if (pattern.empty()) {
    return sdk::MakeResult(StageOutcome::RETRY, options_.name, "SMS_NO_TEMPLATE",
                           "no template for stage " + task.stage + " and no sms_text");
  }
  auto text = RenderTemplate(pattern, TemplateValues(task));
  if (!text) {
    return sdk::MakeResult(StageOutcome::RETRY, options_.name, "SMS_TEMPLATE",
                           "stage " + task.stage + ": " + text.error().message());
  }
  if (CountCharacters(*text) > 670) {
    return sdk::MakeResult(StageOutcome::RETRY, options_.name, "SMS_TOO_LONG",
                           std::to_string(CountCharacters(*text)) + " characters, more than 10 parts");
  }
  {
    std::lock_guard lock(mutex_);
    if (!sending_.insert(task.task_id).second) {
      return sdk::MakeResult(StageOutcome::RETRY, options_.name, "SMS_BUSY",
                             "this message is being sent by another handler thread");
    }
  }
  wire::StageResult result = Send(task, mobile, *text);
  std::lock_guard lock(mutex_);
  sending_.erase(task.task_id);
  return result;
}

wire::StageResult SmsHandler::Send(const wire::StageTask& task, const std::string& to,
                                   const std::string& text) {
  auto found = outbox_.Find(task.task_id);
  if (!found) {
    return sdk::MakeResult(StageOutcome::UNAVAILABLE, options_.name, "SMS_OUTBOX", found.error().message());
  }
  const int64_t now = clock_.NowMs();
  Message message;
  if (found->has_value()) {
    message = **found;
    switch (message.state) {
      case MessageState::kAccepted:
        return Accepted(message);  // sent before; a report or a 202 said so
      case MessageState::kSending:
        // The process stopped in the middle of this send: smsbox may have taken it. Waiting
        // for a report can confirm it; without one it is not sent again (at most once).
        if (now - message.updated_at_ms >= options_.confirm_window_ms) {
          TAXHUB_LOG(kError, "sms") << task.task_id << ": the send was cut off by a stop at "
                                    << FormatTimeMs(message.updated_at_ms)
                                    << " and never confirmed; not sent again";
          auto unknown = sdk::MakeResult(StageOutcome::SUCCEEDED, options_.name, "SMS_UNKNOWN",
                                         "the send was cut off by a stop of the adapter and never confirmed; "
                                         "not sent again, so that it is not sent twice");
          unknown.outputs["sms_status"] = "unknown";
          unknown.outputs["sms_to"] = MaskMobile(message.to);
          return unknown;
        }
        [[fallthrough]];
      case MessageState::kUnconfirmed:
        if (now - message.updated_at_ms < options_.confirm_window_ms) {
          // Nothing new is sent while we wait, so the wait spends no attempt (UNAVAILABLE): a
          // window longer than the stage's retries must not turn the notice into a dead letter.
          return sdk::MakeResult(StageOutcome::UNAVAILABLE, options_.name, "SMS_UNCONFIRMED",
                                 "sent at " + FormatTimeMs(message.updated_at_ms) +
                                     " without an answer; waiting for its delivery report before sending again");
        }
        TAXHUB_LOG(kWarn, "sms") << task.task_id << ": no delivery report within "
                                 << options_.confirm_window_ms << " ms of an unanswered send; sending again";
        break;
      case MessageState::kNotSent:
        break;
    }
  }
  message.task_id = task.task_id;
  message.to = to;
  message.text = text;
  message.state = MessageState::kSending;
  ++message.sends;
  if (Status saved = outbox_.Save(message, now); !saved.ok()) {
    return sdk::MakeResult(StageOutcome::UNAVAILABLE, options_.name, "SMS_OUTBOX", saved.message());
  }
  const SendResult sent = SendSms(options_.kannel, to, text, task.task_id);
  const int64_t after = clock_.NowMs();
  std::string code, words = sent.text;
  StageOutcome::type outcome = StageOutcome::RETRY;
  switch (sent.kind) {
    case SendResult::Kind::kAccepted:
      message.state = MessageState::kAccepted;
      message.accepted_at_ms = after;
      break;
    case SendResult::Kind::kNotSent:
      message.state = MessageState::kNotSent;
      outcome = StageOutcome::UNAVAILABLE;
      code = "SMS_GATEWAY_DOWN";
      break;
    case SendResult::Kind::kRefused:
      message.state = MessageState::kNotSent;
      if (sent.status == 403) {
        outcome = StageOutcome::UNAVAILABLE;  // our credentials: nothing sent, operators must fix
        code = "SMS_AUTH";
      } else {
        code = "SMS_REFUSED";
        words = "smsbox answered " + std::to_string(sent.status) + ": " + sent.text;
      }
      break;
    case SendResult::Kind::kUnknown:
      message.state = MessageState::kUnconfirmed;
      code = "SMS_UNCONFIRMED";
      break;
  }
  if (Status saved = outbox_.Save(message, after); !saved.ok()) {
    TAXHUB_LOG(kError, "sms") << task.task_id << ": " << saved.message();
  }
  // A delivery report may have arrived meanwhile: it outranks a missing answer.
  if (auto latest = outbox_.Find(task.task_id); latest && latest->has_value()) message = **latest;
  if (message.state == MessageState::kAccepted) return Accepted(message);
  TAXHUB_LOG(kWarn, "sms") << task.task_id << " to " << MaskMobile(to) << ": [" << code << "] " << words;
  return sdk::MakeResult(outcome, options_.name, code, words);
}

}  // namespace taxhub::sms
