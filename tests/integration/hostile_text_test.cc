// Hostile text in every text field of every hub service, as one table: invalid UTF-8 (bad
// bytes, overlong, surrogate, truncated), GBK, NUL, SQL and script fragments, forged log lines.
// Each is refused with an error naming its field, or (well-formed UTF-8 in a free-text field,
// any bytes in the opaque body) stored byte for byte. A refused call writes nothing to the
// ledger, and a well-behaved client running alongside the whole time sees no error. Runs on
// SQLite (hostile_text_test) and PostgreSQL (hostile_text_pg_test).

#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "hub/admin/admin_server.h"
#include "hub/admin/tokens.h"
#include "hub/app/verify_ledger.h"
#include "hub/base/digest.h"
#include "hub/base/json_map.h"
#include "hub/base/text.h"
#include "tests/integration/backends.h"
#include "tests/support/http_client.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

const std::string kHostile = "91310110666007217T";  // the taxpayer whose fields are hostile
const std::string kGood = "91350100M000100Y43";     // the well-behaved client alongside

const char* kRoutes = R"(
defaults:
  retry: {max_attempts: 3, initial_backoff: 50ms, multiplier: 2, max_backoff: 500ms, attempt_timeout: 5s}
routes:
  - name: single
    match: {kind: single}
    stages:
      - {name: one, label: 受理, service: t.one, time_limit: 1h}
  - name: complaint
    match: {kind: complaint.service}
    stages:
      - {name: handle, label: 处理, queue: hall.complaints, time_limit: 10d}
  - name: staff
    match: {kind: staff.task}
    stages:
      - {name: verify, label: 核查, queue: hall.verify, time_limit: 10d}
  - name: doomed
    match: {kind: doomed}
    stages:
      - {name: call, service: t.down, retry: {max_attempts: 1}}
  - name: results
    match: {kind: result.test}
    stages:
      - {name: call, service: t.result, retry: {max_attempts: 1}}
circuits:
  t.down: {failures: 1000}
  t.result: {failures: 1000}
)";

struct Value {
  const char* name;
  std::string bytes;
  bool utf8;  // well-formed UTF-8 without NUL: a free-text field keeps it
  // JSON can carry it (as an escape); otherwise a JSON body holding it is not JSON at all.
  bool in_json = true;
};

const std::vector<Value>& Values() {
  static const std::vector<Value> values = {
      {"bad bytes", "\xff\xfe\xfd", false, false},
      {"overlong", "\xc0\xaf", false, false},
      {"surrogate", "\xed\xa0\x80", false, false},
      {"truncated", "\xe7\xba", false, false},
      {"GBK", "\xc4\xc9\xcb\xb0\xc8\xcb", false, false},  // 纳税人 in GBK
      {"NUL", std::string("a\0b", 3), false},
      {"SQL", "x'); DROP TABLE requests; --", true},
      {"SQL or", "' OR '1'='1", true},
      {"script", "<script>alert(1)</script>", true},
      {"forged log line", "x\r\n2026-11-30 12:00:00 INFO forged", true},
  };
  return values;
}

enum class Kind {
  kToken,   // identifiers and names: only their own characters; every hostile value is refused
  kText,    // free text: well-formed UTF-8 is kept verbatim, anything else is refused
  kBinary,  // the application body: opaque bytes, always kept verbatim
};

// A request whose field holds a hostile value, and how to find what the hub kept.
struct Call {
  std::string service;
  std::string body;
  std::string target;  // the request the call is about
};

struct Field {
  std::string service;
  std::string name;   // as in the schema
  std::string error;  // the field the refusal must name
  Kind kind;
  // Builds the request; `target` is a completed request of kHostile, `n` makes ids unique.
  std::function<Call(const std::string& value, const std::string& target, int n)> make;
  // Reads back what the hub kept of an accepted call.
  std::function<std::string(const Call& call, const std::string& reply)> kept;
};

class HostileTextTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string dsn;
    TAXHUB_PREPARE_BACKEND(GetParam(), dsn);
    config_ = TestHubConfig(dir_, GetParam(), dsn, kRoutes);
    config_.admin.enabled = true;
    config_.admin.listen_port = 0;
    config_.admin.token_key = dir_.File("admin-token.key");
    ASSERT_TRUE(admin::TokenKey::CreateIfMissing(config_.admin.token_key).ok());
    hub_ = std::make_unique<TestHub>(config_);
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
    auto server = admin::AdminServer::Start(hub_->hub(), clock_);
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    admin_ = std::move(*server);
    auto key = admin::TokenKey::Load(config_.admin.token_key, "taxhub", "taxhub-admin");
    ASSERT_TRUE(key.has_value());
    for (admin::Role r : {admin::Role::kOperator, admin::Role::kManager, admin::Role::kStaff}) {
      tokens_[r] = *key->Issue({"user-" + std::string(admin::ToString(r)), r}, clock_.NowMs(), 3'600'000);
    }
    workers_ = std::make_unique<TestWorkers>(hub_->backend(), std::vector<std::string>{"t.one"}, handler_);
    down_workers_ = std::make_unique<TestWorkers>(hub_->backend(), std::vector<std::string>{"t.down"}, down_);
    client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
    auto ledger = app::OpenLedger(config_, /*read_only=*/true);
    ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
    reader_ = std::move(*ledger);
  }

  void TearDown() override {
    admin_.reset();
    workers_.reset();
    down_workers_.reset();
    hub_.reset();
  }

  HttpReply As(admin::Role role, const std::string& method, const std::string& path, const std::string& body = "") {
    return HttpExchange(admin_->port(), method, path, tokens_[role], body);
  }

  // A staff task waiting in hall.verify, claimed by user-staff when `claim`; returns its task id.
  std::string StaffTask(int n, bool claim) {
    wire::SubmitRequest r = Application("STAFF-" + std::to_string(n), kHostile);
    r.kind = "staff.task";
    EXPECT_TRUE(client_->Submit(r).has_value());
    const std::string task = r.request_id + "/0";
    EXPECT_TRUE(Eventually([&] {
      return As(admin::Role::kStaff, "GET", "/api/v1/tasks?queue=hall.verify").body.find(task) != std::string::npos;
    })) << task;
    if (claim) {
      EXPECT_EQ(As(admin::Role::kStaff, "POST", "/api/v1/tasks/" + PercentEncode(task) + "/claim").status, 200);
    }
    return task;
  }

  // A request that failed its only attempt and waits for an operator; returns its id.
  std::string DeadLetter(int n) {
    wire::SubmitRequest r = Application("DOOMED-" + std::to_string(n), kHostile);
    r.kind = "doomed";
    EXPECT_TRUE(client_->Submit(r).has_value());
    EXPECT_TRUE(Eventually([&] {
      auto p = client_->Progress(r.request_id, kHostile);
      return p && p->state == wire::RequestState::FAILED;
    })) << r.request_id;
    return r.request_id;
  }

  static wire::SubmitRequest Application(const std::string& id, const std::string& taxpayer) {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = "single";
    r.taxpayer_id = taxpayer;
    r.attributes = {{"tax_office", "13212000000"}};
    r.body = "{}";
    return r;
  }

  // A completed request of kHostile, to rate, complain about and report on.
  std::string CompletedTarget(int n) {
    const std::string id = "TARGET-" + std::to_string(n);
    auto reply = client_->Submit(Application(id, kHostile));
    EXPECT_TRUE(reply.has_value()) << reply.error().ToString();
    EXPECT_TRUE(Settled(id, kHostile)) << id;
    return id;
  }

  bool Settled(const std::string& id, const std::string& taxpayer) {
    return Eventually([&] {
      auto p = client_->Progress(id, taxpayer);
      return p && p->state == wire::RequestState::COMPLETED;
    });
  }

  // Everything the ledger holds about requests other than the good client's: each request
  // with its state, attributes, body and last update, its stages (state, handler, outcome,
  // outputs, token) and its events. A refused call must leave it as it was.
  std::string Snapshot() {
    auto txn = reader_->Begin();
    if (!txn) return "unreadable: " + txn.error().ToString();
    auto requests = AllRequests(**txn);
    if (!requests) return "unreadable: " + requests.error().ToString();
    std::string out;
    for (const ledger::RequestRecord& r : *requests) {
      if (r.taxpayer_id == kGood) continue;
      out += r.id + " " + std::string(ledger::ToString(r.state)) + " " + EncodeJsonMap(r.attributes) + " " +
             Sha256Hex({r.body}) + " " + std::to_string(r.updated_at_ms) + "\n";
      auto stages = (*txn)->GetStages(r.id);
      auto events = (*txn)->GetEvents(r.id);
      if (!stages || !events) return "unreadable stages or events of " + r.id;
      for (const auto& s : *stages) {
        out += "  stage " + std::string(ledger::ToString(s.state)) + " " + s.handler + " " + s.code + " " +
               s.message + " " + EncodeJsonMap(s.outputs) + " " + std::to_string(s.token) + "\n";
      }
      for (const auto& e : *events) out += "  " + e.type + " " + e.detail + "\n";
    }
    return out;
  }

  // Every request in the ledger, a page at a time.
  static Result<std::vector<ledger::RequestRecord>> AllRequests(ledger::Transaction& txn) {
    std::vector<ledger::RequestRecord> all;
    for (std::string after;;) {
      auto page = txn.ScanRequests(after, 500);
      if (!page) return Error(page.error());
      all.insert(all.end(), page->begin(), page->end());
      if (page->size() < 500) return all;
      after = page->back().id;
    }
  }

  // The first stage of request `id` (a task id "<id>/<n>" names its request too).
  std::optional<ledger::StageRecord> FirstStage(const std::string& id) {
    auto txn = reader_->Begin();
    if (!txn) return std::nullopt;
    auto stages = (*txn)->GetStages(id.substr(0, id.find('/')));
    if (!stages || stages->empty()) return std::nullopt;
    return (*stages)[0];
  }

  std::optional<ledger::RequestRecord> Stored(const std::string& id) {
    auto txn = reader_->Begin();
    if (!txn) return std::nullopt;
    auto r = (*txn)->GetRequest(id);
    return r ? *r : std::nullopt;
  }

  // The details of the last event of `type` on `request_id`.
  StringMap EventDetails(const std::string& request_id, const std::string& type) {
    auto txn = reader_->Begin();
    if (!txn) return {};
    auto events = (*txn)->GetEvents(request_id);
    if (!events) return {};
    for (auto e = events->rbegin(); e != events->rend(); ++e) {
      if (e->type == type) return DecodeJsonMap(e->detail).value_or(StringMap{});
    }
    return {};
  }

  std::vector<Field> Fields();

  TempDir dir_;
  app::HubConfig config_;
  zmq::context_t context_{1};
  ScriptedHandler handler_;
  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<TestWorkers> workers_;
  std::unique_ptr<client::HubClient> client_;
  std::unique_ptr<ledger::Ledger> reader_;
  SystemClock clock_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::map<admin::Role, std::string> tokens_;
  ScriptedHandler down_{[](const wire::StageTask&) {
    wire::StageResult r;
    r.outcome = wire::StageOutcome::RETRY;
    r.code = "DOWN";
    r.message = "the legacy system is down";
    return r;
  }};
  std::unique_ptr<TestWorkers> down_workers_;
};

