#include "adapters/sms/delivery_reports.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>

#include <shared_mutex>

#include <zmq.hpp>

#include "adapters/sms/sms_handler.h"
#include "hub/base/log.h"
#include "hub/base/thread_name.h"
#include "tools/client/mdp_client.h"

namespace taxhub::sms {

std::string ReportType(int kannel_type) {
  switch (kannel_type) {
    case 1: return "sms.delivered";
    case 2: return "sms.undelivered";
    case 4: return "sms.buffered";
    case 8: return "sms.smsc_accepted";
    case 16: return "sms.smsc_rejected";
    default: return "sms.report";
  }
}

struct DeliveryReports::Shared {
  std::shared_mutex mutex;   // handlers hold it shared while they work; Stop() exclusively
  bool open = true;
  Outbox* outbox;
  const Clock* clock;
  std::atomic<uint64_t> received{0};
};

namespace {

// At most `max` bytes, cut before a character rather than inside one.
std::string TruncateUtf8(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

class DeliveryReports::Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    auto answer = [&](Poco::Net::HTTPResponse::HTTPStatus status, const std::string& text) {
      response.setStatus(status);
      response.setContentType("text/plain; charset=utf-8");
      const std::string body = text + "\n";
      response.sendBuffer(body.data(), body.size());  // with Content-Length: the caller need not wait
    };
    std::shared_lock lock(shared_->mutex);
    if (!shared_->open) return answer(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "stopping");
    try {
      Poco::URI uri(request.getURI());
      if (uri.getPath() != "/dlr") return answer(Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "no such path");
      DeliveryReport report;
      std::string type, ts;
      for (const auto& [key, value] : uri.getQueryParameters()) {
        if (key == "task") report.task_id = value;
        else if (key == "type") type = value;
        else if (key == "ts") ts = value;
        else if (key == "reply") report.reply = TruncateUtf8(value, 512);
      }
      if (report.task_id.empty() || report.task_id.size() > 80) {
        return answer(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "task: missing or too long");
      }
      if (type.empty() || type.size() > 3 || type.find_first_not_of("0123456789") != std::string::npos) {
        return answer(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "type: not a Kannel report type");
      }
      report.type = std::stoi(type);
      const bool ts_ok = !ts.empty() && ts.size() <= 12 && ts.find_first_not_of("0123456789") == std::string::npos;
      report.at_ms = ts_ok ? std::stoll(ts) * 1000 : shared_->clock->NowMs();
      if (Status added = shared_->outbox->AddReport(report, shared_->clock->NowMs()); !added.ok()) {
        TAXHUB_LOG(kError, "sms") << "delivery report for " << report.task_id << ": " << added.message();
        return answer(Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "not stored");
      }
      ++shared_->received;
      TAXHUB_LOG(kInfo, "sms") << report.task_id << " " << ReportType(report.type);
      answer(Poco::Net::HTTPResponse::HTTP_OK, "ok");
    } catch (const std::exception& e) {
      answer(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, e.what());
    }
  }

 private:
  std::shared_ptr<Shared> shared_;
};

class DeliveryReports::Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(shared_);
  }

 private:
  std::shared_ptr<Shared> shared_;
};

DeliveryReports::DeliveryReports(DeliveryReportOptions options, Outbox& outbox, const Clock& clock)
    : options_(std::move(options)), outbox_(outbox), clock_(clock), shared_(std::make_shared<Shared>()) {
  shared_->outbox = &outbox_;
  shared_->clock = &clock_;
}

uint64_t DeliveryReports::received() const { return shared_->received; }

DeliveryReports::~DeliveryReports() { Stop(); }

Status DeliveryReports::Start() {
  try {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(
        options_.listen_host, static_cast<Poco::UInt16>(options_.listen_port)));
    port_ = socket.address().port();
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    params->setKeepAlive(true);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(shared_), socket, params);
    server_->start();
  } catch (const Poco::Exception& e) {
    return Status(ErrorCode::kUnavailable,
                  "cannot listen for delivery reports on " + options_.listen_host + ":" +
                      std::to_string(options_.listen_port) + ": " + e.displayText(),
                  "dlr-listen");
  }
  if (!options_.hub_endpoint.empty()) {
    forwarder_ = NamedThread("dlr-forward", [this] { Forward(); });
  }
  return Status::Ok();
}

void DeliveryReports::Stop() {
  stopping_ = true;
  {
    std::unique_lock lock(shared_->mutex);  // waits for handlers at work; later ones find it closed
    shared_->open = false;
  }
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
  if (forwarder_.joinable()) forwarder_.join();
}

void DeliveryReports::Forward() {
  zmq::context_t context(1);
  client::HubClient hub(context, options_.hub_endpoint);
  while (!stopping_) {
    auto pending = outbox_.PendingReports(100);
    if (!pending) TAXHUB_LOG(kError, "sms") << pending.error().message();
    bool stalled = !pending || pending->empty();
    for (const DeliveryReport& r : pending ? *pending : std::vector<DeliveryReport>{}) {
      if (stopping_) break;
      wire::TaskReport report;
      report.task_id = r.task_id;
      report.type = ReportType(r.type);
      report.reporter = options_.reporter;
      report.observed_at_ms = r.at_ms;
      report.details["dlr"] = std::to_string(r.type);
      if (!r.reply.empty()) report.details["smsc_reply"] = r.reply;
      if (auto message = outbox_.Find(r.task_id); message && message->has_value()) {
        report.details["to"] = MaskMobile((*message)->to);
      }
      auto sent = hub.Report(report, 1000);
      const bool refused = !sent && (sent.error().code() == ErrorCode::kBadRequest ||
                                     sent.error().code() == ErrorCode::kNotFound ||
                                     sent.error().code() == ErrorCode::kMissingField ||
                                     sent.error().code() == ErrorCode::kTooLarge);
      if (!sent && !refused) {
        stalled = true;  // the hub is away: keep it for the next round
        break;
      }
      if (refused) {
        TAXHUB_LOG(kError, "sms") << "the hub refused the report for " << r.task_id << "; dropped: "
                                 << sent.error().ToString();
      } else {
        ++forwarded_;
      }
      if (Status marked = outbox_.MarkForwarded(r.id); !marked.ok()) {
        TAXHUB_LOG(kError, "sms") << marked.message();
      }
    }
    if (stalled) std::this_thread::sleep_for(std::chrono::milliseconds(options_.forward_interval_ms));
  }
}

}  // namespace taxhub::sms
