#include "hub/security/taxpayer_id.h"

#include <gtest/gtest.h>

namespace taxhub::security {
namespace {

TEST(TaxpayerId, KnownCreditCodesAreValid) {
  for (const char* code : {"91310110666007217T", "91350100M000100Y43", "91310115591693856A"}) {
    EXPECT_TRUE(IsValidCreditCode(code)) << code;
    auto kind = CheckTaxpayerId(code);
    ASSERT_TRUE(kind.has_value()) << code;
    EXPECT_EQ(*kind, TaxpayerIdKind::kCreditCode);
  }
}

TEST(TaxpayerId, AnySingleCharacterChangeToACreditCodeIsCaught) {
  const std::string code = "91310110666007217T";
  const std::string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  int changes = 0;
  for (size_t i = 0; i < code.size(); ++i) {
    for (char c : alphabet) {
      if (c == code[i]) continue;
      std::string changed = code;
      changed[i] = c;
      EXPECT_FALSE(IsValidCreditCode(changed)) << changed;
      ++changes;
    }
  }
  EXPECT_EQ(changes, 18 * 30);
}

TEST(TaxpayerId, TheOrganisationCodeCheckIsEnforcedToo) {
  // Change the organisation code's check (9th of it, 17th overall) and recompute the credit
  // code check: the outer check passes, the inner one does not.
  std::string code = "91310110666007218";
  code += CreditCodeCheckChar(code);
  EXPECT_FALSE(IsValidCreditCode(code));
}

TEST(TaxpayerId, ResidentIds) {
  EXPECT_TRUE(IsValidResidentId("11010519491231002X"));
  EXPECT_TRUE(IsValidResidentId("440524188001010014"));
  EXPECT_FALSE(IsValidResidentId("110105194912310021"));
  EXPECT_FALSE(IsValidResidentId("11010519491231002"));
  auto kind = CheckTaxpayerId("11010519491231002X");
  ASSERT_TRUE(kind.has_value());
  EXPECT_EQ(*kind, TaxpayerIdKind::kResidentId);
}

TEST(TaxpayerId, RefusalsSayWhy) {
  auto short_id = CheckTaxpayerId("9131011066600721");
  ASSERT_FALSE(short_id.has_value());
  EXPECT_EQ(short_id.error().code(), ErrorCode::kBadTaxpayerId);
  EXPECT_EQ(short_id.error().field(), "taxpayer_id");
  EXPECT_NE(short_id.error().message().find("18 characters"), std::string::npos);
  auto bad_char = CheckTaxpayerId("91310110666007217I");
  EXPECT_NE(bad_char.error().message().find("outside"), std::string::npos);
  auto bad_check = CheckTaxpayerId("91310110666007217A");
  EXPECT_NE(bad_check.error().message().find("check character"), std::string::npos);
}

}  // namespace
}  // namespace taxhub::security
