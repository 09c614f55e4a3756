#include "adapters/legacy/fixed_width.h"

#include "adapters/legacy/gbk.h"

namespace taxhub::legacy {

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
    auto utf8 = GbkToUtf8(raw);
    if (!utf8) return Error(ErrorCode::kBadRequest, "is not GBK text", f.name);
    out[f.name] = std::move(*utf8);
  }
  return out;
}

}  // namespace taxhub::legacy
