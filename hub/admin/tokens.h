// Who may call the admin endpoint: bearer JWTs signed ES256 with the hub's admin token key
// (Poco JWT), carrying the user (sub) and one role. exp, nbf, iss and aud are checked.
#ifndef TAXHUB_HUB_ADMIN_TOKENS_H_
#define TAXHUB_HUB_ADMIN_TOKENS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hub/base/status.h"

namespace taxhub::admin {

enum class Role { kOperator, kManager, kStaff, kAuditor };
std::string_view ToString(Role role);
std::optional<Role> ParseRole(std::string_view text);

struct Caller {
  std::string user;
  Role role = Role::kAuditor;
};

class TokenKey {
 public:
  // A PEM EC P-256 key: a private key can issue and verify, a public key only verify.
  static Result<TokenKey> Load(const std::string& pem_file, std::string issuer, std::string audience);
  // Writes a new private key (PEM, mode 0600) unless the file exists; for dev mode and tests.
  static Status CreateIfMissing(const std::string& pem_file);
  TokenKey(TokenKey&&) noexcept;
  TokenKey& operator=(TokenKey&&) noexcept;
  ~TokenKey();

  Result<std::string> Issue(const Caller& caller, int64_t now_ms, int64_t ttl_ms) const;
  // The caller a bearer token speaks for; kUnauthenticated (with why) for anything else.
  Result<Caller> Verify(std::string_view token, int64_t now_ms) const;

 private:
  struct Impl;
  explicit TokenKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace taxhub::admin

#endif  // TAXHUB_HUB_ADMIN_TOKENS_H_
