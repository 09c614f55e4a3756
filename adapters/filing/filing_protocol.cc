#include "adapters/filing/filing_protocol.h"


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

std::string SerialFor(std::string_view task_id) { return legacy::SerialFor("filing", task_id); }

}  // namespace taxhub::filing
