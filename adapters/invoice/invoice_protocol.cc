#include "adapters/invoice/invoice_protocol.h"

namespace taxhub::invoice {

using legacy::Field;
using legacy::RecordLayout;

const RecordLayout& RequestHead() {
  static const RecordLayout layout({Field::Text("msg", 4), Field::Text("serial", 20),
                                    Field::Text("taxpayer", 18), Field::Text("period", 6),
                                    Field::Number("count", 4)});
  return layout;
}

const RecordLayout& RequestItem() {
  static const RecordLayout layout({Field::Text("code", 12), Field::Text("number", 8), Field::Text("date", 8),
                                    Field::Number("amount", 15), Field::Number("tax", 15),
                                    Field::Text("seller", 18), Field::Text("buyer", 18)});
  return layout;
}

const RecordLayout& AnswerHead() {
  static const RecordLayout layout({Field::Text("result", 4), Field::Text("serial", 20),
                                    Field::Number("count", 4), Field::Text("message", 60)});
  return layout;
}

const RecordLayout& AnswerItem() {
  static const RecordLayout layout({Field::Text("code", 12), Field::Text("number", 8), Field::Text("status", 2),
                                    Field::Text("message", 40)});
  return layout;
}

std::string_view StatusName(std::string_view status) {
  if (status == kAuthenticated) return "authenticated";
  if (status == kAlreadyAuthenticated) return "already_authenticated";
  if (status == kNotFound) return "not_found";
  if (status == kMismatch) return "mismatch";
  return "unknown";
}

}  // namespace taxhub::invoice
