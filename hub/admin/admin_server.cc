#include "hub/admin/admin_server.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <algorithm>
#include <functional>
#include <tuple>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

#include "hub/admin/dashboard.h"
#include "hub/admin/tokens.h"
#include "hub/app/hub.h"
#include "hub/app/sla_report.h"
#include "hub/app/staff_performance.h"
#include "hub/app/verify_ledger.h"
#include "hub/base/log.h"
#include "hub/base/text.h"

namespace taxhub::admin {
namespace {

constexpr const char* kLog = "admin";
// Free text from staff and operators: a decision's or discard's reason, a staff member's name.
constexpr size_t kMaxReasonBytes = 2000;
constexpr size_t kMaxStaffBytes = 64;
using Poco::Net::HTTPResponse;
using JsonObject = Poco::JSON::Object;
using JsonArray = Poco::JSON::Array;

// What a handler answers: a status and a JSON body (or text, for /metrics).
struct Answer {
  HTTPResponse::HTTPStatus status = HTTPResponse::HTTP_OK;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  bool close = false;  // the request was not read to its end: the connection cannot be reused
};

std::string Stringify(const JsonObject& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

HTTPResponse::HTTPStatus StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnauthenticated: return HTTPResponse::HTTP_UNAUTHORIZED;
    case ErrorCode::kForbidden: return HTTPResponse::HTTP_FORBIDDEN;
    case ErrorCode::kNotFound: return HTTPResponse::HTTP_NOT_FOUND;
    case ErrorCode::kConflict:
    case ErrorCode::kTaken: return HTTPResponse::HTTP_CONFLICT;
    case ErrorCode::kTooLarge: return HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE;
    case ErrorCode::kUnavailable: return HTTPResponse::HTTP_SERVICE_UNAVAILABLE;
    case ErrorCode::kTimeout: return HTTPResponse::HTTP_GATEWAY_TIMEOUT;
    case ErrorCode::kInternal: return HTTPResponse::HTTP_INTERNAL_SERVER_ERROR;
    default: return HTTPResponse::HTTP_BAD_REQUEST;
  }
}

// {"error": {"code": "FORBIDDEN", "message": "…", "field": "…"}}
Answer Failure(const Status& status) {
  JsonObject error;
  error.set("code", std::string(ErrorCodeName(status.code())));
  error.set("message", status.message());
  error.set("field", status.field());
  JsonObject body;
  body.set("error", error);
  return {StatusFor(status.code()), Stringify(body)};
}

// A Prometheus label value: backslash, double quote and newline escaped.
std::string Label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// 2.5 ms -> "0.0025": Prometheus' le labels are seconds.
std::string Seconds(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", ms / 1000);
  return text;
}

Answer Json(const JsonObject& object, HTTPResponse::HTTPStatus status = HTTPResponse::HTTP_OK) {
  return {status, Stringify(object)};
}

// One API call as the handlers see it.
struct Call {
  std::string method;
  std::vector<std::string> path;  // decoded segments: /api/v1/tasks/R1%2F2/claim -> api v1 tasks R1/2 claim
  std::map<std::string, std::string> query;
  std::string body;
  Caller caller;

  Result<Poco::JSON::Object::Ptr> JsonBody() const {
    if (body.empty()) return Poco::JSON::Object::Ptr(new JsonObject);
    try {
      Poco::JSON::Parser parser;
      auto parsed = parser.parse(body);
      if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
        return Error(ErrorCode::kBadRequest, "the body must be a JSON object", "body");
      }
      return parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
      return Error(ErrorCode::kDecodeError, "the body is not JSON: " + e.displayText(), "body");
    }
  }
  // A string member of a JSON body: well-formed UTF-8 of at most `max_bytes`; "" when absent.
  static Result<std::string> Text(const Poco::JSON::Object& object, const std::string& name, size_t max_bytes) {
    if (!object.has(name) || object.isNull(name)) return std::string();
    const Poco::Dynamic::Var value = object.get(name);
    if (!value.isString()) return Error(ErrorCode::kBadRequest, "must be a string", name);
    std::string text = value.extract<std::string>();
    if (text.size() > max_bytes || !IsValidUtf8(text)) {
      return Error(ErrorCode::kBadRequest, "must be UTF-8 text of at most " + std::to_string(max_bytes) + " bytes",
                   name);
    }
    return text;
  }
  std::string Query(const std::string& key, const std::string& fallback = "") const {
    auto it = query.find(key);
    return it == query.end() ? fallback : it->second;
  }
  // A report's ?from= &to= (ms): the last 30 days by default.
  Result<std::pair<int64_t, int64_t>> Period(int64_t now_ms) const {
    auto from = QueryInt("from", now_ms - 30LL * 86'400'000, 0, INT64_MAX);
    if (!from) return Error(from.error());
    auto to = QueryInt("to", now_ms + 1, 0, INT64_MAX);
    if (!to) return Error(to.error());
    if (*to <= *from) return Error(ErrorCode::kBadRequest, "must be after from", "to");
    return std::pair{*from, *to};
  }
  Result<int64_t> QueryInt(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
    auto it = query.find(key);
    if (it == query.end()) return fallback;
    try {
      size_t used = 0;
      const int64_t value = std::stoll(it->second, &used);
      if (used == it->second.size() && value >= min && value <= max) return value;
    } catch (const std::exception&) {
    }
    return Error(ErrorCode::kBadRequest,
                 "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max), key);
  }
};

using Handler = std::function<Answer(const Call&)>;

struct Endpoint {
  std::string method;
  std::vector<std::string> pattern;  // "{}" matches one segment
  std::set<Role> roles;              // empty: no token needed
  Handler handler;
};

bool Matches(const Endpoint& e, const Call& call) {
  if (e.pattern.size() != call.path.size()) return false;
  for (size_t i = 0; i < e.pattern.size(); ++i) {
    if (e.pattern[i] != "{}" && e.pattern[i] != call.path[i]) return false;
  }
  return true;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t end = path.find('/', i);
    std::string decoded;
    Poco::URI::decode(path.substr(i, end - i), decoded);
    out.push_back(decoded);
    if (end == std::string::npos) break;
    i = end;
  }
  return out;
}

}  // namespace

