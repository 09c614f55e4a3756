#include "routing/route_table.h"

#include <gtest/gtest.h>

#include "tests/support/process.h"

namespace taxhub::routing {
namespace {

std::shared_ptr<const RouteTable> Table(const std::string& text) {
  auto table = ParseRouteTable("r.yaml", text);
  EXPECT_TRUE(table.has_value()) << table.error().ToString();
  return table ? *table : nullptr;
}

std::string Error(const std::string& text) {
  auto table = ParseRouteTable("r.yaml", text);
  return table ? "" : table.error().message();
}

std::string RouteFor(const RouteTable& t, const std::string& kind, StringMap attributes = {}) {
  const Route* r = t.Find(kind, attributes);
  return r ? r->name : "-";
}

const char* kPrecedence = R"(
routes:
  - name: all
    match: {kind: "*"}
    stages: [{name: s, service: x}]
  - name: filing-any
    match: {kind: filing.*}
    stages: [{name: s, service: x}]
  - name: filing-vat-prefix
    match: {kind: filing.vat.*}
    stages: [{name: s, service: x}]
  - name: vat
    match: {kind: filing.vat}
    stages: [{name: s, service: x}]
  - name: vat-small
    match: {kind: filing.vat, taxpayer_type: small_scale}
    stages: [{name: s, service: x}]
  - name: vat-small-big
    match: {kind: filing.vat, taxpayer_type: small_scale, amount: {">": 100000}}
    stages: [{name: s, service: x}]
  - name: filing-taizhou
    match: {kind: filing.*, tax_office: {prefix: "1321"}}
    stages: [{name: s, service: x}]
)";

TEST(RouteTable, ExactKindBeatsPrefixAndLongerPrefixBeatsShorter) {
  auto t = Table(kPrecedence);
  ASSERT_TRUE(t);
  EXPECT_EQ(RouteFor(*t, "filing.vat"), "vat");
  EXPECT_EQ(RouteFor(*t, "filing.vat.q3"), "filing-vat-prefix");
  EXPECT_EQ(RouteFor(*t, "filing.cit"), "filing-any");
  EXPECT_EQ(RouteFor(*t, "registration.new"), "all");
  EXPECT_EQ(RouteFor(*t, "filing"), "all") << "filing.* needs the dot";
}

TEST(RouteTable, MoreConditionsWinWhenTheyHold) {
  auto t = Table(kPrecedence);
  ASSERT_TRUE(t);
  EXPECT_EQ(RouteFor(*t, "filing.vat", {{"taxpayer_type", "small_scale"}}), "vat-small");
  EXPECT_EQ(RouteFor(*t, "filing.vat", {{"taxpayer_type", "small_scale"}, {"amount", "250000.00"}}),
            "vat-small-big");
  EXPECT_EQ(RouteFor(*t, "filing.vat", {{"taxpayer_type", "general"}, {"amount", "250000"}}), "vat");
  EXPECT_EQ(RouteFor(*t, "filing.cit", {{"tax_office", "13212000000"}}), "filing-taizhou");
  EXPECT_EQ(RouteFor(*t, "filing.cit", {{"tax_office", "13101100000"}}), "filing-any");
}

TEST(RouteTable, NoRouteIsUnknownKind) {
  auto t = Table(R"(
routes:
  - name: vat
    match: {kind: filing.vat}
    stages: [{name: s, service: x}]
)");
  ASSERT_TRUE(t);
  auto plan = t->PlanFor("filing.cit", {});
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code(), ErrorCode::kUnknownKind);
  EXPECT_EQ(plan.error().field(), "kind");
}

struct OpCase {
  std::string condition;
  std::string value;
  bool holds;
};

class EachPredicate : public ::testing::TestWithParam<OpCase> {};

