// The admin endpoint over real HTTP(S): health, metrics, the staff workbench through the JSON
// API, who may call what (every role against every endpoint), bad tokens, oversized and
// malformed requests, HTTPS.

#include <gtest/gtest.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <map>
#include <set>

#include "hub/admin/admin_server.h"
#include "hub/admin/tokens.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

using admin::Role;

using Reply = HttpReply;


const char* kStaffRoutes = R"(
routes:
  - name: staff
    match: {kind: staff.task}
    stages:
      - {name: verify, label: 核查, queue: hall.verify, difficulty: 1.5, time_limit: 1d}
)";

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(false); }

  void Start(bool https, int64_t timeout_ms = 10'000) {
    server_.reset();
    hub_.reset();
    config_ = TestHubConfig(dir_, "sqlite", "", kStaffRoutes);
    config_.admin.enabled = true;
    config_.admin.listen_port = 0;
    config_.admin.max_body_bytes = 4096;
    config_.admin.timeout_ms = timeout_ms;
    config_.admin.token_key = dir_.File("admin-token.key");
    ASSERT_TRUE(admin::TokenKey::CreateIfMissing(config_.admin.token_key).ok());
    if (https) {
      auto made = RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir_.File("tls.key"), "-out",
                              dir_.File("tls.pem"), "-days", "1", "-subj", "/CN=localhost"});
      ASSERT_EQ(made.exit_code, 0) << made.output;
      config_.admin.tls_certificate = dir_.File("tls.pem");
      config_.admin.tls_key = dir_.File("tls.key");
    }
    hub_ = std::make_unique<TestHub>(config_);
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
    auto server = admin::AdminServer::Start(hub_->hub(), clock_);
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    server_ = std::move(*server);
    auto key = admin::TokenKey::Load(config_.admin.token_key, "taxhub", "taxhub-admin");
    ASSERT_TRUE(key.has_value());
    for (Role r : {Role::kOperator, Role::kManager, Role::kStaff, Role::kAuditor}) {
      tokens_[r] = *key->Issue({"user-" + std::string(admin::ToString(r)), r}, clock_.NowMs(), 3'600'000);
    }
  }

  void TearDown() override {
    server_.reset();
    hub_.reset();
  }

  Reply Send(const std::string& method, const std::string& path, const std::string& token = "",
             const std::string& body = "", bool https = false) {
    return HttpExchange(server_->port(), method, path, token, body, https);
  }

  // A hall application with an empty body.
  static wire::SubmitRequest Application(const std::string& id, const std::string& kind,
                                         const std::string& taxpayer = "91310110666007217T") {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = kind;
    r.taxpayer_id = taxpayer;
    r.body = "{}";
    return r;
  }

  Reply As(Role role, const std::string& method, const std::string& path, const std::string& body = "") {
    return Send(method, path, tokens_[role], body);
  }

  TempDir dir_;
  SystemClock clock_;
  app::HubConfig config_;
  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<admin::AdminServer> server_;
  std::map<Role, std::string> tokens_;
  zmq::context_t context_{1};
};

