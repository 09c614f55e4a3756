// Verification of a taxpayer's electronic signature (PRC Electronic Signature Law, art. 13):
// the certificate chains to a configured CA (SM2 chains included) and is valid at the signing
// time, is not on a configured CRL, is meant for signing (keyUsage digitalSignature or
// nonRepudiation), names the taxpayer (one of its subject attributes is the taxpayer id), and
// the signature verifies over the exact bytes received.
//
// Each failure has its own code: UNTRUSTED_CERT, CERT_EXPIRED, CERT_REVOKED, SIGNER_MISMATCH,
// BAD_SIGNATURE. Thread-safe: one verifier serves a whole pool of threads.
#ifndef TAXHUB_HUB_SECURITY_VERIFIER_H_
#define TAXHUB_HUB_SECURITY_VERIFIER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hub/base/status.h"
#include "hub/security/crypto.h"

namespace taxhub::security {

struct CheckedCertificate;

class SignatureVerifier {
 public:
  // `crl_pems` must each be signed by one of the trusted CAs.
  static Result<std::unique_ptr<SignatureVerifier>> Create(std::vector<Certificate> trusted,
                                                           std::vector<std::string> crl_pems);
  // From files: a PEM bundle of CA certificates and zero or more PEM CRL files.
  static Result<std::unique_ptr<SignatureVerifier>> Load(const std::string& ca_bundle,
                                                         const std::vector<std::string>& crl_files);
  ~SignatureVerifier();

  // On success, `signer` (if given) is set to the certificate's subject.
  Status Verify(std::string_view body, std::string_view signature, std::string_view certificate_der,
                std::string_view taxpayer_id, int64_t at_ms, std::string* signer = nullptr) const;

 private:
  struct State;
  // Chain, validity at `at_ms`, revocation and key usage of a certificate.
  Result<std::shared_ptr<const CheckedCertificate>> Check(std::string_view certificate_der, int64_t at_ms) const;
  explicit SignatureVerifier(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace taxhub::security

#endif  // TAXHUB_HUB_SECURITY_VERIFIER_H_