TEST_P(EachPredicate, HoldsOrNot) {
  auto t = Table("routes:\n  - name: r\n    match: {kind: k, a: " + GetParam().condition +
                 "}\n    stages: [{name: s, service: x}]\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->Find("k", {{"a", GetParam().value}}) != nullptr, GetParam().holds)
      << GetParam().condition << " on " << GetParam().value;
}

INSTANTIATE_TEST_SUITE_P(
    Ops, EachPredicate,
    ::testing::Values(OpCase{"general", "general", true}, OpCase{"general", "generalx", false},
                      OpCase{"{\"==\": general}", "general", true},
                      OpCase{"{\"!=\": general}", "small", true},
                      OpCase{"{\"!=\": general}", "general", false},
                      OpCase{"{\"<\": 100}", "99.99", true}, OpCase{"{\"<\": 100}", "100", false},
                      OpCase{"{\"<=\": 100}", "100.00", true}, OpCase{"{\">\": 0}", "0.01", true},
                      OpCase{"{\">\": 0}", "0", false}, OpCase{"{\">=\": -5}", "-5", true},
                      OpCase{"{\">\": 0}", "lots", false},  // not a number: false
                      OpCase{"{in: [320100, 321200]}", "321200", true},
                      OpCase{"{in: [320100, 321200]}", "321000", false},
                      OpCase{"{prefix: \"1321\"}", "13212000000", true},
                      OpCase{"{prefix: \"1321\"}", "13101100000", false},
                      OpCase{"{\">=\": 100, \"<\": 1000}", "500", true},
                      OpCase{"{\">=\": 100, \"<\": 1000}", "1000", false}));

TEST(Predicate, AMissingAttributeIsFalseForEveryOperator) {
  auto t = Table("routes:\n  - name: r\n    match: {kind: k, a: {\"!=\": x}}\n"
                 "    stages: [{name: s, service: x}]\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->Find("k", {}), nullptr);
}

TEST(Predicate, EncodeDecodeRoundTrips) {
  Predicate p({Condition{"tax_due", Op::kGt, {"0"}, 0}, Condition{"region", Op::kIn, {"1", "2"}, 0},
               Condition{"office", Op::kPrefix, {"1321"}, 0}});
  auto back = Predicate::Decode(p.Encode());
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(*back, p);
  StringMap outputs = {{"tax_due", "12.50"}};
  StringMap attributes = {{"region", "2"}, {"office", "13210"}};
  EXPECT_TRUE(back->Matches(Facts{&outputs, &attributes}));
  EXPECT_FALSE(Predicate::Decode("[[\"a\",\"~\",\"b\"]]").has_value());
}

TEST(RouteTable, PlanCarriesConditionsRetriesAndShards) {
  auto t = Table(R"(
defaults:
  time_limit: 2d
  retry: {max_attempts: 4, initial_backoff: 2s, attempt_timeout: 45s}
routes:
  - name: vat
    match: {kind: filing.vat}
    stages:
      - {name: accept, label: 受理, service: filing.accept, time_limit: 1h}
      - {name: file, service: filing, shard_by: tax_office, retry: {max_attempts: 6}}
      - {name: review, label: 审批, queue: hall.review, difficulty: 1.5, when: {tax_due: {">": 100000}}}
      - {name: pay, service: tips.pay, when: {tax_due: {">": 0}}}
)");
  ASSERT_TRUE(t);
  auto plan = t->PlanFor("filing.vat", {{"tax_office", "13212000000"}});
  ASSERT_TRUE(plan.has_value()) << plan.error().ToString();
  EXPECT_EQ(plan->route, "vat");
  ASSERT_EQ(plan->stages.size(), 4u);
  EXPECT_EQ(plan->stages[0].label, "受理");
  EXPECT_EQ(plan->stages[0].time_limit_ms, 3'600'000);
  EXPECT_EQ(plan->stages[0].retry.max_attempts, 4);
  EXPECT_EQ(plan->stages[0].retry.initial_backoff_ms, 2000);
  EXPECT_EQ(plan->stages[0].retry.attempt_timeout_ms, 45'000);
  EXPECT_EQ(plan->stages[1].service, "filing.13212000000");
  EXPECT_EQ(plan->stages[1].time_limit_ms, 2 * 86'400'000);
  EXPECT_EQ(plan->stages[1].retry.max_attempts, 6);
  EXPECT_EQ(plan->stages[1].retry.initial_backoff_ms, 2000) << "a partial override keeps defaults";
  EXPECT_EQ(plan->stages[2].queue, "hall.review");
  EXPECT_EQ(plan->stages[2].service, "");
  EXPECT_DOUBLE_EQ(plan->stages[2].difficulty, 1.5);
  EXPECT_FALSE(plan->stages[3].when.empty());
  auto when = Predicate::Decode(plan->stages[3].when);
  ASSERT_TRUE(when.has_value());
  StringMap zero = {{"tax_due", "0.00"}}, some = {{"tax_due", "12.00"}};
  EXPECT_FALSE(when->Matches(Facts{&zero, nullptr}));
  EXPECT_TRUE(when->Matches(Facts{&some, nullptr}));

  auto missing = t->PlanFor("filing.vat", {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().field(), "attributes.tax_office");
  auto bad = t->PlanFor("filing.vat", {{"tax_office", "13 21"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().field(), "attributes.tax_office");
}

TEST(RouteTable, PassThroughAndCircuits) {
  auto t = Table(R"(
defaults:
  circuit: {failures: 5, open_for: 30s}
circuits:
  filing: {failures: 2, open_for: 1m}
passthrough:
  - {service: regulation.search, timeout: 3s}
routes:
  - name: r
    match: {kind: k}
    stages: [{name: s, service: x}]
)");
  ASSERT_TRUE(t);
  ASSERT_NE(t->PassThrough("regulation.search"), nullptr);
  EXPECT_EQ(t->PassThrough("regulation.search")->timeout_ms, 3000);
  EXPECT_EQ(t->PassThrough("filing.accept"), nullptr);
  EXPECT_EQ(t->CircuitFor("filing.13212000000").failures, 2);
  EXPECT_EQ(t->CircuitFor("filing").open_ms, 60'000);
  EXPECT_EQ(t->CircuitFor("tips.pay").failures, 5);
}

TEST(RouteTable, ExclusiveConditionsDoNotTie) {
  const std::vector<std::pair<std::string, std::string>> exclusive = {
      {"t: general", "t: small"},
      {"amount: {\"<\": 100}", "amount: {\">=\": 100}"},
      {"region: {in: [1, 2]}", "region: {in: [3]}"},
      {"region: 1", "region: {\"!=\": 1}"},
      {"office: {prefix: \"13\"}", "office: {prefix: \"14\"}"},
  };
  for (const auto& [a, b] : exclusive) {
    EXPECT_EQ(Error("routes:\n  - {name: a, match: {kind: k, " + a +
                    "}, stages: [{name: s, service: x}]}\n  - {name: b, match: {kind: k, " + b +
                    "}, stages: [{name: s, service: x}]}\n"),
              "")
        << a << " / " << b;
  }
  // Conditions on different attributes can both hold: a tie.
  EXPECT_NE(Error("routes:\n  - {name: a, match: {kind: k, t: general}, stages: [{name: s, "
                  "service: x}]}\n  - {name: b, match: {kind: k, amount: {\"<\": 100}}, "
                  "stages: [{name: s, service: x}]}\n"),
            "");
}

// Every validation message names the file, the line, the route and the field.
struct BadTable {
  std::string text;
  std::string message;
};

class ValidationMessage : public ::testing::TestWithParam<BadTable> {};

TEST_P(ValidationMessage, NamesFileLineRouteAndField) { EXPECT_EQ(Error(GetParam().text), GetParam().message); }

INSTANTIATE_TEST_SUITE_P(
    Messages, ValidationMessage,
    ::testing::Values(
        BadTable{"defaults: {}\n", "r.yaml:1: routes: is required"},
        BadTable{"routes: []\n", "r.yaml:1: routes: at least one route is needed"},
        BadTable{"routes:\n  - {match: {kind: k}, stages: [{name: s, service: x}]}\n",
                 "r.yaml:2: routes[0].name: is required"},
        BadTable{"routes:\n  - name: r\n    stages: [{name: s, service: x}]\n",
                 "r.yaml:2: route r.match: is required"},
        BadTable{"routes:\n  - name: r\n    match: {kind: \"fil*ing\"}\n    stages: [{name: s, service: x}]\n",
                 "r.yaml:3: route r.match.kind: must be a kind (filing.vat), a prefix (filing.*) or *"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k, amount: {\">\": lots}}\n    stages: [{name: s, service: x}]\n",
                 "r.yaml:3: route r.match.amount.>: operator > needs a number, got \"lots\""},
        BadTable{"routes:\n  - name: r\n    match: {kind: k, amount: {\"~\": 1}}\n    stages: [{name: s, service: x}]\n",
                 "r.yaml:3: route r.match.amount.~: unknown operator \"~\"; use ==, !=, <, <=, >, >=, in or prefix"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k, region: {in: 5}}\n    stages: [{name: s, service: x}]\n",
                 "r.yaml:3: route r.match.region.in: in takes a list of values"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages: []\n",
                 "r.yaml:4: route r.stages: a route needs at least one stage"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s}\n",
                 "r.yaml:5: route r.stages[0]: a stage has either service: (an adapter) or queue: (hall staff), not both"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: x, queue: q}\n",
                 "r.yaml:5: route r.stages[0]: a stage has either service: (an adapter) or queue: (hall staff), not both"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: x, time_limit: soon}\n",
                 "r.yaml:5: route r.stages[0].time_limit: expected a duration such as 250ms, 30s, 5m, 4h or 2d, got \"soon\""},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: mmi.service}\n",
                 "r.yaml:5: route r.stages[0].service: must be a printable MDP service name outside mmi.* and taxhub.*"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, queue: q, shard_by: office}\n",
                 "r.yaml:5: route r.stages[0].shard_by: only adapter stages are sharded"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: x, retry: {max_attempts: 0}}\n",
                 "r.yaml:5: route r.stages[0].retry.max_attempts: must be between 1 and 100, got 0"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: x, retry: {initial_backoff: 1m, max_backoff: 1s}}\n",
                 "r.yaml:5: route r.stages[0].retry.max_backoff: must be at least initial_backoff"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: x, on_rejection: maybe}\n",
                 "r.yaml:5: route r.stages[0].on_rejection: expected true or false, got \"maybe\""},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: x, colour: red}\n",
                 "r.yaml:5: route r.stages[0].colour: unknown key"},
        BadTable{"routes:\n  - name: r\n    match: {kind: k}\n    stages:\n      - {name: s, service: x}\n      - {name: s, service: y}\n",
                 "r.yaml:6: route r.stages[1].name: is used twice in this route"},
        BadTable{"routes:\n  - {name: r, match: {kind: k}, stages: [{name: s, service: x}]}\n"
                 "  - {name: r, match: {kind: j}, stages: [{name: s, service: x}]}\n",
                 "r.yaml:3: routes[1].name: another route has this name"},
        BadTable{"routes:\n  - {name: a, match: {kind: k}, stages: [{name: s, service: x}]}\n"
                 "  - {name: b, match: {kind: k}, stages: [{name: s, service: x}]}\n",
                 "r.yaml:3 (route b) ties with r.yaml:2 (route a): same kind, as many conditions, "
                 "and a request could match both; add a condition to one, or make their "
                 "conditions exclusive"},
        BadTable{"routes:\n  - {name: a, match: {kind: k, t: x}, stages: [{name: s, service: x}]}\n"
                 "  - {name: b, match: {kind: k, t: {in: [x, y]}}, stages: [{name: s, service: x}]}\n",
                 "r.yaml:3 (route b) ties with r.yaml:2 (route a): same kind, as many conditions, "
                 "and a request could match both; add a condition to one, or make their "
                 "conditions exclusive"},
        BadTable{"passthrough:\n  - {service: a.b}\n  - {service: a.b}\nroutes:\n  - {name: r, match: {kind: k}, stages: [{name: s, service: x}]}\n",
                 "r.yaml:3: passthrough[1].service: is listed twice"},
        BadTable{"circuits:\n  filing: {failures: 0}\nroutes:\n  - {name: r, match: {kind: k}, stages: [{name: s, service: x}]}\n",
                 "r.yaml:2: circuits.filing.failures: must be between 1 and 1000, got 0"},
        BadTable{"routes:\n  - {name: r, match: {kind: k}, stages: [{name: s, service: x}]}\nextra: 1\n",
                 "r.yaml:3: extra: unknown key"}));

TEST(RouteTable, ShippedRoutesCoverTheHallsServices) {
  auto table = LoadRouteTable(testing::SourceDir() + "/config/routes.yaml");
  ASSERT_TRUE(table.has_value()) << table.error().ToString();
  const StringMap attrs = {{"tax_office", "13212000000"}, {"taxpayer_type", "general"},
                           {"amount", "1000.00"}};
  for (const char* kind :
       {"registration.new", "qualification.general_taxpayer", "filing.vat", "filing.cit",
        "invoice.authenticate", "invoice.copy_report", "invoice.purchase", "invoice.issue_on_behalf",
        "refund.apply", "payment.tax", "complaint.file", "relief.reconsideration", "registration.cancel",
        "invoice.cancel"}) {
    auto plan = (*table)->PlanFor(kind, attrs);
    EXPECT_TRUE(plan.has_value()) << kind << ": " << plan.error().ToString();
  }
  for (const char* service : {"consult.ask", "guide.filing", "regulation.search"}) {
    EXPECT_NE((*table)->PassThrough(service), nullptr) << service;
  }
}

}  // namespace
}  // namespace taxhub::routing
