// Kannel for tests: bearerbox, smsbox and fakesmsc (the fake SMSC from kannel-extras) as child
// processes on 127.0.0.1, configured from the project's config/kannel/kannel.conf in a private
// directory, stopped by PID. What reached the fake SMSC is read back from fakesmsc's output.
#ifndef TAXHUB_TESTS_SUPPORT_KANNEL_H_
#define TAXHUB_TESTS_SUPPORT_KANNEL_H_

#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace taxhub::testing {

struct ReceivedSms {
  std::string from;
  std::string to;
  std::string text;  // UTF-8, decoded from the UCS-2 the SMSC got
};

class KannelGateway {
 public:
  static constexpr const char* kUser = "taxhub";
  static constexpr const char* kPassword = "s3cret";

  // Whether this machine has Kannel (kannel and kannel-extras).
  static bool Installed();
  // Starts all three and waits until smsbox takes requests; nullopt (with the logs in `why`)
  // when it cannot.
  static std::optional<KannelGateway> Start(const std::string& dir, std::string* why = nullptr);

  int sendsms_port() const { return sendsms_port_; }
  std::string sendsms_address() const { return "127.0.0.1:" + std::to_string(sendsms_port_); }
  // Every message fakesmsc has received so far, in order.
  std::vector<ReceivedSms> Received() const;
  // SIGSTOP / SIGCONT smsbox: requests are read but not answered while it is paused.
  void PauseSmsbox();
  void ResumeSmsbox();
  // Stops smsbox (it stops answering: connection refused) and starts it again.
  void StopSmsbox();
  bool StartSmsbox();
  void Stop();

 private:
  KannelGateway() = default;
  bool WaitForSendsms(int timeout_ms) const;

  std::string dir_, conf_;
  int sendsms_port_ = 0;
  std::optional<Process> bearerbox_, smsbox_, fakesmsc_;
};

// Kannel's fakesmsc line payload: URL-encoded UCS-2 big-endian, to UTF-8.
std::string DecodeFakeSmscUcs2(const std::string& url_encoded);

}  // namespace taxhub::testing

#endif  // TAXHUB_TESTS_SUPPORT_KANNEL_H_
