#include "hub/app/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/process.h"

namespace taxhub::app {
namespace {

const char* kMinimal = R"(workflows:
  filing.vat:
    - {name: accept, service: filing.accept, time_limit: 1h}
)";

std::string Error(const std::string& text) {
  auto config = ParseHubConfig("t.yaml", text);
  return config ? "" : config.error().message();
}

TEST(Config, MinimalConfigGetsDefaults) {
  auto config = ParseHubConfig("t.yaml", kMinimal);
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  EXPECT_EQ(config->broker.frontend, "tcp://127.0.0.1:5555");
  EXPECT_EQ(config->broker.backend, "tcp://127.0.0.1:5556");
  EXPECT_EQ(config->broker.heartbeat_ms, 2500);
  EXPECT_EQ(config->broker.liveness, 3);
  EXPECT_EQ(config->ledger.backend, "sqlite");
  EXPECT_EQ(config->ledger.sqlite.path, "./var/hub/ledger.db");
  const auto* workflow = config->workflows.Find("filing.vat");
  ASSERT_NE(workflow, nullptr);
  ASSERT_EQ(workflow->stages.size(), 1u);
  EXPECT_EQ(workflow->stages[0].label, "accept");
  EXPECT_EQ(workflow->stages[0].time_limit_ms, 3'600'000);
}

TEST(Config, UnknownTopLevelKey) {
  EXPECT_EQ(Error(std::string(kMinimal) + "brokr:\n  liveness: 3\n"),
            "t.yaml:4: brokr: unknown key");
}

TEST(Config, UnknownNestedKey) {
  EXPECT_EQ(Error("broker:\n  heartbeat: 1s\n  hartbeat: 2s\n" + std::string(kMinimal)),
            "t.yaml:3: broker.hartbeat: unknown key");
}

TEST(Config, BadDuration) {
  EXPECT_EQ(Error("broker:\n  heartbeat: fast\n" + std::string(kMinimal)),
            "t.yaml:2: broker.heartbeat: expected a duration such as 250ms, 30s, 5m, 4h or 2d, "
            "got \"fast\"");
}

TEST(Config, OutOfRangeInteger) {
  EXPECT_EQ(Error("broker:\n  liveness: 0\n" + std::string(kMinimal)),
            "t.yaml:2: broker.liveness: must be between 1 and 100, got 0");
}

TEST(Config, BadBackend) {
  EXPECT_EQ(Error("ledger:\n  backend: oracle\n" + std::string(kMinimal)),
            "t.yaml:2: ledger.backend: must be sqlite or postgres, got \"oracle\"");
}

TEST(Config, PostgresNeedsADsn) {
  EXPECT_NE(Error("ledger:\n  backend: postgres\n" + std::string(kMinimal))
                .find("ledger.postgres: needs a dsn"),
            std::string::npos);
}

TEST(Config, WorkflowsAreRequired) {
  EXPECT_EQ(Error("hub:\n  id: a\n"), "t.yaml:1: workflows: is required");
}

TEST(Config, StageNeedsATimeLimit) {
  EXPECT_EQ(Error("workflows:\n  k:\n    - {name: a, service: s}\n"),
            "t.yaml:3: workflows.k[0].time_limit: is required");
}

TEST(Config, StagesMayNotUseReservedServices) {
  EXPECT_NE(Error("workflows:\n  k:\n    - {name: a, service: mmi.service, time_limit: 1h}\n")
                .find("workflows.k[0].service"),
            std::string::npos);
}

TEST(Config, DuplicateStageNames) {
  EXPECT_EQ(Error("workflows:\n  k:\n    - {name: a, service: s, time_limit: 1h}\n"
                  "    - {name: a, service: t, time_limit: 1h}\n"),
            "t.yaml:4: workflows.k[1].name: is used twice in this workflow");
}

TEST(Config, MissingFileIsNamed) {
  auto config = LoadHubConfig("/nonexistent/hub.yaml");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().message(), "/nonexistent/hub.yaml: cannot open config file");
}

// The shipped configuration files must always load.
TEST(Config, ShippedFilesAreValid) {
  for (const char* name : {"config/hub.yaml", "config/dev.yaml"}) {
    auto config = LoadHubConfig(testing::SourceDir() + "/" + name);
    ASSERT_TRUE(config.has_value()) << config.error().ToString();
    EXPECT_NE(config->workflows.Find("filing.vat"), nullptr) << name;
    EXPECT_NE(config->workflows.Find("registration.new"), nullptr) << name;
  }
}

}  // namespace
}  // namespace taxhub::app