struct AdminServer::Impl {
  Impl(app::Hub& h, const Clock& c, TokenKey k) : hub(h), clock(c), key(std::move(k)) {}

  app::Hub& hub;
  const Clock& clock;
  TokenKey key;
  std::unique_ptr<ledger::Ledger> reader;  // read-only; one transaction at a time
  std::mutex reader_mutex;
  std::vector<Endpoint> endpoints;
  Poco::ThreadPool pool{1, 8};
  std::unique_ptr<Poco::Net::HTTPServer> server;
  int port = 0;
  bool https = false;
  std::atomic<uint64_t> served{0};

  void AddEndpoints();
  Answer Serve(Poco::Net::HTTPServerRequest& request);
  Answer RequestTimeline(const Call& call);
};

namespace {

class RequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RequestHandler(AdminServer::Impl& impl) : impl_(impl) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    Answer answer;
    try {
      answer = impl_.Serve(request);
    } catch (const std::exception& e) {
      TAXHUB_LOG(kError, kLog) << request.getMethod() << " " << request.getURI() << ": " << e.what();
      answer = Failure(Status(ErrorCode::kInternal, "the request could not be served"));
    }
    response.setStatusAndReason(answer.status);
    if (answer.close) response.setKeepAlive(false);
    response.setContentType(answer.content_type);
    response.set("Cache-Control", "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
    response.set("Referrer-Policy", "no-referrer");
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    response.send() << answer.body;
  }

 private:
  AdminServer::Impl& impl_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(AdminServer::Impl& impl) : impl_(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(impl_);
  }

 private:
  AdminServer::Impl& impl_;
};

}  // namespace

Answer AdminServer::Impl::Serve(Poco::Net::HTTPServerRequest& request) {
  ++served;
  const app::AdminConfig& config = hub.config().admin;
  Call call;
  call.method = request.getMethod();
  // The raw path, split before decoding, so that an encoded "/" stays inside its segment.
  // Who may call it is settled before a byte of the body is read; an answer given before the
  // body was read to its end closes the connection (the rest must not pass for a request).
  const bool has_body = request.hasContentLength() ? request.getContentLength64() > 0
                                                   : request.getChunkedTransferEncoding();
  auto unread = [&](Answer answer) {
    answer.close = answer.close || has_body;
    return answer;
  };
  const std::string& uri = request.getURI();
  const size_t question = uri.find('?');
  try {
    call.path = Split(uri.substr(0, question));
  } catch (const Poco::Exception& e) {
    return unread(Failure(Status(ErrorCode::kBadRequest, "bad path: " + e.displayText(), "path")));
  }
  if (question != std::string::npos) {
    try {
      for (const auto& [k, v] : Poco::URI(uri).getQueryParameters()) call.query[k] = v;
    } catch (const Poco::Exception& e) {
      return unread(Failure(Status(ErrorCode::kBadRequest, "bad query: " + e.displayText(), "query")));
    }
  }
  // Whatever the handlers are given is text: decoded segments and parameters hold UTF-8.
  for (const std::string& segment : call.path) {
    if (!IsValidUtf8(segment)) {
      return unread(Failure(Status(ErrorCode::kBadRequest, "the path is not UTF-8 text", "path")));
    }
  }
  for (const auto& [k, v] : call.query) {
    if (!IsValidUtf8(k)) {
      return unread(Failure(Status(ErrorCode::kBadRequest, "a parameter name is not UTF-8 text", "query")));
    }
    if (!IsValidUtf8(v)) return unread(Failure(Status(ErrorCode::kBadRequest, "not UTF-8 text", k)));
  }
  const Endpoint* found = nullptr;
  bool path_known = false;
  for (const Endpoint& e : endpoints) {
    if (!Matches(e, call)) continue;
    path_known = true;
    if (e.method == call.method) {
      found = &e;
      break;
    }
  }
  if (!found) {
    return unread(path_known ? Answer{HTTPResponse::HTTP_METHOD_NOT_ALLOWED,
                                      Failure(Status(ErrorCode::kBadRequest, call.method + " is not allowed here",
                                                     "method")).body}
                             : Failure(Status(ErrorCode::kNotFound, "no such endpoint", "path")));
  }
  if (!found->roles.empty()) {
    const std::string authorization = request.get("Authorization", "");
    if (authorization.rfind("Bearer ", 0) != 0) {
      return unread(Failure(Status(ErrorCode::kUnauthenticated, "a bearer token is required", "Authorization")));
    }
    auto caller = key.Verify(std::string_view(authorization).substr(7), clock.NowMs());
    if (!caller) return unread(Failure(caller.error()));
    if (!found->roles.contains(caller->role)) {
      return unread(Failure(Status(ErrorCode::kForbidden,
                                   "the " + std::string(ToString(caller->role)) + " role may not do this", "role")));
    }
    call.caller = std::move(*caller);
  }
  // The size limit before reading: a declared length, then what actually arrives.
  auto too_large = [&] {
    Answer answer = Failure(Status(ErrorCode::kTooLarge,
                                   "the body is larger than " + std::to_string(config.max_body_bytes) + " bytes", "body"));
    answer.close = true;
    return answer;
  };
  if (request.hasContentLength() && request.getContentLength64() > config.max_body_bytes) return too_large();
  std::istream& in = request.stream();
  std::string chunk(8192, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    call.body.append(chunk.data(), static_cast<size_t>(in.gcount()));
    if (static_cast<int64_t>(call.body.size()) > config.max_body_bytes) return too_large();
  }
  return found->handler(call);
}

