#include "hub/app/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

#include "tests/support/process.h"

namespace taxhub::app {
namespace {

const char* kMinimal = "routes: routes.yaml\n";

class ConfigFiles {
 public:
  ConfigFiles() {
    std::ofstream(dir_.File("routes.yaml"))
        << "routes:\n  - {name: vat, match: {kind: filing.vat}, stages: [{name: accept, "
           "service: filing.accept, time_limit: 1h}]}\n";
  }
  const std::string& path() const { return dir_.path(); }

 private:
  testing::TempDir dir_;
};

Result<HubConfig> Parse(const std::string& text) {
  static ConfigFiles files;
  return ParseHubConfig("t.yaml", text, files.path());
}

std::string Error(const std::string& text) {
  auto config = Parse(text);
  return config ? "" : config.error().message();
}

TEST(Config, MinimalConfigGetsDefaults) {
  auto config = Parse(kMinimal);
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  EXPECT_EQ(config->broker.frontend, "tcp://127.0.0.1:5555");
  EXPECT_EQ(config->broker.backend, "tcp://127.0.0.1:5556");
  EXPECT_EQ(config->broker.heartbeat_ms, 2500);
  EXPECT_EQ(config->broker.liveness, 3);
  EXPECT_EQ(config->ledger.backend, "sqlite");
  EXPECT_EQ(config->ledger.sqlite.path, "./var/hub/ledger.db");
  ASSERT_TRUE(config->routes);
  auto plan = config->routes->PlanFor("filing.vat", {});
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->stages.size(), 1u);
  EXPECT_EQ(plan->stages[0].label, "accept");
  EXPECT_EQ(plan->stages[0].time_limit_ms, 3'600'000);
}

TEST(Config, UnknownTopLevelKey) {
  EXPECT_EQ(Error(std::string(kMinimal) + "brokr:\n  liveness: 3\n"),
            "t.yaml:2: brokr: unknown key");
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

TEST(Config, EventsArePublishedOnlyWithTheirSection) {
  auto none = Parse(kMinimal);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->events.enabled);
  auto some = Parse(std::string(kMinimal) + "events:\n  publish: tcp://127.0.0.1:6557\n  heartbeat: 250ms\n");
  ASSERT_TRUE(some.has_value()) << some.error().ToString();
  EXPECT_TRUE(some->events.enabled);
  EXPECT_EQ(some->events.publish, "tcp://127.0.0.1:6557");
  EXPECT_EQ(some->events.heartbeat_ms, 250);
  EXPECT_EQ(Error(std::string(kMinimal) + "events:\n  heartbeat: 10ms\n"),
            "t.yaml:3: events.heartbeat: must be at least 50ms");
  EXPECT_EQ(Error(std::string(kMinimal) + "events:\n  hwm: 10\n"), "t.yaml:3: events.hwm: unknown key");
}

TEST(Config, CurveListsItsPeersWithTheirRoles) {
  auto none = Parse(kMinimal);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->curve.enabled) << "no section, no CURVE";
  auto some = Parse(std::string(kMinimal) +
                    "curve:\n  keys: /etc/taxhub/keys\n  peers:\n    - {name: hall, role: hall}\n"
                    "    - {name: filing, role: adapter, services: [filing.*, core.register], key: /k/f.pub}\n");
  ASSERT_TRUE(some.has_value()) << some.error().ToString();
  EXPECT_TRUE(some->curve.enabled);
  EXPECT_EQ(some->curve.server_key, "/etc/taxhub/keys/hub.key");
  ASSERT_EQ(some->curve.peers.size(), 2u);
  EXPECT_EQ(some->curve.peers[0].key_file, "/etc/taxhub/keys/hall.pub");
  EXPECT_EQ(some->curve.peers[1].role, security::PeerRole::kAdapter);
  EXPECT_EQ(some->curve.peers[1].key_file, "/k/f.pub");
  const std::string curve = std::string(kMinimal) + "curve:\n  peers:\n";
  EXPECT_EQ(Error(curve + "    - {name: x, role: admin}\n"),
            "t.yaml:4: curve.peers[0].role: unknown role \"admin\" (hall, adapter or subscriber)");
  EXPECT_EQ(Error(curve + "    - {name: x, role: adapter}\n"),
            "t.yaml:4: curve.peers[0].services: an adapter needs the services it may serve");
  EXPECT_EQ(Error(curve + "    - {name: x, role: hall, services: [a.b]}\n"),
            "t.yaml:4: curve.peers[0].services: only adapters are given services");
  EXPECT_EQ(Error(curve + "    - {name: x, role: adapter, services: [taxhub.*]}\n"),
            "t.yaml:4: curve.peers[0].services: bad service taxhub.*");
  EXPECT_EQ(Error(curve + "    - {name: x, role: hall}\n    - {name: x, role: hall}\n"),
            "t.yaml:5: curve.peers[1].name: is listed twice");
  EXPECT_EQ(Error(std::string(kMinimal) + "curve:\n  enabled: true\n"),
            "t.yaml:3: curve.peers: lists who may connect; with none, nobody could");
}

