// Fixed-width records, the way the core tax system exchanges them: each field a number of GBK
// bytes, left-aligned text padded with spaces or right-aligned numbers padded with zeros.
// Encoding refuses a value that does not fit (never cuts a character in half); decoding
// refuses a record of the wrong length and bytes that are not GBK, naming the field. Both
// refuse a number field that holds anything but digits, so callers may parse it safely.
#ifndef TAXHUB_ADAPTERS_LEGACY_FIXED_WIDTH_H_
#define TAXHUB_ADAPTERS_LEGACY_FIXED_WIDTH_H_

#include <string>
#include <string_view>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/base/status.h"

namespace taxhub::legacy {

struct Field {
  enum class Align { kLeft, kRight };
  std::string name;
  size_t width;  // in GBK bytes
  Align align = Align::kLeft;
  char pad = ' ';
  bool digits = false;  // a number: only 0-9, in both directions

  static Field Text(std::string name, size_t width) { return {std::move(name), width, Align::kLeft, ' ', false}; }
  static Field Number(std::string name, size_t width) {
    return {std::move(name), width, Align::kRight, '0', true};
  }
};

class RecordLayout {
 public:
  explicit RecordLayout(std::vector<Field> fields);
  size_t width() const { return width_; }
  const std::vector<Field>& fields() const { return fields_; }

  // UTF-8 values in, GBK record out; a field missing from `values` is all padding.
  Result<std::string> Encode(const StringMap& values) const;
  // GBK record in, UTF-8 values out (padding removed).
  Result<StringMap> Decode(std::string_view record) const;

 private:
  std::vector<Field> fields_;
  size_t width_ = 0;
};

// A head record followed by `count` item records of one layout, the way legacy systems send a
// batch (invoices to authenticate, transactions to reconcile). The head layout has a number
// field named by `count_field`; encoding fills it in, decoding checks it against the bytes.
struct Batch {
  StringMap head;
  std::vector<StringMap> items;
};

Result<std::string> EncodeBatch(const RecordLayout& head, const RecordLayout& item, const Batch& batch,
                                std::string_view count_field = "count");
// Refuses more than `max_items`, a count that disagrees with the length, and a bad item
// (its field named as "items[3].amount").
Result<Batch> DecodeBatch(const RecordLayout& head, const RecordLayout& item, std::string_view bytes,
                          size_t max_items, std::string_view count_field = "count");

}  // namespace taxhub::legacy

#endif  // TAXHUB_ADAPTERS_LEGACY_FIXED_WIDTH_H_