template <typename T>
T DecodeAs(const std::string& body) {
  auto d = client::DecodeReply<T>(body);
  return d ? *d : T{};
}

std::vector<Field> HostileTextTest::Fields() {
  auto submit = [](auto set) {
    return [set](const std::string& v, const std::string&, int n) {
      wire::SubmitRequest r = Application("H-" + std::to_string(n), kHostile);
      set(r, v);
      return Call{workflow::kSubmitService, wire::Encode(r), r.request_id};
    };
  };
  auto progress = [](auto set) {
    return [set](const std::string& v, const std::string& target, int) {
      wire::ProgressRequest r;
      r.request_id = target;
      r.taxpayer_id = kHostile;
      set(r, v);
      return Call{workflow::kProgressService, wire::Encode(r), target};
    };
  };
  auto rate = [](auto set) {
    return [set](const std::string& v, const std::string& target, int) {
      wire::RateRequest r;
      r.request_id = target;
      r.taxpayer_id = kHostile;
      r.stage = 0;
      r.score = 4;
      r.comment = "办理很快";
      set(r, v);
      return Call{workflow::kRateService, wire::Encode(r), target};
    };
  };
  auto complain = [](auto set) {
    return [set](const std::string& v, const std::string& target, int n) {
      wire::ComplainRequest r;
      r.request_id = target;
      r.taxpayer_id = kHostile;
      r.stage = 0;
      r.text = "等了太久";
      r.complaint_id = "C-" + std::to_string(n);
      set(r, v);
      return Call{workflow::kComplainService, wire::Encode(r), target};
    };
  };
  auto items = [](auto set) {
    return [set](const std::string& v, const std::string& target, int) {
      wire::ItemsRequest r;
      r.taxpayer_id = kHostile;
      r.taxpayer_type = "general";
      r.industry = "5191";
      set(r, v);
      return Call{workflow::kItemsService, wire::Encode(r), target};
    };
  };
  auto events = [](auto set) {
    return [set](const std::string& v, const std::string& target, int) {
      wire::EventsRequest r;
      r.limit = 10;
      set(r, v);
      return Call{workflow::kEventsService, wire::Encode(r), target};
    };
  };
  auto report = [](auto set) {
    return [set](const std::string& v, const std::string& target, int n) {
      wire::TaskReport r;
      r.task_id = target + "/0";
      r.type = "sms.delivered";
      r.reporter = "sms-adapter-1";
      r.details = {{"note", "ok"}, {"n", std::to_string(n)}};
      set(r, v);
      return Call{workflow::kReportService, wire::Encode(r), target};
    };
  };
  // What an accepted report kept: the details of the report event on the target.
  auto report_kept = [this](const std::string& key) {
    return [this, key](const Call& call, const std::string&) {
      return EventDetails(call.target, "report.sms.delivered")[key];
    };
  };
  using S = wire::SubmitRequest;
  return {
      {"submit", "request_id", "request_id", Kind::kToken, submit([](S& r, auto& v) { r.request_id = v; }), nullptr},
      {"submit", "kind", "kind", Kind::kToken, submit([](S& r, auto& v) { r.kind = v; }), nullptr},
      {"submit", "taxpayer_id", "taxpayer_id", Kind::kToken, submit([](S& r, auto& v) { r.taxpayer_id = v; }), nullptr},
      {"submit", "attribute name", "attributes", Kind::kToken, submit([](S& r, auto& v) { r.attributes[v] = "x"; }), nullptr},
      {"submit", "attribute value", "attributes.note", Kind::kText,
       submit([](S& r, auto& v) { r.attributes["note"] = v; }),
       [this](const Call& call, const std::string&) {
         auto r = Stored(call.target);
         return r ? r->attributes["note"] : "(not stored)";
       }},
      {"submit", "body", "body", Kind::kBinary, submit([](S& r, auto& v) { r.body = v; }),
       [this](const Call& call, const std::string&) {
         auto r = Stored(call.target);
         return r ? r->body : "(not stored)";
       }},
      {"progress", "request_id", "request_id", Kind::kToken,
       progress([](wire::ProgressRequest& r, auto& v) { r.request_id = v; }), nullptr},
      {"progress", "taxpayer_id", "taxpayer_id", Kind::kToken,
       progress([](wire::ProgressRequest& r, auto& v) { r.taxpayer_id = v; }), nullptr},
      {"rate", "request_id", "request_id", Kind::kToken, rate([](wire::RateRequest& r, auto& v) { r.request_id = v; }), nullptr},
      {"rate", "taxpayer_id", "taxpayer_id", Kind::kToken,
       rate([](wire::RateRequest& r, auto& v) { r.taxpayer_id = v; }), nullptr},
      {"rate", "comment", "comment", Kind::kText, rate([](wire::RateRequest& r, auto& v) { r.comment = v; }),
       [this](const Call& call, const std::string&) { return EventDetails(call.target, "stage.rated")["comment"]; }},
      {"complain", "request_id", "request_id", Kind::kToken,
       complain([](wire::ComplainRequest& r, auto& v) { r.request_id = v; }), nullptr},
      {"complain", "taxpayer_id", "taxpayer_id", Kind::kToken,
       complain([](wire::ComplainRequest& r, auto& v) { r.taxpayer_id = v; }), nullptr},
      {"complain", "complaint_id", "complaint_id", Kind::kToken,
       complain([](wire::ComplainRequest& r, auto& v) { r.complaint_id = v; }), nullptr},
      {"complain", "text", "text", Kind::kText, complain([](wire::ComplainRequest& r, auto& v) { r.text = v; }),
       [this](const Call&, const std::string& reply) -> std::string {
         auto r = Stored(DecodeAs<wire::ComplainReply>(reply).complaint_id);
         if (!r) return "(not stored)";
         Poco::JSON::Parser parser;
         return parser.parse(r->body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("text");
       }},
      {"items", "taxpayer_id", "taxpayer_id", Kind::kToken,
       items([](wire::ItemsRequest& r, auto& v) { r.taxpayer_id = v; }), nullptr},
      {"items", "taxpayer_type", "taxpayer_type", Kind::kToken,
       items([](wire::ItemsRequest& r, auto& v) { r.taxpayer_type = v; }), nullptr},
      {"items", "industry", "industry", Kind::kToken, items([](wire::ItemsRequest& r, auto& v) { r.industry = v; }), nullptr},
      {"events", "stream", "stream", Kind::kToken, events([](wire::EventsRequest& r, auto& v) { r.stream = v; }), nullptr},
      {"report", "task_id", "task_id", Kind::kToken, report([](wire::TaskReport& r, auto& v) { r.task_id = v; }), nullptr},
      {"report", "type", "type", Kind::kToken, report([](wire::TaskReport& r, auto& v) { r.type = v; }), nullptr},
      {"report", "reporter", "reporter", Kind::kText, report([](wire::TaskReport& r, auto& v) { r.reporter = v; }),
       report_kept("reporter")},
      {"report", "detail name", "details", Kind::kToken,
       report([](wire::TaskReport& r, auto& v) { r.details[v] = "x"; }), nullptr},
      {"report", "detail value", "details.note", Kind::kText,
       report([](wire::TaskReport& r, auto& v) { r.details["note"] = v; }), report_kept("note")},
  };
}

TEST_P(HostileTextTest, EveryTextFieldOfEveryServiceIsRefusedByNameOrKeptVerbatim) {
  // The well-behaved client: submits and reads its progress the whole time.
  std::atomic<bool> stop{false};
  std::atomic<int> good_acknowledged{0}, good_errors{0};
  std::string first_good_error;
  std::thread good([&] {
    client::HubClient client(context_, hub_->frontend());
    for (int i = 0; !stop; ++i) {
      const std::string id = "GOOD-" + std::to_string(i);
      auto reply = client.Submit(Application(id, kGood));
      auto progress = reply ? client.Progress(id, kGood) : Result<wire::ProgressReply>(Unexpected(reply.error()));
      if (reply && progress) {
        ++good_acknowledged;
      } else if (good_errors++ == 0) {
        first_good_error = (reply ? progress.error() : reply.error()).ToString();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // alongside, not a flood
    }
  });

  int n = 0, refused = 0, kept = 0;
  std::vector<std::string> table;
  for (const Field& field : Fields()) {
    for (const Value& value : Values()) {
      ++n;
      const std::string what = field.service + " " + field.name + " <- " + value.name;
      const bool keep = field.kind == Kind::kBinary || (field.kind == Kind::kText && value.utf8);
      // Calls about a request get a fresh completed one (a stage is rated once).
      const bool about_one = field.service != "submit" && field.service != "items" && field.service != "events";
      const std::string target = about_one ? CompletedTarget(n) : "";
      const Call call = field.make(value.bytes, target, n);
      const std::string before = Snapshot();
      // Sent once: a resent rate would meet "already rated".
      auto reply = client_->mdp().Call("taxhub." + field.service, call.body, 10'000, /*retries=*/0);
      ASSERT_TRUE(reply.has_value()) << what << ": " << reply.error().ToString();
      const Status status = wire::ReplyStatus(*reply);
      if (!keep) {
        ++refused;
        EXPECT_FALSE(status.ok()) << what << " was accepted";
        EXPECT_NE(status.code(), ErrorCode::kInternal) << what << ": " << status.ToString();
        EXPECT_NE(status.code(), ErrorCode::kUnavailable) << what << ": " << status.ToString();
        EXPECT_EQ(status.field(), field.error) << what << ": " << status.ToString();
        EXPECT_FALSE(status.message().empty()) << what;
        EXPECT_EQ(Snapshot(), before) << what << " left something in the ledger";
        table.push_back(what + ": " + std::string(ErrorCodeName(status.code())) + " field=" + status.field());
        continue;
      }
      ++kept;
      ASSERT_TRUE(status.ok()) << what << ": " << status.ToString();
      if (field.service == "submit") {
        EXPECT_TRUE(Settled(call.target, kHostile)) << what;
      }
      EXPECT_EQ(field.kept(call, *reply), value.bytes) << what << " was not kept byte for byte";
      table.push_back(what + ": kept");
    }
  }
  stop = true;
  good.join();

  for (const std::string& line : table) std::printf("  %s\n", line.c_str());
  std::printf("hostile text (%s): calls=%d refused=%d kept=%d good_acknowledged=%d good_errors=%d\n",
              GetParam().c_str(), n, refused, kept, good_acknowledged.load(), good_errors.load());
  EXPECT_EQ(good_errors, 0) << first_good_error;
  EXPECT_GT(good_acknowledged, 0);
  EXPECT_GT(refused, 0);
  EXPECT_GT(kept, 0);

  // Nothing but what was acknowledged: every good request is there once, and the chain holds.
  int good_stored = 0;
  {
    auto txn = reader_->Begin();
    ASSERT_TRUE(txn.has_value());
    auto requests = AllRequests(**txn);
    ASSERT_TRUE(requests.has_value()) << requests.error().ToString();
    for (const auto& r : *requests) good_stored += r.taxpayer_id == kGood;
  }
  EXPECT_EQ(good_stored, good_acknowledged.load());
  auto report = app::VerifyLedger(*reader_, app::VerifyLedgerOptions{});
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->ok()) << report->problems.front();
}

// The admin endpoint's text: staff decisions and names, an operator's reason, search
// parameters and path segments. The same rule: refused by name, or kept byte for byte.
TEST_P(HostileTextTest, AdminTextIsRefusedByNameOrKeptVerbatim) {
  using admin::Role;
  struct AdminField {
    std::string name;
    std::string error;  // the field a refusal names
    bool json;          // the value goes in a JSON body
    bool writes;        // kept in the ledger when accepted (else a lookup that finds nothing)
    std::function<std::string(int n)> setup;  // makes what the call is about (n: unique)
    std::function<HttpReply(const std::string& v, const std::string& about)> call;
    std::function<std::string(const std::string& about)> kept;
  };
  auto stage_of = [this](const std::string& task, auto member) {
    auto stage = FirstStage(task);
    return stage ? (*stage).*member : std::string("(no stage)");
  };
  auto nothing = [](int) { return std::string(); };
  const std::vector<AdminField> fields = {
      {"complete reason", "reason", true, true, [this](int n) { return StaffTask(n, true); },
       [this](const std::string& v, const std::string& task) {
         return As(Role::kStaff, "POST", "/api/v1/tasks/" + PercentEncode(task) + "/complete",
                   "{\"decision\":\"reject\",\"reason\":" + JsonString(v) + "}");
       },
       [&](const std::string& task) { return stage_of(task, &ledger::StageRecord::message); }},
      {"assign staff", "staff", true, true, [this](int n) { return StaffTask(n, false); },
       [this](const std::string& v, const std::string& task) {
         return As(Role::kManager, "POST", "/api/v1/tasks/" + PercentEncode(task) + "/assign",
                   "{\"staff\":" + JsonString(v) + "}");
       },
       [&](const std::string& task) { return stage_of(task, &ledger::StageRecord::handler); }},
      {"discard reason", "reason", true, true, [this](int n) { return DeadLetter(n); },
       [this](const std::string& v, const std::string& id) {
         return As(Role::kOperator, "POST", "/api/v1/dead-letters/" + id + "/discard",
                   "{\"reason\":" + JsonString(v) + "}");
       },
       [this](const std::string& id) { return EventDetails(id, "request.discarded")["reason"]; }},
      {"search taxpayer", "taxpayer", false, false, nothing,
       [this](const std::string& v, const std::string&) {
         return As(Role::kOperator, "GET", "/api/v1/requests?taxpayer=" + PercentEncode(v));
       },
       nullptr},
      {"search kind", "kind", false, false, nothing,
       [this](const std::string& v, const std::string&) {
         return As(Role::kOperator, "GET", "/api/v1/requests?kind=" + PercentEncode(v));
       },
       nullptr},
      {"request id in the path", "path", false, false, nothing,
       [this](const std::string& v, const std::string&) {
         return As(Role::kOperator, "GET", "/api/v1/requests/" + PercentEncode(v));
       },
       nullptr},
      {"task id in the path", "path", false, false, nothing,
       [this](const std::string& v, const std::string&) {
         return As(Role::kStaff, "POST", "/api/v1/tasks/" + PercentEncode(v) + "/claim");
       },
       nullptr},
  };
  int n = 0, refused = 0, kept = 0, found_nothing = 0;
  for (const AdminField& field : fields) {
    for (const Value& value : Values()) {
      ++n;
      const std::string what = field.name + " <- " + value.name;
      const std::string about = field.setup(n);
      const std::string before = Snapshot();
      HttpReply reply = field.call(value.bytes, about);
      ASSERT_NE(reply.status, 0) << what << ": " << reply.body;
      EXPECT_LT(reply.status, 500) << what << ": " << reply.body;
      if (!value.utf8) {
        ++refused;
        EXPECT_EQ(reply.status, 400) << what << ": " << reply.body;
        // Raw bytes that are not UTF-8 make the body itself not JSON (RFC 8259 says UTF-8).
        const std::string named = field.json && !value.in_json ? "body" : field.error;
        EXPECT_NE(reply.body.find("\"field\":\"" + named + "\""), std::string::npos) << what << ": " << reply.body;
        EXPECT_EQ(Snapshot(), before) << what << " left something in the ledger";
        continue;
      }
      if (field.writes) {
        ++kept;
        ASSERT_EQ(reply.status, 200) << what << ": " << reply.body;
        EXPECT_EQ(field.kept(about), value.bytes) << what << " was not kept byte for byte";
      } else {
        ++found_nothing;
        EXPECT_TRUE(reply.status == 200 || reply.status == 404 || reply.status == 400) << what << ": " << reply.body;
        if (reply.status == 200) {
          EXPECT_NE(reply.body.find("\"requests\":[]"), std::string::npos) << what << ": " << reply.body;
        }
        EXPECT_EQ(Snapshot(), before) << what << " changed the ledger";
      }
    }
  }
  std::printf("hostile admin text (%s): calls=%d refused=%d kept=%d found_nothing=%d\n", GetParam().c_str(), n,
              refused, kept, found_nothing);
  auto report = app::VerifyLedger(*reader_, app::VerifyLedgerOptions{});
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->ok()) << report->problems.front();
}

// What adapters send back: a result's handler, code, message and outputs. Well-formed UTF-8 is
// kept in the stage; anything else makes the result BAD_RESULT, naming the field, and what the
// ledger keeps of it is printable.
TEST_P(HostileTextTest, AdapterResultTextIsRefusedByNameOrKeptVerbatim) {
  struct ResultField {
    std::string name;
    std::string error;  // the field a refusal names
    bool text;          // free text (else a name: every hostile value refused)
    std::function<void(wire::StageResult&, const std::string&)> set;
    std::function<std::string(const ledger::StageRecord&)> kept;
  };
  const std::vector<ResultField> fields = {
      {"handler", "handler", true, [](wire::StageResult& r, const std::string& v) { r.handler = v; },
       [](const ledger::StageRecord& s) { return s.handler; }},
      {"code", "code", true, [](wire::StageResult& r, const std::string& v) { r.code = v; },
       [](const ledger::StageRecord& s) { return s.code; }},
      {"message", "message", true, [](wire::StageResult& r, const std::string& v) { r.message = v; },
       [](const ledger::StageRecord& s) { return s.message; }},
      {"output name", "outputs", false, [](wire::StageResult& r, const std::string& v) { r.outputs[v] = "x"; },
       nullptr},
      {"output value", "outputs.note", true,
       [](wire::StageResult& r, const std::string& v) { r.outputs["note"] = v; },
       [](const ledger::StageRecord& s) {
         auto it = s.outputs.find("note");
         return it == s.outputs.end() ? std::string("(none)") : it->second;
       }},
  };
  // The adapter answers each request with the hostile value its id was given.
  std::mutex mutex;
  std::map<std::string, std::pair<const ResultField*, std::string>> script;
  ScriptedHandler handler([&](const wire::StageTask& task) {
    wire::StageResult r = Succeeded("result-adapter");
    std::lock_guard lock(mutex);
    const auto& [field, value] = script.at(task.request_id);
    field->set(r, value);
    return r;
  });
  TestWorkers workers(hub_->backend(), {"t.result"}, handler);
  int n = 0, refused = 0, kept = 0;
  for (const ResultField& field : fields) {
    for (const Value& value : Values()) {
      const std::string id = "RESULT-" + std::to_string(++n);
      const std::string what = "result " + field.name + " <- " + value.name;
      {
        std::lock_guard lock(mutex);
        script[id] = {&field, value.bytes};
      }
      wire::SubmitRequest r = Application(id, kHostile);
      r.kind = "result.test";
      ASSERT_TRUE(client_->Submit(r).has_value()) << what;
      ASSERT_TRUE(Eventually([&] {
        auto p = client_->Progress(id, kHostile);
        return p && (p->state == wire::RequestState::COMPLETED || p->state == wire::RequestState::FAILED);
      })) << what;
      auto stage = FirstStage(id);
      ASSERT_TRUE(stage.has_value()) << what;
      if (field.text && value.utf8) {
        ++kept;
        EXPECT_EQ(stage->state, ledger::StageState::kDone) << what << ": " << stage->code << " " << stage->message;
        EXPECT_EQ(field.kept(*stage), value.bytes) << what << " was not kept byte for byte";
      } else {
        ++refused;
        EXPECT_EQ(stage->code, "BAD_RESULT") << what;
        EXPECT_NE(stage->message.find("(field " + field.error + ")"), std::string::npos) << what << ": " << stage->message;
        EXPECT_EQ(Printable(stage->message), stage->message) << what << ": the ledger keeps only printable text";
      }
    }
  }
  std::printf("hostile adapter results (%s): results=%d refused=%d kept=%d\n", GetParam().c_str(), n, refused, kept);
  auto report = app::VerifyLedger(*reader_, app::VerifyLedgerOptions{});
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->ok()) << report->problems.front();
}

INSTANTIATE_TEST_SUITE_P(Backends, HostileTextTest, ::testing::ValuesIn(TestBackends()));

}  // namespace
}  // namespace taxhub::testing