TEST(Config, TheTaxCalendarComesFromItsSection) {
  auto config = Parse(std::string(kMinimal) +
                      "calendar:\n"
                      "  holidays: [2026-10-01, 2026-10-02, 2026-10-03, 2026-10-04, 2026-10-05, 2026-10-06, "
                      "2026-10-07, 2026-10-08]\n"
                      "  workdays: [2026-10-10]\n"
                      "  deadlines: {2026-11: 2026-11-17}\n");
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  using obligations::FormatDate;
  using obligations::ParseMonth;
  EXPECT_EQ(FormatDate(config->calendar.FilingDeadline(*ParseMonth("2026-10"))), "2026-10-23");
  EXPECT_EQ(FormatDate(config->calendar.FilingDeadline(*ParseMonth("2026-11"))), "2026-11-17");
  EXPECT_EQ(Error(std::string(kMinimal) + "calendar:\n  holidays: [2026-10-01, 2026-02-30]\n"),
            "t.yaml:3: calendar.holidays[1]: no such day: 2026-02-30");
  EXPECT_EQ(Error(std::string(kMinimal) + "calendar:\n  deadlines: {2026-13: 2026-12-01}\n"),
            "t.yaml:3: calendar.deadlines.2026-13: expected a month such as 2026-10, got \"2026-13\"");
}

TEST(Config, Reminders) {
  auto config = Parse(std::string(kMinimal) + "reminders:\n  days_before: 3\n  interval: 30s\n");
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  EXPECT_EQ(config->engine.reminder_days_before, 3);
  EXPECT_EQ(config->engine.reminder_interval_ms, 30'000);
  EXPECT_EQ(Error(std::string(kMinimal) + "reminders:\n  interval: 10ms\n"),
            "t.yaml:3: reminders.interval: must be at least 50ms (0: off)");
}

TEST(Config, GroupCommitsWaitOnlyWhenAskedTo) {
  auto defaults = Parse(kMinimal);
  ASSERT_TRUE(defaults.has_value()) << defaults.error().ToString();
  EXPECT_EQ(defaults->engine.gather_window_us, 0);
  auto config = Parse(std::string(kMinimal) + "engine:\n  gather_window: 300us\n  gather_count: 16\n");
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  EXPECT_EQ(config->engine.gather_window_us, 300);
  EXPECT_EQ(config->engine.gather_count, 16);
  EXPECT_EQ(Error(std::string(kMinimal) + "engine:\n  gather_window: 300\n"),
            "t.yaml:3: engine.gather_window: expected a duration such as 300us, 2ms or 1s, got \"300\"");
  EXPECT_EQ(Error(std::string(kMinimal) + "engine:\n  gather_window: 1s\n"),
            "t.yaml:3: engine.gather_window: must be at most 100ms");
  EXPECT_EQ(Error(std::string(kMinimal) + "engine:\n  gather_count: 1\n"),
            "t.yaml:3: engine.gather_count: must be between 2 and 100000, got 1");
  EXPECT_EQ(Error(std::string(kMinimal) + "engine:\n  batch_max: 8\n  gather_window: 1ms\n  gather_count: 16\n"),
            "t.yaml:5: engine.gather_count: must be at most batch_max, or a batch would always wait out the window");
  EXPECT_EQ(Error(std::string(kMinimal) + "engine:\n  batch_max: 8\n"), "") << "no wait, no limit";
}

TEST(Config, PolicyNotices) {
  auto config = Parse(std::string(kMinimal) +
                      "notices:\n  - {name: relief, title: 减免, taxpayer_types: [small_scale], industries: [\"51\"],"
                      " from: 2026-11-01, until: 2027-01-01}\n");
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  ASSERT_EQ(config->engine.notices.size(), 1u);
  EXPECT_EQ(config->engine.notices[0].from_ms, 1'793'462'400'000) << "2026-11-01 00:00 China time";
  EXPECT_TRUE(config->engine.notices[0].taxpayer_types.contains("small_scale"));
  EXPECT_EQ(Error(std::string(kMinimal) + "notices:\n  - {name: n, title: t, from: soon}\n"),
            "t.yaml:3: notices[0].from: expected a date such as 2026-10-08, got \"soon\"");
}

TEST(Config, RiskRules) {
  auto config = Parse(std::string(kMinimal) +
                      "risk:\n"
                      "  - {name: zero_filings, type: zero_run, kind: filing.vat, output: tax_due, months: 3,"
                      " title: 连续零申报, text: \"{from}至{period}\"}\n"
                      "  - {name: surge, type: above_history, kind: invoice.copy_report, output: invoices_reported,"
                      " months: 6, factor: 4, min_value: 100, title: t, text: \"{value} {mean}\"}\n"
                      "  - {name: refusals, type: rejections, count: 4, days: 10, title: t, text: \"{count}\"}\n");
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  const auto& rules = config->engine.risk_rules;
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].figure(), "filing.vat.tax_due");
  EXPECT_EQ(rules[1].type, obligations::RiskRule::Type::kAboveHistory);
  EXPECT_EQ(rules[1].min_history, 3);
  EXPECT_DOUBLE_EQ(rules[1].factor, 4);
  EXPECT_EQ(rules[2].count, 4);
  EXPECT_EQ(rules[2].days, 10);
  const std::string rule = "risk:\n  - {name: r, type: rejections, title: t, text: ";
  EXPECT_EQ(Error(std::string(kMinimal) + rule + "\"{mean}\"}\n"),
            "t.yaml:3: risk[0].text: {mean} is not a placeholder of a rejections rule");
  EXPECT_EQ(Error(std::string(kMinimal) + rule + "\"{count\"}\n"),
            "t.yaml:3: risk[0].text: an unclosed { in the template");
  EXPECT_EQ(Error(std::string(kMinimal) + "risk:\n  - {name: r, type: sometimes, title: t, text: x}\n"),
            "t.yaml:3: risk[0].type: must be zero_run, above_history or rejections");
  EXPECT_EQ(Error(std::string(kMinimal) + "risk:\n  - {name: r, type: zero_run, title: t, text: x, output: o}\n"),
            "t.yaml:3: risk[0].kind: is required");
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

