// Predicates over a request's facts: its envelope attributes (taxpayer_type, tax_office,
// region, amount …) and, for a stage's `when`, the outputs of earlier stages.
//
// A predicate is a conjunction of conditions, each `name op value`:
//   ==, !=          equal / not equal as text
//   <, <=, >, >=    numeric (both sides must parse as decimal numbers)
//   in              equal to one of several values
//   prefix          text starts with the value
// A condition on a name the facts do not have is false, whatever its operator.
#ifndef TAXHUB_ROUTING_PREDICATE_H_
#define TAXHUB_ROUTING_PREDICATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/base/status.h"

namespace taxhub::routing {

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kPrefix };

std::string_view OpName(Op op);
std::optional<Op> ParseOp(std::string_view text);

// Where a predicate looks names up: first `primary` (earlier stage outputs), then `secondary`
// (envelope attributes). Either may be null.
struct Facts {
  const StringMap* primary = nullptr;
  const StringMap* secondary = nullptr;
  std::optional<std::string_view> Get(const std::string& name) const;
};

struct Condition {
  std::string name;
  Op op = Op::kEq;
  std::vector<std::string> values;  // one, or several for `in`
  double number = 0;                // the value of numeric operators

  bool Holds(const Facts& facts) const;
};

class Predicate {
 public:
  Predicate() = default;
  explicit Predicate(std::vector<Condition> conditions);

  bool empty() const { return conditions_.empty(); }
  size_t size() const { return conditions_.size(); }
  const std::vector<Condition>& conditions() const { return conditions_; }
  bool Matches(const Facts& facts) const;

  // True when no set of facts can satisfy both (a sufficient test: it looks for one name whose
  // allowed values cannot overlap).
  bool DisjointFrom(const Predicate& other) const;

  // A stable text form, stored with a planned stage so that a request keeps its own `when`
  // across route reloads and hub restarts; Decode(Encode(p)) == p.
  std::string Encode() const;
  static Result<Predicate> Decode(std::string_view text);

  bool operator==(const Predicate&) const = default;

 private:
  std::vector<Condition> conditions_;  // sorted by name, so equal predicates encode equally
};

bool operator==(const Condition& a, const Condition& b);

// Parses a decimal number ("1300.00", "-5", "1e3" is refused); nullopt if it is not one.
std::optional<double> ParseDecimal(std::string_view text);

}  // namespace taxhub::routing

#endif  // TAXHUB_ROUTING_PREDICATE_H_
