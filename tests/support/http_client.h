// One HTTP(S) exchange with a server on 127.0.0.1, for tests of the admin endpoint.
#ifndef TAXHUB_TESTS_SUPPORT_HTTP_CLIENT_H_
#define TAXHUB_TESTS_SUPPORT_HTTP_CLIENT_H_

#include <string>

namespace taxhub::testing {

struct HttpReply {
  int status = 0;     // 0: no HTTP answer at all (body then says why)
  std::string body;
  bool keep_alive = false;
};

// Sends `body` as application/json with `token` as its bearer token (none when empty).
HttpReply HttpExchange(int port, const std::string& method, const std::string& path, const std::string& token = "",
                       const std::string& body = "", bool https = false);

// `bytes` percent-encoded for a path segment or query value (every byte outside A-Z a-z 0-9 - . _ ~).
std::string PercentEncode(const std::string& bytes);

// `text` as a JSON string literal: quotes, backslashes and control characters escaped, other
// bytes (valid UTF-8 or not) passed as they are.
std::string JsonString(const std::string& text);

}  // namespace taxhub::testing

#endif  // TAXHUB_TESTS_SUPPORT_HTTP_CLIENT_H_
