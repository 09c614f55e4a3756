#include "hub/security/crypto.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace taxhub::security {
namespace {

std::string OpenSslError(std::string_view what) {
  std::string out(what);
  unsigned long code;
  bool first = true;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using Bio = std::unique_ptr<BIO, BioDeleter>;

std::shared_ptr<EVP_PKEY> WrapKey(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }
std::shared_ptr<X509> WrapCert(X509* cert) { return {cert, X509_free}; }

Result<KeyType> TypeOf(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "SM2")) return KeyType::kSm2;
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) == 1) {
      std::string_view name(group, len);
      if (name == "SM2") return KeyType::kSm2;
      if (name == "prime256v1" || name == "P-256") return KeyType::kEcdsaP256;
    }
  }
  return Error(ErrorCode::kUntrustedCert, "only SM2 and ECDSA P-256 keys are accepted");
}

// A digest context set up for signing or verifying with `key`: SM3 and the GM/T 0009 signer id
// for SM2, SHA-256 otherwise. `pctx` must outlive the returned context.
Result<MdCtx> SignatureContext(EVP_PKEY* key, KeyType type, bool sign, PkeyCtx& pctx) {
  MdCtx md(EVP_MD_CTX_new());
  if (!md) return Error(ErrorCode::kInternal, "out of memory");
  int ok;
  if (type == KeyType::kSm2) {
    pctx.reset(EVP_PKEY_CTX_new(key, nullptr));
    if (!pctx || EVP_PKEY_CTX_set1_id(pctx.get(), kSm2SignerId.data(),
                                      static_cast<int>(kSm2SignerId.size())) != 1) {
      return Error(ErrorCode::kInternal, OpenSslError("cannot set the SM2 signer id"));
    }
    EVP_MD_CTX_set_pkey_ctx(md.get(), pctx.get());
    ok = sign ? EVP_DigestSignInit(md.get(), nullptr, EVP_sm3(), nullptr, key)
              : EVP_DigestVerifyInit(md.get(), nullptr, EVP_sm3(), nullptr, key);
  } else {
    ok = sign ? EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key)
              : EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key);
  }
  if (ok != 1) return Error(ErrorCode::kInternal, OpenSslError("cannot start a signature"));
  return md;
}

// OpenSSL 3.0 verifies an SM2-signed certificate with the id stored on it.
void SetSm2Id(X509* cert) {
  if (X509_get_signature_nid(cert) != NID_SM2_with_SM3) return;
  ASN1_OCTET_STRING* id = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(id, reinterpret_cast<const unsigned char*>(kSm2SignerId.data()),
                        static_cast<int>(kSm2SignerId.size()));
  X509_set0_distinguishing_id(cert, id);
}

int64_t TimeMs(const ASN1_TIME* t) {
  struct tm tm;
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return Status(ErrorCode::kInternal, OpenSslError("bad extension"));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return Status::Ok();
}

}  // namespace

std::string_view KeyTypeName(KeyType type) { return type == KeyType::kSm2 ? "sm2" : "ecdsa-p256"; }

Result<KeyType> ParseKeyType(std::string_view name) {
  if (name == "sm2") return KeyType::kSm2;
  if (name == "ecdsa-p256") return KeyType::kEcdsaP256;
  return Error(ErrorCode::kBadRequest, "key type must be sm2 or ecdsa-p256");
}

// ---- keys ------------------------------------------------------------------------------------

Result<PrivateKey> PrivateKey::Generate(KeyType type) {
  EVP_PKEY* key = type == KeyType::kSm2 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "SM2")
                                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!key) return Error(ErrorCode::kInternal, OpenSslError("key generation failed"));
  return PrivateKey(WrapKey(key), type);
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) return Error(ErrorCode::kBadRequest, OpenSslError("not a PEM private key"));
  auto wrapped = WrapKey(key);
  auto type = TypeOf(key);
  if (!type) return Error(type.error());
  return PrivateKey(wrapped, *type);
}

Result<PrivateKey> PrivateKey::LoadPemFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kNotFound, path + ": cannot open key file");
  std::stringstream text;
  text << in.rdbuf();
  auto key = FromPem(text.str());
  if (!key) return Error(key.error().WithContext(path));
  return key;
}

std::string PrivateKey::ToPem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> PrivateKey::Sign(std::string_view data) const {
  PkeyCtx pctx;
  auto md = SignatureContext(key_.get(), type_, true, pctx);
  if (!md) return Error(md.error());
  size_t len = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(md->get(), nullptr, &len, bytes, data.size()) != 1) {
    return Error(ErrorCode::kInternal, OpenSslError("sign"));
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(md->get(), reinterpret_cast<unsigned char*>(signature.data()), &len, bytes,
                     data.size()) != 1) {
    return Error(ErrorCode::kInternal, OpenSslError("sign"));
  }
  signature.resize(len);
  return signature;
}

std::pair<int64_t, int64_t> ValidityMs(const X509* cert) {
  return {TimeMs(X509_get0_notBefore(cert)), TimeMs(X509_get0_notAfter(cert))};
}

Status VerifyWithKey(EVP_PKEY* key, KeyType type, std::string_view data,
                     std::string_view signature) {
  PkeyCtx pctx;
  auto md = SignatureContext(key, type, false, pctx);
  if (!md) return md.error();
  int ok = EVP_DigestVerify(md->get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                            data.size());
  ERR_clear_error();
  if (ok != 1) {
    return Status(ErrorCode::kBadSignature, "the signature does not match the signed bytes",
                  "signature");
  }
  return Status::Ok();
}

