// Reading config/routes.yaml into a RouteTable. See that file for the format.

#include <fstream>
#include <set>
#include <sstream>

#include "hub/base/text.h"
#include "hub/base/yaml_reader.h"
#include "routing/route_table.h"

namespace taxhub::routing {
namespace {

bool ValidServiceName(const std::string& s) {
  if (s.empty() || s.size() > 200) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return !s.starts_with("mmi.") && !s.starts_with("taxhub.");
}

bool ValidName(const std::string& s) { return !s.empty() && s.size() <= 64 && IsTokenText(s, "._-"); }

struct Defaults {
  int64_t time_limit_ms = 86'400'000;
  double difficulty = 1.0;
  RetryRule retry;
  CircuitRule circuit;
};

RetryRule ParseRetry(const ConfigNode& node, RetryRule r) {
  r.max_attempts = static_cast<int>(node.Int("max_attempts", r.max_attempts, 1, 100));
  r.initial_backoff_ms = node.DurationMs("initial_backoff", r.initial_backoff_ms);
  r.multiplier = node.Double("multiplier", r.multiplier, 1.0, 100.0);
  r.max_backoff_ms = node.DurationMs("max_backoff", r.max_backoff_ms);
  r.attempt_timeout_ms = node.DurationMs("attempt_timeout", r.attempt_timeout_ms);
  if (r.max_backoff_ms < r.initial_backoff_ms) node.Fail("max_backoff", "must be at least initial_backoff");
  if (r.attempt_timeout_ms < 100) node.Fail("attempt_timeout", "must be at least 100ms");
  node.Finish();
  return r;
}

CircuitRule ParseCircuit(const ConfigNode& node, CircuitRule c) {
  c.failures = static_cast<int>(node.Int("failures", c.failures, 1, 1000));
  c.open_ms = node.DurationMs("open_for", c.open_ms);
  if (c.open_ms < 100) node.Fail("open_for", "must be at least 100ms");
  node.Finish();
  return c;
}

// `name: value` means ==; `name: {op: value, …}` lists operators; `in` takes a list.
Predicate ParsePredicate(const ConfigNode& node, const std::set<std::string>& skip) {
  std::vector<Condition> conditions;
  for (auto& [name, value] : node.Entries()) {
    if (skip.contains(name)) continue;
    if (!ValidName(name)) value.FailHere("a condition names an attribute: letters, digits, . _ -");
    auto add = [&](Op op, std::vector<std::string> values, const ConfigNode& where) {
      Condition c;
      c.name = name;
      c.op = op;
      c.values = std::move(values);
      if (op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe) {
        auto number = ParseDecimal(c.values[0]);
        if (!number) where.FailHere("operator " + std::string(OpName(op)) + " needs a number, got \"" + c.values[0] + "\"");
        c.number = *number;
      }
      if (op == Op::kPrefix && c.values[0].empty()) where.FailHere("prefix needs a non-empty value");
      conditions.push_back(std::move(c));
    };
    if (value.IsScalar()) {
      add(Op::kEq, {value.AsString()}, value);
      continue;
    }
    if (!value.IsMap()) value.FailHere("expected a value, or a map of operators such as {\">=\": 100}");
    for (auto& [op_text, operand] : value.Entries()) {
      auto op = ParseOp(op_text);
      if (!op) {
        operand.FailHere("unknown operator \"" + op_text + "\"; use ==, !=, <, <=, >, >=, in or prefix");
      }
      if (*op == Op::kIn) {
        if (!operand.IsSequence()) operand.FailHere("in takes a list of values");
        std::vector<std::string> values;
        for (const ConfigNode& item : operand.Items()) values.push_back(item.AsString());
        if (values.empty()) operand.FailHere("in needs at least one value");
        add(Op::kIn, std::move(values), operand);
      } else {
        add(*op, {operand.AsString()}, operand);
      }
    }
  }
  return Predicate(std::move(conditions));
}

StageRule ParseStage(const ConfigNode& node, const Defaults& d) {
  StageRule s;
  s.line = node.line();
  s.name = node.String("name");
  if (!ValidName(s.name)) node.Fail("name", "must be letters, digits, . _ or -");
  s.label = node.String("label", s.name);
  s.service = node.String("service", "");
  s.queue = node.String("queue", "");
  s.shard_by = node.String("shard_by", "");
  if (s.service.empty() == s.queue.empty()) {
    node.FailHere("a stage has either service: (an adapter) or queue: (hall staff), not both");
  }
  if (!s.service.empty() && !ValidServiceName(s.service)) {
    node.Fail("service", "must be a printable MDP service name outside mmi.* and taxhub.*");
  }
  if (!s.queue.empty() && !ValidName(s.queue)) node.Fail("queue", "must be letters, digits, . _ or -");
  if (!s.shard_by.empty() && s.service.empty()) node.Fail("shard_by", "only adapter stages are sharded");
  if (!s.shard_by.empty() && !ValidName(s.shard_by)) node.Fail("shard_by", "must name an attribute");
  s.difficulty = node.Double("difficulty", d.difficulty, 0.01, 100);
  s.time_limit_ms = node.DurationMs("time_limit", d.time_limit_ms);
  if (s.time_limit_ms <= 0) node.Fail("time_limit", "must be positive");
  s.retry = d.retry;
  if (auto retry = node.OptionalChild("retry")) s.retry = ParseRetry(*retry, d.retry);
  if (auto when = node.OptionalChild("when")) {
    s.when = ParsePredicate(*when, {});
    when->Finish();
  }
  s.on_rejection = node.Bool("on_rejection", false);
  node.Finish();
  return s;
}

Route ParseRoute(const ConfigNode& item, const Defaults& d) {
  Route r;
  r.line = item.line();
  r.name = item.String("name");
  if (!ValidName(r.name)) item.Fail("name", "must be letters, digits, . _ or -");
  const ConfigNode node = item.Renamed("route " + r.name);
  const ConfigNode match = node.Child("match");
  r.kind = match.String("kind");
  bool pattern_ok = r.kind == "*" || (r.kind.ends_with(".*") && ValidName(r.kind.substr(0, r.kind.size() - 2))) ||
                    (ValidName(r.kind) && r.kind.find('*') == std::string::npos);
  if (!pattern_ok) match.Fail("kind", "must be a kind (filing.vat), a prefix (filing.*) or *");
  r.match = ParsePredicate(match, {"kind"});
  match.Finish();
  std::set<std::string> names;
  for (const ConfigNode& stage_node : node.Child("stages").Items()) {
    StageRule stage = ParseStage(stage_node, d);
    if (!names.insert(stage.name).second) stage_node.Fail("name", "is used twice in this route");
    r.stages.push_back(std::move(stage));
  }
  if (r.stages.empty()) node.Fail("stages", "a route needs at least one stage");
  node.Finish();
  return r;
}

}  // namespace

Result<std::shared_ptr<const RouteTable>> ParseRouteTable(const std::string& name,
                                                          const std::string& text) {
  std::vector<Route> routes;
  std::vector<PassThroughRule> passthrough;
  std::map<std::string, CircuitRule> circuits;
  Defaults defaults;
  Status status = ReadConfigText(name, text, [&](ConfigNode& root) {
    if (auto d = root.OptionalChild("defaults")) {
      defaults.time_limit_ms = d->DurationMs("time_limit", defaults.time_limit_ms);
      defaults.difficulty = d->Double("difficulty", defaults.difficulty, 0.01, 100);
      if (auto retry = d->OptionalChild("retry")) defaults.retry = ParseRetry(*retry, defaults.retry);
      if (auto circuit = d->OptionalChild("circuit")) {
        defaults.circuit = ParseCircuit(*circuit, defaults.circuit);
      }
      d->Finish();
    }
    if (auto list = root.OptionalChild("circuits")) {
      for (auto& [service, node] : list->Entries()) {
        if (!ValidServiceName(service)) node.FailHere("not a service name");
        circuits[service] = ParseCircuit(node, defaults.circuit);
      }
    }
    if (auto list = root.OptionalChild("passthrough")) {
      std::set<std::string> seen;
      for (const ConfigNode& item : list->Items()) {
        PassThroughRule rule;
        rule.service = item.String("service");
        if (!ValidServiceName(rule.service)) {
          item.Fail("service", "must be a printable MDP service name outside mmi.* and taxhub.*");
        }
        if (!seen.insert(rule.service).second) item.Fail("service", "is listed twice");
        rule.timeout_ms = item.DurationMs("timeout", rule.timeout_ms);
        if (rule.timeout_ms < 10) item.Fail("timeout", "must be at least 10ms");
        item.Finish();
        passthrough.push_back(rule);
      }
    }
    std::set<std::string> route_names;
    const ConfigNode list = root.Child("routes");
    for (const ConfigNode& item : list.Items()) {
      Route route = ParseRoute(item, defaults);
      if (!route_names.insert(route.name).second) item.Fail("name", "another route has this name");
      routes.push_back(std::move(route));
    }
    if (routes.empty()) list.FailHere("at least one route is needed");
    root.Finish();
  });
  if (!status.ok()) return Error(status);
  return RouteTable::Build(std::move(routes), std::move(passthrough), std::move(circuits),
                           defaults.circuit, name, text);
}

Result<std::shared_ptr<const RouteTable>> LoadRouteTable(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, file + ": cannot open routes file");
  std::stringstream text;
  text << in.rdbuf();
  return ParseRouteTable(file, text.str());
}

}  // namespace taxhub::routing
