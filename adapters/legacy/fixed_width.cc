#include "adapters/legacy/fixed_width.h"

#include "adapters/legacy/gbk.h"

namespace taxhub::legacy {
namespace {

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

RecordLayout::RecordLayout(std::vector<Field> fields) : fields_(std::move(fields)) {
  for (const Field& f : fields_) width_ += f.width;
}

Result<std::string> RecordLayout::Encode(const StringMap& values) const {
  std::string out;
  out.reserve(width_);
  for (const Field& f : fields_) {
    auto it = values.find(f.name);
    std::string gbk;
    if (it != values.end()) {
      if (f.digits && !AllDigits(it->second)) return Error(ErrorCode::kBadRequest, "is not a number", f.name);
      auto converted = Utf8ToGbk(it->second);
      if (!converted) return Error(ErrorCode::kBadRequest, "cannot be written in GBK", f.name);
      gbk = std::move(*converted);
    }
    if (gbk.size() > f.width) {
      return Error(ErrorCode::kTooLarge,
                   "needs " + std::to_string(gbk.size()) + " bytes; the field has " +
                       std::to_string(f.width),
                   f.name);
    }
    const std::string padding(f.width - gbk.size(), f.pad);
    out += f.align == Field::Align::kLeft ? gbk + padding : padding + gbk;
  }
  return out;
}

Result<StringMap> RecordLayout::Decode(std::string_view record) const {
  if (record.size() != width_) {
    return Error(ErrorCode::kBadRequest,
                 "a record is " + std::to_string(width_) + " bytes, got " +
                     std::to_string(record.size()),
                 "record");
  }
  StringMap out;
  size_t at = 0;
  for (const Field& f : fields_) {
    std::string_view raw = record.substr(at, f.width);
    at += f.width;
    if (f.align == Field::Align::kLeft) {
      while (!raw.empty() && raw.back() == f.pad) raw.remove_suffix(1);
    } else {
      while (raw.size() > 1 && raw.front() == f.pad) raw.remove_prefix(1);
    }
    if (f.digits && !AllDigits(raw)) return Error(ErrorCode::kBadRequest, "is not a number", f.name);
    auto utf8 = GbkToUtf8(raw);
    if (!utf8) return Error(ErrorCode::kBadRequest, "is not GBK text", f.name);
    out[f.name] = std::move(*utf8);
  }
  return out;
}

Result<std::string> EncodeBatch(const RecordLayout& head, const RecordLayout& item, const Batch& batch,
                                std::string_view count_field) {
  StringMap h = batch.head;
  h[std::string(count_field)] = std::to_string(batch.items.size());
  auto out = head.Encode(h);
  if (!out) return out;
  for (size_t i = 0; i < batch.items.size(); ++i) {
    auto record = item.Encode(batch.items[i]);
    if (!record) {
      return Error(record.error().code(), record.error().message(),
                   "items[" + std::to_string(i) + "]." + record.error().field());
    }
    out->append(*record);
  }
  return out;
}

Result<Batch> DecodeBatch(const RecordLayout& head, const RecordLayout& item, std::string_view bytes,
                          size_t max_items, std::string_view count_field) {
  if (bytes.size() < head.width()) {
    return Error(ErrorCode::kBadRequest, "shorter than the batch head", std::string(count_field));
  }
  Batch batch;
  auto h = head.Decode(bytes.substr(0, head.width()));
  if (!h) return Error(h.error());
  batch.head = std::move(*h);
  // The head layout's count is a number field: Decode has checked its digits.
  const size_t count = std::stoull(batch.head[std::string(count_field)]);
  if (count > max_items) {
    return Error(ErrorCode::kTooLarge,
                 std::to_string(count) + " items exceed the limit of " + std::to_string(max_items),
                 std::string(count_field));
  }
  if (bytes.size() != head.width() + count * item.width()) {
    return Error(ErrorCode::kBadRequest,
                 "says " + std::to_string(count) + " items but the batch is " + std::to_string(bytes.size()) +
                     " bytes",
                 std::string(count_field));
  }
  for (size_t i = 0; i < count; ++i) {
    auto record = item.Decode(bytes.substr(head.width() + i * item.width(), item.width()));
    if (!record) {
      return Error(record.error().code(), record.error().message(),
                   "items[" + std::to_string(i) + "]." + record.error().field());
    }
    batch.items.push_back(std::move(*record));
  }
  return batch;
}

}  // namespace taxhub::legacy
