#include "hub/security/verifier.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace taxhub::security {

struct CrlDeleter {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};

// A certificate whose chain, revocation and key usage have been checked: those hold for any
// signing time inside `valid_from_ms`..`valid_until_ms` (every certificate of its chain is
// valid then), since the trusted CAs and CRLs are fixed for the verifier's life. Taxpayers
// sign many submits with one certificate; this spares each the certificate's parsing and its
// chain's signature checks.
struct CheckedCertificate {
  Certificate certificate;
  int64_t valid_from_ms = 0;
  int64_t valid_until_ms = 0;
  std::string subject;
  std::vector<std::string> subject_values;
};

struct SignatureVerifier::State {
  static constexpr size_t kCacheCapacity = 4096;
  X509_STORE* store = nullptr;
  std::vector<Certificate> trusted;
  std::vector<std::unique_ptr<X509_CRL, CrlDeleter>> crls;
  std::mutex cache_mutex;
  std::unordered_map<std::string, std::shared_ptr<const CheckedCertificate>> cache;  // by DER

  std::shared_ptr<const CheckedCertificate> Cached(std::string_view der, int64_t at_ms) {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto it = cache.find(std::string(der));
    if (it == cache.end() || at_ms < it->second->valid_from_ms || at_ms > it->second->valid_until_ms) {
      return nullptr;
    }
    return it->second;
  }
  void Remember(std::string_view der, std::shared_ptr<const CheckedCertificate> checked) {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= kCacheCapacity) cache.erase(cache.begin());  // any one: no hot set to keep
    cache[std::string(der)] = std::move(checked);
  }
  ~State() {
    if (store) X509_STORE_free(store);
  }
};

SignatureVerifier::SignatureVerifier(std::unique_ptr<State> state) : state_(std::move(state)) {}
SignatureVerifier::~SignatureVerifier() = default;

namespace {

// A CRL's own signature, checked with the issuing CA's key (and, for SM2, the signer id, which
// OpenSSL 3.0's X509_CRL_verify would leave out).
Status VerifyCrl(X509_CRL* crl, const Certificate& ca) {
  unsigned char* tbs = nullptr;
  int tbs_len = i2d_re_X509_CRL_tbs(crl, &tbs);
  const ASN1_BIT_STRING* signature = nullptr;
  const X509_ALGOR* algorithm = nullptr;
  X509_CRL_get0_signature(crl, &signature, &algorithm);
  auto type = ca.key_type();
  Status status = type ? VerifyWithKey(X509_get0_pubkey(ca.get()), *type,
                                       std::string_view(reinterpret_cast<char*>(tbs),
                                                        static_cast<size_t>(std::max(tbs_len, 0))),
                                       std::string_view(reinterpret_cast<const char*>(
                                                            ASN1_STRING_get0_data(signature)),
                                                        static_cast<size_t>(ASN1_STRING_length(signature))))
                       : type.error();
  OPENSSL_free(tbs);
  return status;
}

// The times at which every certificate of a verified chain is valid.
std::pair<int64_t, int64_t> ChainValidity(X509_STORE_CTX* ctx) {
  int64_t from = 0, until = INT64_MAX;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
    const auto [not_before, not_after] = ValidityMs(sk_X509_value(chain, i));
    // Strictly inside (whole seconds): at the edges OpenSSL decides afresh.
    from = std::max(from, not_before + 1000);
    until = std::min(until, not_after - 1);
  }
  return {from, until};
}

}  // namespace

Result<std::unique_ptr<SignatureVerifier>> SignatureVerifier::Create(
    std::vector<Certificate> trusted, std::vector<std::string> crl_pems) {
  if (trusted.empty()) return Error(ErrorCode::kBadRequest, "no trusted CA certificate", "ca");
  auto state = std::make_unique<State>();
  state->store = X509_STORE_new();
  for (const Certificate& ca : trusted) X509_STORE_add_cert(state->store, ca.get());
  state->trusted = std::move(trusted);
  for (const std::string& pem : crl_pems) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!crl) {
      ERR_clear_error();
      return Error(ErrorCode::kBadRequest, "not a PEM CRL", "crl");
    }
    std::unique_ptr<X509_CRL, CrlDeleter> owned(crl);
    // Any trusted CA of the CRL's issuer name may have signed it.
    bool named = false, verified = false;
    for (const Certificate& ca : state->trusted) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl)) != 0) continue;
      named = true;
      verified = verified || VerifyCrl(crl, ca).ok();
    }
    if (!named) return Error(ErrorCode::kBadRequest, "a CRL from an untrusted issuer", "crl");
    if (!verified) {
      return Error(ErrorCode::kBadRequest, "a CRL whose signature does not verify", "crl");
    }
    state->crls.push_back(std::move(owned));
  }
  return std::unique_ptr<SignatureVerifier>(new SignatureVerifier(std::move(state)));
}

