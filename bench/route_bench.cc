// Route lookup as the table grows: 10, 1,000 and 10,000 routes. The baseline is one
// std::unordered_map<std::string, int> probe for the same kind, measured in the same run: the
// route table should cost a small, constant multiple of it at every size.

#include <benchmark/benchmark.h>

#include <random>
#include <sstream>
#include <unordered_map>

#include "routing/route_table.h"

namespace {

using namespace taxhub;

// n routes: a third exact kinds, a third exact kinds with a condition, a third prefixes.
std::shared_ptr<const routing::RouteTable> MakeTable(int n) {
  std::ostringstream yaml;
  yaml << "routes:\n";
  for (int i = 0; i < n; ++i) {
    yaml << "  - {name: r" << i << ", match: {kind: ";
    switch (i % 3) {
      case 0: yaml << "svc" << i << ".apply"; break;
      case 1: yaml << "svc" << i - 1 << ".apply, taxpayer_type: small_scale"; break;
      default: yaml << "svc" << i << ".*"; break;
    }
    yaml << "}, stages: [{name: s, service: x" << i << "}]}\n";
  }
  auto table = routing::ParseRouteTable("bench.yaml", yaml.str());
  if (!table) throw std::runtime_error(table.error().ToString());
  return *table;
}

std::vector<std::string> Kinds(int n) {
  std::vector<std::string> kinds;
  std::mt19937 random(42);
  for (int k = 0; k < 1024; ++k) {
    int i = static_cast<int>(random() % n);
    kinds.push_back(i % 3 == 2 ? "svc" + std::to_string(i) + ".sub.kind"
                               : "svc" + std::to_string(i - i % 3) + ".apply");
  }
  return kinds;
}

void BM_BaselineHashProbe(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::unordered_map<std::string, int> map;
  for (int i = 0; i < n; ++i) map["svc" + std::to_string(i) + ".apply"] = i;
  auto kinds = Kinds(n);
  size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map.find(kinds[k++ & 1023]));
  }
}
BENCHMARK(BM_BaselineHashProbe)->Arg(10)->Arg(1000)->Arg(10000);

void BM_RouteLookup(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto table = MakeTable(n);
  auto kinds = Kinds(n);
  const StringMap attributes = {{"taxpayer_type", "general"}, {"tax_office", "13212000000"}};
  size_t k = 0, found = 0;
  for (auto _ : state) {
    const routing::Route* route = table->Find(kinds[k++ & 1023], attributes);
    found += route != nullptr;
    benchmark::DoNotOptimize(route);
  }
  if (found != k) state.SkipWithError("a lookup found no route");
}
BENCHMARK(BM_RouteLookup)->Arg(10)->Arg(1000)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
