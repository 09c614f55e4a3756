// Electronic signatures over real sockets: the verification pool accepts SM2 and ECDSA
// signatures from certificates of a trusted CA and refuses every other case with its own code;
// the ledger keeps the proof.

#include <gtest/gtest.h>

#include <fstream>

#include "hub/security/crypto.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

using security::Certificate;
using security::CertificateSpec;
using security::KeyType;
using security::PrivateKey;

constexpr int64_t kDay = 86'400'000;
const std::string kTaxpayer = "91310110666007217T";

struct Identity {
  PrivateKey key;
  Certificate cert;
};

class SignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int64_t now = SystemClock().NowMs();
    for (KeyType type : {KeyType::kSm2, KeyType::kEcdsaP256}) {
      PrivateKey ca_key = *PrivateKey::Generate(type);
      CertificateSpec spec{std::string("Tax CA ") + std::string(security::KeyTypeName(type)), "",
                           "Test", 1, now - kDay, now + 365 * kDay, true, true};
      Certificate ca = *security::IssueCertificate(spec, ca_key, ca_key, nullptr);
      bundle_ += ca.ToPem();
      cas_.push_back({ca_key, ca});
    }
    sm2_ = Issue(0, kTaxpayer, 10);
    ecdsa_ = Issue(1, kTaxpayer, 11);
    revoked_ = Issue(0, kTaxpayer, 12);
    expired_ = Issue(1, kTaxpayer, 13, now - 10 * kDay, now - kDay);
    other_taxpayer_ = Issue(0, "91350100M000100Y43", 14);
    std::ofstream(dir_.File("ca.pem")) << bundle_;
    std::ofstream(dir_.File("ca.crl")) << *security::IssueCrl(cas_[0].cert, cas_[0].key, {12}, now - 1000);

    app::HubConfig config = TestHubConfig(dir_);
    config.security.enabled = true;
    config.security.ca_bundle = dir_.File("ca.pem");
    config.security.crl_files = {dir_.File("ca.crl")};
    config.security.require_signatures = true;
    config.security.verify_threads = 2;
    hub_ = std::make_unique<TestHub>(config);
    ASSERT_TRUE(hub_->ok()) << hub_->status().ToString();
    client_ = std::make_unique<client::HubClient>(context_, hub_->frontend());
  }

  Identity Issue(int ca, const std::string& taxpayer, int64_t serial, int64_t from = 0,
                 int64_t until = 0) {
    const int64_t now = SystemClock().NowMs();
    KeyType type = ca == 0 ? KeyType::kSm2 : KeyType::kEcdsaP256;
    PrivateKey key = *PrivateKey::Generate(type);
    CertificateSpec spec{"纳税人", taxpayer, "Test", serial, from ? from : now - kDay,
                         until ? until : now + 30 * kDay, false, true};
    return Identity{key, *security::IssueCertificate(spec, key, cas_[ca].key, &cas_[ca].cert)};
  }

  wire::SubmitRequest Signed(const std::string& id, const Identity& who,
                             const std::string& taxpayer = kTaxpayer) {
    wire::SubmitRequest r;
    r.request_id = id;
    r.kind = "single";
    r.taxpayer_id = taxpayer;
    r.body = "{\"申报\":\"" + id + "\"}";
    r.signature = *who.key.Sign(r.body);
    r.certificate = who.cert.ToDer();
    return r;
  }

  Status Refusal(const wire::SubmitRequest& r) {
    auto reply = client_->Submit(r);
    return reply ? Status::Ok() : reply.error();
  }

  TempDir dir_;
  std::string bundle_;
  std::vector<Identity> cas_;
  // A stand-in until SetUp issues the real ones (a member needs a value before it runs).
  static Identity Placeholder() {
    PrivateKey key = *PrivateKey::Generate(KeyType::kSm2);
    CertificateSpec spec{"placeholder", "", "Test", 1, 0, kDay, false, true};
    return {key, *security::IssueCertificate(spec, key, key, nullptr)};
  }
  Identity sm2_ = Placeholder();
  Identity ecdsa_ = sm2_, revoked_ = sm2_, expired_ = sm2_, other_taxpayer_ = sm2_;
  zmq::context_t context_{1};
  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<client::HubClient> client_;
};

