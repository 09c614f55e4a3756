#include "hub/admin/tokens.h"

#include <Poco/Crypto/ECKey.h>
#include <Poco/JWT/JWTException.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Timestamp.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "hub/security/crypto.h"

namespace taxhub::admin {

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kOperator: return "operator";
    case Role::kManager: return "manager";
    case Role::kStaff: return "staff";
    case Role::kAuditor: return "auditor";
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view text) {
  for (Role r : {Role::kOperator, Role::kManager, Role::kStaff, Role::kAuditor}) {
    if (ToString(r) == text) return r;
  }
  return std::nullopt;
}

struct TokenKey::Impl {
  Poco::JWT::Signer signer;
  bool can_issue = false;
  std::string issuer;
  std::string audience;
};

TokenKey::TokenKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenKey::TokenKey(TokenKey&&) noexcept = default;
TokenKey& TokenKey::operator=(TokenKey&&) noexcept = default;
TokenKey::~TokenKey() = default;

Result<TokenKey> TokenKey::Load(const std::string& pem_file, std::string issuer, std::string audience) {
  std::ifstream in(pem_file);
  if (!in) return Error(ErrorCode::kUnavailable, "cannot read the admin token key " + pem_file, "admin.token_key");
  std::stringstream text;
  text << in.rdbuf();
  const std::string pem = text.str();
  auto impl = std::make_unique<Impl>();
  impl->can_issue = pem.find("PRIVATE KEY") != std::string::npos;
  impl->issuer = std::move(issuer);
  impl->audience = std::move(audience);
  try {
    std::istringstream key_stream(pem);
    Poco::SharedPtr<Poco::Crypto::ECKey> key =
        impl->can_issue ? new Poco::Crypto::ECKey(nullptr, &key_stream) : new Poco::Crypto::ECKey(&key_stream);
    impl->signer.setECKey(key);
    impl->signer.setAlgorithms({Poco::JWT::Signer::ALGO_ES256});  // nothing else, ever
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kBadRequest, pem_file + " is not an EC key: " + e.displayText(), "admin.token_key");
  }
  return TokenKey(std::move(impl));
}

Status TokenKey::CreateIfMissing(const std::string& pem_file) {
  if (std::filesystem::exists(pem_file)) return Status::Ok();
  auto key = security::PrivateKey::Generate(security::KeyType::kEcdsaP256);
  if (!key) return key.error();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(pem_file).parent_path(), ec);
  const int fd = open(pem_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status(ErrorCode::kUnavailable, "cannot create " + pem_file, "admin.token_key");
  const std::string pem = key->ToPem();
  const bool written = write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  close(fd);
  if (!written) return Status(ErrorCode::kUnavailable, "cannot write " + pem_file, "admin.token_key");
  return Status::Ok();
}

Result<std::string> TokenKey::Issue(const Caller& caller, int64_t now_ms, int64_t ttl_ms) const {
  if (!impl_->can_issue) return Error(ErrorCode::kBadRequest, "a public key cannot issue tokens", "key");
  Poco::JWT::Token token;
  token.setType("JWT");
  token.setSubject(caller.user);
  token.setIssuer(impl_->issuer);
  token.setAudience(impl_->audience);
  token.payload().set("role", std::string(ToString(caller.role)));
  token.setIssuedAt(Poco::Timestamp(now_ms * 1000));
  token.setNotBefore(Poco::Timestamp((now_ms - 60'000) * 1000));  // a minute of clock skew
  token.setExpiration(Poco::Timestamp((now_ms + ttl_ms) * 1000));
  try {
    return impl_->signer.sign(token, Poco::JWT::Signer::ALGO_ES256);
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kInternal, "cannot sign the token: " + e.displayText());
  }
}

Result<Caller> TokenKey::Verify(std::string_view text, int64_t now_ms) const {
  auto refuse = [](const std::string& why) { return Error(ErrorCode::kUnauthenticated, why, "Authorization"); };
  Poco::JWT::Token token;
  try {
    if (!impl_->signer.tryVerify(std::string(text), token)) return refuse("the token's signature does not verify");
  } catch (const Poco::Exception& e) {
    return refuse("not a token: " + e.displayText());
  }
  const Poco::Timestamp now(now_ms * 1000);
  if (!token.payload().has("exp")) return refuse("the token has no expiry");
  if (token.getExpiration() <= now) return refuse("the token has expired");
  if (token.payload().has("nbf") && token.getNotBefore() > now) return refuse("the token is not valid yet");
  if (token.getIssuer() != impl_->issuer) return refuse("the token is from another issuer");
  std::vector<std::string> audience;
  try {
    audience = token.getAudience();
  } catch (const Poco::Exception&) {
    return refuse("the token's audience is malformed");
  }
  if (std::find(audience.begin(), audience.end(), impl_->audience) == audience.end()) {
    return refuse("the token is for another audience");
  }
  Caller caller;
  caller.user = token.getSubject();
  if (caller.user.empty()) return refuse("the token names no user");
  auto role = token.payload().has("role") ? ParseRole(token.payload().optValue<std::string>("role", "")) : std::nullopt;
  if (!role) return refuse("the token carries no known role");
  caller.role = *role;
  return caller;
}

}  // namespace taxhub::admin
