// A fixed-width GBK batch from the invoice system (head record, then items), decoded with the
// invoice layouts as the invoice adapter does: wrong counts, short records, bytes that are not
// GBK must be errors naming the field, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/invoice/invoice_protocol.h"
#include "adapters/legacy/fixed_width.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taxhub;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (bool answer : {false, true}) {
    const auto& head = answer ? invoice::AnswerHead() : invoice::RequestHead();
    const auto& item = answer ? invoice::AnswerItem() : invoice::RequestItem();
    auto batch = legacy::DecodeBatch(head, item, bytes, invoice::kMaxBatch);
    if (batch && batch->items.size() > invoice::kMaxBatch) __builtin_trap();
    if (!batch && batch.error().field().empty()) __builtin_trap();  // every refusal names its field
  }
  return 0;
}
