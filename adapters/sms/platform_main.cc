// taxhub-sms-platform: the SMS platform — a subscriber to a hub's event stream that turns
// notification events (reminders by default) into SMS through Kannel.
//   taxhub-sms-platform --stream HUB_ID --events EP --hub FRONTEND_EP --offset FILE
//       --legacy SMSBOX_HOST:SENDSMS_PORT --user U --password P --outbox FILE
//       --template TOPIC=TEXT [--template …]  [--dlr-listen HOST:PORT] [--from 12366] [--timeout MS]
//       [--receive-hwm N] [--receive-buffer BYTES]   (how much of the live stream it queues)
// Every event comes once and in order (tools/client/subscriber.h); each SMS is keyed by the
// event's stream and seq in the outbox, so an event handed on again after a crash (between the
// send and the saved offset) is not sent twice. Topics without a template are passed over.
// Placeholders come from the event's detail (JSON): {due_date}, {period}, {kind} …; the number
// from its `mobile`.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <csignal>
#include <iostream>
#include <thread>
#include <tuple>

#include "adapters/sdk/process.h"
#include "adapters/sms/delivery_reports.h"
#include "adapters/sms/sms_handler.h"
#include "hub/base/log.h"
#include "tools/client/subscriber.h"

int main(int argc, char** argv) {
  using namespace taxhub;
  sdk::AdapterFlags flags;
  sms::SmsOptions options;
  options.name = "sms-platform";
  client::SubscriberOptions subscriber_options;
  sms::DeliveryReportOptions reports;
  std::string outbox_file, offset_file;
  bool listen_for_reports = false;
  Status parsed = sdk::ParseAdapterFlags(argc, argv, flags, [&](const std::string& flag, const auto& value) {
    if (flag == "--stream") subscriber_options.stream = value();
    else if (flag == "--events") subscriber_options.events_endpoint = value();
    else if (flag == "--hub") subscriber_options.hub_endpoint = value();
    else if (flag == "--offset") offset_file = value();
    else if (flag == "--user") options.kannel.username = value();
    else if (flag == "--password") options.kannel.password = value();
    else if (flag == "--from") options.kannel.from = value();
    else if (flag == "--outbox") outbox_file = value();
    else if (flag == "--confirm-window") options.confirm_window_ms = std::stoll(value());
    else if (flag == "--receive-hwm") subscriber_options.receive_hwm = std::stoi(value());
    else if (flag == "--receive-buffer") subscriber_options.receive_buffer = std::stoi(value());
    else if (flag == "--dlr-listen") {
      std::tie(reports.listen_host, reports.listen_port) = sdk::ParseHostPort(value());
      listen_for_reports = true;
    } else if (flag == "--template") {
      auto [key, text] = sdk::ParseAssignment(value(), "TOPIC=TEXT");
      options.templates[key] = text;  // the last one given wins
    } else {
      return false;
    }
    return true;
  }, "sms-platform");
  if (!parsed.ok() || subscriber_options.stream.empty() || subscriber_options.events_endpoint.empty() ||
      subscriber_options.hub_endpoint.empty() || offset_file.empty() || outbox_file.empty() ||
      flags.legacy_port == 0 || options.templates.empty()) {
    if (!parsed.ok()) std::cerr << "taxhub-sms-platform: " << parsed.ToString() << "\n";
    std::cerr << "usage: taxhub-sms-platform --stream HUB_ID --events EP --hub FRONTEND_EP --offset FILE\n"
                 "       --legacy SMSBOX_HOST:PORT --user U --password P --outbox FILE\n"
                 "       --template TOPIC=TEXT [--template …] [--dlr-listen HOST:PORT] [--from N] [--timeout MS]\n"
                 "       [--confirm-window MS] [--receive-hwm N] [--receive-buffer BYTES]\n";
    return 2;
  }
  options.kannel.host = flags.legacy_host;
  options.kannel.port = flags.legacy_port;
  options.kannel.timeout_ms = flags.timeout_ms;
  auto outbox = sms::Outbox::Open(outbox_file);
  if (!outbox) {
    std::cerr << "taxhub-sms-platform: " << outbox.error().ToString() << "\n";
    return 1;
  }
  const sigset_t signals = sdk::BlockStopSignals();
  SystemClock clock;
  std::unique_ptr<sms::DeliveryReports> receiver;
  if (listen_for_reports) {  // kept in the outbox: these SMS belong to no stage of the hub
    receiver = std::make_unique<sms::DeliveryReports>(reports, **outbox, clock);
    if (Status started = receiver->Start(); !started.ok()) {
      std::cerr << "taxhub-sms-platform: " << started.ToString() << "\n";
      return 1;
    }
    options.kannel.dlr_url = receiver->url();
  }
  sms::SmsHandler sender(options, **outbox, clock);
  uint64_t sent = 0, passed = 0;
  auto handle = [&](const wire::Event& event) -> Status {
    if (!options.templates.contains(event.type)) {
      ++passed;
      return Status::Ok();
    }
    // The event as a task of the SMS handler: its key, its template, its values.
    wire::StageTask task;
    task.task_id = event.stream + ":" + std::to_string(event.seq);
    task.request_id = event.request_id;
    task.stage = event.type;
    try {
      Poco::JSON::Parser parser;
      auto detail = parser.parse(event.detail).extract<Poco::JSON::Object::Ptr>();
      for (const auto& [key, value] : *detail) task.inputs[key] = value.toString();
    } catch (const std::exception&) {
      TAXHUB_LOG(kWarn, "sms-platform") << task.task_id << " " << event.type << ": detail is not JSON; passed over";
      return Status::Ok();
    }
    task.taxpayer_id = task.inputs["taxpayer_id"];
    const wire::StageResult result = sender.Handle(task);
    if (result.outcome == wire::StageOutcome::SUCCEEDED) {
      if (result.outputs.at("sms_status") == "accepted") ++sent;
      return Status::Ok();
    }
    if (result.outcome == wire::StageOutcome::UNAVAILABLE || result.code == "SMS_UNCONFIRMED") {
      return Status(ErrorCode::kUnavailable, task.task_id + ": [" + result.code + "] " + result.message);
    }
    // A template or number the platform cannot use: logged, and the stream goes on.
    TAXHUB_LOG(kError, "sms-platform") << task.task_id << " " << event.type << ": [" << result.code << "] "
                                       << result.message << "; passed over";
    return Status::Ok();
  };
  zmq::context_t context(1);
  client::FileOffsetStore offsets(offset_file);
  client::Subscriber subscriber(context, subscriber_options, offsets, handle);
  std::thread stopper([&] {
    sdk::WaitForStopSignal(signals);
    subscriber.Stop();
  });
  TAXHUB_LOG(kInfo, "sms-platform") << "following " << subscriber_options.stream << " at "
                                    << subscriber_options.events_endpoint << " from offset "
                                    << offsets.Load().value_or(0);
  Status run = subscriber.Run();
  if (!run.ok()) {
    std::cerr << "taxhub-sms-platform: " << run.ToString() << "\n";
    kill(getpid(), SIGTERM);  // let the stopper thread finish
  }
  stopper.join();
  if (receiver) receiver->Stop();
  const client::SubscriberCounters& c = subscriber.counters();
  std::cout << "taxhub-sms-platform: " << sent << " SMS sent, " << passed << " events passed over, offset "
            << subscriber.offset() << "; " << c.gaps << " gaps, " << c.replayed << " events replayed from the ledger, "
            << c.duplicates << " duplicates dropped" << std::endl;
  return run.ok() ? 0 : 1;
}
