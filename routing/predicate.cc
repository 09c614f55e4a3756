#include "routing/predicate.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <sstream>

namespace taxhub::routing {
namespace {

constexpr std::pair<Op, std::string_view> kOps[] = {
    {Op::kEq, "=="}, {Op::kNe, "!="}, {Op::kLt, "<"},  {Op::kLe, "<="},
    {Op::kGt, ">"},  {Op::kGe, ">="}, {Op::kIn, "in"}, {Op::kPrefix, "prefix"},
};

bool IsNumeric(Op op) { return op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe; }

// The numeric interval a set of conditions on one name allows: [low, high] with open ends.
struct Interval {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_open = false;
  bool high_open = false;

  void Apply(const Condition& c) {
    switch (c.op) {
      case Op::kLt:
        if (c.number < high || (c.number == high && !high_open)) high = c.number, high_open = true;
        break;
      case Op::kLe:
        if (c.number < high) high = c.number, high_open = false;
        break;
      case Op::kGt:
        if (c.number > low || (c.number == low && !low_open)) low = c.number, low_open = true;
        break;
      case Op::kGe:
        if (c.number > low) low = c.number, low_open = false;
        break;
      default:
        break;
    }
  }
  bool Overlaps(const Interval& o) const {
    double lo = std::max(low, o.low), hi = std::min(high, o.high);
    if (lo < hi) return true;
    if (lo > hi) return false;
    bool lo_open = (lo == low && low_open) || (lo == o.low && o.low_open);
    bool hi_open = (hi == high && high_open) || (hi == o.high && o.high_open);
    return !lo_open && !hi_open;
  }
};

// Whether `value` could satisfy every condition in `conditions` (all on one name).
bool Admits(const std::vector<const Condition*>& conditions, const std::string& value) {
  StringMap one = {{conditions.front()->name, value}};
  Facts facts{&one, nullptr};
  return std::all_of(conditions.begin(), conditions.end(),
                     [&](const Condition* c) { return c->Holds(facts); });
}

// The finite set of values the conditions allow, if they pin one down (== or in).
std::optional<std::vector<std::string>> FiniteSet(const std::vector<const Condition*>& conditions) {
  for (const Condition* c : conditions) {
    if (c->op == Op::kEq || c->op == Op::kIn) return c->values;
  }
  return std::nullopt;
}

}  // namespace

std::string_view OpName(Op op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "?";
}

std::optional<Op> ParseOp(std::string_view text) {
  for (const auto& [op, name] : kOps) {
    if (name == text) return op;
  }
  return std::nullopt;
}

std::optional<double> ParseDecimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+')) return std::nullopt;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string_view> Facts::Get(const std::string& name) const {
  for (const StringMap* map : {primary, secondary}) {
    if (!map) continue;
    auto it = map->find(name);
    if (it != map->end()) return std::string_view(it->second);
  }
  return std::nullopt;
}

bool Condition::Holds(const Facts& facts) const {
  auto value = facts.Get(name);
  if (!value) return false;
  switch (op) {
    case Op::kEq: return *value == values[0];
    case Op::kNe: return *value != values[0];
    case Op::kIn: return std::find(values.begin(), values.end(), *value) != values.end();
    case Op::kPrefix: return value->substr(0, values[0].size()) == values[0];
    default: break;
  }
  auto actual = ParseDecimal(*value);
  if (!actual) return false;
  switch (op) {
    case Op::kLt: return *actual < number;
    case Op::kLe: return *actual <= number;
    case Op::kGt: return *actual > number;
    case Op::kGe: return *actual >= number;
    default: return false;
  }
}

bool operator==(const Condition& a, const Condition& b) {
  return a.name == b.name && a.op == b.op && a.values == b.values;
}

Predicate::Predicate(std::vector<Condition> conditions) : conditions_(std::move(conditions)) {
  std::stable_sort(conditions_.begin(), conditions_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.name, a.op) < std::tie(b.name, b.op);
  });
}

