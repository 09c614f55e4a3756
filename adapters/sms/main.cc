// taxhub-adapter-sms: sends the hub's SMS notices through Kannel and records Kannel's delivery
// reports in the ledger.
//   taxhub-adapter-sms --legacy SMSBOX_HOST:SENDSMS_PORT --user U --password P
//       --outbox FILE --dlr-listen HOST:PORT --hub FRONTEND_EP
//       [--template STAGE=TEXT …] [--from 12366] [--dlr-url URL] [--confirm-window MS]
//       [--service sms.send] [--endpoint EP] [--workers N] [--timeout MS] [--heartbeat MS]

#include <iostream>
#include <tuple>

#include "adapters/sdk/process.h"
#include "adapters/sms/delivery_reports.h"
#include "adapters/sms/sms_handler.h"
#include "hub/base/log.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  sdk::AdapterFlags flags;
  sms::SmsOptions options;
  sms::DeliveryReportOptions reports;
  std::string outbox_file, dlr_url;
  bool listen_for_reports = false;
  Status parsed = sdk::ParseAdapterFlags(argc, argv, flags, [&](const std::string& flag, const auto& value) {
    if (flag == "--user") {
      options.kannel.username = value();
    } else if (flag == "--password") {
      options.kannel.password = value();
    } else if (flag == "--from") {
      options.kannel.from = value();
    } else if (flag == "--outbox") {
      outbox_file = value();
    } else if (flag == "--hub") {
      reports.hub_endpoint = value();
    } else if (flag == "--dlr-url") {
      dlr_url = value();
    } else if (flag == "--name") {
      options.name = reports.reporter = value();
    } else if (flag == "--confirm-window") {
      options.confirm_window_ms = std::stoll(value());
    } else if (flag == "--dlr-listen") {
      std::tie(reports.listen_host, reports.listen_port) = sdk::ParseHostPort(value());  // port 0: any
      listen_for_reports = true;
    } else if (flag == "--template") {
      auto [key, text] = sdk::ParseAssignment(value(), "STAGE=TEXT");
      options.templates[key] = text;  // the last one given wins
    } else {
      return false;
    }
    return true;
  }, "sms");
  if (flags.process.services.empty()) flags.process.services.push_back("sms.send");
  if (!parsed.ok() || flags.legacy_port == 0 || outbox_file.empty() || options.kannel.username.empty()) {
    if (!parsed.ok()) std::cerr << "taxhub-adapter-sms: " << parsed.ToString() << "\n";
    std::cerr << "usage: taxhub-adapter-sms [--config FILE [--section NAME]] --legacy SMSBOX_HOST:SENDSMS_PORT --user U --password P\n"
                 "       --outbox FILE [--dlr-listen HOST:PORT --hub FRONTEND_EP] [--template STAGE=TEXT …]\n"
                 "       [--from 12366] [--dlr-url URL] [--confirm-window MS] [--name NAME]\n"
                 "       [--service sms.send] [--endpoint EP] [--workers N] [--timeout MS] [--heartbeat MS]\n";
    return 2;
  }
  options.kannel.host = flags.legacy_host;
  options.kannel.port = flags.legacy_port;
  options.kannel.timeout_ms = flags.timeout_ms;
  auto outbox = sms::Outbox::Open(outbox_file);
  if (!outbox) {
    std::cerr << "taxhub-adapter-sms: " << outbox.error().ToString() << "\n";
    return 1;
  }
  const sigset_t signals = sdk::BlockStopSignals();
  SystemClock clock;
  std::unique_ptr<sms::DeliveryReports> receiver;
  if (listen_for_reports) {
    receiver = std::make_unique<sms::DeliveryReports>(reports, **outbox, clock);
    if (Status started = receiver->Start(); !started.ok()) {
      std::cerr << "taxhub-adapter-sms: " << started.ToString() << "\n";
      return 1;
    }
    options.kannel.dlr_url = dlr_url.empty() ? receiver->url() : dlr_url;
  }
  sms::SmsHandler handler(options, **outbox, clock);
  TAXHUB_LOG(kInfo, "sms") << "sending through smsbox at " << options.kannel.host << ":"
                           << options.kannel.port << (receiver ? ", delivery reports on " + options.kannel.dlr_url : "");
  sdk::ServeUntilStopped(flags.process, handler, signals);
  if (receiver) {
    receiver->Stop();
    TAXHUB_LOG(kInfo, "sms") << receiver->received() << " delivery reports received, "
                             << receiver->forwarded() << " recorded by the hub";
  }
  return 0;
}
