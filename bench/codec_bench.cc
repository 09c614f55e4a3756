// Hot paths of the hub's request handling, each next to a raw baseline measured in the same
// run: Thrift compact decode of a SubmitRequest against copying its bytes, and MDP envelope
// parsing against building the frames it parses.

#include <benchmark/benchmark.h>

#include <cstring>

#include "hub/broker/mdp.h"
#include "hub/wire/codec.h"

namespace {

using namespace taxhub;

wire::SubmitRequest Sample() {
  wire::SubmitRequest r;
  r.request_id = "hall-12345-1732950000000-42";
  r.kind = "filing.vat";
  r.taxpayer_id = "91310110666007217T";
  r.attributes = {{"tax_office", "13212000000"}, {"taxpayer_type", "general"}};
  r.body = std::string(512, 'x');
  return r;
}

void BM_BaselineCopy(benchmark::State& state) {
  const std::string bytes = wire::Encode(Sample());
  std::string copy(bytes.size(), '\0');
  for (auto _ : state) {
    std::memcpy(copy.data(), bytes.data(), bytes.size());
    benchmark::DoNotOptimize(copy.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_BaselineCopy);

void BM_ThriftEncode(benchmark::State& state) {
  const wire::SubmitRequest request = Sample();
  for (auto _ : state) benchmark::DoNotOptimize(wire::Encode(request));
}
BENCHMARK(BM_ThriftEncode);

void BM_ThriftDecode(benchmark::State& state) {
  const std::string bytes = wire::Encode(Sample());
  const wire::CodecLimits limits;
  for (auto _ : state) benchmark::DoNotOptimize(wire::Decode<wire::SubmitRequest>(bytes, limits));
}
BENCHMARK(BM_ThriftDecode);

void BM_BaselineBuildFrames(benchmark::State& state) {
  const std::string body = wire::Encode(Sample());
  for (auto _ : state) {
    auto frames = mdp::MakeFrames({"\x00\x6b\x8b\x45\x67", "", "MDPC01", "taxhub.submit", body});
    benchmark::DoNotOptimize(frames.data());
  }
}
BENCHMARK(BM_BaselineBuildFrames);

void BM_MdpBuildAndParse(benchmark::State& state) {
  const std::string body = wire::Encode(Sample());
  for (auto _ : state) {
    auto frames = mdp::MakeFrames({"\x00\x6b\x8b\x45\x67", "", "MDPC01", "taxhub.submit", body});
    auto request = mdp::ParseClientRequest(frames);
    benchmark::DoNotOptimize(request.body.data());
  }
}
BENCHMARK(BM_MdpBuildAndParse);

}  // namespace

BENCHMARK_MAIN();
