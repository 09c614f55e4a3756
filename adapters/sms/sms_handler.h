// The sms stage: one text message to the taxpayer's mobile through Kannel, sent at most once
// per task however often the task comes back.
//
// The text comes from the template for the request kind and stage (--template
// filing.vat.notify=…), else for the stage (--template notify_paid=…), with {name} placeholders
// filled from the earlier stages' outputs, the request's attributes, the top-level fields of the
// application body, and request_id / kind / taxpayer_id / stage; failing a template, from an
// `sms_text` input or attribute. The number is the `mobile` attribute or input.
//
// Outcomes:
//   202 from smsbox                      SUCCEEDED (outputs: sms_status, sms_to masked, …)
//   no or an invalid mobile number       SUCCEEDED with sms_status=not_sent and the reason: the
//                                        request's business is done; the notice cannot be sent
//   smsbox unreachable, 5xx, 403         UNAVAILABLE: nothing was sent, no attempt spent
//   other 4xx, no template, bad template RETRY with a code, ending as a dead letter to fix
//   sent but no answer (timeout)         RETRY SMS_UNCONFIRMED; later deliveries wait for a
//                                        delivery report (which proves it went out) — answering
//                                        UNAVAILABLE SMS_UNCONFIRMED meanwhile, no attempt spent —
//                                        and send again only after `confirm_window_ms` without one
//                                        (smsbox answered nothing, so the request died with it)
//   a send cut off by a stop of the      waits for a report the same way; without one it is not
//   adapter itself                       sent again: SUCCEEDED, sms_status=unknown (at most once)
#ifndef TAXHUB_ADAPTERS_SMS_SMS_HANDLER_H_
#define TAXHUB_ADAPTERS_SMS_SMS_HANDLER_H_

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "adapters/sdk/handler.h"
#include "adapters/sms/kannel_client.h"
#include "adapters/sms/outbox.h"
#include "hub/base/clock.h"
#include "hub/base/json_map.h"
#include "hub/base/text.h"

namespace taxhub::sms {

struct SmsOptions {
  KannelOptions kannel;
  std::string name = "sms";                       // handler name in results
  std::map<std::string, std::string> templates;   // "kind.stage" or "stage" -> text with {placeholders}
  int64_t confirm_window_ms = 60'000;
};

// "138****8000": numbers are masked wherever they are shown.
std::string MaskMobile(const std::string& mobile);
// A mainland mobile number: 11 digits, 1[3-9]…
bool IsMobileNumber(const std::string& mobile);
// Characters in UTF-8 text, and the SMS parts it takes as UCS-2 (70 alone, 67 per part).
size_t CountCharacters(const std::string& utf8);
int UcsParts(size_t characters);

class SmsHandler final : public sdk::Handler {
 public:
  SmsHandler(SmsOptions options, Outbox& outbox, const Clock& clock)
      : options_(std::move(options)), outbox_(outbox), clock_(clock) {}
  wire::StageResult Handle(const wire::StageTask& task) override;

 private:
  wire::StageResult Send(const wire::StageTask& task, const std::string& to, const std::string& text);
  wire::StageResult Accepted(const Message& message);

  SmsOptions options_;
  Outbox& outbox_;
  const Clock& clock_;
  std::mutex mutex_;
  std::set<std::string> sending_;  // task ids with a send under way in this process
};

}  // namespace taxhub::sms

#endif  // TAXHUB_ADAPTERS_SMS_SMS_HANDLER_H_