TEST_F(AdminTest, HealthReadinessAndMetricsNeedNoToken) {
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
  Reply ready = Send("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  Reply metrics = Send("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("# TYPE taxhub_requests_accepted_total counter\ntaxhub_requests_accepted_total 0\n"),
            std::string::npos)
      << metrics.body;
  // The dashboard's files come from the binary, without a token.
  Reply page = Send("GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("运维看板"), std::string::npos);
  EXPECT_EQ(Send("GET", "/dashboard/dashboard.js").status, 200);
  EXPECT_EQ(Send("GET", "/dashboard/dashboard.css").status, 200);
  EXPECT_EQ(Send("GET", "/dashboard/secret.key").status, 404);
  EXPECT_EQ(Send("GET", "/dashboard/..%2Fadmin-token.key").status, 404);
}

// Staff see their queue, the first claim wins, the decision moves the request on, and the
// request's timeline names who did what.
TEST_F(AdminTest, TheStaffWorkbenchThroughTheApi) {
  client::HubClient hall(context_, hub_->frontend());
  ASSERT_TRUE(hall.Submit(Application("ADM-1", "staff.task")).has_value());
  Reply tasks;
  ASSERT_TRUE(Eventually([&] {
    tasks = As(Role::kStaff, "GET", "/api/v1/tasks?queue=hall.verify");
    return tasks.status == 200 && tasks.body.find("ADM-1/0") != std::string::npos;
  })) << tasks.status << " " << tasks.body;
  EXPECT_NE(tasks.body.find("\"label\":\"核查\""), std::string::npos) << tasks.body;
  EXPECT_NE(Send("GET", "/metrics").body.find("taxhub_queue_depth{queue=\"hall.verify\",state=\"waiting\"} 1\n"),
            std::string::npos);
  const std::string task = "/api/v1/tasks/" + PercentEncode("ADM-1/0");
  Reply claimed = As(Role::kStaff, "POST", task + "/claim");
  EXPECT_EQ(claimed.status, 200) << claimed.body;
  Reply again = Send("POST", task + "/claim",
                     *admin::TokenKey::Load(config_.admin.token_key, "taxhub", "taxhub-admin")
                          ->Issue({"李娜", Role::kStaff}, clock_.NowMs(), 60'000));
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_NE(again.body.find("\"code\":\"TAKEN\""), std::string::npos) << again.body;
  Reply no_reason = As(Role::kStaff, "POST", task + "/complete", "{\"decision\":\"reject\"}");
  EXPECT_EQ(no_reason.status, 400);
  EXPECT_NE(no_reason.body.find("\"field\":\"reason\""), std::string::npos) << no_reason.body;
  Reply done = As(Role::kStaff, "POST", task + "/complete", "{\"decision\":\"approve\"}");
  EXPECT_EQ(done.status, 200) << done.body;
  Reply timeline = As(Role::kAuditor, "GET", "/api/v1/requests/ADM-1");
  ASSERT_EQ(timeline.status, 200) << timeline.body;
  EXPECT_NE(timeline.body.find("\"state\":\"COMPLETED\""), std::string::npos) << timeline.body;
  EXPECT_NE(timeline.body.find("claimed by user-staff"), std::string::npos) << "the ledger names the user";
  EXPECT_EQ(As(Role::kAuditor, "GET", "/api/v1/requests/NOPE").status, 404);
  Reply report = As(Role::kManager, "GET", "/api/v1/reports/staff");
  EXPECT_EQ(report.status, 200);
  EXPECT_NE(report.body.find("\"staff\":\"user-staff\""), std::string::npos) << report.body;
  EXPECT_NE(report.body.find("\"stars\":[\"user-staff\"]"), std::string::npos) << report.body;
  Reply sla = As(Role::kManager, "GET", "/api/v1/reports/sla");
  ASSERT_EQ(sla.status, 200) << sla.body;
  EXPECT_NE(sla.body.find("\"stage\":\"verify\""), std::string::npos) << sla.body;
  EXPECT_NE(sla.body.find("\"finished\":1"), std::string::npos) << sla.body;
  EXPECT_NE(sla.body.find("\"finished_late\":0"), std::string::npos) << sla.body;
  EXPECT_NE(sla.body.find("\"completed_by_day\":{\"20"), std::string::npos) << sla.body;
  Reply routes = As(Role::kOperator, "GET", "/api/v1/routes");
  EXPECT_EQ(routes.status, 200);
  EXPECT_NE(routes.body.find("\"queue\":\"hall.verify\""), std::string::npos) << routes.body;
  Reply verified = As(Role::kAuditor, "POST", "/api/v1/ledger/verify");
  EXPECT_EQ(verified.status, 200);
  EXPECT_NE(verified.body.find("\"ok\":true"), std::string::npos) << verified.body;
  // A manager gives a waiting task to someone, and takes it back to give it to another.
  ASSERT_TRUE(hall.Submit(Application("ADM-2", "staff.task")).has_value());
  ASSERT_TRUE(Eventually([&] {
    return As(Role::kStaff, "GET", "/api/v1/tasks?queue=hall.verify").body.find("ADM-2/0") != std::string::npos;
  }));
  const std::string second = "/api/v1/tasks/" + PercentEncode("ADM-2/0") + "/assign";
  EXPECT_EQ(As(Role::kManager, "POST", second, "{\"staff\":\"李娜\"}").status, 200);
  EXPECT_EQ(As(Role::kManager, "POST", second, "{\"staff\":\"王晓明\"}").status, 200);
  Reply assigned = As(Role::kAuditor, "GET", "/api/v1/requests/ADM-2");
  EXPECT_NE(assigned.body.find("task.assigned"), std::string::npos) << assigned.body;
  EXPECT_NE(assigned.body.find("task.reassigned"), std::string::npos) << assigned.body;
  EXPECT_NE(assigned.body.find("user-manager"), std::string::npos) << assigned.body;
  EXPECT_NE(As(Role::kStaff, "GET", "/api/v1/tasks?queue=hall.verify").body.find("\"claimed_by\":\"王晓明\""),
            std::string::npos);
  const std::string metrics = Send("GET", "/metrics").body;
  EXPECT_NE(metrics.find("taxhub_requests_accepted_total 2\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# TYPE taxhub_ledger_commit_seconds histogram\ntaxhub_ledger_commit_seconds_bucket{le=\"0.001\"}"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("taxhub_ledger_commit_seconds_bucket{le=\"+Inf\"} "), std::string::npos) << metrics;
}

// Every role against every endpoint: no token 401, a bad one 401, the wrong role 403, the
// right role anything else.
TEST_F(AdminTest, EveryRoleAgainstEveryEndpoint) {
  struct Case {
    std::string method, path;
    std::set<Role> allowed;
  };
  const std::set<Role> all = {Role::kOperator, Role::kManager, Role::kStaff, Role::kAuditor};
  const std::vector<Case> cases = {
      {"GET", "/api/v1/requests/X", all},
      {"GET", "/api/v1/requests?kind=staff.task", all},
      {"GET", "/api/v1/tasks?queue=hall.verify", {Role::kStaff, Role::kManager}},
      {"POST", "/api/v1/tasks/X%2F0/claim", {Role::kStaff}},
      {"POST", "/api/v1/tasks/X%2F0/complete", {Role::kStaff}},
      {"POST", "/api/v1/tasks/X%2F0/assign", {Role::kManager}},
      {"GET", "/api/v1/dead-letters", {Role::kOperator, Role::kAuditor}},
      {"GET", "/api/v1/adapters", {Role::kOperator, Role::kAuditor}},
      {"POST", "/api/v1/dead-letters/X/replay", {Role::kOperator}},
      {"POST", "/api/v1/dead-letters/X/discard", {Role::kOperator}},
      {"POST", "/api/v1/routes/reload", {Role::kOperator}},
      {"POST", "/api/v1/ledger/verify", {Role::kOperator, Role::kAuditor}},
      {"GET", "/api/v1/reports/staff", {Role::kManager, Role::kAuditor}},
      {"GET", "/api/v1/reports/sla", {Role::kManager, Role::kAuditor, Role::kOperator}},
      {"GET", "/api/v1/routes", {Role::kOperator, Role::kAuditor}},
  };
  auto other_key_file = dir_.File("other.key");
  ASSERT_TRUE(admin::TokenKey::CreateIfMissing(other_key_file).ok());
  const std::string forged =
      *admin::TokenKey::Load(other_key_file, "taxhub", "taxhub-admin")->Issue({"mallory", Role::kOperator}, clock_.NowMs(), 60'000);
  auto key = admin::TokenKey::Load(config_.admin.token_key, "taxhub", "taxhub-admin");
  const std::string expired = *key->Issue({"late", Role::kOperator}, clock_.NowMs() - 7'200'000, 3'600'000);
  const std::string elsewhere =
      *admin::TokenKey::Load(config_.admin.token_key, "taxhub", "another-service")->Issue({"x", Role::kOperator}, clock_.NowMs(), 60'000);
  // A valid token's claims under another algorithm: "none" with no signature, and HS256 keyed
  // with the key file's own text (the old key-confusion attack): both must be refused.
  const std::string valid = *key->Issue({"eve", Role::kOperator}, clock_.NowMs(), 60'000);
  const std::string claims = valid.substr(valid.find('.') + 1, valid.rfind('.') - valid.find('.') - 1);
  auto base64url = [](const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    out.resize(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                               reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size())));
    for (char& ch : out) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    while (!out.empty() && out.back() == '=') out.pop_back();
    return out;
  };
  const std::string alg_none = base64url(R"({"alg":"none","typ":"JWT"})") + "." + claims + ".";
  std::ifstream key_file(config_.admin.token_key);
  const std::string key_text((std::istreambuf_iterator<char>(key_file)), std::istreambuf_iterator<char>());
  const std::string hs_input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + claims;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key_text.data(), static_cast<int>(key_text.size()),
       reinterpret_cast<const unsigned char*>(hs_input.data()), hs_input.size(), mac, &mac_size);
  const std::string hs256 = hs_input + "." + base64url(std::string(reinterpret_cast<char*>(mac), mac_size));
  ASSERT_EQ(Send("GET", "/api/v1/routes", valid).status, 200) << "the claims themselves are good";
  for (const Case& c : cases) {
    const std::string what = c.method + " " + c.path;
    EXPECT_EQ(Send(c.method, c.path).status, 401) << what;
    EXPECT_EQ(Send(c.method, c.path, alg_none).status, 401) << what << " alg none";
    EXPECT_EQ(Send(c.method, c.path, hs256).status, 401) << what << " HS256 with the key's text";
    EXPECT_EQ(Send(c.method, c.path, forged).status, 401) << what << " forged";
    EXPECT_EQ(Send(c.method, c.path, expired).status, 401) << what << " expired";
    EXPECT_EQ(Send(c.method, c.path, elsewhere).status, 401) << what << " another audience";
    EXPECT_EQ(Send(c.method, c.path, "not.a.token").status, 401) << what << " garbage";
    for (Role r : all) {
      Reply reply = As(r, c.method, c.path, c.method == "POST" ? "{}" : "");
      if (c.allowed.contains(r)) {
        EXPECT_NE(reply.status, 401) << what << " as " << admin::ToString(r) << ": " << reply.body;
        EXPECT_NE(reply.status, 403) << what << " as " << admin::ToString(r) << ": " << reply.body;
      } else {
        EXPECT_EQ(reply.status, 403) << what << " as " << admin::ToString(r) << ": " << reply.body;
        EXPECT_NE(reply.body.find("\"code\":\"FORBIDDEN\""), std::string::npos) << reply.body;
      }
    }
  }
}

// The adapters' workers as the broker sees them, with each service's circuit, in the API and
// in /metrics.
TEST_F(AdminTest, AdaptersAndTheirWorkers) {
  ScriptedHandler handler;
  TestWorkers workers(hub_->backend(), {"t.svc"}, handler, 2);
  Reply adapters;
  ASSERT_TRUE(Eventually([&] {
    adapters = As(Role::kOperator, "GET", "/api/v1/adapters");
    size_t n = 0;
    for (size_t at = 0; (at = adapters.body.find("\"idle\":true", at)) != std::string::npos; ++at) ++n;
    return adapters.status == 200 && n == 2;
  })) << adapters.status << " " << adapters.body;
  EXPECT_NE(adapters.body.find("\"service\":\"t.svc\""), std::string::npos) << adapters.body;
  EXPECT_NE(adapters.body.find("\"circuit\":\"closed\""), std::string::npos) << adapters.body;
  EXPECT_NE(Send("GET", "/metrics").body.find("taxhub_adapter_workers{service=\"t.svc\"} 2\n"), std::string::npos);
  // A stage served by them shows in the stage latency histogram.
  WriteRoutes(dir_, "routes:\n  - name: one\n    match: {kind: one.stage}\n    stages: [{name: check, service: t.svc}]\n");
  ASSERT_TRUE(hub_->hub().ReloadRoutes().has_value());
  client::HubClient hall(context_, hub_->frontend());
  ASSERT_TRUE(hall.Submit(Application("LAT-1", "one.stage")).has_value());
  ASSERT_TRUE(Eventually([&] {
    return Send("GET", "/metrics").body.find("taxhub_stage_seconds_count{stage=\"check\"} 1\n") != std::string::npos;
  })) << Send("GET", "/metrics").body;
}

TEST_F(AdminTest, RequestsAreSearchedAPageAtATime) {
  client::HubClient hall(context_, hub_->frontend());
  for (int i = 0; i < 5; ++i) {
    const std::string taxpayer = i == 4 ? "91350100M000100Y43" : "91310110666007217T";
    ASSERT_TRUE(hall.Submit(Application("SRCH-" + std::to_string(i), "staff.task", taxpayer)).has_value());
  }
  Reply first = As(Role::kOperator, "GET", "/api/v1/requests?taxpayer=91310110666007217T&limit=3");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("SRCH-3"), std::string::npos) << "newest first: " << first.body;
  EXPECT_EQ(first.body.find("SRCH-4"), std::string::npos) << "another taxpayer's";
  const size_t at = first.body.find("\"next\":\"");
  ASSERT_NE(at, std::string::npos) << first.body;
  const std::string cursor = first.body.substr(at + 8, first.body.find('"', at + 8) - at - 8);
  std::string encoded;
  Poco::URI::encode(cursor, ":&=?#", encoded);
  Reply second = As(Role::kOperator, "GET", "/api/v1/requests?taxpayer=91310110666007217T&limit=3&cursor=" + encoded);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_NE(second.body.find("SRCH-0"), std::string::npos) << second.body;
  EXPECT_EQ(second.body.find("\"next\""), std::string::npos) << "the last page";
  EXPECT_EQ(As(Role::kOperator, "GET", "/api/v1/requests?state=SLEEPING").status, 400);
  EXPECT_EQ(As(Role::kOperator, "GET", "/api/v1/requests?cursor=yesterday").status, 400);
  Reply overdue = As(Role::kOperator, "GET", "/api/v1/requests?overdue=1");
  EXPECT_EQ(overdue.status, 200);
  EXPECT_EQ(overdue.body.find("SRCH-"), std::string::npos) << "a day's time limit has not passed";
}

// taxhubctl: a token from the key, then the workbench from the command line.
TEST_F(AdminTest, TaxhubctlDoesTheSameFromTheCommandLine) {
  auto token = RunCommand({BinDir() + "/taxhubctl", "token", "--key", config_.admin.token_key, "--role", "staff",
                           "--user", "李娜", "--ttl", "600"});
  ASSERT_EQ(token.exit_code, 0) << token.output;
  const std::string t = token.output.substr(0, token.output.find('\n'));
  EXPECT_EQ(RunCommand({BinDir() + "/taxhubctl", "token", "--key", config_.admin.token_key, "--role", "king",
                        "--user", "x"}).exit_code,
            2);
  client::HubClient hall(context_, hub_->frontend());
  ASSERT_TRUE(hall.Submit(Application("CTL-1", "staff.task")).has_value());
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {BinDir() + "/taxhubctl", "--url", url, "--token", t};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  ASSERT_TRUE(Eventually([&] { return ctl({"tasks", "--queue", "hall.verify"}).output.find("CTL-1/0") != std::string::npos; }));
  auto claimed = ctl({"claim", "CTL-1/0"});
  EXPECT_EQ(claimed.exit_code, 0) << claimed.output;
  auto refused = ctl({"complete", "CTL-1/0", "--decision", "reject"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("\"field\": \"reason\""), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("400 Bad Request"), std::string::npos) << refused.output;
  auto done = ctl({"complete", "CTL-1/0", "--decision", "return", "--reason", "营业执照复印件不清晰"});
  EXPECT_EQ(done.exit_code, 0) << done.output;
  auto timeline = ctl({"request", "CTL-1"});
  EXPECT_NE(timeline.output.find("RETURNED"), std::string::npos) << timeline.output;
  auto forbidden = ctl({"reload-routes"});
  EXPECT_EQ(forbidden.exit_code, 1);
  EXPECT_NE(forbidden.output.find("FORBIDDEN"), std::string::npos) << forbidden.output;
}

// Dead letters: listed, one replayed, one given up; a routes reload names the operator.
TEST_F(AdminTest, DeadLettersAreReplayedOrDiscardedAndReloadsAreRecorded) {
  WriteRoutes(dir_, "routes:\n  - name: flaky\n    match: {kind: flaky}\n    stages: [{name: call, service: t.flaky,"
                    " retry: {max_attempts: 1, attempt_timeout: 5s}}]\n");
  Reply reloaded = As(Role::kOperator, "POST", "/api/v1/routes/reload");
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  std::atomic<bool> fail{true};
  ScriptedHandler handler([&](const wire::StageTask&) {
    if (!fail) return Succeeded();
    wire::StageResult r;
    r.outcome = wire::StageOutcome::RETRY;
    r.code = "DOWN";
    r.message = "legacy down";
    return r;
  });
  TestWorkers workers(hub_->backend(), {"t.flaky"}, handler);
  client::HubClient hall(context_, hub_->frontend());
  for (const char* id : {"DL-1", "DL-2"}) {
    ASSERT_TRUE(hall.Submit(Application(id, "flaky")).has_value());
  }
  Reply letters;
  ASSERT_TRUE(Eventually([&] {
    letters = As(Role::kOperator, "GET", "/api/v1/dead-letters");
    return letters.body.find("DL-1") != std::string::npos && letters.body.find("DL-2") != std::string::npos;
  })) << letters.body;
  fail = false;
  EXPECT_NE(Send("GET", "/metrics").body.find("taxhub_dead_letters 2\n"), std::string::npos);
  EXPECT_EQ(As(Role::kOperator, "POST", "/api/v1/dead-letters/DL-1/replay").status, 200);
  EXPECT_EQ(As(Role::kOperator, "POST", "/api/v1/dead-letters/DL-2/discard", "{}").status, 400) << "needs a reason";
  EXPECT_EQ(As(Role::kOperator, "POST", "/api/v1/dead-letters/DL-2/discard", "{\"reason\":\"核心系统已人工处理\"}").status,
            200);
  EXPECT_EQ(As(Role::kOperator, "POST", "/api/v1/dead-letters/DL-2/discard", "{\"reason\":\"again\"}").status, 400)
      << "no longer a dead letter";
  ASSERT_TRUE(Eventually([&] { return hall.Progress("DL-1", "91310110666007217T")->state == wire::RequestState::COMPLETED; }));
  EXPECT_EQ(hall.Progress("DL-2", "91310110666007217T")->state, wire::RequestState::REJECTED);
  Reply timeline = As(Role::kAuditor, "GET", "/api/v1/requests/DL-2");
  EXPECT_NE(timeline.body.find("request.discarded"), std::string::npos) << timeline.body;
  EXPECT_NE(timeline.body.find("user-operator"), std::string::npos) << timeline.body;
  EXPECT_EQ(As(Role::kOperator, "GET", "/api/v1/dead-letters").body.find("DL-"), std::string::npos);
  auto stream = hall.Events("", 0, 1000);
  ASSERT_TRUE(stream.has_value());
  bool reload_named = false;
  for (const auto& e : stream->events) {
    reload_named |= e.type == "routes.reloaded" && e.detail.find("user-operator") != std::string::npos;
  }
  EXPECT_TRUE(reload_named) << "the reload is a ledger event naming the operator";
}

TEST_F(AdminTest, OversizedMalformedAndUnknownRequests) {
  Reply big = As(Role::kManager, "POST", "/api/v1/tasks/X%2F0/assign", std::string(5000, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_FALSE(big.keep_alive) << "the unread body must not become the next request";
  EXPECT_TRUE(As(Role::kManager, "POST", "/api/v1/tasks/X%2F0/assign", "{}").keep_alive);
  EXPECT_EQ(Send("GET", "/api/v1/requests/%zz").status, 400) << "a malformed escape";
  // Refused for its path or query before routing: the body it came with is not read either.
  for (const char* path : {"/api/v1/tasks/X%FF/assign", "/api/v1/tasks/X%zz/assign", "/api/v1/requests?kind=%C0%AF"}) {
    Reply refused = As(Role::kManager, "POST", path, "{\"staff\":\"x\"}");
    EXPECT_EQ(refused.status, 400) << path << ": " << refused.body;
    EXPECT_FALSE(refused.keep_alive) << path << ": the unread body must not become the next request";
  }
  Reply anonymous = Send("POST", "/api/v1/tasks/X%2F0/assign", "", std::string(3000, ' '));
  EXPECT_EQ(anonymous.status, 401) << "refused before its body is read";
  EXPECT_FALSE(anonymous.keep_alive) << "and the unread body closes the connection";
  EXPECT_NE(big.body.find("\"field\":\"body\""), std::string::npos) << big.body;
  Reply malformed = As(Role::kManager, "POST", "/api/v1/tasks/X%2F0/assign", "{\"staff\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("\"code\":\"DECODE_ERROR\""), std::string::npos) << malformed.body;
  Reply not_object = As(Role::kManager, "POST", "/api/v1/tasks/X%2F0/assign", "[1,2]");
  EXPECT_EQ(not_object.status, 400) << not_object.body;
  Reply missing = As(Role::kManager, "POST", "/api/v1/tasks/X%2F0/assign", "{}");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("\"field\":\"staff\""), std::string::npos) << missing.body;
  EXPECT_EQ(As(Role::kStaff, "GET", "/api/v1/tasks?queue=hall.verify&limit=0").status, 400);
  EXPECT_EQ(As(Role::kStaff, "GET", "/api/v1/tasks").status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/nothing").status, 404);
  EXPECT_EQ(Send("DELETE", "/healthz").status, 405);
  // The server is still there.
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

TEST_F(AdminTest, HttpsWithTheConfiguredCertificate) {
  Start(true);
  ASSERT_TRUE(server_->https());
  EXPECT_EQ(Send("GET", "/healthz", "", "", /*https=*/true).status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/requests/X", tokens_[Role::kAuditor], "", /*https=*/true).status, 404);
  EXPECT_EQ(As(Role::kAuditor, "GET", "/api/v1/requests/X").status, 0) << "plain HTTP gets no answer";
  // A client that offers nothing newer than TLS 1.1 gets no connection.
  Poco::Net::Context::Ptr old = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_NONE);
  old->disableProtocols(Poco::Net::Context::PROTO_TLSV1_2 | Poco::Net::Context::PROTO_TLSV1_3);
  bool refused = false;
  try {
    Poco::Net::HTTPSClientSession session("127.0.0.1", server_->port(), old);
    Poco::Net::HTTPRequest request("GET", "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    session.receiveResponse(response);
  } catch (const Poco::Exception&) {
    refused = true;
  }
  EXPECT_TRUE(refused) << "TLS 1.1 was accepted";
}

// A client that starts a request and stalls is cut off after the timeout; the others are served
// meanwhile from the bounded pool.
TEST_F(AdminTest, AStalledClientIsCutOffAndOthersAreServed) {
  Start(false, /*timeout_ms=*/300);
  Poco::Net::StreamSocket stalled(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(server_->port())));
  const std::string partial = "POST /api/v1/ledger/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
  stalled.sendBytes(partial.data(), static_cast<int>(partial.size()));
  EXPECT_EQ(Send("GET", "/healthz").status, 200) << "served while another client stalls";
  stalled.setReceiveTimeout(Poco::Timespan(5, 0));
  char buffer[512];
  int n = 0;
  const int64_t start = MonotonicMs();
  try {
    n = stalled.receiveBytes(buffer, sizeof buffer);  // the server gives up: closed (0) or an error answer
  } catch (const Poco::Exception&) {
    n = -1;
  }
  EXPECT_LT(MonotonicMs() - start, 4000) << "cut off by the server, not by our receive timeout";
  EXPECT_TRUE(n <= 0 || std::string(buffer, static_cast<size_t>(n)).find("HTTP/1.1 4") == 0) << std::string(buffer, n > 0 ? n : 0);
}

}  // namespace
}  // namespace taxhub::testing
