// Kannel's delivery reports: an HTTP listener for the dlr-url callbacks, which stores each
// report in the outbox at once, and a forwarder that passes stored reports on to the hub
// (taxhub.report) until the hub has them — so a report survives the hub being down or the
// adapter restarting.
#ifndef TAXHUB_ADAPTERS_SMS_DELIVERY_REPORTS_H_
#define TAXHUB_ADAPTERS_SMS_DELIVERY_REPORTS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "adapters/sms/outbox.h"
#include "hub/base/clock.h"

namespace Poco::Net {
class HTTPServer;
}

namespace taxhub::sms {

struct DeliveryReportOptions {
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;              // 0: the OS chooses (see port())
  std::string hub_endpoint;         // the hub's frontend; "" keeps reports in the outbox only
  std::string reporter = "sms";
  int64_t forward_interval_ms = 200;
};

// "sms.delivered" for Kannel's type 1, and so on; "sms.report" for a type it does not know.
std::string ReportType(int kannel_type);

class DeliveryReports {
 public:
  DeliveryReports(DeliveryReportOptions options, Outbox& outbox, const Clock& clock);
  ~DeliveryReports();
  Status Start();
  void Stop();
  int port() const { return port_; }
  // The dlr-url base Kannel calls back (http://HOST:PORT/dlr), once started.
  std::string url() const { return "http://" + options_.listen_host + ":" + std::to_string(port_) + "/dlr"; }
  uint64_t received() const;
  uint64_t forwarded() const { return forwarded_; }

 private:
  class Handler;
  class Factory;
  // What the HTTP handlers use. The server's threads may still run a handler after Stop() has
  // returned (a connection Kannel keeps alive), so they share this with the object rather than
  // point at it, and find it closed.
  struct Shared;
  void Forward();

  DeliveryReportOptions options_;
  Outbox& outbox_;
  const Clock& clock_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::thread forwarder_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> forwarded_{0};
  int port_ = 0;
};

}  // namespace taxhub::sms

#endif  // TAXHUB_ADAPTERS_SMS_DELIVERY_REPORTS_H_
