// Sending one SMS through Kannel's smsbox (GET /cgi-bin/sendsms), and what its answer means
// for whether the message left: the adapter must never send twice, so "not sent" and "maybe
// sent" are kept apart.
#ifndef TAXHUB_ADAPTERS_SMS_KANNEL_CLIENT_H_
#define TAXHUB_ADAPTERS_SMS_KANNEL_CLIENT_H_

#include <string>

namespace taxhub::sms {

struct KannelOptions {
  std::string host = "127.0.0.1";
  int port = 13013;               // smsbox sendsms-port
  std::string username;
  std::string password;
  std::string from = "12366";     // the tax service hotline as sender
  int timeout_ms = 5000;
  // Where Kannel calls back with delivery reports; "" sends no dlr-url.
  std::string dlr_url;            // e.g. http://127.0.0.1:13080/dlr
};

struct SendResult {
  enum class Kind {
    kAccepted,     // 202: queued for delivery
    kNotSent,      // the request never reached smsbox, or it answered that it queued nothing (5xx)
    kRefused,      // 4xx: smsbox will not take this message as asked (403 credentials, 400 …)
    kUnknown,      // sent, but no answer: smsbox may or may not have queued it
  };
  Kind kind = Kind::kUnknown;
  int status = 0;                 // HTTP status, 0 without an answer
  std::string text;               // smsbox's answer or what went wrong
};

// `text` is UTF-8; it goes out as UCS-2 (coding=2) so that Chinese arrives intact. `task_id`
// rides in the dlr-url so that delivery reports find their message.
SendResult SendSms(const KannelOptions& options, const std::string& to, const std::string& text,
                   const std::string& task_id);

// The sendsms URL (path and query) for the message; exposed for tests.
std::string SendSmsTarget(const KannelOptions& options, const std::string& to,
                          const std::string& text, const std::string& task_id);

}  // namespace taxhub::sms

#endif  // TAXHUB_ADAPTERS_SMS_KANNEL_CLIENT_H_
