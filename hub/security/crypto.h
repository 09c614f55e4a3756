// Keys, signatures and X.509 certificates through OpenSSL 3: SM2 with SM3 (GM/T 0003/0004,
// signer id "1234567812345678" per GM/T 0009, set explicitly since OpenSSL 3.0 does not) and
// ECDSA P-256 with SHA-256. The only files that include OpenSSL are crypto.cc and verifier.cc.
#ifndef TAXHUB_HUB_SECURITY_CRYPTO_H_
#define TAXHUB_HUB_SECURITY_CRYPTO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hub/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace taxhub::security {

enum class KeyType { kSm2, kEcdsaP256 };
std::string_view KeyTypeName(KeyType type);  // "sm2", "ecdsa-p256"
Result<KeyType> ParseKeyType(std::string_view name);

inline constexpr std::string_view kSm2SignerId = "1234567812345678";

class PrivateKey {
 public:
  static Result<PrivateKey> Generate(KeyType type);
  static Result<PrivateKey> FromPem(std::string_view pem);
  static Result<PrivateKey> LoadPemFile(const std::string& path);
  std::string ToPem() const;  // unencrypted PKCS#8
  KeyType type() const { return type_; }
  // A detached DER signature over `data`: SM2-with-SM3 or ECDSA-with-SHA256 by key type.
  Result<std::string> Sign(std::string_view data) const;
  EVP_PKEY* get() const { return key_.get(); }

 private:
  PrivateKey(std::shared_ptr<EVP_PKEY> key, KeyType type) : key_(std::move(key)), type_(type) {}
  std::shared_ptr<EVP_PKEY> key_;
  KeyType type_;
};

class Certificate {
 public:
  static Result<Certificate> FromDer(std::string_view der);
  static Result<Certificate> FromPem(std::string_view pem);
  // Every certificate of a PEM file (a CA bundle).
  static Result<std::vector<Certificate>> LoadPemFile(const std::string& path);

  std::string ToDer() const;
  std::string ToPem() const;
  std::string Subject() const;                    // one line, RFC 2253
  std::vector<std::string> SubjectValues() const; // every attribute value of the subject
  int64_t serial() const;
  int64_t not_before_ms() const;
  int64_t not_after_ms() const;
  Result<KeyType> key_type() const;
  // Whether `signature` is this certificate's key's signature over `data`.
  Status VerifySignature(std::string_view data, std::string_view signature) const;
  X509* get() const { return cert_.get(); }

 private:
  explicit Certificate(std::shared_ptr<X509> cert) : cert_(std::move(cert)) {}
  std::shared_ptr<X509> cert_;
};

// For dev mode and tests: certificates and revocation lists of a small CA.
struct CertificateSpec {
  std::string common_name;
  std::string serial_number;   // subject serialNumber attribute (the taxpayer id)
  std::string organization;
  int64_t serial = 1;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  bool ca = false;
  bool key_usage = true;        // include keyUsage (digitalSignature, nonRepudiation / certSign)
};
// Signed by `issuer_key` with `issuer` as issuer; self-signed when `issuer` is null.
Result<Certificate> IssueCertificate(const CertificateSpec& spec, const PrivateKey& subject_key,
                                     const PrivateKey& issuer_key, const Certificate* issuer);
// A PEM CRL from `ca` revoking `serials`, valid from `this_update_ms` for a day.
Result<std::string> IssueCrl(const Certificate& ca, const PrivateKey& ca_key,
                             const std::vector<int64_t>& serials, int64_t this_update_ms);

// When `cert` is valid, in ms since the epoch: its notBefore and notAfter (0 if unreadable).
std::pair<int64_t, int64_t> ValidityMs(const X509* cert);

// Low-level verify used by Certificate and the CRL check: `key`'s signature over `data`.
Status VerifyWithKey(EVP_PKEY* key, KeyType type, std::string_view data,
                     std::string_view signature);

}  // namespace taxhub::security

#endif  // TAXHUB_HUB_SECURITY_CRYPTO_H_
