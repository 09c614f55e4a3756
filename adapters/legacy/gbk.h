// GBK, the encoding of the legacy tax systems, to and from UTF-8 (glibc iconv). Bytes that are
// not valid in the source encoding are an error, never silently replaced.
#ifndef TAXHUB_ADAPTERS_LEGACY_GBK_H_
#define TAXHUB_ADAPTERS_LEGACY_GBK_H_

#include <string>
#include <string_view>

#include "hub/base/status.h"

namespace taxhub::legacy {

Result<std::string> Utf8ToGbk(std::string_view utf8);
Result<std::string> GbkToUtf8(std::string_view gbk);

}  // namespace taxhub::legacy

#endif  // TAXHUB_ADAPTERS_LEGACY_GBK_H_