TEST(Config, RoutesFileIsRequired) {
  EXPECT_EQ(Error("hub:\n  id: a\n"), "t.yaml:1: routes: is required");
}

TEST(Config, MissingRoutesFileIsNamed) {
  EXPECT_NE(Error("routes: nowhere.yaml\n").find("nowhere.yaml: cannot open routes file"),
            std::string::npos);
}

TEST(Config, MissingFileIsNamed) {
  auto config = LoadHubConfig("/nonexistent/hub.yaml");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().message(), "/nonexistent/hub.yaml: cannot open config file");
}

// The shipped configuration files must always load.
// The shipped calendar holds 2026 as the State Council and the SAT published it: every monthly
// deadline is the published one, and the rule's days off and exchanged workdays are right.
TEST(Config, ShippedCalendarHasThePublished2026Deadlines) {
  auto config = LoadHubConfig(testing::SourceDir() + "/config/hub.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  using std::chrono::month;
  using std::chrono::year;
  const unsigned published[] = {20, 24, 16, 20, 22, 15, 15, 17, 15, 26, 16, 15};
  for (unsigned m = 1; m <= 12; ++m) {
    const obligations::Date deadline = config->calendar.FilingDeadline(year(2026) / month(m));
    EXPECT_EQ(deadline, year(2026) / month(m) / std::chrono::day(published[m - 1])) << "month " << m;
  }
  const obligations::WorkCalendar& c = config->calendar;
  EXPECT_FALSE(c.IsWorkday(year(2026) / month(10) / std::chrono::day(7)));
  EXPECT_TRUE(c.IsWorkday(year(2026) / month(10) / std::chrono::day(10))) << "a Saturday worked in exchange";
  EXPECT_FALSE(c.IsWorkday(year(2026) / month(2) / std::chrono::day(23)));
  EXPECT_TRUE(c.IsWorkday(year(2026) / month(2) / std::chrono::day(24)));

  // Without the published table the rule is the fallback (a year not yet published): in 2026 it
  // is right in 9 months and early in 3 (Jan 19, May 20, Oct 22), never late — a reminder from
  // it may come early, never after the deadline.
  obligations::WorkCalendar rule_only(
      [&] {
        std::set<std::chrono::sys_days> days;
        for (std::chrono::sys_days d = std::chrono::sys_days(year(2026) / 1 / 1); d < std::chrono::sys_days(year(2027) / 1 / 1);
             d += std::chrono::days(1)) {
          if (c.IsHoliday(d)) days.insert(d);
        }
        return days;
      }(),
      [&] {
        std::set<std::chrono::sys_days> days;
        for (const char* d : {"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}) {
          days.insert(std::chrono::sys_days(*obligations::ParseDate(d)));
        }
        return days;
      }());
  int same = 0;
  for (unsigned m = 1; m <= 12; ++m) {
    const obligations::Date rule = rule_only.FilingDeadline(year(2026) / month(m));
    const obligations::Date sat = year(2026) / month(m) / std::chrono::day(published[m - 1]);
    EXPECT_LE(std::chrono::sys_days(rule), std::chrono::sys_days(sat)) << "month " << m;
    same += rule == sat;
  }
  EXPECT_EQ(same, 9);
}

TEST(Config, ShippedFilesAreValid) {
  for (const char* name : {"config/hub.yaml", "config/dev.yaml"}) {
    auto config = LoadHubConfig(testing::SourceDir() + "/" + name);
    ASSERT_TRUE(config.has_value()) << config.error().ToString();
    ASSERT_TRUE(config->routes);
    EXPECT_GE(config->routes->size(), 12u) << name;
  }
}

}  // namespace
}  // namespace taxhub::app
