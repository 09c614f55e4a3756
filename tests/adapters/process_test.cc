// An adapter program as a process: what it runs its services on.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace taxhub::testing {
namespace {

struct Threads {
  int all = 0;
  int zmq_io = 0;  // ZeroMQ's I/O threads, one per context
  int zmq = 0;     // all of ZeroMQ's threads: its I/O threads and the reaper
};

Threads ThreadsOf(pid_t pid) {
  Threads t;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    ++t.all;
    if (name.rfind("ZMQbg/IO/", 0) == 0) ++t.zmq_io;
    if (name.rfind("ZMQbg/", 0) == 0) ++t.zmq;
  }
  return t;
}

// The sample adapter serving three services with `workers` each, against an endpoint where
// nobody listens: its workers keep trying to connect, which is all these tests need. Returns
// once its threads are up (each service: an I/O loop and its handlers; then ZeroMQ's own),
// and a moment more, so that anything started late shows too.
// With `delay_ms` 0 its handler never blocks, and runs on each service's I/O loop: no handler
// threads then.
std::optional<Process> StartThreeServices(const TempDir& dir, int workers, int delay_ms = 20) {
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
  auto adapter = Process::Start({BinDir() + "/taxhub-adapter-sample", "--endpoint", endpoint, "--service",
                                 "test.one", "--service", "test.two", "--service", "test.three", "--workers",
                                 std::to_string(workers), "--delay", std::to_string(delay_ms)},
                                dir.File("adapter.log"));
  if (!adapter) return adapter;
  const int handler_threads = delay_ms > 0 ? workers : 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    const Threads threads = ThreadsOf(adapter->pid());
    if (threads.zmq_io > 0 && threads.all >= 1 + 3 * (1 + handler_threads)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return adapter;
}

// The services of one adapter process share one ZeroMQ context, and so one I/O thread: three
// services with their own contexts ran three, and cost the adapter 8–11% more CPU.
TEST(AdapterProcess, ItsServicesShareOneZeroMqIoThread) {
  TempDir dir;
  auto adapter = StartThreeServices(dir, 2);
  ASSERT_TRUE(adapter.has_value());
  const Threads threads = ThreadsOf(adapter->pid());
  EXPECT_GE(threads.all, 1 + 3 * 3) << adapter->Log();
  EXPECT_EQ(threads.zmq_io, 1) << "one ZeroMQ context for the three services";
  EXPECT_EQ(adapter->Stop(), 0) << adapter->Log();
}

// An instant handler (the sample adapter without a delay) runs on the services' I/O loops: the
// process has its main thread, one loop per service and ZeroMQ's threads, and no handler
// threads however many workers each service registers.
TEST(AdapterProcess, AnInstantHandlerHasNoHandlerThreads) {
  TempDir dir;
  auto adapter = StartThreeServices(dir, 16, /*delay_ms=*/0);
  ASSERT_TRUE(adapter.has_value());
  const Threads threads = ThreadsOf(adapter->pid());
  EXPECT_EQ(threads.zmq_io, 1);
  EXPECT_EQ(threads.all, 1 + 3 + threads.zmq) << adapter->Log();
  EXPECT_EQ(adapter->Stop(), 0) << adapter->Log();
}

// More connections in all than a ZeroMQ context allows by default (1023): the shared context is
// made for them, and a connection that cannot be opened is retried, never fatal.
TEST(AdapterProcess, MoreConnectionsThanAContextsDefaultStillRun) {
  TempDir dir;
  auto adapter = StartThreeServices(dir, 350);
  ASSERT_TRUE(adapter.has_value());
  EXPECT_TRUE(adapter->Running()) << adapter->Log();
  EXPECT_EQ(adapter->Stop(), 0) << adapter->Log();
}

}  // namespace
}  // namespace taxhub::testing
