// Small checks on untrusted text.
#ifndef TAXHUB_HUB_BASE_TEXT_H_
#define TAXHUB_HUB_BASE_TEXT_H_

#include <string>
#include <string_view>

#include "hub/base/json_map.h"
#include "hub/base/status.h"

namespace taxhub {

// Well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. NUL is refused too,
// since no text field of ours may hold one.
bool IsValidUtf8(std::string_view text);

// Every character in [A-Za-z0-9] or in `extra`.
bool IsTokenText(std::string_view text, std::string_view extra);

// `text` safe to print on one line: control characters written out (\n, \r, \t, \xNN, and
// \uNNNN for C1 controls and U+2028/2029), bytes that are not UTF-8 as \xNN, a backslash as
// \\. For log lines and messages that text from outside must not break in two, or forge.
std::string Printable(std::string_view text);

// Fills {name} placeholders from `values`; the error names a placeholder without a value.
Result<std::string> RenderTemplate(const std::string& text, const StringMap& values);

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_TEXT_H_