Result<std::unique_ptr<SignatureVerifier>> SignatureVerifier::Load(
    const std::string& ca_bundle, const std::vector<std::string>& crl_files) {
  auto trusted = Certificate::LoadPemFile(ca_bundle);
  if (!trusted) return Error(trusted.error());
  std::vector<std::string> crls;
  for (const auto& file : crl_files) {
    std::ifstream in(file);
    if (!in) return Error(ErrorCode::kNotFound, file + ": cannot open CRL file");
    std::stringstream text;
    text << in.rdbuf();
    crls.push_back(text.str());
  }
  auto verifier = Create(std::move(*trusted), std::move(crls));
  if (!verifier) return Error(verifier.error().WithContext(ca_bundle));
  return verifier;
}

Status SignatureVerifier::Verify(std::string_view body, std::string_view signature,
                                 std::string_view certificate_der, std::string_view taxpayer_id,
                                 int64_t at_ms, std::string* signer) const {
  if (certificate_der.empty()) {
    return Status(ErrorCode::kMissingField, "the signer's certificate is required", "certificate");
  }
  if (signature.empty()) {
    return Status(ErrorCode::kMissingField, "a signature over the body is required", "signature");
  }
  std::shared_ptr<const CheckedCertificate> checked = state_->Cached(certificate_der, at_ms);
  if (!checked) {
    auto fresh = Check(certificate_der, at_ms);
    if (!fresh) return fresh.error();
    checked = *fresh;
    state_->Remember(certificate_der, checked);
  }
  // The signer is the taxpayer.
  const auto& values = checked->subject_values;
  if (std::find(values.begin(), values.end(), taxpayer_id) == values.end()) {
    return Status(ErrorCode::kSignerMismatch,
                  "the certificate's subject (" + checked->subject +
                      ") does not carry taxpayer id " + std::string(taxpayer_id),
                  "taxpayer_id");
  }
  // The signature over the exact bytes.
  Status verified = checked->certificate.VerifySignature(body, signature);
  if (verified.ok() && signer) *signer = checked->subject;
  return verified;
}

Result<std::shared_ptr<const CheckedCertificate>> SignatureVerifier::Check(std::string_view certificate_der,
                                                                           int64_t at_ms) const {
  auto cert = Certificate::FromDer(certificate_der);
  if (!cert) return Error(cert.error());

  // Chain and validity at the signing time.
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), state_->store, cert->get(), nullptr) != 1) {
    return Error(ErrorCode::kInternal, "cannot start certificate verification");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), static_cast<time_t>(at_ms / 1000));
  const bool chained = X509_verify_cert(ctx.get()) == 1;
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (!chained) {
    if (error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID) {
      return Error(ErrorCode::kCertExpired,
                    std::string("the signer's certificate is ") +
                        (error == X509_V_ERR_CERT_HAS_EXPIRED ? "expired" : "not yet valid"),
                    "certificate");
    }
    return Error(ErrorCode::kUntrustedCert,
                  std::string("the signer's certificate does not chain to a trusted CA: ") +
                      X509_verify_cert_error_string(error),
                  "certificate");
  }
  // Revocation.
  for (const auto& crl : state_->crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_issuer_name(cert->get())) != 0) {
      continue;
    }
    X509_REVOKED* revoked = nullptr;
    if (X509_CRL_get0_by_cert(crl.get(), &revoked, cert->get()) == 1) {
      return Error(ErrorCode::kCertRevoked, "the signer's certificate was revoked", "certificate");
    }
  }
  // Fit for signing.
  const uint32_t usage = X509_get_key_usage(cert->get());
  if ((X509_get_extension_flags(cert->get()) & EXFLAG_KUSAGE) == 0 ||
      (usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0) {
    return Error(ErrorCode::kUntrustedCert,
                  "the certificate's key usage allows neither digitalSignature nor "
                  "nonRepudiation",
                  "certificate");
  }
  auto checked = std::make_shared<CheckedCertificate>(CheckedCertificate{*cert, 0, 0, cert->Subject(), cert->SubjectValues()});
  std::tie(checked->valid_from_ms, checked->valid_until_ms) = ChainValidity(ctx.get());
  return std::shared_ptr<const CheckedCertificate>(std::move(checked));
}

}  // namespace taxhub::security