// ---- certificates ----------------------------------------------------------------------------

Result<Certificate> Certificate::FromDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    if (cert) X509_free(cert);
    ERR_clear_error();
    return Error(ErrorCode::kUntrustedCert, "not a DER X.509 certificate", "certificate");
  }
  SetSm2Id(cert);
  return Certificate(WrapCert(cert));
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (!cert) {
    ERR_clear_error();
    return Error(ErrorCode::kUntrustedCert, "not a PEM X.509 certificate", "certificate");
  }
  SetSm2Id(cert);
  return Certificate(WrapCert(cert));
}

Result<std::vector<Certificate>> Certificate::LoadPemFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kNotFound, path + ": cannot open certificate file");
  std::stringstream text;
  text << in.rdbuf();
  std::string pem = text.str();
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<Certificate> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    SetSm2Id(cert);
    out.push_back(Certificate(WrapCert(cert)));
  }
  ERR_clear_error();
  if (out.empty()) return Error(ErrorCode::kBadRequest, path + ": no certificate in the file");
  return out;
}

std::string Certificate::ToDer() const {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert_.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(std::max(len, 0)));
  OPENSSL_free(der);
  return out;
}

std::string Certificate::ToPem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert_.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string Certificate::Subject() const {
  Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert_.get()), 0,
                     XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::vector<std::string> Certificate::SubjectValues() const {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert_.get());
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, value);
    if (len >= 0) out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  return out;
}

int64_t Certificate::serial() const {
  int64_t value = 0;
  ASN1_INTEGER_get_int64(&value, X509_get0_serialNumber(cert_.get()));
  return value;
}

int64_t Certificate::not_before_ms() const { return TimeMs(X509_get0_notBefore(cert_.get())); }
int64_t Certificate::not_after_ms() const { return TimeMs(X509_get0_notAfter(cert_.get())); }

Result<KeyType> Certificate::key_type() const { return TypeOf(X509_get0_pubkey(cert_.get())); }

Status Certificate::VerifySignature(std::string_view data, std::string_view signature) const {
  auto type = key_type();
  if (!type) return type.error();
  return VerifyWithKey(X509_get0_pubkey(cert_.get()), *type, data, signature);
}

Result<Certificate> IssueCertificate(const CertificateSpec& spec, const PrivateKey& subject_key,
                                     const PrivateKey& issuer_key, const Certificate* issuer) {
  std::shared_ptr<X509> cert = WrapCert(X509_new());
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set_int64(X509_get_serialNumber(x), spec.serial);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(spec.not_before_ms / 1000));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(spec.not_after_ms / 1000));
  X509_NAME* name = X509_get_subject_name(x);
  auto add = [&](const char* field, const std::string& value) {
    if (value.empty()) return;
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  };
  add("C", "CN");
  add("O", spec.organization);
  add("CN", spec.common_name);
  add("serialNumber", spec.serial_number);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->get()) : name);
  X509_set_pubkey(x, subject_key.get());
  X509* issuer_x = issuer ? issuer->get() : x;
  TAXHUB_RETURN_IF_ERROR(AddExtension(x, issuer_x, NID_basic_constraints,
                                      spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE"));
  if (spec.key_usage) {
    TAXHUB_RETURN_IF_ERROR(AddExtension(x, issuer_x, NID_key_usage,
                                        spec.ca ? "critical,keyCertSign,cRLSign"
                                                : "critical,digitalSignature,nonRepudiation"));
  }
  TAXHUB_RETURN_IF_ERROR(AddExtension(x, issuer_x, NID_subject_key_identifier, "hash"));
  PkeyCtx pctx;
  auto md = SignatureContext(issuer_key.get(), issuer_key.type(), true, pctx);
  if (!md) return Error(md.error());
  if (X509_sign_ctx(x, md->get()) <= 0) {
    return Error(ErrorCode::kInternal, OpenSslError("cannot sign the certificate"));
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(std::max(len, 0)));
  OPENSSL_free(der);
  return Certificate::FromDer(bytes);
}

Result<std::string> IssueCrl(const Certificate& ca, const PrivateKey& ca_key,
                             const std::vector<int64_t>& serials, int64_t this_update_ms) {
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), X509_CRL_free);
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.get()));
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> now(
      ASN1_TIME_set(nullptr, static_cast<time_t>(this_update_ms / 1000)), ASN1_TIME_free);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(
      ASN1_TIME_set(nullptr, static_cast<time_t>(this_update_ms / 1000 + 86400)), ASN1_TIME_free);
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (int64_t serial : serials) {
    X509_REVOKED* revoked = X509_REVOKED_new();
    ASN1_INTEGER* number = ASN1_INTEGER_new();
    ASN1_INTEGER_set_int64(number, serial);
    X509_REVOKED_set_serialNumber(revoked, number);
    ASN1_INTEGER_free(number);
    X509_REVOKED_set_revocationDate(revoked, now.get());
    X509_CRL_add0_revoked(crl.get(), revoked);
  }
  X509_CRL_sort(crl.get());
  PkeyCtx pctx;
  auto md = SignatureContext(ca_key.get(), ca_key.type(), true, pctx);
  if (!md) return Error(md.error());
  if (X509_CRL_sign_ctx(crl.get(), md->get()) <= 0) {
    return Error(ErrorCode::kInternal, OpenSslError("cannot sign the CRL"));
  }
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_CRL(bio.get(), crl.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace taxhub::security