// ---- the endpoints ----------------------------------------------------------------------------

namespace {

JsonObject TaskJson(const workflow::QueueTask& t) {
  JsonObject o;
  o.set("task_id", t.task_id);
  o.set("request_id", t.request_id);
  o.set("kind", t.kind);
  o.set("taxpayer_id", t.taxpayer_id);
  o.set("queue", t.queue);
  o.set("stage", t.stage);
  o.set("label", t.label);
  o.set("difficulty", t.difficulty);
  o.set("claimed_by", t.claimed_by);
  o.set("ready_at_ms", t.ready_at_ms);
  o.set("deadline_ms", t.deadline_ms);
  o.set("overdue", t.overdue);
  return o;
}

Answer Done(const Status& status, JsonObject ok) {
  if (!status.ok()) return Failure(status);
  ok.set("ok", true);
  return Json(ok);
}

Answer Done(const Status& status) { return Done(status, JsonObject()); }

}  // namespace

Answer AdminServer::Impl::RequestTimeline(const Call& call) {
  const std::string& id = call.path[3];
  std::lock_guard<std::mutex> lock(reader_mutex);
  auto txn = reader->Begin();
  if (!txn) return Failure(txn.error());
  auto request = (*txn)->GetRequest(id);
  if (!request) return Failure(request.error());
  if (!request->has_value()) return Failure(Status(ErrorCode::kNotFound, "no request " + id, "id"));
  const ledger::RequestRecord& r = **request;
  auto stages = (*txn)->GetStages(id);
  if (!stages) return Failure(stages.error());
  auto events = (*txn)->GetEvents(id);
  if (!events) return Failure(events.error());
  JsonObject out;
  out.set("id", r.id);
  out.set("kind", r.kind);
  out.set("taxpayer_id", r.taxpayer_id);
  out.set("route", r.route);
  out.set("state", std::string(ledger::ToString(r.state)));
  out.set("accepted_at_ms", r.accepted_at_ms);
  out.set("finished_at_ms", r.finished_at_ms);
  out.set("signer", r.signer);
  JsonArray stage_list;
  const int64_t now = clock.NowMs();
  for (const ledger::StageRecord& s : *stages) {
    JsonObject o;
    o.set("index", s.index);
    o.set("name", s.name);
    o.set("label", s.label);
    o.set("service", s.service);
    o.set("queue", s.queue);
    o.set("state", std::string(ledger::ToString(s.state)));
    o.set("attempt", s.attempt);
    o.set("handler", s.handler);
    o.set("code", s.code);
    o.set("message", s.message);
    o.set("started_at_ms", s.started_at_ms);
    o.set("finished_at_ms", s.finished_at_ms);
    o.set("deadline_ms", s.deadline_ms);
    o.set("overdue", s.deadline_ms > 0 && (s.running() ? now : s.finished_at_ms) > s.deadline_ms);
    stage_list.add(o);
  }
  out.set("stages", stage_list);
  JsonArray timeline;
  for (const ledger::EventRecord& e : *events) {
    JsonObject o;
    o.set("seq", e.seq);
    o.set("stage", e.stage);
    o.set("type", e.type);
    o.set("at_ms", e.at_ms);
    o.set("detail", e.detail);
    timeline.add(o);
  }
  out.set("timeline", timeline);
  return Json(out);
}