TEST_F(SignatureTest, SignedSubmitsAreAcceptedAndTheProofIsKept) {
  for (const auto& [id, who] : {std::pair{"R-sm2", &sm2_}, std::pair{"R-ecdsa", &ecdsa_}}) {
    auto reply = client_->Submit(Signed(id, *who));
    ASSERT_TRUE(reply.has_value()) << id << ": " << reply.error().ToString();
    auto progress = client_->Progress(id, kTaxpayer);
    ASSERT_TRUE(progress.has_value());
    EXPECT_GT(progress->verified_at_ms, 0);
    EXPECT_NE(progress->signer.find(kTaxpayer), std::string::npos) << progress->signer;
  }
  // A resubmit with a fresh ECDSA signature (signatures are randomised) is the same request.
  auto again = client_->Submit(Signed("R-ecdsa", ecdsa_));
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(hub_->hub().verify_pool()->counters().verified, 3u);

  // The ledger holds the exact body, the signature and the certificate: the proof verifies
  // again from what is stored.
  hub_.reset();
  auto ledger = ledger::OpenSqliteLedger(ledger::SqliteOptions{dir_.File("ledger.db")});
  ASSERT_TRUE(ledger.has_value());
  auto txn = (*ledger)->Begin();
  auto stored = (*txn)->GetRequest("R-sm2");
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  const ledger::RequestRecord& r = **stored;
  EXPECT_EQ(r.body, Signed("R-sm2", sm2_).body);
  EXPECT_EQ(r.certificate, sm2_.cert.ToDer());
  EXPECT_GT(r.verified_at_ms, 0);
  auto cert = Certificate::FromDer(r.certificate);
  ASSERT_TRUE(cert.has_value());
  EXPECT_TRUE(cert->VerifySignature(r.body, r.signature).ok());
}

TEST_F(SignatureTest, EachFailureHasItsOwnCode) {
  wire::SubmitRequest flipped = Signed("R-flip", sm2_);
  flipped.signature[flipped.signature.size() / 2] ^= 0x40;
  EXPECT_EQ(Refusal(flipped).code(), ErrorCode::kBadSignature);

  wire::SubmitRequest changed_body = Signed("R-body", ecdsa_);
  changed_body.body += " ";
  EXPECT_EQ(Refusal(changed_body).code(), ErrorCode::kBadSignature);

  EXPECT_EQ(Refusal(Signed("R-expired", expired_)).code(), ErrorCode::kCertExpired);
  EXPECT_EQ(Refusal(Signed("R-revoked", revoked_)).code(), ErrorCode::kCertRevoked);

  Identity stranger{*PrivateKey::Generate(KeyType::kSm2), sm2_.cert};
  {
    PrivateKey other_ca = *PrivateKey::Generate(KeyType::kSm2);
    const int64_t now = SystemClock().NowMs();
    CertificateSpec ca_spec{"Other CA", "", "x", 1, now - kDay, now + kDay, true, true};
    Certificate ca = *security::IssueCertificate(ca_spec, other_ca, other_ca, nullptr);
    CertificateSpec spec{"纳税人", kTaxpayer, "x", 2, now - kDay, now + kDay, false, true};
    stranger.cert = *security::IssueCertificate(spec, stranger.key, other_ca, &ca);
  }
  Status untrusted = Refusal(Signed("R-stranger", stranger));
  EXPECT_EQ(untrusted.code(), ErrorCode::kUntrustedCert);
  EXPECT_EQ(untrusted.field(), "certificate");

  Status mismatch = Refusal(Signed("R-mismatch", other_taxpayer_));
  EXPECT_EQ(mismatch.code(), ErrorCode::kSignerMismatch);
  EXPECT_EQ(mismatch.field(), "taxpayer_id");

  wire::SubmitRequest bad_id = Signed("R-badid", sm2_, "91310110666007217X");
  EXPECT_EQ(Refusal(bad_id).code(), ErrorCode::kBadTaxpayerId);

  wire::SubmitRequest unsigned_request = Signed("R-unsigned", sm2_);
  unsigned_request.signature.clear();
  unsigned_request.certificate.clear();
  Status missing = Refusal(unsigned_request);
  EXPECT_EQ(missing.code(), ErrorCode::kMissingField);

  wire::SubmitRequest garbage = Signed("R-garbage", sm2_);
  garbage.certificate = "\x30\x82\xff\xff not DER";
  EXPECT_EQ(Refusal(garbage).code(), ErrorCode::kUntrustedCert);

  // None of them reached the ledger; a good one still goes through.
  EXPECT_EQ(hub_->hub().engine_counters().accepted, 0u);
  EXPECT_GE(hub_->hub().verify_pool()->counters().refused, 9u);
  EXPECT_TRUE(client_->Submit(Signed("R-good", sm2_)).has_value());
}

}  // namespace
}  // namespace taxhub::testing
