#include "adapters/legacy/gbk.h"

#include <iconv.h>

#include <cerrno>
#include <memory>

namespace taxhub::legacy {
namespace {

Result<std::string> Convert(const char* to, const char* from, std::string_view in) {
  iconv_t cd = iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return Error(ErrorCode::kInternal, std::string("iconv cannot convert ") + from + " to " + to);
  }
  std::unique_ptr<void, int (*)(iconv_t)> closer(cd, iconv_close);
  std::string out(in.size() * 2 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  while (src_left > 0) {
    if (iconv(cd, &src, &src_left, &dst, &dst_left) != static_cast<size_t>(-1)) continue;
    if (errno == E2BIG) {
      size_t used = static_cast<size_t>(dst - out.data());
      out.resize(out.size() * 2);
      dst = out.data() + used;
      dst_left = out.size() - used;
      continue;
    }
    return Error(ErrorCode::kBadRequest,
                 std::string("not valid ") + from + " at byte " +
                     std::to_string(in.size() - src_left),
                 "encoding");
  }
  out.resize(static_cast<size_t>(dst - out.data()));
  return out;
}

}  // namespace

Result<std::string> Utf8ToGbk(std::string_view utf8) { return Convert("GBK", "UTF-8", utf8); }
Result<std::string> GbkToUtf8(std::string_view gbk) { return Convert("UTF-8", "GBK", gbk); }

}  // namespace taxhub::legacy