bool Predicate::Matches(const Facts& facts) const {
  return std::all_of(conditions_.begin(), conditions_.end(),
                     [&](const Condition& c) { return c.Holds(facts); });
}

bool Predicate::DisjointFrom(const Predicate& other) const {
  auto by_name = [](const Predicate& p) {
    std::map<std::string, std::vector<const Condition*>> out;
    for (const Condition& c : p.conditions_) out[c.name].push_back(&c);
    return out;
  };
  auto mine = by_name(*this);
  auto theirs = by_name(other);
  for (const auto& entry : mine) {  // not a structured binding: clang 14 cannot capture one
    const auto& a = entry.second;
    auto it = theirs.find(entry.first);
    if (it == theirs.end()) continue;
    const auto& b = it->second;
    // A finite set on one side: disjoint if the other side admits none of its values.
    if (auto set = FiniteSet(a)) {
      if (std::none_of(set->begin(), set->end(), [&](const auto& v) { return Admits(b, v); })) {
        return true;
      }
      continue;
    }
    if (auto set = FiniteSet(b)) {
      if (std::none_of(set->begin(), set->end(), [&](const auto& v) { return Admits(a, v); })) {
        return true;
      }
      continue;
    }
    // Two numeric ranges that cannot overlap.
    Interval ia, ib;
    bool numeric_a = false, numeric_b = false;
    for (const Condition* c : a) numeric_a |= IsNumeric(c->op), ia.Apply(*c);
    for (const Condition* c : b) numeric_b |= IsNumeric(c->op), ib.Apply(*c);
    if (numeric_a && numeric_b && !ia.Overlaps(ib)) return true;
    // Two prefixes neither of which extends the other.
    for (const Condition* ca : a) {
      for (const Condition* cb : b) {
        if (ca->op == Op::kPrefix && cb->op == Op::kPrefix) {
          const std::string& x = ca->values[0];
          const std::string& y = cb->values[0];
          if (x.compare(0, y.size(), y) != 0 && y.compare(0, x.size(), x) != 0) return true;
        }
      }
    }
  }
  return false;
}

std::string Predicate::Encode() const {
  Poco::JSON::Array out;
  for (const Condition& c : conditions_) {
    Poco::JSON::Array item;
    item.add(c.name);
    item.add(std::string(OpName(c.op)));
    for (const auto& v : c.values) item.add(v);
    out.add(item);
  }
  std::ostringstream text;
  out.stringify(text);
  return text.str();
}

Result<Predicate> Predicate::Decode(std::string_view text) {
  if (text.empty()) return Predicate();
  try {
    Poco::JSON::Parser parser;
    auto array = parser.parse(std::string(text)).extract<Poco::JSON::Array::Ptr>();
    std::vector<Condition> conditions;
    for (size_t i = 0; i < array->size(); ++i) {
      auto item = array->getArray(static_cast<unsigned>(i));
      if (!item || item->size() < 3) throw Poco::DataFormatException("condition needs 3 parts");
      Condition c;
      c.name = item->getElement<std::string>(0);
      auto op = ParseOp(item->getElement<std::string>(1));
      if (!op) throw Poco::DataFormatException("unknown operator");
      c.op = *op;
      for (size_t k = 2; k < item->size(); ++k) {
        c.values.push_back(item->getElement<std::string>(static_cast<unsigned>(k)));
      }
      if (IsNumeric(c.op)) {
        auto number = ParseDecimal(c.values[0]);
        if (!number) throw Poco::DataFormatException("not a number: " + c.values[0]);
        c.number = *number;
      }
      conditions.push_back(std::move(c));
    }
    return Predicate(std::move(conditions));
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kInternal, "stored condition is damaged: " + e.displayText());
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, std::string("stored condition is damaged: ") + e.what());
  }
}

}  // namespace taxhub::routing
