// The sample adapter: stands in for any legacy system in dev mode and tests. It takes a
// configured time per task, answers SUCCEEDED with a serial derived from the task id (so a
// redelivered task gets the same serial, as a real idempotent legacy call would), and can be
// told to answer RETRY or REJECTED for a share of tasks.
#ifndef TAXHUB_ADAPTERS_SAMPLE_SAMPLE_HANDLER_H_
#define TAXHUB_ADAPTERS_SAMPLE_SAMPLE_HANDLER_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "adapters/sdk/handler.h"
#include "hub/base/json_map.h"

namespace taxhub::sample {

struct SampleOptions {
  std::string name = "sample";
  int64_t delay_ms = 20;
  double retry_rate = 0;
  double reject_rate = 0;
  uint64_t seed = 0;  // 0: from the clock
  StringMap outputs;  // added to every successful result (e.g. tax_due for a filing stand-in)
};

class SampleHandler final : public sdk::Handler {
 public:
  explicit SampleHandler(SampleOptions options);
  wire::StageResult Handle(const wire::StageTask& task) override;
  // Only the configured delay waits; without one the answer is computed at once.
  bool MayBlock() const override { return options_.delay_ms > 0; }

  uint64_t handled() const { return handled_; }

 private:
  SampleOptions options_;
  std::mutex mutex_;
  std::mt19937_64 random_;
  std::atomic<uint64_t> handled_{0};
};

}  // namespace taxhub::sample

#endif  // TAXHUB_ADAPTERS_SAMPLE_SAMPLE_HANDLER_H_
