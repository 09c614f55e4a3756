#include "adapters/filing/filing_protocol.h"

#include <cctype>

#include "hub/base/digest.h"

namespace taxhub::filing {

using legacy::Field;

const legacy::RecordLayout& RequestLayout() {
  static const legacy::RecordLayout layout(
      {Field::Text("msg", 4), Field::Text("serial", 20), Field::Text("taxpayer", 18),
       Field::Text("tax_type", 5), Field::Text("period", 6), Field::Number("sales", 15),
       Field::Number("output_tax", 15), Field::Number("input_tax", 15)});
  return layout;
}

const legacy::RecordLayout& AnswerLayout() {
  static const legacy::RecordLayout layout(
      {Field::Text("result", 4), Field::Text("serial", 20), Field::Text("filing_no", 20),
       Field::Number("tax_due", 15), Field::Text("message", 60)});
  return layout;
}

std::string SerialFor(std::string_view task_id) {
  std::string hex = Sha256Hex({"filing", task_id}).substr(0, 20);
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

}  // namespace taxhub::filing
