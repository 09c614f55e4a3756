#include "hub/security/crypto.h"

#include <gtest/gtest.h>

#include <fstream>

#include "hub/base/clock.h"
#include "hub/base/digest.h"
#include "hub/security/verifier.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace taxhub::security {
namespace {

constexpr int64_t kDay = 86'400'000;
const int64_t kNow = SystemClock().NowMs();
const std::string kTaxpayer = "91310110666007217T";

struct Pki {
  PrivateKey ca_key;
  Certificate ca;
  PrivateKey key;
  Certificate cert;
};

Pki MakePki(KeyType type, int64_t serial = 2, CertificateSpec leaf = {}) {
  PrivateKey ca_key = *PrivateKey::Generate(type);
  CertificateSpec ca_spec{"Test Tax CA", "", "Test Tax Bureau", 1, kNow - kDay, kNow + 3650 * kDay, true, true};
  Certificate ca = *IssueCertificate(ca_spec, ca_key, ca_key, nullptr);
  PrivateKey key = *PrivateKey::Generate(type);
  if (leaf.common_name.empty()) {
    leaf = CertificateSpec{"泰州示范企业", kTaxpayer, "泰州示范企业有限公司", serial, kNow - kDay,
                           kNow + 365 * kDay, false, true};
  }
  Certificate cert = *IssueCertificate(leaf, key, ca_key, &ca);
  return Pki{ca_key, ca, key, cert};
}

class Crypto : public ::testing::TestWithParam<KeyType> {};

TEST_P(Crypto, SignaturesVerifyAndAnyChangeIsCaught) {
  PrivateKey key = *PrivateKey::Generate(GetParam());
  const std::string body = "{\"period\":\"2026-10\",\"tax_due\":\"1300.00\"}";
  auto signature = key.Sign(body);
  ASSERT_TRUE(signature.has_value()) << signature.error().ToString();
  Pki pki = MakePki(GetParam());
  auto signed_by_leaf = pki.key.Sign(body);
  ASSERT_TRUE(signed_by_leaf.has_value());
  EXPECT_TRUE(pki.cert.VerifySignature(body, *signed_by_leaf).ok());
  EXPECT_EQ(pki.cert.VerifySignature(body + " ", *signed_by_leaf).code(), ErrorCode::kBadSignature);
  std::string flipped = *signed_by_leaf;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_EQ(pki.cert.VerifySignature(body, flipped).code(), ErrorCode::kBadSignature);
  EXPECT_EQ(pki.cert.VerifySignature(body, *signature).code(), ErrorCode::kBadSignature)
      << "another key's signature";
}

TEST_P(Crypto, KeysAndCertificatesRoundTrip) {
  Pki pki = MakePki(GetParam());
  auto key = PrivateKey::FromPem(pki.key.ToPem());
  ASSERT_TRUE(key.has_value()) << key.error().ToString();
  EXPECT_EQ(key->type(), GetParam());
  auto cert = Certificate::FromDer(pki.cert.ToDer());
  ASSERT_TRUE(cert.has_value());
  EXPECT_EQ(cert->serial(), 2);
  EXPECT_EQ(*cert->key_type(), GetParam());
  auto values = cert->SubjectValues();
  EXPECT_NE(std::find(values.begin(), values.end(), kTaxpayer), values.end());
  auto from_pem = Certificate::FromPem(pki.cert.ToPem());
  ASSERT_TRUE(from_pem.has_value());
  EXPECT_EQ(from_pem->ToDer(), pki.cert.ToDer());
}

TEST_P(Crypto, TheVerifierAcceptsAGoodSignatureAndNamesEachFailure) {
  Pki pki = MakePki(GetParam());
  const std::string body = "申报表 body bytes";
  const std::string signature = *pki.key.Sign(body);
  auto verifier = SignatureVerifier::Create({pki.ca}, {});
  ASSERT_TRUE(verifier.has_value()) << verifier.error().ToString();
  const SignatureVerifier& v = **verifier;
  EXPECT_TRUE(v.Verify(body, signature, pki.cert.ToDer(), kTaxpayer, kNow).ok());

  EXPECT_EQ(v.Verify(body + "x", signature, pki.cert.ToDer(), kTaxpayer, kNow).code(),
            ErrorCode::kBadSignature);
  EXPECT_EQ(v.Verify(body, signature, pki.cert.ToDer(), "91350100M000100Y43", kNow).code(),
            ErrorCode::kSignerMismatch);
  EXPECT_EQ(v.Verify(body, signature, pki.cert.ToDer(), kTaxpayer, kNow + 400 * kDay).code(),
            ErrorCode::kCertExpired);
  EXPECT_EQ(v.Verify(body, signature, "not a certificate", kTaxpayer, kNow).code(),
            ErrorCode::kUntrustedCert);
  EXPECT_EQ(v.Verify(body, "", pki.cert.ToDer(), kTaxpayer, kNow).field(), "signature");

  Pki stranger = MakePki(GetParam());  // another CA
  const std::string stranger_sig = *stranger.key.Sign(body);
  Status untrusted = v.Verify(body, stranger_sig, stranger.cert.ToDer(), kTaxpayer, kNow);
  EXPECT_EQ(untrusted.code(), ErrorCode::kUntrustedCert) << untrusted.ToString();
  EXPECT_EQ(untrusted.field(), "certificate");

  CertificateSpec no_usage{"no usage", kTaxpayer, "x", 9, kNow - kDay, kNow + kDay, false, false};
  PrivateKey k = *PrivateKey::Generate(GetParam());
  Certificate unfit = *IssueCertificate(no_usage, k, pki.ca_key, &pki.ca);
  EXPECT_EQ(v.Verify(body, *k.Sign(body), unfit.ToDer(), kTaxpayer, kNow).code(),
            ErrorCode::kUntrustedCert);
}

// The verifier remembers certificates it has checked; what it remembers holds only while every
// certificate of the chain is valid.
TEST_P(Crypto, ACheckedCertificateIsTrustedOnlyWhileItsWholeChainIsValid) {
  PrivateKey ca_key = *PrivateKey::Generate(GetParam());
  CertificateSpec ca_spec{"Short CA", "", "Test Tax Bureau", 1, kNow - kDay, kNow + 10 * kDay, true, true};
  Certificate ca = *IssueCertificate(ca_spec, ca_key, ca_key, nullptr);
  PrivateKey key = *PrivateKey::Generate(GetParam());
  CertificateSpec leaf{"泰州示范企业", kTaxpayer, "x", 2, kNow - 2 * kDay, kNow + 365 * kDay, false, true};
  Certificate cert = *IssueCertificate(leaf, key, ca_key, &ca);
  auto verifier = SignatureVerifier::Create({ca}, {});
  ASSERT_TRUE(verifier.has_value()) << verifier.error().ToString();
  const std::string body = "x";
  const std::string signature = *key.Sign(body);
  for (int round = 0; round < 2; ++round) {  // checked, then remembered
    EXPECT_TRUE((*verifier)->Verify(body, signature, cert.ToDer(), kTaxpayer, kNow).ok());
    EXPECT_EQ((*verifier)->Verify(body, signature, cert.ToDer(), kTaxpayer, kNow + 11 * kDay).code(),
              ErrorCode::kCertExpired)
        << "the CA has expired";
    EXPECT_EQ((*verifier)->Verify(body, signature, cert.ToDer(), kTaxpayer, kNow - 3 * kDay).code(),
              ErrorCode::kCertExpired)
        << "not yet valid";
    EXPECT_EQ((*verifier)->Verify(body + "y", signature, cert.ToDer(), kTaxpayer, kNow).code(),
              ErrorCode::kBadSignature);
    EXPECT_EQ((*verifier)->Verify(body, signature, cert.ToDer(), "91350100M000100Y43", kNow).code(),
              ErrorCode::kSignerMismatch);
  }
  // At the very edges of the chain's validity, a remembered certificate is judged as a fresh
  // verifier (OpenSSL) judges it.
  const int64_t ca_end = (kNow + 10 * kDay) / 1000 * 1000, leaf_start = (kNow - 2 * kDay) / 1000 * 1000;
  for (int64_t at : {ca_end - 1000, ca_end - 1, ca_end, ca_end + 999, ca_end + 1000, leaf_start - 1, leaf_start,
                     leaf_start + 999, leaf_start + 1000}) {
    auto fresh = SignatureVerifier::Create({ca}, {});
    ASSERT_TRUE(fresh.has_value());
    EXPECT_TRUE((*verifier)->Verify(body, signature, cert.ToDer(), kTaxpayer, kNow).ok());  // remembered
    EXPECT_EQ((*verifier)->Verify(body, signature, cert.ToDer(), kTaxpayer, at).code(),
              (*fresh)->Verify(body, signature, cert.ToDer(), kTaxpayer, at).code())
        << "at " << at - ca_end << " ms from the CA's notAfter, " << at - leaf_start << " from the leaf's notBefore";
  }
}

TEST_P(Crypto, ARevokedCertificateIsRefused) {
  Pki pki = MakePki(GetParam(), 77);
  auto crl = IssueCrl(pki.ca, pki.ca_key, {5, 77}, kNow - 1000);
  ASSERT_TRUE(crl.has_value()) << crl.error().ToString();
  auto verifier = SignatureVerifier::Create({pki.ca}, {*crl});
  ASSERT_TRUE(verifier.has_value()) << verifier.error().ToString();
  const std::string body = "x";
  EXPECT_EQ((*verifier)->Verify(body, *pki.key.Sign(body), pki.cert.ToDer(), kTaxpayer, kNow).code(),
            ErrorCode::kCertRevoked);
  // Two CAs of the same name: the CRL verifies with the one that signed it.
  Pki twin = MakePki(GetParam());
  EXPECT_TRUE(SignatureVerifier::Create({twin.ca, pki.ca}, {*crl}).has_value());
  // A CRL that some other CA signed is refused outright.
  Pki other = MakePki(GetParam());
  auto forged = IssueCrl(other.ca, other.ca_key, {77}, kNow);
  EXPECT_FALSE(SignatureVerifier::Create({pki.ca}, {*forged}).has_value());
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, Crypto, ::testing::Values(KeyType::kSm2, KeyType::kEcdsaP256),
                         [](const auto& info) {
                           return info.param == KeyType::kSm2 ? "Sm2" : "EcdsaP256";
                         });

// Interoperability with the openssl command line, which other parties' tools use: our SM2
// signatures and certificates carry the GM/T 0009 signer id.
TEST(Sm2Interop, OpensslCliVerifiesOurSignatureAndChain) {
  testing::TempDir dir;
  Pki pki = MakePki(KeyType::kSm2);
  const std::string body = "SM2 interop";
  std::ofstream(dir.File("data")) << body;
  std::ofstream(dir.File("sig"), std::ios::binary) << *pki.key.Sign(body);
  std::ofstream(dir.File("key.pem")) << pki.key.ToPem();
  std::ofstream(dir.File("ca.pem")) << pki.ca.ToPem();
  std::ofstream(dir.File("leaf.pem")) << pki.cert.ToPem();
  auto pub = testing::RunCommand({"/usr/bin/openssl", "pkey", "-in", dir.File("key.pem"), "-pubout",
                                  "-out", dir.File("pub.pem")});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  auto verified = testing::RunCommand(
      {"/usr/bin/openssl", "dgst", "-sm3", "-verify", dir.File("pub.pem"), "-sigopt",
       "distid:1234567812345678", "-signature", dir.File("sig"), dir.File("data")});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_NE(verified.output.find("Verified OK"), std::string::npos) << verified.output;
  auto chain = testing::RunCommand({"/usr/bin/openssl", "verify", "-CAfile", dir.File("ca.pem"),
                                    "-vfyopt", "distid:1234567812345678", dir.File("leaf.pem")});
  EXPECT_EQ(chain.exit_code, 0) << chain.output;
}

TEST(Digest, Sm3AndSha256AreBothAvailable) {
  auto sha = DigestHex("sha256", {"a", "b"});
  auto sm3 = DigestHex("sm3", {"a", "b"});
  ASSERT_TRUE(sha.has_value() && sm3.has_value());
  EXPECT_EQ(sha->size(), 64u);
  EXPECT_EQ(sm3->size(), 64u);
  EXPECT_NE(*sha, *sm3);
  EXPECT_FALSE(DigestHex("md5", {"a"}).has_value());
}

}  // namespace
}  // namespace taxhub::security
