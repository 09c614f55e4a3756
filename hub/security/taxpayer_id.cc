#include "hub/security/taxpayer_id.h"

namespace taxhub::security {
namespace {

constexpr std::string_view kCreditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr int kCreditWeights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
constexpr int kOrgWeights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
constexpr int kResidentWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
constexpr std::string_view kResidentChecks = "10X98765432";

int CreditValue(char c) {
  size_t at = kCreditAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// GB 11714 organisation code characters: digits and A-Z valued 10..35.
int OrgValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return -1;
}

bool ValidOrgCode(std::string_view code9) {
  int sum = 0;
  for (int i = 0; i < 8; ++i) {
    int v = OrgValue(code9[i]);
    if (v < 0) return false;
    sum += v * kOrgWeights[i];
  }
  int c = 11 - sum % 11;
  char expected = c == 10 ? 'X' : c == 11 ? '0' : static_cast<char>('0' + c);
  return code9[8] == expected;
}

}  // namespace

char CreditCodeCheckChar(std::string_view first17) {
  if (first17.size() != 17) return '\0';
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    int v = CreditValue(first17[i]);
    if (v < 0) return '\0';
    sum += v * kCreditWeights[i];
  }
  return kCreditAlphabet[(31 - sum % 31) % 31];
}

bool IsValidCreditCode(std::string_view code) {
  if (code.size() != 18) return false;
  char check = CreditCodeCheckChar(code.substr(0, 17));
  return check != '\0' && code[17] == check && ValidOrgCode(code.substr(8, 9));
}

bool IsValidResidentId(std::string_view id) {
  if (id.size() != 18) return false;
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
    sum += (id[i] - '0') * kResidentWeights[i];
  }
  return id[17] == kResidentChecks[sum % 11];
}

Result<TaxpayerIdKind> CheckTaxpayerId(std::string_view id, const std::string& field) {
  if (IsValidCreditCode(id)) return TaxpayerIdKind::kCreditCode;
  if (IsValidResidentId(id)) return TaxpayerIdKind::kResidentId;
  std::string why = id.size() != 18 ? "must be 18 characters"
                    : id.find_first_not_of(kCreditAlphabet) != std::string_view::npos
                        ? "has a character outside 0-9 A-H J-N P-R T U W-Y"
                        : "fails its check character";
  return Error(ErrorCode::kBadTaxpayerId,
               "taxpayer id is neither a unified social credit code nor a resident id: " + why,
               field);
}

}  // namespace taxhub::security
