// The flags every adapter process takes, parsed once in the SDK.

#include <gtest/gtest.h>

#include <string>
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

}  // namespace
}  // namespace taxhub::sdk
