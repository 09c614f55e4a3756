#include <gtest/gtest.h>

#include "hub/base/log.h"
#include "hub/workflow/transitions.h"

namespace taxhub::workflow {
namespace {

// Restores the process-wide log level a test changes.
class EffectsTest : public ::testing::Test {
 protected:
  void TearDown() override { SetLogLevel(saved_); }
  LogLevel saved_ = GetLogLevel();
};

TEST_F(EffectsTest, AFlowLogLineIsKeptWhenInfoIsLogged) {
  SetLogLevel(LogLevel::kInfo);
  Effects effects;
  int built = 0;
  effects.Note([&] { ++built; return std::string("R1-0 file done by worker:a in 3 ms"); });
  EXPECT_EQ(built, 1);
  ASSERT_EQ(effects.notes.size(), 1u);
  EXPECT_EQ(effects.notes[0], "R1-0 file done by worker:a in 3 ms");
}

TEST_F(EffectsTest, AFlowLogLineIsNotEvenBuiltWhenInfoIsNotLogged) {
  SetLogLevel(LogLevel::kWarn);
  Effects effects;
  int built = 0;
  effects.Note([&] { ++built; return std::string("R1-0 file done"); });
  EXPECT_EQ(built, 0);
  EXPECT_TRUE(effects.notes.empty());
}

}  // namespace
}  // namespace taxhub::workflow
