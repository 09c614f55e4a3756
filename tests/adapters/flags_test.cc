// The flags every adapter process takes, parsed once in the SDK.

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "adapters/sdk/process.h"

namespace taxhub::sdk {
namespace {

Status Parse(std::vector<std::string> args, AdapterFlags& flags, const ExtraFlag& extra = {}) {
  args.insert(args.begin(), "taxhub-adapter-test");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseAdapterFlags(static_cast<int>(argv.size()), argv.data(), flags, extra);
}

TEST(AdapterFlags, CommonFlagsAndTheAdaptersOwn) {
  AdapterFlags flags;
  std::string node;
  Status s = Parse({"--legacy", "127.0.0.1:7001", "--service", "filing.1321", "--service", "invoice.copy_report",
                    "--workers", "8", "--timeout", "900", "--heartbeat", "1000", "--endpoint", "tcp://127.0.0.1:6",
                    "--node", "132120000000"},
                   flags, [&](const std::string& flag, const auto& value) {
                     if (flag != "--node") return false;
                     node = value();
                     return true;
                   });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(flags.legacy_host, "127.0.0.1");
  EXPECT_EQ(flags.legacy_port, 7001);
  EXPECT_EQ(flags.process.services, (std::vector<std::string>{"filing.1321", "invoice.copy_report"}));
  EXPECT_EQ(flags.process.workers, 8);
  EXPECT_EQ(flags.timeout_ms, 900);
  EXPECT_EQ(flags.process.heartbeat_ms, 1000);
  EXPECT_EQ(flags.process.endpoint, "tcp://127.0.0.1:6");
  EXPECT_EQ(node, "132120000000");
}

TEST(AdapterFlags, BadFlagsAreNamed) {
  struct Case {
    std::vector<std::string> args;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{{{"--colour", "red"}, "--colour"},
                                         {{"--service"}, "--service"},
                                         {{"--workers", "0"}, "--workers"},
                                         {{"--workers", "many"}, "--workers"},
                                         {{"--legacy", "localhost"}, "--legacy"},
                                         {{"--log-level", "loud"}, "--log-level"}}) {
    AdapterFlags flags;
    Status s = Parse(c.args, flags);
    EXPECT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.code(), ErrorCode::kBadRequest);
    EXPECT_EQ(s.field(), c.field);
  }
}

TEST(AdapterFlags, HostPortAndAssignmentValues) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:7001"), (std::pair<std::string, int>{"127.0.0.1", 7001}));
  EXPECT_THROW(ParseHostPort("localhost"), std::invalid_argument);
  EXPECT_THROW(ParseHostPort(":7001"), std::invalid_argument);
  EXPECT_EQ(ParseAssignment("notify=您好=再见", "STAGE=TEXT"),
            (std::pair<std::string, std::string>{"notify", "您好=再见"}));
  try {
    ParseAssignment("=x", "STAGE=TEXT");
    ADD_FAILURE() << "a value without a name";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "must be STAGE=TEXT");
  }
}

// An adapter's own section of a config file gives its flags; the command line adds to
// repeatable ones and overrides the rest; a bad key or value names the file, line and key.
TEST(AdapterFlags, AConfigSectionGivesTheFlags) {
  const std::string file = ::testing::TempDir() + "/adapters.yaml";
  FILE* out = fopen(file.c_str(), "w");
  fputs("filing:\n"
        "  legacy: 127.0.0.1:7001\n"
        "  service: [filing.13212000000, invoice.copy_report]\n"
        "  timeout: 900\n"
        "sms:\n"
        "  legacy: 127.0.0.1:13013\n"
        "  template:\n"
        "    notify_paid: \"您{period}期税款已缴\"\n"
        "    notify_refusal: \"未办结：{rejected_reason}\"\n"
        "broken:\n"
        "  workers: 0\n"
        "odd:\n"
        "  colour: red\n",
        out);
  fclose(out);
  AdapterFlags flags;
  // Parse() passes no default section (each adapter passes its own name): --section is needed.
  EXPECT_EQ(Parse({"--config", file}, flags).field(), "--config");
  Status s = Parse({"--config", file, "--section", "filing", "--service", "filing.13101100000", "--timeout", "2000"},
                   flags);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(flags.legacy_port, 7001);
  EXPECT_EQ(flags.process.services,
            (std::vector<std::string>{"filing.13212000000", "invoice.copy_report", "filing.13101100000"}));
  EXPECT_EQ(flags.timeout_ms, 2000) << "the command line overrides the file";

  AdapterFlags sms;
  std::vector<std::string> templates;
  s = Parse({"--config", file, "--section", "sms"}, sms, [&](const std::string& flag, const auto& value) {
    if (flag != "--template") return false;
    templates.push_back(value());
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(templates, (std::vector<std::string>{"notify_paid=您{period}期税款已缴", "notify_refusal=未办结：{rejected_reason}"}));

  AdapterFlags bad;
  s = Parse({"--config", file, "--section", "broken"}, bad);
  EXPECT_EQ(s.field(), "broken.workers");
  EXPECT_NE(s.message().find("adapters.yaml:11: broken.workers: must be at least 1"), std::string::npos) << s.ToString();
  s = Parse({"--config", file, "--section", "odd"}, bad);
  EXPECT_EQ(s.field(), "odd.colour");
  EXPECT_NE(s.message().find("adapters.yaml:13: odd.colour: unknown key"), std::string::npos) << s.ToString();
  s = Parse({"--config", file, "--section", "nowhere"}, bad);
  EXPECT_EQ(s.field(), "--config");
  EXPECT_NE(s.message().find("no section \"nowhere\""), std::string::npos) << s.ToString();
  s = Parse({"--config", file + ".missing", "--section", "sms"}, bad);
  EXPECT_EQ(s.field(), "--config");
}

}  // namespace
}  // namespace taxhub::sdk
