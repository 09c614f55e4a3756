#include "adapters/legacy/values.h"

#include <cctype>
#include <cstdio>
#include <string>

#include "hub/base/digest.h"

namespace taxhub::legacy {

std::string SerialFor(std::string_view system, std::string_view task_id, size_t length) {
  std::string hex = Sha256Hex({system, task_id}).substr(0, length);
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex;
}

std::optional<int64_t> ToFen(std::string_view yuan) {
  if (yuan.empty() || yuan.size() > 16) return std::nullopt;
  int64_t whole = 0, fraction = 0;
  size_t dot = yuan.find('.');
  std::string_view integer = yuan.substr(0, dot);
  std::string_view decimals = dot == std::string_view::npos ? "" : yuan.substr(dot + 1);
  if (integer.empty() || decimals.size() > 2) return std::nullopt;
  for (char c : integer) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    whole = whole * 10 + (c - '0');
  }
  for (size_t i = 0; i < 2; ++i) {
    char c = i < decimals.size() ? decimals[i] : '0';
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    fraction = fraction * 10 + (c - '0');
  }
  return whole * 100 + fraction;
}

std::string FromFen(int64_t fen) {
  std::string cents = std::to_string(fen % 100);
  return std::to_string(fen / 100) + "." + (cents.size() == 1 ? "0" + cents : cents);
}

std::string AddMonths(std::string_view period, int months) {
  std::string digits;
  for (char c : period) {
    if (c != '-') digits += c;
  }
  if (digits.size() != 6 || digits.find_first_not_of("0123456789") != std::string::npos) return "";
  const int month = std::stoi(digits.substr(4, 2));
  if (month < 1 || month > 12) return "";
  const int total = std::stoi(digits.substr(0, 4)) * 12 + (month - 1) + months;
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02d", total / 12, total % 12 + 1);
  return out;
}

}  // namespace taxhub::legacy
