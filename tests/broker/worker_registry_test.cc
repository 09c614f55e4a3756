#include "hub/broker/worker_registry.h"

#include <gtest/gtest.h>

namespace taxhub::broker {
namespace {

TEST(WorkerRegistry, IdleWorkersAreTakenLeastRecentlyUsedFirst) {
  WorkerRegistry registry(1000, 3);
  for (const char* id : {"a", "b", "c"}) registry.MarkIdle(registry.Add(id, "svc", 0));
  EXPECT_EQ(registry.IdleCount("svc"), 3);
  EXPECT_EQ(registry.TakeIdle("svc")->identity, "a");
  registry.MarkIdle(*registry.Find("a"));
  EXPECT_EQ(registry.TakeIdle("svc")->identity, "b");
  EXPECT_EQ(registry.TakeIdle("svc")->identity, "c");
  EXPECT_EQ(registry.TakeIdle("svc")->identity, "a");
  EXPECT_EQ(registry.TakeIdle("svc"), nullptr);
  EXPECT_EQ(registry.WorkerCount("svc"), 3);
}

TEST(WorkerRegistry, ServicesAreSeparate) {
  WorkerRegistry registry(1000, 3);
  registry.MarkIdle(registry.Add("a", "filing", 0));
  EXPECT_EQ(registry.TakeIdle("invoice"), nullptr);
  EXPECT_NE(registry.TakeIdle("filing"), nullptr);
}

TEST(WorkerRegistry, ExpiresWorkersSilentForHeartbeatTimesLiveness) {
  WorkerRegistry registry(1000, 3);
  Worker& a = registry.Add("a", "svc", 0);
  registry.MarkIdle(a);
  registry.Add("b", "svc", 0);
  EXPECT_TRUE(registry.Expire(2999).empty());
  registry.Touch(*registry.Find("b"), 2000);
  auto expired = registry.Expire(3000);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].identity, "a");
  EXPECT_TRUE(expired[0].idle);
  EXPECT_EQ(registry.IdleCount("svc"), 0);
  EXPECT_EQ(registry.WorkerCount("svc"), 1);
  EXPECT_EQ(registry.Expire(5000).size(), 1u);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(WorkerRegistry, RemovingABusyWorkerReturnsItsJob) {
  WorkerRegistry registry(1000, 3);
  Worker& w = registry.Add("a", "svc", 0);
  w.job.kind = Job::Kind::kTask;
  w.job.task_id = "R1/0";
  auto removed = registry.Remove("a");
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->job.task_id, "R1/0");
  EXPECT_FALSE(registry.Remove("a").has_value());
}

TEST(WorkerRegistry, HeartbeatsGoToWorkersNotSentToForAnInterval) {
  WorkerRegistry registry(1000, 3);
  registry.Add("a", "svc", 0);
  Worker& b = registry.Add("b", "svc", 0);
  registry.MarkSent(b, 600);
  auto due = registry.DueForHeartbeat(1000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], "a");
}

}  // namespace
}  // namespace taxhub::broker
