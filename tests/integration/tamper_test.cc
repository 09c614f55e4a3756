// Tamper evidence: a real hub writes a ledger (signed requests, a hash chain, signed
// checkpoints); then rows are altered, removed and reordered directly in SQLite or PostgreSQL,
// as someone with database access would, and verify-ledger must name the first bad row.

#include <gtest/gtest.h>

#include <fstream>

#include "hub/app/verify_ledger.h"
#include "hub/security/crypto.h"
#include "tests/integration/backends.h"
#include "tests/support/process.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

using security::Certificate;
using security::CertificateSpec;
using security::KeyType;
using security::PrivateKey;

constexpr int64_t kDay = 86'400'000;
const std::string kTaxpayer = "91350100M000100Y43";

struct Tamper {
  std::string name;
  std::string sqlite;    // statements for SQLite (after dropping the append-only triggers)
  std::string postgres;  // for PostgreSQL (after disabling them)
  std::string expected;  // in the first problem verify-ledger reports
};

class TamperTest : public ::testing::TestWithParam<std::tuple<std::string, Tamper>> {
 protected:
  void SetUp() override {
    backend_ = std::get<0>(GetParam());
    TAXHUB_PREPARE_BACKEND(backend_, dsn_);
    const int64_t now = SystemClock().NowMs();
    PrivateKey ca_key = *PrivateKey::Generate(KeyType::kSm2);
    Certificate ca = *security::IssueCertificate(
        CertificateSpec{"CA", "", "t", 1, now - kDay, now + kDay, true, true}, ca_key, ca_key, nullptr);
    key_ = std::make_unique<PrivateKey>(*PrivateKey::Generate(KeyType::kSm2));
    cert_ = security::IssueCertificate(
                CertificateSpec{"纳税人", kTaxpayer, "t", 2, now - kDay, now + kDay, false, true},
                *key_, ca_key, &ca)
                ->ToDer();
    PrivateKey hub_key = *PrivateKey::Generate(KeyType::kEcdsaP256);
    Certificate hub_cert = *security::IssueCertificate(
        CertificateSpec{"hub", "", "t", 3, now - kDay, now + kDay, false, true}, hub_key, ca_key, &ca);
    std::ofstream(dir_.File("ca.pem")) << ca.ToPem();
    std::ofstream(dir_.File("hub.key")) << hub_key.ToPem();
    std::ofstream(dir_.File("hub.pem")) << hub_cert.ToPem();

    config_ = TestHubConfig(dir_, backend_, dsn_);
    config_.ledger.hash = backend_ == "postgres" ? "sm3" : "sha256";
    config_.ledger.checkpoint_interval_ms = 100;
    config_.security.enabled = true;
    config_.security.ca_bundle = dir_.File("ca.pem");
    config_.security.require_signatures = true;
    config_.security.hub_key = dir_.File("hub.key");
    config_.security.hub_certificate = dir_.File("hub.pem");
    Run();
  }

  // Five signed requests through a real hub, to completion.
  void Run() {
    TestHub hub(config_);
    ASSERT_TRUE(hub.ok()) << hub.status().ToString();
    zmq::context_t context(1);
    client::HubClient client(context, hub.frontend());
    ScriptedHandler handler;
    TestWorkers workers(hub.backend(), {"t.one"}, handler);
    for (int i = 1; i <= 5; ++i) {
      wire::SubmitRequest r;
      r.request_id = "R-" + std::to_string(i);
      r.kind = "single";
      r.taxpayer_id = kTaxpayer;
      r.body = "{\"n\":" + std::to_string(i) + "}";
      r.signature = *key_->Sign(r.body);
      r.certificate = cert_;
      auto reply = client.Submit(r);
      ASSERT_TRUE(reply.has_value()) << reply.error().ToString();
    }
    ASSERT_TRUE(Eventually([&] {
      auto p = client.Progress("R-5", kTaxpayer);
      return p && p->state == wire::RequestState::COMPLETED;
    }));
    ASSERT_TRUE(Eventually([&] { return handler.TotalCalls() == 5; }));
  }

