#include "hub/workflow/validate.h"

#include <gtest/gtest.h>

#include <functional>

#include "hub/workflow/transitions.h"

namespace taxhub::workflow {
namespace {

wire::SubmitRequest Good() {
  wire::SubmitRequest r;
  r.kind = "filing.vat";
  r.taxpayer_id = "91310110666007217T";
  r.body = "x";
  return r;
}

TEST(ValidateSubmit, AcceptsAGoodRequest) { EXPECT_TRUE(ValidateSubmit(Good()).ok()); }

TEST(ValidateSubmit, EachProblemNamesItsField) {
  struct Case {
    std::function<void(wire::SubmitRequest&)> mutate;
    ErrorCode code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.kind.clear(); }, ErrorCode::kMissingField, "kind"},
      {[](auto& r) { r.taxpayer_id.clear(); }, ErrorCode::kMissingField, "taxpayer_id"},
      {[](auto& r) { r.body.clear(); }, ErrorCode::kMissingField, "body"},
      {[](auto& r) { r.kind = "filing vat"; }, ErrorCode::kBadRequest, "kind"},
      {[](auto& r) { r.kind = "x'; DROP TABLE requests;--"; }, ErrorCode::kBadRequest, "kind"},
      {[](auto& r) { r.taxpayer_id = "9131<script>"; }, ErrorCode::kBadTaxpayerId, "taxpayer_id"},
      {[](auto& r) { r.taxpayer_id = "91310110666007217X"; }, ErrorCode::kBadTaxpayerId,
       "taxpayer_id"},
      {[](auto& r) { r.request_id = std::string(65, 'a'); }, ErrorCode::kBadRequest,
       "request_id"},
      {[](auto& r) { r.request_id = "a b"; }, ErrorCode::kBadRequest, "request_id"},
      {[](auto& r) { r.attributes["bad key"] = "v"; }, ErrorCode::kBadRequest, "attributes"},
      {[](auto& r) { r.attributes["office"] = "\xd5\xfb"; }, ErrorCode::kBadRequest,
       "attributes.office"},
      {[](auto& r) {
         for (int i = 0; i < 33; ++i) r.attributes["k" + std::to_string(i)] = "v";
       },
       ErrorCode::kTooLarge, "attributes"},
  };
  for (const auto& c : cases) {
    wire::SubmitRequest r = Good();
    c.mutate(r);
    Status s = ValidateSubmit(r);
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_EQ(s.field(), c.field) << s.ToString();
  }
}

TEST(ValidateProgress, RequestIdIsRequired) {
  wire::ProgressRequest p;
  EXPECT_EQ(ValidateProgress(p).field(), "request_id");
  p.request_id = "R1";
  EXPECT_EQ(ValidateProgress(p).field(), "taxpayer_id") << "a taxpayer sees only their own";
  p.taxpayer_id = "91310110666007217T";
  EXPECT_TRUE(ValidateProgress(p).ok());
}

TEST(ValidateResult, MustAnswerTheTaskAndTokenItWasSent) {
  wire::StageResult r;
  r.task_id = "R1/0";
  r.fencing_token = 3;
  EXPECT_TRUE(ValidateResultFor(r, "R1/0", 3).ok());
  EXPECT_EQ(ValidateResultFor(r, "R1/1", 3).field(), "task_id");
  EXPECT_EQ(ValidateResultFor(r, "R1/0", 4).field(), "fencing_token");
  r.outcome = static_cast<wire::StageOutcome::type>(42);
  EXPECT_EQ(ValidateResultFor(r, "R1/0", 3).field(), "outcome");
}

TEST(Backoff, GrowsByTheStagesMultiplierAndIsCapped) {
  ledger::StageRecord s;
  s.initial_backoff_ms = 100;
  s.backoff_multiplier = 2.0;
  s.max_backoff_ms = 1000;
  EXPECT_EQ(BackoffMs(s, 1), 100);
  EXPECT_EQ(BackoffMs(s, 2), 200);
  EXPECT_EQ(BackoffMs(s, 3), 400);
  EXPECT_EQ(BackoffMs(s, 10), 1000);
}

}  // namespace
}  // namespace taxhub::workflow