void AdminServer::Impl::AddEndpoints() {
  const std::set<Role> everyone = {Role::kOperator, Role::kManager, Role::kStaff, Role::kAuditor};
  auto add = [&](std::string method, std::string path, std::set<Role> roles, Handler handler) {
    endpoints.push_back({std::move(method), Split(path), std::move(roles), std::move(handler)});
  };
  // The dashboard's files: no token (the page asks for one and sends it with each API call).
  auto asset = [](std::string_view name) {
    const DashboardFile* file = DashboardAsset(name);
    if (!file) return Failure(Status(ErrorCode::kNotFound, "no such file", "path"));
    return Answer{HTTPResponse::HTTP_OK, std::string(file->content), std::string(file->content_type)};
  };
  add("GET", "/", {}, [asset](const Call&) { return asset("index.html"); });
  add("GET", "/dashboard/{}", {}, [asset](const Call& call) { return asset(call.path[1]); });
  add("GET", "/healthz", {}, [](const Call&) { return Answer{HTTPResponse::HTTP_OK, "{\"status\":\"ok\"}"}; });
  add("GET", "/readyz", {}, [this](const Call&) {
    // A report holding the reader is proof enough that the ledger reads; probes never wait.
    std::unique_lock<std::mutex> lock(reader_mutex, std::try_to_lock);
    if (!lock.owns_lock()) return Answer{HTTPResponse::HTTP_OK, "{\"ready\":true}"};
    auto txn = reader->Begin();
    if (!txn) return Failure(Status(ErrorCode::kUnavailable, "the ledger is not readable: " + txn.error().message()));
    return Answer{HTTPResponse::HTTP_OK, "{\"ready\":true}"};
  });
  add("GET", "/metrics", {}, [this](const Call&) {
    const workflow::EngineCounters& e = hub.engine_counters();
    std::ostringstream out;
    auto counter = [&](const char* name, const char* help, uint64_t value) {
      out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n" << name << " " << value << "\n";
    };
    counter("taxhub_requests_accepted_total", "Requests accepted and committed.", e.accepted);
    counter("taxhub_requests_duplicate_total", "Submits answered as duplicates of an accepted request.", e.duplicates);
    counter("taxhub_requests_refused_total", "Submits refused as bad input.", e.rejected_input);
    counter("taxhub_requests_completed_total", "Requests completed.", e.completed);
    counter("taxhub_stages_dispatched_total", "Stage deliveries to adapter workers.", e.dispatched);
    counter("taxhub_stages_dispatched_at_once_total",
            "Of those, stages handed to an idle worker as they came up, without a claim.", e.dispatched_at_once);
    counter("taxhub_results_stale_total", "Stage results refused as stale.", e.stale_results);
    counter("taxhub_ledger_commits_total", "Ledger commits.", e.commits);
    counter("taxhub_ledger_failed_commits_total", "Ledger commits that failed.", e.failed_commits);
    counter("taxhub_circuits_opened_total", "Circuit breakers opened.", e.circuits_opened);
    counter("taxhub_engine_gathers_total", "Batches that waited for more messages (engine.gather_window).",
            e.gathers);
    counter("taxhub_engine_gathers_timed_out_total",
            "Batches whose wait ended before they held engine.gather_count messages.", e.gathers_timed_out);
    counter("taxhub_engine_overlapped_total",
            "Batches applied while the batch before them committed (engine.commit_behind).", e.overlapped);
    counter("taxhub_admin_requests_total", "Admin endpoint requests served.", served);
    counter("taxhub_peers_refused_total", "Requests refused because the peer's CURVE role does not allow them.",
            hub.broker_counters().peers_refused);
    counter("taxhub_clients_capped_total", "Requests refused because their client had too many under way.",
            hub.broker_counters().clients_capped);
    if (const security::ZapCounters* zap = hub.zap_counters()) {
      counter("taxhub_curve_handshakes_accepted_total", "CURVE handshakes the ZAP handler accepted.", zap->accepted);
      counter("taxhub_curve_handshakes_refused_total", "CURVE handshakes the ZAP handler refused.", zap->refused);
    }
    auto histogram = [&](const std::string& name, const std::string& labels, const workflow::LatencyHistogram& h) {
      uint64_t cumulative = 0;
      const std::string sep = labels.empty() ? "" : ",";
      for (size_t i = 0; i <= workflow::LatencyHistogram::kBoundsMs.size(); ++i) {
        cumulative += h.bucket(i);
        const bool inf = i == workflow::LatencyHistogram::kBoundsMs.size();
        out << name << "_bucket{" << labels << sep << "le=\""
            << (inf ? std::string("+Inf") : Seconds(workflow::LatencyHistogram::kBoundsMs[i]))
            << "\"} " << cumulative << "\n";
      }
      out << name << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << " " << h.sum_ms() / 1000 << "\n";
      out << name << "_count" << (labels.empty() ? "" : "{" + labels + "}") << " " << cumulative << "\n";
    };
    {
      // From the ledger: staff queues and dead letters, whichever hub put them there — left out
      // of this scrape if a report is reading the ledger now (scrapes do not wait).
      std::unique_lock<std::mutex> lock(reader_mutex, std::try_to_lock);
      auto txn = lock.owns_lock() ? reader->Begin() : Result<std::unique_ptr<ledger::Transaction>>(
                                                          Error(ErrorCode::kUnavailable, "busy"));
      if (txn) {
        if (auto depths = (*txn)->QueueDepths()) {
          out << "# HELP taxhub_queue_depth Staff tasks by queue, waiting or claimed.\n"
                 "# TYPE taxhub_queue_depth gauge\n";
          for (const auto& [queue, n] : *depths) {
            out << "taxhub_queue_depth{queue=\"" << Label(queue) << "\",state=\"waiting\"} " << n.first << "\n"
                << "taxhub_queue_depth{queue=\"" << Label(queue) << "\",state=\"claimed\"} " << n.second << "\n";
          }
        }
        if (auto failed = (*txn)->CountInState(ledger::RequestState::kFailed)) {
          out << "# HELP taxhub_dead_letters Requests that failed and wait for an operator.\n"
                 "# TYPE taxhub_dead_letters gauge\ntaxhub_dead_letters "
              << *failed << "\n";
        }
      }
    }
    out << "# HELP taxhub_ledger_commit_seconds Ledger commit latency of the engine's batches.\n"
           "# TYPE taxhub_ledger_commit_seconds histogram\n";
    histogram("taxhub_ledger_commit_seconds", "", e.commit_ms);
    out << "# HELP taxhub_stage_seconds Adapter stage latency, delivery to result, by stage.\n"
           "# TYPE taxhub_stage_seconds histogram\n";
    e.ForEachStage([&](const std::string& stage, const workflow::LatencyHistogram& h) {
      histogram("taxhub_stage_seconds", "stage=\"" + Label(stage) + "\"", h);
    });
    const broker::BrokerCounters& b = hub.broker_counters();
    counter("taxhub_client_requests_total", "MDP client requests at the frontend.", b.client_requests);
    counter("taxhub_workers_expired_total", "Adapter workers dropped for missing heartbeats.", b.workers_expired);
    if (hub.events_published() >= 0) {
      out << "# HELP taxhub_events_published_seq The last event sequence number published.\n"
             "# TYPE taxhub_events_published_seq gauge\ntaxhub_events_published_seq "
          << hub.events_published() << "\n";
    }
    std::map<std::string, std::pair<int, int>> workers;  // service -> (connected, busy)
    for (const broker::WorkerView& w : hub.workers()) {
      auto& [connected, busy] = workers[w.service];
      ++connected;
      busy += w.idle ? 0 : 1;
    }
    out << "# HELP taxhub_adapter_workers Adapter workers connected, by service.\n"
           "# TYPE taxhub_adapter_workers gauge\n";
    for (const auto& [service, n] : workers) {
      out << "taxhub_adapter_workers{service=\"" << Label(service) << "\"} " << n.first << "\n";
    }
    out << "# HELP taxhub_adapter_workers_busy Adapter workers holding a task or call, by service.\n"
           "# TYPE taxhub_adapter_workers_busy gauge\n";
    for (const auto& [service, n] : workers) {
      out << "taxhub_adapter_workers_busy{service=\"" << Label(service) << "\"} " << n.second << "\n";
    }
    out << "# HELP taxhub_circuit_open Whether a service's circuit breaker is open (1) or half-open (0.5).\n"
           "# TYPE taxhub_circuit_open gauge\n";
    for (const auto& [service, c] : hub.engine().Circuits()) {
      out << "taxhub_circuit_open{service=\"" << Label(service) << "\"} "
          << (c.state == "open" ? "1" : c.state == "half-open" ? "0.5" : "0") << "\n";
    }
    return Answer{HTTPResponse::HTTP_OK, out.str(), "text/plain; version=0.0.4"};
  });
  add("GET", "/api/v1/requests", everyone, [this](const Call& call) {
    // ?taxpayer= &kind= &state= &overdue=1 &from= &to= (accepted, ms) &limit= &cursor=
    ledger::RequestQuery q;
    q.taxpayer_id = call.Query("taxpayer");
    q.kind = call.Query("kind");
    q.state = call.Query("state");
    if (!q.state.empty() && !ledger::ParseRequestState(q.state)) {
      return Failure(Status(ErrorCode::kBadRequest, "not a request state", "state"));
    }
    for (const auto& [field, text] : {std::pair{"taxpayer", &q.taxpayer_id}, {"kind", &q.kind}}) {
      if (text->size() > 128) return Failure(Status(ErrorCode::kBadRequest, "too long", field));
    }
    const std::string overdue = call.Query("overdue", "0");
    if (overdue != "0" && overdue != "1") return Failure(Status(ErrorCode::kBadRequest, "must be 0 or 1", "overdue"));
    q.overdue_only = overdue == "1";
    q.now_ms = clock.NowMs();
    auto from = call.QueryInt("from", 0, 0, INT64_MAX);
    auto to = call.QueryInt("to", INT64_MAX, 0, INT64_MAX);
    auto limit = call.QueryInt("limit", 50, 1, 500);
    for (const auto* r : {&from, &to, &limit}) {
      if (!*r) return Failure(r->error());
    }
    q.accepted_from_ms = *from;
    q.accepted_to_ms = *to;
    q.limit = static_cast<int>(*limit);
    if (const std::string cursor = call.Query("cursor"); !cursor.empty()) {
      // "<accepted at>:<request id>" of the last request of the page before.
      const size_t colon = cursor.find(':');
      try {
        size_t used = 0;
        q.before_accepted_ms = std::stoll(cursor.substr(0, colon), &used);
        if (colon == std::string::npos || used != colon) throw std::invalid_argument("cursor");
      } catch (const std::exception&) {
        return Failure(Status(ErrorCode::kBadRequest, "not a cursor from a page before", "cursor"));
      }
      q.before_id = cursor.substr(colon + 1);
    }
    std::vector<ledger::RequestRecord> found;
    {
      std::lock_guard<std::mutex> lock(reader_mutex);
      auto txn = reader->Begin();
      if (!txn) return Failure(txn.error());
      auto read = (*txn)->SearchRequests(q);
      if (!read) return Failure(read.error());
      found = std::move(*read);
    }
    JsonArray list;
    for (const ledger::RequestRecord& r : found) {
      JsonObject o;
      o.set("id", r.id);
      o.set("kind", r.kind);
      o.set("taxpayer_id", r.taxpayer_id);
      o.set("state", std::string(ledger::ToString(r.state)));
      o.set("route", r.route);
      o.set("accepted_at_ms", r.accepted_at_ms);
      o.set("finished_at_ms", r.finished_at_ms);
      list.add(o);
    }
    JsonObject out;
    out.set("requests", list);
    if (static_cast<int>(found.size()) == q.limit) {
      out.set("next", std::to_string(found.back().accepted_at_ms) + ":" + found.back().id);
    }
    return Json(out);
  });
  add("GET", "/api/v1/requests/{}", everyone, [this](const Call& call) { return RequestTimeline(call); });
  add("GET", "/api/v1/tasks", {Role::kStaff, Role::kManager}, [this](const Call& call) {
    const std::string queue = call.Query("queue");
    if (queue.empty()) return Failure(Status(ErrorCode::kMissingField, "which queue?", "queue"));
    auto limit = call.QueryInt("limit", 100, 1, 1000);
    if (!limit) return Failure(limit.error());
    auto tasks = hub.engine().QueueTasks(queue, static_cast<int>(*limit));
    if (!tasks) return Failure(tasks.error());
    JsonArray list;
    for (const auto& t : *tasks) list.add(TaskJson(t));
    JsonObject out;
    out.set("tasks", list);
    return Json(out);
  });
  add("POST", "/api/v1/tasks/{}/claim", {Role::kStaff}, [this](const Call& call) {
    return Done(hub.engine().ClaimTask(call.path[3], call.caller.user));
  });
  add("POST", "/api/v1/tasks/{}/complete", {Role::kStaff}, [this](const Call& call) {
    auto body = call.JsonBody();
    if (!body) return Failure(body.error());
    auto decision_text = Call::Text(**body, "decision", 16);
    if (!decision_text) return Failure(decision_text.error());
    auto reason_text = Call::Text(**body, "reason", kMaxReasonBytes);
    if (!reason_text) return Failure(reason_text.error());
    const std::string& decision = *decision_text;
    const std::string& reason = *reason_text;
    static const std::map<std::string, workflow::Decision> kDecisions = {
        {"approve", workflow::Decision::kApprove}, {"reject", workflow::Decision::kReject},
        {"return", workflow::Decision::kReturn}};
    auto d = kDecisions.find(decision);
    if (d == kDecisions.end()) {
      return Failure(Status(ErrorCode::kBadRequest, "must be approve, reject or return", "decision"));
    }
    if (d->second != workflow::Decision::kApprove && reason.empty()) {
      return Failure(Status(ErrorCode::kMissingField, "a " + decision + " needs a reason", "reason"));
    }
    return Done(hub.engine().CompleteTask(call.path[3], call.caller.user, d->second, reason));
  });
  add("POST", "/api/v1/tasks/{}/assign", {Role::kManager}, [this](const Call& call) {
    auto body = call.JsonBody();
    if (!body) return Failure(body.error());
    auto staff_text = Call::Text(**body, "staff", kMaxStaffBytes);
    if (!staff_text) return Failure(staff_text.error());
    const std::string& staff = *staff_text;
    if (staff.empty()) return Failure(Status(ErrorCode::kMissingField, "to whom?", "staff"));
    return Done(hub.engine().AssignTask(call.path[3], call.caller.user, staff));
  });
  add("GET", "/api/v1/adapters", {Role::kOperator, Role::kAuditor}, [this](const Call&) {
    // Every service with connected workers or a circuit: its workers and the circuit's state.
    std::map<std::string, JsonArray> workers;
    for (const broker::WorkerView& w : hub.workers()) {
      JsonObject o;
      o.set("worker", w.worker);
      o.set("idle", w.idle);
      o.set("task_id", w.task_id);
      o.set("heartbeat_age_ms", w.heartbeat_age_ms);
      o.set("connected_ms", w.connected_ms);
      workers[w.service].add(o);
    }
    const auto circuits = hub.engine().Circuits();
    std::set<std::string> services;
    for (const auto& [service, list] : workers) services.insert(service);
    for (const auto& [service, c] : circuits) services.insert(service);
    JsonArray list;
    for (const std::string& service : services) {
      JsonObject o;
      o.set("service", service);
      auto w = workers.find(service);
      o.set("workers", w == workers.end() ? JsonArray() : w->second);
      auto c = circuits.find(service);
      o.set("circuit", c == circuits.end() ? "closed" : c->second.state);
      o.set("failures", c == circuits.end() ? 0 : c->second.failures);
      list.add(o);
    }
    JsonObject out;
    out.set("adapters", list);
    return Json(out);
  });
  add("GET", "/api/v1/dead-letters", {Role::kOperator, Role::kAuditor}, [this](const Call& call) {
    auto limit = call.QueryInt("limit", 100, 1, 1000);
    if (!limit) return Failure(limit.error());
    auto letters = hub.engine().DeadLetters(static_cast<int>(*limit), call.Query("after"));
    if (!letters) return Failure(letters.error());
    JsonArray list;
    for (const workflow::DeadLetter& d : *letters) {
      JsonObject o;
      o.set("request_id", d.request_id);
      o.set("kind", d.kind);
      o.set("taxpayer_id", d.taxpayer_id);
      o.set("route", d.route);
      o.set("stage", d.stage);
      o.set("service", d.service);
      o.set("attempts", d.attempts);
      o.set("code", d.code);
      o.set("message", d.message);
      o.set("failed_at_ms", d.failed_at_ms);
      list.add(o);
    }
    JsonObject out;
    out.set("dead_letters", list);
    if (!letters->empty()) out.set("next", letters->back().request_id);
    return Json(out);
  });
  add("POST", "/api/v1/dead-letters/{}/replay", {Role::kOperator}, [this](const Call& call) {
    return Done(hub.engine().Replay(call.path[3], call.caller.user));
  });
  add("POST", "/api/v1/dead-letters/{}/discard", {Role::kOperator}, [this](const Call& call) {
    auto body = call.JsonBody();
    if (!body) return Failure(body.error());
    auto reason = Call::Text(**body, "reason", kMaxReasonBytes);
    if (!reason) return Failure(reason.error());
    if (reason->empty()) return Failure(Status(ErrorCode::kMissingField, "why is it given up?", "reason"));
    return Done(hub.engine().Discard(call.path[3], call.caller.user, *reason));
  });
  add("POST", "/api/v1/routes/reload", {Role::kOperator}, [this](const Call& call) {
    auto version = hub.ReloadRoutes(call.caller.user);
    if (!version) return Failure(version.error());
    TAXHUB_LOG(kInfo, kLog) << call.caller.user << " reloaded the routes: version " << *version;
    JsonObject out;
    out.set("version", *version);
    return Done(Status::Ok(), out);
  });
  add("POST", "/api/v1/ledger/verify", {Role::kAuditor, Role::kOperator}, [this](const Call&) {
    std::lock_guard<std::mutex> lock(reader_mutex);
    auto report = app::VerifyLedger(*reader, app::VerifyLedgerOptions{});
    if (!report) return Failure(report.error());
    JsonObject out;
    out.set("ok", report->ok());
    out.set("chains", report->chains);
    out.set("events", report->events);
    out.set("checkpoints", report->checkpoints);
    out.set("requests", report->requests);
    JsonArray problems;
    for (const auto& p : report->problems) problems.add(p);
    out.set("problems", problems);
    return Json(out);
  });
  add("GET", "/api/v1/reports/sla", {Role::kManager, Role::kAuditor, Role::kOperator}, [this](const Call& call) {
    const int64_t now = clock.NowMs();
    auto period = call.Period(now);
    if (!period) return Failure(period.error());
    const auto [from, to] = *period;
    app::SlaReport report;
    {
      std::lock_guard<std::mutex> lock(reader_mutex);
      auto built = app::BuildSlaReport(*reader, from, to, now);
      if (!built) return Failure(built.error());
      report = std::move(*built);
    }
    JsonArray stages;
    for (const app::StageSla& s : report.stages) {
      JsonObject o;
      o.set("route", s.route);
      o.set("stage", s.stage);
      o.set("label", s.label);
      o.set("office", s.office);
      o.set("finished", s.finished);
      o.set("finished_late", s.finished_late);
      o.set("open", s.open);
      o.set("open_overdue", s.open_overdue);
      o.set("p50_ms", s.p50_ms);
      o.set("p90_ms", s.p90_ms);
      stages.add(o);
    }
    JsonObject days;
    for (const auto& [day, n] : report.completed_by_day) days.set(day, n);
    JsonObject out;
    out.set("from_ms", from);
    out.set("to_ms", to);
    out.set("requests", report.requests);
    out.set("stages", stages);
    out.set("completed_by_day", days);
    return Json(out);
  });
  add("GET", "/api/v1/routes", {Role::kOperator, Role::kAuditor}, [this](const Call&) {
    auto table = hub.routes();
    JsonArray routes;
    for (const routing::Route& r : table->routes()) {
      JsonObject o;
      o.set("name", r.name);
      o.set("kind", r.kind);
      JsonArray stages;
      for (const routing::StageRule& s : r.stages) {
        JsonObject st;
        st.set("name", s.name);
        st.set("label", s.label);
        st.set(s.queue.empty() ? "service" : "queue", s.queue.empty() ? s.service : s.queue);
        st.set("time_limit_ms", s.time_limit_ms);
        st.set("on_rejection", s.on_rejection);
        stages.add(st);
      }
      o.set("stages", stages);
      routes.add(o);
    }
    JsonObject out;
    out.set("source", table->source());
    out.set("digest", table->digest());
    out.set("routes", routes);
    return Json(out);
  });
  add("GET", "/api/v1/reports/staff", {Role::kManager, Role::kAuditor}, [this](const Call& call) {
    const int64_t now = clock.NowMs();
    auto period = call.Period(now);
    if (!period) return Failure(period.error());
    const auto [from, to] = *period;
    std::vector<app::StaffPerformance> report;
    {
      std::lock_guard<std::mutex> lock(reader_mutex);
      auto read = app::StaffPerformanceReport(*reader, from, to);
      if (!read) return Failure(read.error());
      report = std::move(*read);
    }
    JsonArray staff;
    for (const app::StaffPerformance& p : report) {
      JsonObject o;
      o.set("staff", p.staff);
      o.set("tasks", p.tasks);
      o.set("workload", p.workload);
      o.set("average_handling_ms", p.average_handling_ms);
      o.set("overdue", p.overdue);
      o.set("rejected", p.rejected);
      o.set("returned", p.returned);
      o.set("return_rate", p.return_rate);
      o.set("complaints", p.complaints);
      o.set("complaint_rate", p.complaint_rate);
      o.set("ratings", p.ratings);
      o.set("average_rating", p.average_rating);
      staff.add(o);
    }
    // The service stars: the ten with the most work done, then the best rated.
    std::vector<const app::StaffPerformance*> ranked;
    for (const auto& p : report) ranked.push_back(&p);
    std::sort(ranked.begin(), ranked.end(), [](const auto* a, const auto* b) {
      return std::tie(b->workload, b->average_rating, a->staff) < std::tie(a->workload, a->average_rating, b->staff);
    });
    JsonArray stars;
    for (size_t i = 0; i < ranked.size() && i < 10; ++i) stars.add(ranked[i]->staff);
    JsonObject out;
    out.set("from_ms", from);
    out.set("to_ms", to);
    out.set("staff", staff);
    out.set("stars", stars);
    return Json(out);
  });
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() { Stop(); }

int AdminServer::port() const { return impl_->port; }
bool AdminServer::https() const { return impl_->https; }

void AdminServer::Stop() {
  if (impl_ && impl_->server) {
    impl_->server->stopAll(true);
    impl_->server.reset();
    impl_->pool.joinAll();
  }
}

Result<std::unique_ptr<AdminServer>> AdminServer::Start(app::Hub& hub, const Clock& clock) {
  const app::AdminConfig& config = hub.config().admin;
  auto key = TokenKey::Load(config.token_key, config.token_issuer, config.token_audience);
  if (!key) return Error(key.error());
  auto impl = std::make_unique<Impl>(hub, clock, std::move(*key));
  auto reader = app::OpenLedger(hub.config(), /*read_only=*/true);
  if (!reader) return Error(reader.error().WithContext("admin endpoint"));
  impl->reader = std::move(*reader);
  impl->AddEndpoints();
  try {
    impl->pool.addCapacity(config.threads - impl->pool.capacity());
    const Poco::Net::SocketAddress address(config.listen_host, static_cast<Poco::UInt16>(config.listen_port));
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (!config.tls_certificate.empty()) {
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_SERVER_USE, config.tls_key, config.tls_certificate, "",
          Poco::Net::Context::VERIFY_NONE, 9, false,
          "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!RC4");
      context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                                Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
      socket = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, context);
      impl->https = true;
    } else {
      socket = std::make_unique<Poco::Net::ServerSocket>(address);
    }
    impl->port = socket->address().port();
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(config.threads);
    params->setMaxQueued(config.queue);
    params->setTimeout(Poco::Timespan(config.timeout_ms * 1000));
    params->setKeepAlive(true);
    // Dashboards poll every few seconds: an idle connection gives its pool thread back soon.
    params->setKeepAliveTimeout(Poco::Timespan(2, 0));
    params->setMaxKeepAliveRequests(100);
    params->setServerName("taxhub");
    impl->server = std::make_unique<Poco::Net::HTTPServer>(new Factory(*impl), impl->pool, *socket, params);
    impl->server->start();
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kUnavailable,
                 "cannot serve the admin endpoint on " + config.listen_host + ":" + std::to_string(config.listen_port) +
                     ": " + e.displayText(),
                 "admin.listen");
  }
  TAXHUB_LOG(kInfo, kLog) << "admin endpoint on " << (impl->https ? "https" : "http") << "://" << config.listen_host
                          << ":" << impl->port;
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

}  // namespace taxhub::admin