  app::LedgerReport Verify() {
    auto ledger = app::OpenLedger(config_, /*read_only=*/true);
    EXPECT_TRUE(ledger.has_value()) << ledger.error().ToString();
    auto verifier = security::SignatureVerifier::Load(config_.security.ca_bundle, {});
    app::VerifyLedgerOptions options;
    options.verifier = verifier->get();
    auto report = app::VerifyLedger(**ledger, options);
    EXPECT_TRUE(report.has_value()) << report.error().ToString();
    return *report;
  }

  void Exec(const std::string& sql) {
    CommandResult result =
        backend_ == "sqlite"
            ? RunSqlite(config_.ledger.sqlite.path, sql)
            : RunCommand({"/usr/bin/psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", dsn_, "-c", sql});
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }

  std::string backend_;
  std::string dsn_;
  TempDir dir_;
  app::HubConfig config_;
  std::unique_ptr<PrivateKey> key_;
  std::string cert_;
};

TEST_P(TamperTest, VerifyLedgerNamesTheFirstBadRow) {
  app::LedgerReport clean = Verify();
  ASSERT_TRUE(clean.ok()) << clean.problems.front();
  EXPECT_EQ(clean.chains, 1);
  EXPECT_EQ(clean.requests, 5);
  EXPECT_EQ(clean.signatures, 5);
  EXPECT_GE(clean.checkpoints, 1);
  EXPECT_GT(clean.events, 20);

  const Tamper& tamper = std::get<1>(GetParam());
  if (backend_ == "sqlite") {
    Exec("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; " + tamper.sqlite);
  } else {
    Exec("ALTER TABLE events DISABLE TRIGGER events_append_only; " + tamper.postgres);
  }
  app::LedgerReport report = Verify();
  ASSERT_FALSE(report.ok()) << tamper.name << " went unnoticed";
  EXPECT_NE(report.problems.front().find(tamper.expected), std::string::npos)
      << tamper.name << ": " << report.problems.front();
}

const Tamper kTampers[] = {
    {"alter", "UPDATE events SET detail = detail || ' (changed)' WHERE chain_seq = 5;",
     "UPDATE events SET detail = detail || ' (changed)' WHERE chain_seq = 5;",
     "row 5 (events.seq 5"},
    {"remove", "DELETE FROM events WHERE chain_seq = 5;", "DELETE FROM events WHERE chain_seq = 5;",
     "expected row 5 here"},
    {"reorder",
     "UPDATE events SET chain_seq = -1 WHERE chain_seq = 4; UPDATE events SET chain_seq = 4 WHERE "
     "chain_seq = 5; UPDATE events SET chain_seq = 5 WHERE chain_seq = -1;",
     "UPDATE events SET chain_seq = -1 WHERE chain_seq = 4; UPDATE events SET chain_seq = 4 WHERE "
     "chain_seq = 5; UPDATE events SET chain_seq = 5 WHERE chain_seq = -1;",
     "row 4 "},
    {"truncate", "DELETE FROM events WHERE chain_seq = (SELECT MAX(chain_seq) FROM events);",
     "DELETE FROM events WHERE chain_seq = (SELECT MAX(chain_seq) FROM events);",
     "the newest rows were removed"},
    {"rewrite-request", "UPDATE requests SET body = X'7b7d' WHERE id = 'R-2';",
     "UPDATE requests SET body = '\\x7b7d'::bytea WHERE id = 'R-2';", "request R-2"},
    {"swap-signature",
     "UPDATE requests SET signature = (SELECT signature FROM requests WHERE id = 'R-1') WHERE id = 'R-3';",
     "UPDATE requests SET signature = (SELECT signature FROM requests WHERE id = 'R-1') WHERE id = 'R-3';",
     "request R-3: the stored signature no longer verifies"},
    {"foreign-event",
     "INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, hash) "
     "VALUES ('elsewhere', 1, 'R-2', 0, 'stage.done', 1, 'forged', '', 'x');",
     "INSERT INTO events (chain, chain_seq, request_id, stage, type, at, detail, prev_hash, hash) "
     "VALUES ('elsewhere', 1, 'R-2', 0, 'stage.done', 1, 'forged', '', 'x');",
     "1 events belong to no recorded chain"},
};

INSTANTIATE_TEST_SUITE_P(
    Tampering, TamperTest,
    ::testing::Combine(::testing::ValuesIn(TestBackends()), ::testing::ValuesIn(kTampers)),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace taxhub::testing
