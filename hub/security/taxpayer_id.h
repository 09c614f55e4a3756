// Taxpayer identifiers and their check characters.
//   Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters over
//   0-9 A-H J-N P-R T U W-Y; the 18th is a check character (weights 1,3,9,27,19,26,16,17,20,29,
//   25,13,8,24,10,30,28, mod 31), and characters 9-17 are an organisation code whose 9th
//   character is its own GB 11714 check (weights 3,7,9,10,5,8,4,2, mod 11; 10 -> X, 11 -> 0).
//   Resident identity number (GB 11643): 17 digits and a check digit or X (weights
//   7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2, mod 11 indexing "10X98765432").
#ifndef TAXHUB_HUB_SECURITY_TAXPAYER_ID_H_
#define TAXHUB_HUB_SECURITY_TAXPAYER_ID_H_

#include <string_view>

#include "hub/base/status.h"

namespace taxhub::security {

enum class TaxpayerIdKind { kCreditCode, kResidentId };

bool IsValidCreditCode(std::string_view code);
bool IsValidResidentId(std::string_view id);

// The kind of a valid id, or BAD_TAXPAYER_ID naming `field` and what is wrong.
Result<TaxpayerIdKind> CheckTaxpayerId(std::string_view id, const std::string& field = "taxpayer_id");

// The check character a credit code's first 17 characters call for ('\0' if they cannot be
// one), for tests and test data.
char CreditCodeCheckChar(std::string_view first17);

}  // namespace taxhub::security

#endif  // TAXHUB_HUB_SECURITY_TAXPAYER_ID_H_
