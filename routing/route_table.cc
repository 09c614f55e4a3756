#include "routing/route_table.h"

#include <algorithm>

#include "hub/base/digest.h"
#include "hub/base/text.h"

namespace taxhub::routing {

std::string_view Route::prefix_text() const {
  if (kind == "*") return "";
  return std::string_view(kind).substr(0, kind.size() - 1);  // keep the dot
}

bool Route::Covers(std::string_view request_kind) const {
  if (!prefix()) return request_kind == kind;
  return request_kind.substr(0, prefix_text().size()) == prefix_text();
}

Result<std::shared_ptr<const RouteTable>> RouteTable::Build(
    std::vector<Route> routes, std::vector<PassThroughRule> passthrough,
    std::map<std::string, CircuitRule> circuits, CircuitRule default_circuit, std::string source,
    std::string text) {
  std::shared_ptr<RouteTable> table(new RouteTable());
  table->routes_ = std::move(routes);
  table->passthrough_ = std::move(passthrough);
  table->circuits_.insert(circuits.begin(), circuits.end());
  table->default_circuit_ = default_circuit;
  table->source_ = std::move(source);
  table->digest_ = Sha256Hex({text});
  table->text_ = std::move(text);
  TAXHUB_RETURN_IF_ERROR(table->Index());
  return std::shared_ptr<const RouteTable>(std::move(table));
}

Status RouteTable::Index() {
  auto describe = [&](const Route& r) {
    return source_ + ":" + std::to_string(r.line) + " (route " + r.name + ")";
  };
  for (const Route& route : routes_) {
    auto& bucket = route.prefix() ? prefixes_[std::string(route.prefix_text())] : exact_[route.kind];
    // Routes in one bucket share their kind pattern; equal condition counts tie unless no
    // request can match both.
    for (const Route* other : bucket) {
      if (other->match.size() == route.match.size() && !other->match.DisjointFrom(route.match)) {
        return Status(ErrorCode::kBadRequest,
                      describe(route) + " ties with " + describe(*other) +
                          ": same kind, as many conditions, and a request could match both; "
                          "add a condition to one, or make their conditions exclusive",
                      "routes");
      }
    }
    bucket.push_back(&route);
  }
  auto by_specificity = [](const Route* a, const Route* b) {
    return a->match.size() > b->match.size();
  };
  for (auto& [kind, bucket] : exact_) std::stable_sort(bucket.begin(), bucket.end(), by_specificity);
  for (auto& [prefix, bucket] : prefixes_) {
    std::stable_sort(bucket.begin(), bucket.end(), by_specificity);
  }
  return Status::Ok();
}

const Route* RouteTable::Find(std::string_view kind, const StringMap& attributes) const {
  const Facts facts{&attributes, nullptr};
  auto first_match = [&](const std::vector<const Route*>& bucket) -> const Route* {
    for (const Route* route : bucket) {
      if (route->match.Matches(facts)) return route;
    }
    return nullptr;
  };
  // One std::string for all probes: the exact kind, then each prefix up to a '.'.
  std::string key(kind);
  if (auto it = exact_.find(key); it != exact_.end()) {
    if (const Route* route = first_match(it->second)) return route;
  }
  if (prefixes_.empty()) return nullptr;
  for (size_t end = kind.size(); end > 0; --end) {
    if (kind[end - 1] != '.') continue;
    key.resize(end);
    if (auto it = prefixes_.find(key); it != prefixes_.end()) {
      if (const Route* route = first_match(it->second)) return route;
    }
  }
  if (auto it = prefixes_.find(std::string()); it != prefixes_.end()) return first_match(it->second);
  return nullptr;
}

Result<Plan> RouteTable::PlanFor(std::string_view kind, const StringMap& attributes) const {
  const Route* route = Find(kind, attributes);
  if (!route) {
    return Error(ErrorCode::kUnknownKind,
                 "no route for kind \"" + std::string(kind) + "\" with these attributes", "kind");
  }
  Plan plan;
  plan.route = route->name;
  for (const StageRule& rule : route->stages) {
    PlannedStage stage;
    stage.name = rule.name;
    stage.label = rule.label;
    stage.queue = rule.queue;
    stage.difficulty = rule.difficulty;
    stage.time_limit_ms = rule.time_limit_ms;
    stage.retry = rule.retry;
    if (!rule.when.empty()) stage.when = rule.when.Encode();
    stage.on_rejection = rule.on_rejection;
    stage.service = rule.service;
    if (!rule.shard_by.empty()) {
      auto value = attributes.find(rule.shard_by);
      if (value == attributes.end() || value->second.empty() || value->second.size() > 64 ||
          !IsTokenText(value->second, "_-")) {
        return Error(ErrorCode::kBadRequest,
                     "stage " + rule.name + " of route " + route->name + " is sharded by " +
                         rule.shard_by + ": the attribute must be 1-64 letters, digits, _ or -",
                     "attributes." + rule.shard_by);
      }
      stage.service += "." + value->second;
    }
    plan.stages.push_back(std::move(stage));
  }
  return plan;
}

const PassThroughRule* RouteTable::PassThrough(std::string_view service) const {
  for (const auto& rule : passthrough_) {
    if (rule.service == service) return &rule;
  }
  return nullptr;
}

CircuitRule RouteTable::CircuitFor(std::string_view service) const {
  std::string_view name = service;
  while (true) {
    if (auto it = circuits_.find(name); it != circuits_.end()) return it->second;
    size_t dot = name.rfind('.');
    if (dot == std::string_view::npos) return default_circuit_;
    name = name.substr(0, dot);
  }
}

}  // namespace taxhub::routing
