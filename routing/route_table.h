// The route table: which workflow a request follows, compiled from config/routes.yaml.
//
// A route matches a request kind — exactly ("filing.vat") or by prefix ("filing.*", or "*"
// for all) — and optionally predicates on envelope attributes. The most specific matching
// route wins: an exact kind beats a prefix, a longer prefix beats a shorter one, and more
// conditions beat fewer. Two routes that could match the same request with the same
// specificity make the table invalid.
//
// Lookup is an index on kind: one hash probe for the exact kind and one per '.' of the kind for
// the prefixes, then the few candidates of those buckets in order — it does not scan the
// table, so it stays flat as routes grow.
//
// Pure logic: no sockets, no SQL. A RouteTable is immutable once built; reloading builds a new
// one and swaps it in (RouteTableHolder).
#ifndef TAXHUB_ROUTING_ROUTE_TABLE_H_
#define TAXHUB_ROUTING_ROUTE_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/base/status.h"
#include "routing/predicate.h"

namespace taxhub::routing {

struct RetryRule {
  int max_attempts = 3;
  int64_t initial_backoff_ms = 1000;
  double multiplier = 2.0;
  int64_t max_backoff_ms = 300'000;
  int64_t attempt_timeout_ms = 30'000;  // how long one delivery may take (the lease)
};

struct CircuitRule {
  int failures = 5;           // consecutive failures that open the circuit
  int64_t open_ms = 30'000;   // how long it stays open before one probe
};

struct StageRule {
  std::string name;
  std::string label;       // 受理, 核查, 审批, 通知 …
  std::string service;     // adapter stage: the MDP service (base name when sharded)
  std::string shard_by;    // adapter stage: attribute whose value is appended ("filing.<office>")
  std::string queue;       // human stage: the staff queue ("hall.verify")
  double difficulty = 1.0; // human stage: weight in staff workload reports
  int64_t time_limit_ms = 86'400'000;  // 办结时限
  Predicate when;          // the stage runs only if this holds when it comes up
  // The stage runs only after an earlier stage rejected the request (to tell the taxpayer
  // why); the others do not run then. The request ends REJECTED once these are done.
  bool on_rejection = false;
  RetryRule retry;
  int line = 0;
};

struct Route {
  std::string name;
  std::string kind;        // "filing.vat", "filing.*" or "*"
  Predicate match;
  std::vector<StageRule> stages;
  int line = 0;

  bool prefix() const { return kind == "*" || kind.ends_with(".*"); }
  // "filing." for "filing.*", "" for "*".
  std::string_view prefix_text() const;
  bool Covers(std::string_view request_kind) const;
};

struct PassThroughRule {
  std::string service;
  int64_t timeout_ms = 10'000;
};

// One stage of a request's plan, with its service resolved; what the ledger stores.
struct PlannedStage {
  std::string name;
  std::string label;
  std::string service;     // resolved MDP service ("filing.13212000000"), empty for human stages
  std::string queue;       // human stages
  double difficulty = 1.0;
  int64_t time_limit_ms = 0;
  std::string when;        // Predicate::Encode(), empty when unconditional
  bool on_rejection = false;
  RetryRule retry;
};

struct Plan {
  std::string route;
  std::vector<PlannedStage> stages;
};

class RouteTable {
 public:
  // Validates and compiles. `source` names the file in messages; `digest` identifies the text.
  static Result<std::shared_ptr<const RouteTable>> Build(std::vector<Route> routes,
                                                         std::vector<PassThroughRule> passthrough,
                                                         std::map<std::string, CircuitRule> circuits,
                                                         CircuitRule default_circuit,
                                                         std::string source, std::string text);

  // The most specific route for a request, or nullptr.
  const Route* Find(std::string_view kind, const StringMap& attributes) const;
  // The plan for a request: UNKNOWN_KIND when no route matches, BAD_REQUEST naming
  // attributes.<name> when a sharded stage's attribute is missing or unusable.
  Result<Plan> PlanFor(std::string_view kind, const StringMap& attributes) const;

  const PassThroughRule* PassThrough(std::string_view service) const;
  const std::vector<PassThroughRule>& passthrough() const { return passthrough_; }
  // The circuit rule for a service: its own entry, else its base name's ("filing" for
  // "filing.13212000000"), else the default.
  CircuitRule CircuitFor(std::string_view service) const;

  size_t size() const { return routes_.size(); }
  const std::vector<Route>& routes() const { return routes_; }
  const std::string& source() const { return source_; }
  const std::string& text() const { return text_; }
  // SHA-256 of the text: the same file always has the same digest.
  const std::string& digest() const { return digest_; }

 private:
  RouteTable() = default;
  Status Index();

  std::vector<Route> routes_;
  std::vector<PassThroughRule> passthrough_;
  std::map<std::string, CircuitRule, std::less<>> circuits_;
  CircuitRule default_circuit_;
  std::string source_;
  std::string text_;
  std::string digest_;
  // kind -> candidate routes (indices), most conditions first.
  std::unordered_map<std::string, std::vector<const Route*>> exact_;
  // prefix text ("filing.", "") -> candidates, most conditions first.
  std::unordered_map<std::string, std::vector<const Route*>> prefixes_;
};

// Reads and compiles a routes file (see config/routes.yaml). Errors name the file, line,
// route and field: "config/routes.yaml:42: routes[3] (vat-return) stages[1].time_limit: …".
Result<std::shared_ptr<const RouteTable>> LoadRouteTable(const std::string& file);
Result<std::shared_ptr<const RouteTable>> ParseRouteTable(const std::string& name,
                                                          const std::string& text);

// The table in force; readers take a reference that stays valid while they hold it.
class RouteTableHolder {
 public:
  explicit RouteTableHolder(std::shared_ptr<const RouteTable> table) : table_(std::move(table)) {}
  std::shared_ptr<const RouteTable> Get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return table_;
  }
  void Set(std::shared_ptr<const RouteTable> table) {
    std::lock_guard<std::mutex> lock(mutex_);
    table_ = std::move(table);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const RouteTable> table_;
};

}  // namespace taxhub::routing

#endif  // TAXHUB_ROUTING_ROUTE_TABLE_H_
