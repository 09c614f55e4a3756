#include "adapters/sample/sample_handler.h"

#include <chrono>
#include <thread>

#include "hub/base/digest.h"

namespace taxhub::sample {

SampleHandler::SampleHandler(SampleOptions options)
    : options_(std::move(options)),
      random_(options_.seed ? options_.seed
                            : static_cast<uint64_t>(
                                  std::chrono::steady_clock::now().time_since_epoch().count())) {}

wire::StageResult SampleHandler::Handle(const wire::StageTask& task) {
  if (options_.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options_.delay_ms));
  double roll;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    roll = std::uniform_real_distribution<double>(0, 1)(random_);
  }
  ++handled_;
  wire::StageResult result;
  result.handler = options_.name;
  if (roll < options_.reject_rate) {
    result.outcome = wire::StageOutcome::REJECTED;
    result.code = "SAMPLE_REJECT";
    result.message = "the sample system refused " + task.stage;
    return result;
  }
  if (roll < options_.reject_rate + options_.retry_rate) {
    result.outcome = wire::StageOutcome::RETRY;
    result.code = "SAMPLE_BUSY";
    result.message = "the sample system is busy";
    return result;
  }
  result.outcome = wire::StageOutcome::SUCCEEDED;
  result.outputs.insert(options_.outputs.begin(), options_.outputs.end());
  result.outputs[task.stage + ".serial"] = Sha256Hex({task.task_id}).substr(0, 16);
  result.outputs[task.stage + ".attempt"] = std::to_string(task.attempt);
  return result;
}

}  // namespace taxhub::sample
